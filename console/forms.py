"""The dashboard's forms: they check what a person typed; the rack's driver decides the rest."""

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm

from racks.accounts import validate_token_days
from racks.env import ENV_MAX_NAME, ENV_MAX_VALUE, ENV_MAX_VARIABLES, check_env
from racks.models import NAME_RE, ResourceType, Role, validate_signing_keys

ENV_HELP = "One NAME=value per line."


class RegisterForm(UserCreationForm):
    email = forms.EmailField(required=True)

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")


class InviteForm(forms.Form):
    username = forms.CharField(max_length=150, required=False)
    email = forms.EmailField(max_length=254, required=False)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER)

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


class RackForm(forms.Form):
    name = forms.RegexField(regex=NAME_RE, max_length=63, error_messages={
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


class SourceBuildForm(forms.Form):
    source = forms.FileField(label="Source (.tgz)",
                             help_text="A tarball of the app's directory, with convox.yml.")
    description = forms.CharField(max_length=200, required=False)


class AppForm(forms.Form):
    name = forms.CharField(max_length=63)


class BuildForm(forms.Form):
    description = forms.CharField(max_length=200, required=False)
    fail = forms.BooleanField(required=False, label="Make this build fail")


class EnvForm(forms.Form):
    # Long enough for any environment the rule allows, so one set through the API can
    # always be saved again from the page.
    env = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False,
                          help_text=ENV_HELP,
                          max_length=ENV_MAX_VARIABLES * (ENV_MAX_NAME + ENV_MAX_VALUE + 2))

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


class ScaleForm(forms.Form):
    process = forms.CharField(max_length=63, initial="web")
    # The driver says the rack's own bound (the local rack runs at most 100).
    count = forms.IntegerField(min_value=0, max_value=1000)
    cpu = forms.IntegerField(min_value=0, max_value=1_000_000, required=False)
    memory = forms.IntegerField(min_value=0, max_value=1_000_000, required=False)


class ResourceForm(forms.Form):
    name = forms.CharField(max_length=63)
    type = forms.ChoiceField(choices=ResourceType.choices)


class RackUpdateForm(forms.Form):
    version = forms.CharField(max_length=40, required=False)
    count = forms.IntegerField(min_value=1, max_value=1000, required=False,
                               label="Instance count")
    instance_type = forms.CharField(max_length=40, required=False)
