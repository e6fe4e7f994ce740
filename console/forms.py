"""The dashboard's forms: they check what a person typed; the rack's driver decides the rest.

Several forms share a page, so each names its fields' ids after itself (`PageForm`): the
label, the field and its error stay tied together. A form that was refused goes back to
its page bound, with what was typed and the errors beside the fields (console.views).
"""

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm

from racks import rack_update
from racks.accounts import validate_token_days
from racks.env import ENV_MAX_NAME, ENV_MAX_VALUE, ENV_MAX_VARIABLES, check_env
from racks.models import NAME_RE, ResourceType, Role, validate_signing_keys

ENV_HELP = "One NAME=value per line."


class RegisterForm(UserCreationForm):
    email = forms.EmailField(required=True)

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")


class PageForm(forms.Form):
    """A form on a page with others: its fields' ids start with `id_prefix`."""

    id_prefix = ""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("auto_id", f"{self.id_prefix}-%s")
        super().__init__(*args, **kwargs)


class InviteForm(PageForm):
    id_prefix = "invite"
    username = forms.CharField(max_length=150, required=False)
    email = forms.EmailField(max_length=254, required=False)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER, label="As")

    def clean(self) -> dict:
        data = super().clean()
        if bool(data.get("username", "").strip()) == bool(data.get("email", "").strip()):
            raise forms.ValidationError("Give either a username or an email address.")
        return data


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, required=False,
                           help_text="To tell your tokens apart, e.g. ci deploys.")
    expires_in_days = forms.IntegerField(label="Expires in (days)", initial=90,
                                         validators=[validate_token_days])


class OrganizationForm(forms.Form):
    name = forms.CharField(max_length=100)


class RackForm(PageForm):
    id_prefix = "rack"
    name = forms.RegexField(regex=NAME_RE, max_length=63, label="New rack", error_messages={
        "invalid": "Use lower-case letters, digits and dashes, starting with a letter."})


class RackConnectForm(forms.Form):
    """Connect an existing Convox rack: racks.connect checks the rest with the rack."""

    name = forms.RegexField(regex=NAME_RE, max_length=63, error_messages={
        "invalid": "Use lower-case letters, digits and dashes, starting with a letter."})
    host = forms.CharField(max_length=300, label="Rack API host",
                           help_text="e.g. https://rack.example.com (convox rack, RACK_URL)")
    password = forms.CharField(max_length=500, strip=False, widget=forms.PasswordInput,
                               label="Rack password")
    tls_fingerprint = forms.CharField(
        max_length=200, required=False, label="TLS fingerprint (self-signed racks)",
        help_text="sha256:… of the rack's certificate; leave empty for a trusted one.")


class SigningKeyForm(forms.Form):
    webhook_signing_key = forms.CharField(
        max_length=300, required=False, strip=True, label="Signing keys",
        validators=[validate_signing_keys], widget=forms.PasswordInput,
        help_text="The rack's webhook_signing_key: lower-case hex, up to four, "
                  "comma-separated. Empty: events need no signature.")


class SourceBuildForm(PageForm):
    id_prefix = "source"
    source = forms.FileField(
        label="Source (.tgz)", help_text="A tarball of the app's directory, with convox.yml.",
        widget=forms.ClearableFileInput(attrs={"accept": ".tgz,.tar.gz,application/gzip"}))
    description = forms.CharField(max_length=200, required=False,
                                  label="Build description (optional)")


class AppForm(PageForm):
    id_prefix = "app"
    name = forms.CharField(max_length=63, label="New app")


class BuildForm(PageForm):
    id_prefix = "build"
    description = forms.CharField(max_length=200, required=False,
                                  label="Build description (optional)")
    fail = forms.BooleanField(required=False, label="Make this build fail")


class EnvForm(PageForm):
    id_prefix = "env"
    # Long enough for any environment the rule allows, so one set through the API can
    # always be saved again from the page.
    env = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False,
                          label="Environment",
                          help_text=ENV_HELP + " Saving creates a new release.",
                          max_length=ENV_MAX_VARIABLES * (ENV_MAX_NAME + ENV_MAX_VALUE + 2))
    # The release the environment shown was read from: a save from an older page is
    # refused rather than replacing what was saved since (racks.env.check_based_on).
    # None when not sent (a client that sets the whole environment, knowingly).
    based_on = forms.CharField(widget=forms.HiddenInput, required=False, max_length=20,
                               empty_value=None)

    def clean_env(self) -> dict[str, str]:
        env: dict[str, str] = {}
        for number, line in enumerate(self.cleaned_data["env"].splitlines(), start=1):
            if not line.strip():
                continue
            name, equals, value = line.partition("=")
            name = name.strip()
            if not equals or not name:
                raise forms.ValidationError(f"Line {number} is not NAME=value.")
            env[name] = value
        # The same rule as the API's, so a bad environment cannot get in through the page.
        try:
            return check_env(env)
        except ValueError as problem:
            raise forms.ValidationError(str(problem)) from None

    @staticmethod
    def as_text(env: dict[str, str]) -> str:
        return "\n".join(f"{k}={v}" for k, v in sorted(env.items()))


class ScaleForm(PageForm):
    id_prefix = "scale"
    process = forms.CharField(max_length=63, initial="web")
    # The driver says the rack's own bound (the local rack runs at most 100).
    count = forms.IntegerField(min_value=0, max_value=1000, initial=1,
                               widget=forms.NumberInput(attrs={"class": "count-input"}))
    cpu = forms.IntegerField(min_value=0, max_value=1_000_000, required=False)
    memory = forms.IntegerField(min_value=0, max_value=1_000_000, required=False)


class ResourceForm(PageForm):
    id_prefix = "resource"
    name = forms.CharField(max_length=63, label="New resource")
    type = forms.ChoiceField(choices=ResourceType.choices, label="Type")


class RackUpdateForm(PageForm):
    """The rack API's rule (racks.rack_update), and at least one thing to change."""

    id_prefix = "update"
    version = forms.CharField(max_length=rack_update.VERSION_MAX, required=False,
                              validators=[rack_update.validate_version])
    count = forms.IntegerField(min_value=1, max_value=1000, required=False,
                               label="Instance count")
    instance_type = forms.CharField(max_length=rack_update.INSTANCE_TYPE_MAX, required=False,
                                    validators=[rack_update.validate_instance_type])

    def clean(self) -> dict:
        data = super().clean()
        if not self.errors and not any(data.get(name) not in (None, "")
                                       for name in ("version", "count", "instance_type")):
            raise forms.ValidationError(
                "Give a version, an instance count or an instance type to change.")
        return data
