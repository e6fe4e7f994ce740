"""Organizations and the racks they run, with the apps, builds, releases and resources on them."""

import re
import secrets
import string

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.text import slugify

ID_LETTERS = string.ascii_uppercase
RACK_ID_RE = re.compile(r"^[BR][A-Z]{10}$")
SIGNING_KEY_RE = re.compile(r"^[0-9a-f]{64,}$")
NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,62}$")


def new_object_id(prefix: str) -> str:
    """A rack-style id: a prefix letter and ten upper-case letters."""
    return prefix + "".join(secrets.choice(ID_LETTERS) for _ in range(10))


def new_ingest_token() -> str:
    return secrets.token_urlsafe(32)


def validate_name(value: str) -> None:
    if not NAME_RE.match(value or ""):
        raise ValidationError(
            "Use lower-case letters, digits and dashes, starting with a letter (at most 63)."
        )


MAX_SIGNING_KEYS = 4  # as many as convox/convox's pkg/hmac accepts


def validate_signing_keys(value: str) -> None:
    """The rack parameter's own format: lower-case hex keys, comma-separated, at most four."""
    if value == "":
        return
    keys = value.split(",")
    if len(keys) > MAX_SIGNING_KEYS:
        raise ValidationError(f"At most {MAX_SIGNING_KEYS} signing keys, as a rack accepts.")
    for key in keys:
        if not SIGNING_KEY_RE.match(key) or len(key) % 2:
            raise ValidationError(
                "A signing key is lower-case hex of at least 32 bytes (64 hex characters)."
            )


class Role(models.TextChoices):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"
    VIEWER = "viewer"


MANAGING_ROLES = (Role.OWNER, Role.ADMIN)
ACTING_ROLES = (Role.OWNER, Role.ADMIN, Role.MEMBER)


class Organization(models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=110, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def unique_slug(name: str) -> str:
        base = slugify(name)[:90] or "org"
        slug, n = base, 1
        while Organization.objects.filter(slug=slug).exists():
            n += 1
            slug = f"{base}-{n}"
        return slug


class Membership(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="one_membership_per_org")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} ({self.role})"


class InvitationStatus(models.TextChoices):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    REVOKED = "revoked"


class Invitation(models.Model):
    """An offer to join an organization with a role; nobody is a member until they accept.

    An invitation by username names its invitee (`user`), who sees it when logged in. One
    for a username that has no account keeps `user` empty and can never be accepted: it
    is written all the same, so that the inviter cannot tell the two apart. An invitation
    by email is claimed only through the emailed link, whose single-use token is stored
    hashed (`token_hash`); `user` is set when it is claimed.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE,
                                     related_name="invitations")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    # What the inviter typed: shown to the organization's managers, never resolved later.
    username = models.CharField(max_length=150, blank=True, default="")
    email = models.EmailField(max_length=254, blank=True, default="")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True,
                             blank=True, related_name="invitations")
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+")
    token_hash = models.CharField(max_length=64, blank=True, default="")
    status = models.CharField(max_length=10, choices=InvitationStatus.choices,
                              default=InvitationStatus.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    responded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(username="", email=""), name="invitation_names_someone"),
        ]
        indexes = [
            # The invitee's pending invitations: the banner on every page and their list.
            models.Index(fields=["user", "status"], name="invitation_invitee_idx"),
            # An organization's pending invitations, oldest first, on its page and the API.
            models.Index(fields=["organization", "status", "created_at"],
                         name="invitation_org_pending_idx"),
            # Claiming by the emailed link looks the token up by its hash.
            models.Index(fields=["token_hash"], name="invitation_token_idx",
                         condition=~models.Q(token_hash="")),
        ]

    def __str__(self) -> str:
        return f"{self.username or self.email} to {self.organization} ({self.role})"

    @property
    def invitee(self) -> str:
        return self.username or self.email


class RackDriverKind(models.TextChoices):
    """Who performs a rack's operations (racks.driver.driver_for)."""

    LOCAL = "local", "Local rack (inside the console)"
    CONVOX = "convox", "Convox rack"


