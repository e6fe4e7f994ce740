"""The API's shapes for accounts, organizations, members, racks and what runs on them.

Input and output are separate serializers where they differ, so the schema says exactly
what a client sends and what it gets back.
"""

from typing import Any

from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from racks import rack_update
from racks.accounts import token_id, validate_token_days
from racks.caps import over_caps
from racks.env import check_env, env_as_seen
from racks.models import (
    ACTING_ROLES,
    NAME_RE,
    App,
    Build,
    Formation,
    Invitation,
    Membership,
    Organization,
    Rack,
    RackDriverKind,
    Release,
    Resource,
    ResourceType,
    Role,
    validate_signing_keys,
)

NAME_HELP = "Lower-case letters, digits and dashes, starting with a letter (at most 63)."


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


class NameField(serializers.RegexField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", NAME_HELP)
        super().__init__(NAME_RE.pattern, max_length=63,
                         error_messages={"invalid": NAME_HELP}, **kwargs)


# Accounts and API tokens


class TokenOptionsSerializer(serializers.Serializer):
    """What a new token may be given: a name and how long it lasts."""

    name = serializers.CharField(max_length=100, required=False, default="", allow_blank=True,
                                 help_text="To tell your tokens apart, e.g. `ci deploys`.")
    expires_in_days = serializers.IntegerField(
        required=False, default=None, allow_null=True, validators=[validate_token_days],
        help_text="Days until the token stops working: 90 unless given, at most "
                  "API_TOKEN_MAX_DAYS (365 unless the deployment says otherwise).")


class TokenRequestSerializer(TokenOptionsSerializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=1000, trim_whitespace=False,
                                     style={"input_type": "password"})


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Shown once; send it as `Authorization: Token "
                                            "<token>`.")
    expires_at = serializers.DateTimeField(help_text="When the token stops working.")


class TokenInfoSerializer(serializers.Serializer):
    id = serializers.SerializerMethodField(help_text="Use it to revoke the token.")
    name = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField(source="created")
    last_used_at = serializers.SerializerMethodField(
        help_text="To the minute: it is written at most once a minute.")
    expires_at = serializers.DateTimeField(source="expiry", allow_null=True)

    def get_id(self, token: Any) -> str:
        return token_id(token)

    def get_name(self, token: Any) -> str:
        details = getattr(token, "details", None)
        return details.name if details else ""

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_last_used_at(self, token: Any) -> str | None:
        details = getattr(token, "details", None)
        if details is None or details.last_used_at is None:
            return None
        return serializers.DateTimeField().to_representation(details.last_used_at)


class WsTicketSerializer(serializers.Serializer):
    ticket = serializers.CharField(help_text="For `?ticket=` on /ws/notifications/; once.")
    expires_in = serializers.IntegerField(help_text="Seconds the ticket stays valid.")


class RegisterSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=1000, trim_whitespace=False, write_only=True,
                                     style={"input_type": "password"})

    def validate_username(self, value: str) -> str:
        User = get_user_model()
        try:
            User.username_validator(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(list(exc.messages)) from None
        if User.objects.filter(username__iexact=value).exists():
            raise serializers.ValidationError("That username is taken.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        User = get_user_model()
        candidate = User(username=attrs["username"], email=attrs["email"])
        try:
            password_validation.validate_password(attrs["password"], candidate)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": list(exc.messages)}) from None
        return attrs


class UserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.EmailField()


# Organizations and members


class OrganizationCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)


class OrganizationSerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField(help_text="Your role in the organization.")

    class Meta:
        model = Organization
        fields = ["slug", "name", "role", "created_at"]

    def get_role(self, org: Organization) -> str:
        return getattr(org, "caller_role", None) or self.context.get("role", "")


class MemberUpdateSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class MemberSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username")
    email = serializers.EmailField(source="user.email", required=False,
                                   help_text="Shown to owners and admins only.")

    class Meta:
        model = Membership
        fields = ["username", "email", "role", "created_at"]

    def to_representation(self, membership: Membership) -> dict:
        shown = super().to_representation(membership)
        if not self.context.get("show_email"):
            shown.pop("email")
        return shown


class InvitationCreateSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150, required=False, allow_blank=True)
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
    role = serializers.ChoiceField(choices=Role.choices, default=Role.MEMBER)

    def validate(self, data: dict) -> dict:
        if bool(data.get("username", "").strip()) == bool(data.get("email", "").strip()):
            raise serializers.ValidationError(
                "Give either a username or an email address to invite.")
        return data


class InvitationSerializer(serializers.ModelSerializer):
    """An invitation as its organization's owners and admins see it."""

    organization = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    invitee = serializers.CharField(help_text="The username or email address invited.")

    class Meta:
        model = Invitation
        fields = ["id", "organization", "invitee", "role", "status", "created_at",
                  "expires_at"]


class OrganizationRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Organization
        fields = ["slug", "name"]


class ReceivedInvitationSerializer(serializers.ModelSerializer):
    """An invitation as its invitee sees it."""

    organization = OrganizationRefSerializer(read_only=True)
    invited_by = serializers.SerializerMethodField()

    class Meta:
        model = Invitation
        fields = ["id", "organization", "role", "invited_by", "expires_at"]

    def get_invited_by(self, invitation: Invitation) -> str | None:
        return invitation.invited_by.get_username() if invitation.invited_by else None


class JoinedSerializer(serializers.Serializer):
    organization = OrganizationRefSerializer()
    role = serializers.CharField()


# Racks


class RackCreateSerializer(serializers.Serializer):
    organization = serializers.SlugField(max_length=110,
                                         help_text="The slug of the organization.")
    name = NameField()
    driver = serializers.ChoiceField(
        choices=RackDriverKind.choices, default=RackDriverKind.LOCAL,
        help_text="`convox` connects an existing Convox rack (give `host` and `password`); "
                  "without it the rack is a local rack.")
    host = serializers.CharField(max_length=300, required=False, allow_blank=True,
                                 help_text="The rack's API, e.g. https://rack.example.com.")
    password = serializers.CharField(max_length=500, required=False, allow_blank=True,
                                     write_only=True, trim_whitespace=False,
                                     help_text="The rack password; stored encrypted, never "
                                               "shown again.")
    tls_fingerprint = serializers.CharField(
        max_length=200, required=False, allow_blank=True,
        help_text="`sha256:<hex>` of a self-signed rack's certificate, to trust it.")

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if data["driver"] == RackDriverKind.CONVOX:
            missing = [f for f in ("host", "password") if not data.get(f)]
            if missing:
                raise serializers.ValidationError(
                    {f: ["A Convox rack needs its API host and password."] for f in missing})
        elif data.get("host") or data.get("password") or data.get("tls_fingerprint"):
            raise serializers.ValidationError(
                "host, password and tls_fingerprint are for connecting a Convox rack: "
                'send "driver": "convox" with them.')
        return data


