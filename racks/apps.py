"""The racks app: organizations, racks and what runs on them, and the console's credentials."""

from django.apps import AppConfig


class RacksConfig(AppConfig):
    name = "racks"

    def ready(self) -> None:
        # Connects the receiver that gives every API token its details row.
        from racks import accounts  # noqa: F401
