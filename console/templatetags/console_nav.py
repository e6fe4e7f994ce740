"""What the header needs on every page: the visitor's organizations for the switcher and
the count of invitations waiting for their answer."""

from django import template
from django.conf import settings
from django.http import HttpRequest

from notifications.models import FeedEntry
from racks.invitations import pending_for
from racks.labels import repeated_names
from racks.models import Organization

register = template.Library()


@register.simple_tag(takes_context=True)
def nav_organizations(context: template.Context) -> list[Organization]:
    request: HttpRequest | None = context.get("request")
    if request is None or not request.user.is_authenticated:
        return []
    organizations = list(Organization.objects.filter(memberships__user=request.user)
                         .order_by("name", "slug"))
    # Two organizations of one name are told apart by their slugs in the switcher.
    repeated = repeated_names(organizations)
    for organization in organizations:
        organization.name_repeated = organization.pk in repeated
    return organizations


@register.simple_tag(takes_context=True)
def latest_feed_id(context: template.Context) -> int:
    """The newest notification id of the visitor's feed: the page's live connection resumes
    after it, so nothing made while the page loads slips by."""
    request: HttpRequest | None = context.get("request")
    if request is None or not request.user.is_authenticated:
        return 0
    return (FeedEntry.objects.filter(user=request.user).order_by("-notification_id")
            .values_list("notification_id", flat=True).first()) or 0


@register.simple_tag(takes_context=True)
def pending_invitation_count(context: template.Context) -> int:
    request: HttpRequest | None = context.get("request")
    if request is None or not request.user.is_authenticated:
        return 0
    return pending_for(request.user).count()


@register.simple_tag
def retention_days() -> int:
    """How far back the feed reaches (notifications.retention)."""
    return settings.NOTIFICATION_RETENTION_DAYS
