"""Opening a notification: it is marked read and the reader lands on what it is about.

Its link in the feed goes through here, so reading marks read without JavaScript (the
feed's script only shows the mark at once). A GET that marks read, as GitHub's inbox
links do: the worst a forged link can do is mark one of the user's own items read.
"""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET

from notifications import feed
from notifications.links import notification_page
from notifications.models import FeedEntry, Notification
from racks import permissions


@login_required
@require_GET
def open_notification(request: HttpRequest, notification_id: int) -> HttpResponse:
    entry = (FeedEntry.objects.select_related("notification")
             .filter(user=request.user, notification_id=notification_id).first())
    if entry is not None:
        feed.mark_read(entry)
        return redirect(notification_page(entry.notification))
    # Not in the reader's feed, but in a rack history they read: nothing to mark.
    notification = Notification.objects.filter(
        pk=notification_id, rack__in=permissions.visible_racks(request.user)).first()
    if notification is None:
        raise Http404("No such notification.")
    return redirect(notification_page(notification))
