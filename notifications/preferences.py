"""Which channels each person wants for a notification."""

from collections.abc import Sequence

from django.contrib.auth.models import AbstractBaseUser

from notifications.catalogue import BY_KEY
from notifications.models import Notification


def channels_wanted(
    users: Sequence[AbstractBaseUser], notification: Notification
) -> dict[int, frozenset[str]]:
    """For each user, the channels the notification goes to (the catalogue's defaults)."""
    defaults = BY_KEY[notification.event_type].default_channels
    return {user.pk: defaults for user in users}
