"""What an app's environment may hold, and who reads its values: the one rule of each,
shared by the API and the dashboard.

Both ways of setting an environment call `check_env`, so a variable refused by one is
refused by the other with the same words. It raises a plain `ValueError` so this module
knows nothing of DRF or Django forms; each caller turns it into its own kind of error.
"""

import re

from racks.models import ACTING_ROLES, Role

# The names a shell accepts as variables; longer ones are almost certainly a mistake.
# Used with fullmatch: `$` in a match would let a name end in a newline ("A\n").
ENV_MAX_NAME = 100
ENV_NAME_RE = re.compile(rf"[A-Za-z_][A-Za-z0-9_]{{0,{ENV_MAX_NAME - 1}}}")
# Bounds that keep one release row (and the page that shows it) a sensible size.
ENV_MAX_VARIABLES = 200
ENV_MAX_VALUE = 10_000


def check_based_on(latest: str, based_on: str | None, app_name: str) -> None:
    """Refuse (ValueError) a new environment edited from a release that is no longer the
    app's latest: saving replaces the whole environment, so what was saved in between
    would be lost. `based_on` is the release the editor started from ("" for none);
    None when the caller did not say (an API client that sets the whole environment)."""
    if based_on is not None and based_on != latest:
        raise ValueError(f"The environment of {app_name} was changed (release "
                         f"{latest or 'none'}) since you loaded it from release "
                         f"{based_on or 'none'}: nothing was changed. Reload the page to "
                         "start from the new one.")


def check_env(env: object) -> dict[str, str]:
    """Return `env` unchanged if it is a valid environment, else raise `ValueError`.

    The message names the first problem found, in words for the person who typed it.
    """
    if not isinstance(env, dict):
        raise ValueError("The environment is an object of names to strings.")
    if len(env) > ENV_MAX_VARIABLES:
        raise ValueError(f"At most {ENV_MAX_VARIABLES} variables.")
    for name, text in env.items():
        # A JSON body can only give string keys, but a caller in Python could pass others.
        if not isinstance(name, str) or not ENV_NAME_RE.fullmatch(name):
            raise ValueError(
                "A variable name is letters, digits and underscores, not starting with a "
                f"digit (at most {ENV_MAX_NAME}).")
        if not isinstance(text, str):
            raise ValueError(f"The value of {name} must be a string.")
        # NUL cannot be stored in a PostgreSQL text/jsonb value nor passed to a process.
        if "\x00" in text or len(text) > ENV_MAX_VALUE:
            raise ValueError(
                f"The value of {name} must be text without NUL characters, at most "
                f"{ENV_MAX_VALUE} characters.")
        # A rack keeps an environment as NAME=value lines, and so does the page's form: a
        # value with a line break in it would come back as two variables.
        if text and text.splitlines() != [text]:
            raise ValueError(f"The value of {name} must be one line.")
    return env


def may_read_env_values(role: Role | str | None) -> bool:
    """Whether someone of this role reads the values of an environment, where secrets
    usually live: members and up do; viewers read the names only."""
    return role in ACTING_ROLES


def env_as_seen(env: dict[str, str], role: Role | str | None) -> dict[str, str | None]:
    """The environment as someone of `role` sees it: every name, and its value only when
    `may_read_env_values` (else None). The API and the app page both show it so."""
    if may_read_env_values(role):
        return dict(env)
    return dict.fromkeys(env)
