"""Which release of an app is live."""

from django.db import transaction
from django.utils import timezone

from racks.models import App, Release


def make_release_active(release: Release) -> None:
    """The app's live release becomes this one."""
    with transaction.atomic():
        # Two promotes of one app at once would both find no other live release.
        App.objects.select_for_update().filter(pk=release.app_id).first()
        Release.objects.filter(app_id=release.app_id, active=True).exclude(
            pk=release.pk).update(active=False)
        release.active, release.promoted_at = True, timezone.now()
        release.save(update_fields=["active", "promoted_at"])
