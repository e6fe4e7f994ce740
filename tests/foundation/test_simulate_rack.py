"""The rack simulator POSTs a realistic stream to a rack's ingest URL over HTTP."""

import pytest
from django.core.management import CommandError, call_command

from notifications.models import Notification
from racks.models import Rack

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_simulator_sends_a_stream_that_becomes_notifications(live_server, rack, owner,
                                                                 capsys):
    call_command("simulate_rack", f"{rack.organization.slug}/{rack.name}", "--count", "25",
                 "--rate", "500", "--url", live_server.url, "--seed", "3")
    out = capsys.readouterr().out
    assert "Sent 25 events to production; 0 refused." in out
    stored = Notification.objects.filter(rack=rack)
    assert stored.count() == 25
    actions = set(stored.values_list("action", flat=True))
    assert {"app:create", "build:create", "release:create", "release:promote"} <= actions
    # The stream changed the modelled rack as a real rack's events would.
    assert rack.apps.exists()


def test_a_signed_rack_gets_signed_events(live_server, rack, owner, capsys):
    Rack.objects.filter(pk=rack.pk).update(webhook_signing_key="ab" * 32)
    call_command("simulate_rack", str(rack.pk), "--count", "5", "--rate", "500",
                 "--url", live_server.url)
    assert "Sent 5 events to production; 0 refused." in capsys.readouterr().out


def test_an_unknown_or_ambiguous_rack_is_a_clear_error(rack, other_org):
    Rack.objects.create(organization=other_org, name="production")
    with pytest.raises(CommandError, match="Several racks"):
        call_command("simulate_rack", "production")
    with pytest.raises(CommandError, match="No rack"):
        call_command("simulate_rack", "nowhere")
    with pytest.raises(CommandError, match="rate"):
        call_command("simulate_rack", str(rack.pk), "--rate", "0")
