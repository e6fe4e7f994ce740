"""The demo organization, user and rack the embedded console starts with (with DEBUG on,
or `runconsole --demo`). Its password is published in the README, so the demo user is an
ordinary user: never staff, never a superuser (`manage.py createsuperuser` makes an
administrator)."""

from django.contrib.auth import get_user_model
from django.db import transaction

from racks.models import Membership, Organization, Rack, Role

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "rack-console-demo"


def ensure_demo() -> bool:
    """Create the demo data on a console that has no users yet. True if it did."""
    User = get_user_model()
    if User.objects.exists():
        return False
    with transaction.atomic():
        user = User.objects.create_user(DEMO_USERNAME, "demo@example.com", DEMO_PASSWORD)
        org = Organization.objects.create(name="Demo", slug="demo")
        Membership.objects.create(organization=org, user=user, role=Role.OWNER)
        Rack.objects.create(organization=org, name="demo-rack", version="3.24.6")
    return True