class Generation(models.TextChoices):
    """A Convox rack's generation: v2 (ECS) and v3 (Kubernetes) differ in their API."""

    V2 = "2"
    V3 = "3"


class Rack(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="racks")
    name = models.CharField(max_length=63, validators=[validate_name])
    version = models.CharField(max_length=40, blank=True, default="")
    # None: the rack does not report it (a v3 rack); shown as "not reported".
    instance_count = models.PositiveIntegerField(default=3, null=True, blank=True)
    instance_type = models.CharField(max_length=40, blank=True, default="t3.small")
    ingest_token = models.CharField(max_length=64, unique=True, default=new_ingest_token)
    webhook_signing_key = models.CharField(
        max_length=300, blank=True, default="", validators=[validate_signing_keys]
    )
    driver = models.CharField(max_length=20, choices=RackDriverKind.choices,
                              default=RackDriverKind.LOCAL)
    created_at = models.DateTimeField(auto_now_add=True)

    # A connected (Convox) rack: where its API is and how the console signs in to it.
    host = models.CharField(max_length=300, blank=True, default="")
    # The rack password, encrypted with console.encryption; never shown again.
    password_encrypted = models.TextField(blank=True, default="")
    # `sha256:<hex>` of a self-signed rack's certificate, trusted instead of the CAs.
    tls_fingerprint = models.CharField(max_length=71, blank=True, default="")
    generation = models.CharField(max_length=1, choices=Generation.choices, blank=True,
                                  default="")
    provider = models.CharField(max_length=40, blank=True, default="")
    status = models.CharField(max_length=40, blank=True, default="")
    # The console's own webhook resource on the rack: its URL is the secret ingest URL.
    webhook_resource = models.CharField(max_length=63, blank=True, default="")
    # Sync (racks.sync): when it last read the rack, when it next may, and since when
    # the rack has not answered (null while it answers).
    synced_at = models.DateTimeField(null=True, blank=True)
    next_sync_at = models.DateTimeField(null=True, blank=True)
    sync_failures = models.PositiveIntegerField(default=0)
    unreachable_since = models.DateTimeField(null=True, blank=True)
    unreachable_error = models.CharField(max_length=500, blank=True, default="")
    unreachable_notified = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="rack_name_unique_in_org")
        ]
        indexes = [
            # racks.sync.sync_due_racks: the connected racks whose next sync is due.
            models.Index(fields=["next_sync_at"], name="rack_sync_due_idx",
                         condition=models.Q(driver="convox")),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def signing_keys(self) -> list[bytes]:
        if not self.webhook_signing_key:
            return []
        return [bytes.fromhex(k) for k in self.webhook_signing_key.split(",")]

    @property
    def ingest_path(self) -> str:
        return f"/ingest/{self.ingest_token}/"

    @property
    def is_connected(self) -> bool:
        """A real rack the console reaches over its API (not the local rack)."""
        return self.driver == RackDriverKind.CONVOX


class App(models.Model):
    rack = models.ForeignKey(Rack, on_delete=models.CASCADE, related_name="apps")
    name = models.CharField(max_length=63, validators=[validate_name])
    created_at = models.DateTimeField(auto_now_add=True)
    # As a connected rack last reported it (running, updating, rollback, ...); the rack's
    # own word, so free text; empty on the local rack.
    status = models.CharField(max_length=20, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rack", "name"], name="app_name_unique_in_rack")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def active_release(self) -> "Release | None":
        return self.releases.filter(active=True).first()


class BuildStatus(models.TextChoices):
    CREATED = "created"
    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"


class Build(models.Model):
    id = models.CharField(primary_key=True, max_length=11, editable=False)
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="builds")
    status = models.CharField(max_length=10, choices=BuildStatus.choices,
                              default=BuildStatus.CREATED)
    description = models.CharField(max_length=200, blank=True, default="")
    logs = models.TextField(blank=True, default="")
    # Lets a user (and the tests) ask the local rack for a build that fails.
    should_fail = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(id__regex=r"^B[A-Z]{10}$"),
                                   name="build_id_format")
        ]
        indexes = [
            # The app page's build list, newest first.
            models.Index(fields=["app", "-created_at"], name="build_app_recent_idx"),
        ]

    def __str__(self) -> str:
        return self.id


