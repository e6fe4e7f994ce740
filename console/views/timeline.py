"""An app's timeline, where a promotion and the end of its rolling deploy read as one deploy."""

from dataclasses import dataclass, field

from notifications.models import Notification

PROMOTED = "release:promote"
DEPLOY_ENDS = ("release:deployed", "release:promote-failed")


@dataclass
class TimelineEntry:
    """One line of the timeline: a single notification, or a deploy of one release."""

    notification: Notification
    read: bool = True
    release_id: str = ""
    ended: Notification | None = None
    parts: list[Notification] = field(default_factory=list)

    @property
    def is_deploy(self) -> bool:
        return bool(self.release_id)

    @property
    def latest_id(self) -> int:
        return max(n.pk for n in self.parts) if self.parts else self.notification.pk

    @property
    def deploy_state(self) -> str:
        if self.ended is None:
            return "rolling"
        return "failed" if self.ended.event_type == "release:promote-failed" else "finished"

    @property
    def severity(self) -> str:
        """A deploy reads as its end once it has one."""
        return (self.ended or self.notification).severity


def build_timeline(rows: list[tuple[Notification, bool]]) -> list[TimelineEntry]:
    """Group (notification, read) rows into timeline entries, newest first.

    A deploy's end joins the latest open promotion of the same release before it.
    """
    entries: list[TimelineEntry] = []
    open_deploys: dict[str, TimelineEntry] = {}
    for notification, read in sorted(rows, key=lambda row: row[0].pk):
        release_id = notification.object_id
        if notification.event_type == PROMOTED and release_id:
            entry = TimelineEntry(notification, read, release_id=release_id,
                                  parts=[notification])
            open_deploys[release_id] = entry
            entries.append(entry)
            continue
        deploy = open_deploys.get(release_id) if release_id else None
        if notification.event_type in DEPLOY_ENDS and deploy is not None:
            deploy.ended = notification
            deploy.parts.append(notification)
            deploy.read = deploy.read and read
            del open_deploys[release_id]
            continue
        entries.append(TimelineEntry(notification, read))
    return sorted(entries, key=lambda e: e.latest_id, reverse=True)
