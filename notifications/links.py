"""Where a notification is seen in the console: one rule for the feed's mark-on-open view
and the emails."""

from django.urls import NoReverseMatch, reverse

from notifications.models import Notification


def notification_page(notification: Notification) -> str:
    """The path of the page a notification is about: its build (the logs, for a failed
    one), its release on the app's page, its app, or else its rack."""
    rack_id, app, object_id = notification.rack_id, notification.app, notification.object_id
    object_id = object_id if isinstance(object_id, str) else ""
    try:
        if app and notification.event_type != "app:delete":
            if object_id.startswith("B"):
                return reverse("build", args=[rack_id, app, object_id])
            if object_id.startswith("R"):
                return reverse("app", args=[rack_id, app]) + f"#release-{object_id}"
            return reverse("app", args=[rack_id, app])
    except NoReverseMatch:
        pass  # an app name the pages' URLs cannot hold (a real rack's): its rack's page
    return reverse("rack", args=[rack_id])
