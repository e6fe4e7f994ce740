"""Slack and Discord bodies show rack data as text: a rack cannot ping a channel.

Unit tests of the bodies: the one HTTP entry point (http.Session.post) is patched with
autospec, so a delivery runs its real sender without a worker or a receiver.
"""

import json
from unittest import mock

import pytest

from notifications.delivery import http
from notifications.delivery.endpoints import create_endpoint
from notifications.delivery.outbox import attempt_deliveries
from notifications.delivery.senders import SLACK_TEXT_MAX
from notifications.models import Delivery, DeliveryStatus, WebhookFormat

MENTIONS = "<!channel> <!here> <@U024BE7LH> <#C024BE7LR> &amp; @everyone @here <@&1234>"


@pytest.fixture
def posted():
    """Every body the senders hand to the HTTP entry point, decoded."""
    with mock.patch.object(http.Session, "post", autospec=True,
                           return_value=http.Reply(200, {}, b"ok", False)) as post:
        yield lambda: [json.loads(call.args[2]) for call in post.call_args_list]


def _deliver(member, emit, format: str, **data: str) -> None:
    endpoint, _ = create_endpoint(member, url="https://hooks.example.test/in", events=["*"],
                                  format=format)
    emit("release:promote", "error", id="RABCDEFGHIJ", **data)
    delivery = Delivery.objects.get(endpoint=endpoint)
    attempt_deliveries([delivery.pk])
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED, delivery.last_error


def test_slack_escapes_mentions_from_rack_data_in_the_fallback_and_the_blocks(
        db, member, rack, emit, posted):
    _deliver(member, emit, WebhookFormat.SLACK, app="web", message=MENTIONS)
    [body] = posted()
    texts = [body["text"], body["blocks"][0]["text"]["text"]]
    for text in texts:
        assert "<!channel>" not in text and "<@U024BE7LH>" not in text
        assert "&lt;!channel&gt; &lt;!here&gt; &lt;@U024BE7LH&gt; &lt;#C024BE7LR&gt;" in text
        assert "&amp;amp;" in text  # an entity in rack data is shown as typed
        assert "<" not in text.replace("&lt;", "")


def test_slack_text_that_escapes_longer_is_cut_without_breaking_an_entity(
        db, member, rack, emit, posted):
    _deliver(member, emit, WebhookFormat.SLACK, app="web", message="<" * 5000)
    [body] = posted()
    for text in (body["text"], body["blocks"][0]["text"]["text"]):
        assert len(text) <= SLACK_TEXT_MAX
        assert text.endswith("&lt;") and "<" not in text


def test_discord_never_parses_mentions(db, member, rack, emit, posted):
    _deliver(member, emit, WebhookFormat.DISCORD, app="web", message=MENTIONS)
    [body] = posted()
    assert body["allowed_mentions"] == {"parse": []}
    assert "@everyone" in body["content"]  # shown as text; Discord pings nobody
