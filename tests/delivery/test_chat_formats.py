"""Slack and Discord receive bodies in their own formats, and rack data in them is text: a
rack cannot ping a channel.

Unit tests of the formats: the outbound client's one entry point (Client.send) is
patched, so a delivery of a notification worded as the pipeline words it goes through its
real sender, with no database, worker or receiver. An end-to-end delivery through a real
worker and receiver is in test_webhook_delivery.py.
"""

import asyncio
import json
from unittest import mock

import pytest
from django.utils import timezone

from console.outbound.client import Client, Reply
from notifications.catalogue import event_type_for, render_message
from notifications.delivery.senders import SLACK_TEXT_MAX, WEBHOOK_SENDERS, Exchange
from notifications.delivery.signing import Signer, new_secret
from notifications.models import Delivery, Notification, WebhookEndpoint, WebhookFormat
from racks.models import Rack

MENTIONS = "<!channel> <!here> <@U024BE7LH> <#C024BE7LR> &amp; @everyone @here <@&1234>"
HOOK_URL = "https://hooks.example.test/in"
RACK = Rack(pk=7, name="production")


@pytest.fixture
def sent():
    """Every request the senders hand to the client, as (method, url, headers, body)."""
    with mock.patch.object(Client, "send", autospec=True,
                           return_value=Reply(200, {}, b"ok", False)) as send:
        yield lambda: [(c.args[1], c.args[2], c.args[4], json.loads(c.args[3]))
                       for c in send.call_args_list]


def deliver(format: str, action: str, status: str = "success", **data: str) -> Delivery:
    """A rack event, worded as the pipeline words it, delivered to a webhook of `format`."""
    kind = event_type_for(action, status)
    now = timezone.now()
    notification = Notification(
        pk=42, rack=RACK, app=data.get("app", ""), action=action, status=status,
        event_type=kind.key, severity=kind.severity, data=data, occurred_at=now,
        created_at=now, message=render_message(RACK.name, action, status, data))
    delivery = Delivery(pk=9, notification=notification,
                        endpoint=WebhookEndpoint(pk=3, url=HOOK_URL, format=format))
    code = asyncio.run(WEBHOOK_SENDERS[format]().send(delivery, Client(), Signer([new_secret()]),
                                                      Exchange()))
    assert code == 200
    return delivery


def test_slack_gets_text_and_blocks_with_a_link_to_the_console(sent):
    delivery = deliver(WebhookFormat.SLACK, "app:create", app="web<>&", name="web<>&")
    [(method, url, headers, body)] = sent()
    assert (method, url) == ("POST", HOOK_URL)
    assert headers["Content-Type"] == "application/json"
    assert headers["webhook-id"] == delivery.webhook_id and headers["webhook-signature"]
    assert set(body) == {"text", "blocks"}
    escaped = "[production] Created app web&lt;&gt;&amp;"
    assert body["text"] == escaped
    section, context = body["blocks"]
    assert section == {"type": "section", "text": {"type": "mrkdwn", "text": escaped}}
    assert context["type"] == "context"
    [element] = context["elements"]
    assert element["type"] == "mrkdwn"
    assert "is ready to accept deployments" in element["text"]
    # No page of the console can hold that app name: the link is its rack's page.
    assert f"/racks/{RACK.pk}/|Open in Rack Console>" in element["text"]


def test_discord_gets_content_and_an_embed(sent):
    deliver(WebhookFormat.DISCORD, "release:promote", "error", id="RABCDEFGHIJ", app="web",
            message="@everyone boom")
    [(_, _, _, body)] = sent()
    assert body["content"] == ("[production] Promoting release RABCDEFGHIJ failed for app web: "
                               "@everyone boom")
    assert body["allowed_mentions"] == {"parse": []}
    [embed] = body["embeds"]
    assert embed["title"] == "Promotion failed"
    assert embed["description"].startswith("A release could not be promoted")
    assert embed["url"].endswith(f"/racks/{RACK.pk}/apps/web/#release-RABCDEFGHIJ")
    assert isinstance(embed["color"], int)
    assert embed["fields"] == [{"name": "App", "value": "web", "inline": True}]
    assert len(body["content"]) <= 2000 and len(embed["title"]) <= 256


def test_slack_escapes_mentions_from_rack_data_in_the_fallback_and_the_blocks(sent):
    deliver(WebhookFormat.SLACK, "release:promote", "error", id="RABCDEFGHIJ", app="web",
            message=MENTIONS)
    [(_, _, _, body)] = sent()
    for text in (body["text"], body["blocks"][0]["text"]["text"]):
        assert "<!channel>" not in text and "<@U024BE7LH>" not in text
        assert "&lt;!channel&gt; &lt;!here&gt; &lt;@U024BE7LH&gt; &lt;#C024BE7LR&gt;" in text
        assert "&amp;amp;" in text  # an entity in rack data is shown as typed
        assert "<" not in text.replace("&lt;", "")


def test_slack_text_that_escapes_longer_is_cut_without_breaking_an_entity(sent):
    deliver(WebhookFormat.SLACK, "release:promote", "error", id="RABCDEFGHIJ", app="web",
            message="<" * 5000)
    [(_, _, _, body)] = sent()
    for text in (body["text"], body["blocks"][0]["text"]["text"]):
        assert len(text) <= SLACK_TEXT_MAX
        assert text.endswith("&lt;") and "<" not in text


def test_discord_never_parses_mentions(sent):
    deliver(WebhookFormat.DISCORD, "release:promote", "error", id="RABCDEFGHIJ", app="web",
            message=MENTIONS)
    [(_, _, _, body)] = sent()
    assert body["allowed_mentions"] == {"parse": []}
    assert "@everyone" in body["content"]  # shown as text; Discord pings nobody


@pytest.mark.parametrize("format", [WebhookFormat.SLACK, WebhookFormat.DISCORD])
def test_a_failed_build_names_its_own_id_where_the_seed_says_id(sent, format):
    deliver(format, "build:create", "error", id="BABCDEFGHIJ", app="web")
    [(_, _, _, body)] = sent()
    text = (body["blocks"][1]["elements"][0]["text"] if format == WebhookFormat.SLACK
            else body["embeds"][0]["description"])
    assert "Run convox builds info BABCDEFGHIJ to view build logs." in text
    assert "id&gt;" not in text and "<id>" not in text
