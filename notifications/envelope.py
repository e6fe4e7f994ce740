"""The event a rack reports, as the pipeline takes it (racks.intake.envelope reads it off
the wire; the console's own actions build it directly)."""

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Envelope:
    action: str
    status: str = "success"
    data: dict[str, str] = field(default_factory=dict)
    # None when the rack sent none, or one that cannot be read, or Go's zero time.
    timestamp: datetime | None = None

    @property
    def app(self) -> str:
        if self.action.startswith("app:"):
            return self.data.get("app") or self.data.get("name", "")
        return self.data.get("app", "")

    @property
    def actor(self) -> str:
        """Who caused it, as v3 racks name them (and the console's own events do)."""
        return self.data.get("actor", "")