class RackUpdateSerializer(serializers.Serializer):
    webhook_signing_key = serializers.CharField(
        max_length=300, allow_blank=True, required=False, write_only=True,
        help_text="Lower-case hex keys (at least 64 hex characters), comma-separated, at "
                  "most four, as a rack accepts; empty to stop requiring signatures. Never "
                  "shown again.")
    version = serializers.CharField(max_length=40, required=False,
                                    validators=[rack_update.validate_version])
    count = serializers.IntegerField(min_value=1, max_value=1000, required=False,
                                     help_text="How many instances the rack runs.")
    instance_type = serializers.CharField(max_length=40, required=False,
                                          validators=[rack_update.validate_instance_type])

    def validate_webhook_signing_key(self, value: str) -> str:
        try:
            validate_signing_keys(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(list(exc.messages)) from None
        return value


class RackSerializer(serializers.ModelSerializer):
    organization = serializers.CharField(source="organization.slug")
    count = serializers.IntegerField(source="instance_count", allow_null=True,
                                     help_text="Instances the rack runs; null when the rack "
                                               "does not report it (v3).")
    reachable = serializers.SerializerMethodField(
        help_text="False once a connected rack has not answered several reads in a row.")
    signed = serializers.SerializerMethodField(
        help_text="Whether the rack has signing keys, so events need a Convox-Signature.")
    ingest_url = serializers.SerializerMethodField(
        help_text="Where the rack sends its events. It is a secret: shown to members, "
                  "admins and owners; null for viewers, who only read.")
    role = serializers.SerializerMethodField(help_text="Your role in the rack's "
                                                       "organization.")
    over_cap = serializers.SerializerMethodField(
        help_text="The caps (`apps`, `resources`) the rack's own events went past: the "
                  "console keeps their notifications but does not model what they added. "
                  "Empty within its caps.")

    class Meta:
        model = Rack
        fields = ["id", "name", "organization", "driver", "host", "generation", "provider",
                  "status", "version", "count", "instance_type", "signed", "ingest_url",
                  "role", "over_cap", "reachable", "synced_at", "created_at"]

    def get_reachable(self, rack: Rack) -> bool:
        return not rack.unreachable_notified

    def get_over_cap(self, rack: Rack) -> list[str]:
        return over_caps(rack)

    def get_signed(self, rack: Rack) -> bool:
        return bool(rack.webhook_signing_key)

    def get_role(self, rack: Rack) -> str:
        return getattr(rack, "caller_role", None) or self.context.get("role", "")

    def get_ingest_url(self, rack: Rack) -> str | None:
        if self.get_role(rack) not in ACTING_ROLES:
            return None
        return self.context["request"].build_absolute_uri(rack.ingest_path)


class RackConnectedSerializer(RackSerializer):
    """A rack just connected: the rack, and what the person should know or do next."""

    warnings = serializers.ListField(child=serializers.CharField(), read_only=True)
    signing_key_command = serializers.CharField(
        read_only=True, help_text="v3: run it so the rack signs its events, then PATCH the "
                                  "rack's webhook_signing_key with the same key. Empty on v2.")

    class Meta(RackSerializer.Meta):
        fields = [*RackSerializer.Meta.fields, "warnings", "signing_key_command"]


# Apps, builds, releases, formation, resources


class AppCreateSerializer(serializers.Serializer):
    name = NameField()


class AppSerializer(serializers.ModelSerializer):
    release = serializers.SerializerMethodField(help_text="The live release's id, if any.")

    class Meta:
        model = App
        fields = ["name", "release", "status", "created_at"]
        extra_kwargs = {"status": {"help_text": "As a connected rack last reported it "
                                                "(running, updating, rollback, ...); empty "
                                                "on the local rack."}}

    def get_release(self, app: App) -> str | None:
        return getattr(app, "live_release", None)


class BuildCreateSerializer(serializers.Serializer):
    description = serializers.CharField(max_length=200, required=False, allow_blank=True,
                                        default="")
    fail = serializers.BooleanField(required=False, default=False,
                                    help_text="Ask the local rack for a build that fails.")


class BuildSerializer(serializers.ModelSerializer):
    app = serializers.CharField(source="app.name")

    class Meta:
        model = Build
        fields = ["id", "app", "status", "description", "logs", "created_at", "started_at",
                  "ended_at"]


class ReleaseCreateSerializer(serializers.Serializer):
    env = serializers.DictField(child=serializers.CharField(allow_blank=True),
                                help_text="The app's whole new environment.")
    based_on = serializers.CharField(
        required=False, allow_blank=True, max_length=20,
        help_text="The release the environment was edited from (\"\" for none): if the "
                  "app's latest release is another, nothing is changed and the answer is "
                  "400, so that a save never replaces one made in between.")

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise serializers.ValidationError({"env": ["Send {\"env\": {...}}."]})
        if "env" not in data:
            raise serializers.ValidationError({"env": ["This field is required."]})
        based_on = data.get("based_on")
        if based_on is not None and (not isinstance(based_on, str) or len(based_on) > 20):
            raise serializers.ValidationError({"based_on": ["A release id, or \"\" for none."]})
        # The rule lives in racks.env so the dashboard's form refuses the same environments.
        try:
            return {"env": check_env(data["env"]), "based_on": based_on}
        except ValueError as problem:
            raise serializers.ValidationError({"env": [str(problem)]}) from None


class ReleaseSerializer(serializers.ModelSerializer):
    """A release; its environment as the caller's role (context "role") may see it."""

    app = serializers.CharField(source="app.name")
    build = serializers.CharField(source="build_id", allow_null=True)
    env = serializers.SerializerMethodField(
        help_text="The app's environment. Viewers get every name with a null value: values "
                  "usually hold secrets, and only members, admins and owners read them.")

    class Meta:
        model = Release
        fields = ["id", "app", "build", "env", "active", "created_at", "promoted_at"]

    @extend_schema_field(serializers.DictField(child=serializers.CharField(allow_null=True)))
    def get_env(self, release: Release) -> dict[str, str | None]:
        return env_as_seen(release.env, self.context.get("role"))


class PromoteSerializer(serializers.Serializer):
    force = serializers.BooleanField(
        required=False, default=False,
        help_text="Promote even while the app is still updating (a connected rack refuses "
                  "otherwise).")


class ScaleSerializer(serializers.Serializer):
    process = NameField()
    count = serializers.IntegerField(min_value=0, max_value=1000,
                                     help_text="The local rack runs at most 100 copies.")
    cpu = serializers.IntegerField(min_value=0, max_value=1_000_000, required=False,
                                   help_text="v2: ECS cpu units; v3: millicores.")
    memory = serializers.IntegerField(min_value=0, max_value=1_000_000, required=False,
                                      help_text="v2: MB; v3: MiB.")


class FormationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Formation
        fields = ["process", "count", "cpu", "memory"]


class ResourceCreateSerializer(serializers.Serializer):
    name = NameField()
    type = serializers.ChoiceField(choices=ResourceType.choices)


class ResourceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Resource
        fields = ["name", "type", "status", "created_at"]