class Release(models.Model):
    id = models.CharField(primary_key=True, max_length=11, editable=False)
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="releases")
    build = models.ForeignKey(Build, on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="releases")
    env = models.JSONField(default=dict, blank=True)
    active = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    promoted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(id__regex=r"^R[A-Z]{10}$"),
                                   name="release_id_format"),
            # An app has at most one live release.
            models.UniqueConstraint(fields=["app"], condition=models.Q(active=True),
                                    name="one_active_release_per_app"),
        ]
        indexes = [
            # The app page's release list, newest first.
            models.Index(fields=["app", "-created_at"], name="release_app_recent_idx"),
        ]

    def __str__(self) -> str:
        return self.id


class Formation(models.Model):
    """How many copies of one process of an app run, and their size."""

    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="formation")
    process = models.CharField(max_length=63, validators=[validate_name])
    count = models.PositiveIntegerField(default=1)
    cpu = models.PositiveIntegerField(default=256)
    memory = models.PositiveIntegerField(default=512)

    class Meta:
        # No upper bound on count: a real rack reports what it runs (the console's own
        # scale forms keep their bounds).
        constraints = [
            models.UniqueConstraint(fields=["app", "process"], name="one_formation_per_process"),
        ]

    def __str__(self) -> str:
        return f"{self.app}/{self.process}={self.count}"


class ResourceType(models.TextChoices):
    """Every kind a v2 rack creates (a v3 rack has webhooks only)."""

    POSTGRES = "postgres"
    MYSQL = "mysql"
    REDIS = "redis"
    VALKEY = "valkey"
    MEMCACHED = "memcached"
    S3 = "s3"
    SNS = "sns"
    SQS = "sqs"
    SYSLOG = "syslog"
    WEBHOOK = "webhook"


class Resource(models.Model):
    rack = models.ForeignKey(Rack, on_delete=models.CASCADE, related_name="resources")
    name = models.CharField(max_length=63, validators=[validate_name])
    # Free text: a newer rack may report a type the console does not know yet.
    type = models.CharField(max_length=40)
    # As a connected rack reports it (creating, running, ...); empty on the local rack.
    status = models.CharField(max_length=40, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rack", "name"], name="resource_name_unique_in_rack")
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.name}"


class Capped(models.TextChoices):
    """What an organization holds a capped number of (the caps are settings: racks.caps)."""

    RACKS = "racks"
    APPS = "apps"
    RESOURCES = "resources"


class CapOverflow(models.Model):
    """An app or a resource a rack reported past its cap: the rack has it, the console
    does not model it. While a rack has any, it is shown as over its cap; the rack's
    event deleting that app or resource removes the row."""

    # No index of its own: cap_overflow_once_per_name leads with it.
    rack = models.ForeignKey(Rack, on_delete=models.CASCADE, related_name="cap_overflows",
                             db_index=False)
    kind = models.CharField(max_length=10, choices=Capped.choices)
    # As the event gave it (racks.intake.state only notes names that NAME_RE accepts).
    name = models.CharField(max_length=63)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # Also the index of racks.caps.with_over_caps: EXISTS (rack, kind) per rack.
            models.UniqueConstraint(fields=["rack", "kind", "name"],
                                    name="cap_overflow_once_per_name"),
        ]

    def __str__(self) -> str:
        return f"{self.rack_id}: {self.kind} {self.name}"


class TokenDetails(models.Model):
    """What knox's AuthToken does not hold (its model cannot be swapped once migrated): the
    name its owner gave a token and when it was last used. The expiry is knox's own."""

    token = models.OneToOneField("knox.AuthToken", on_delete=models.CASCADE,
                                 primary_key=True, related_name="details")
    name = models.CharField(max_length=100, blank=True, default="")
    # Written at most once a minute per token (racks.accounts.note_token_used).
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name or self.token_id[:16]
