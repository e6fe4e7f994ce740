"""The live feed: one websocket per open dashboard, fed by notifications.live.push.

The consumer joins its user group (unread counts, "reconnect") and registers with its
process' fan-out for each of its user's organizations (notifications.live.fanout). A
notification message reaches every socket of the organization once; each socket forwards
it only if its user's feed holds it (the message lists those users; see
notifications.live.push). A page that shows one build, app or rack sends `watch` and its
socket joins that object's group (live.build_group, live.app_group, live.rack_group) once
the user is found to see it. What a client may send it is bounded: messages of at most 4 KiB
(console.server), one request at a time, at most one of each kind a second, at most
`MAX_WATCHED` objects watched (notifications.live.limits).
"""

import asyncio
import weakref
from datetime import timedelta
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.utils import timezone
from redis.asyncio import Redis
from redis.exceptions import RedisError

from console.bounds import is_db_int
from console.metrics import WEBSOCKETS_OPEN
from notifications.items import notification_item
from notifications.live import push as live
from notifications.live.fanout import fanout
from notifications.live.layer import remember_server_loop
from notifications.live.limits import CLOSE_FLOODING, MAX_WATCHED, SocketLimits
from notifications.models import FeedEntry
from notifications.unread import Badge, UnreadState, unread_state
from racks import permissions
from racks.accounts import token_id
from racks.models import Build, Membership

# Close codes the client understands.
CLOSE_NOT_LOGGED_IN = 4401  # stop and ask the person to log in again
CLOSE_RECONNECT = 4000  # memberships or session changed: reconnect to pick up the new ones

# Ids are taken before commit, so an entry with a lower id can commit after one with a
# higher id that a client already holds; resume also re-sends this recent window.
RESUME_LOOKBACK = timedelta(seconds=30)
# A client that missed more than this reloads its feed instead of replaying it.
RESUME_MAX = 500
# How many of the recent entries it already holds a resume sends again, at most.
RESUME_AGAIN_MAX = 500


@database_sync_to_async
def organizations_and_unread(user_id: int) -> tuple[list[int], UnreadState]:
    """What a socket needs to start, in one trip to the database thread."""
    organizations = list(Membership.objects.filter(user_id=user_id)
                         .values_list("organization_id", flat=True))
    return organizations, unread_state(user_id)


@database_sync_to_async
def missed_items(user_id: int, after: int) -> list[dict[str, Any]] | None:
    """The user's feed after `after`, and again the recent entries up to it, oldest first;
    None when more than RESUME_MAX came after it (the client reloads instead).

    The entries up to `after` are sent again because a lower id can commit after a higher
    one the client holds, and because a client may have heard newer live pushes before
    its socket closed on a gap (the channel layer's Redis restarting): at most
    RESUME_AGAIN_MAX of them, the newest, from the last RESUME_LOOKBACK. Both reads are
    ranges of feed_entry_once_per_user (user, notification).
    """
    mine = FeedEntry.objects.filter(user_id=user_id).select_related("notification__rack")
    newer = list(mine.filter(notification_id__gt=after).order_by("notification_id")
                 [: RESUME_MAX + 1])
    if len(newer) > RESUME_MAX:
        return None
    recent = timezone.now() - RESUME_LOOKBACK
    again = [e for e in mine.filter(notification_id__lte=after)
             .order_by("-notification_id")[:RESUME_AGAIN_MAX] if e.created_at >= recent]
    return [notification_item(e.notification, read=e.read) for e in [*reversed(again), *newer]]


exact_unread = database_sync_to_async(unread_state)

# What the client may send, said back when it sends something else.
MESSAGES_HELP = ('Send {"type": "resume", "after": <notification id>}, or '
                 '{"type": "watch", "build": "<build id>"} or '
                 '{"type": "watch", "app": "<rack id>/<app name>"} or '
                 '{"type": "watch", "rack": <rack id>}.')
NOT_WATCHABLE = "There is no such build, app or rack that you may see."


@database_sync_to_async
def watched_build(user: Any, build_id: str) -> Build | None:
    """The build if the user is a member of its rack's organization (any role reads)."""
    visible = permissions.visible_racks(user)
    return (Build.objects.select_related("app").filter(pk=build_id, app__rack__in=visible)
            .first())


@database_sync_to_async
def may_see_app(user: Any, rack_id: int, name: str) -> bool:
    return permissions.visible_racks(user).filter(pk=rack_id, apps__name=name).exists()


@database_sync_to_async
def may_see_rack(user: Any, rack_id: int) -> bool:
    return permissions.visible_racks(user).filter(pk=rack_id).exists()


def watch_target(content: dict[str, Any]) -> tuple[str, str] | None:
    """("build", id), ("app", "<rack id>/<name>") or ("rack", "<rack id>") from a
    well-formed watch message."""
    targets = {key: content.get(key) for key in ("build", "app", "rack")}
    named = [key for key, value in targets.items() if value is not None]
    if len(named) != 1:
        return None
    build, app, rack = targets["build"], targets["app"], targets["rack"]
    if isinstance(build, str) and 0 < len(build) <= 20:
        return "build", build
    if isinstance(app, str) and 0 < len(app) <= 130:
        rack_id, _, name = app.partition("/")
        if rack_id.isascii() and rack_id.isdigit() and is_db_int(int(rack_id)) and name:
            return "app", app
    if is_db_int(rack) and rack > 0:
        return "rack", str(rack)
    return None


# Sockets of this process. When the channel layer's Redis restarts, what was published
# while it was away is gone and the sockets would never know: they are closed, so their
# clients reconnect and resume.
_open_sockets: "weakref.WeakSet[NotificationConsumer]" = weakref.WeakSet()
_restart_watch: asyncio.Task | None = None
REDIS_CHECK_SECONDS = 2


async def close_sockets_when_redis_restarts(url: str) -> None:
    client = Redis.from_url(url)
    known = None
    while True:
        await asyncio.sleep(REDIS_CHECK_SECONDS)
        try:
            run_id = (await client.info("server"))["run_id"]
        except RedisError:
            continue  # away: once back, its run_id tells whether it restarted
        if known is not None and run_id != known:
            for socket in list(_open_sockets):
                await socket.close(code=CLOSE_RECONNECT)
        known = run_id


def watch_redis_restarts() -> None:
    global _restart_watch
    if settings.REDIS_URL and (_restart_watch is None or _restart_watch.done()
                               or _restart_watch.get_loop() is not asyncio.get_running_loop()):
        _restart_watch = asyncio.create_task(
            close_sockets_when_redis_restarts(settings.REDIS_URL))


class NotificationConsumer(AsyncJsonWebsocketConsumer):
    user: Any = None
    user_id: int = 0
    organizations: tuple[int, ...] = ()
    joined: tuple[str, ...] = ()
    joined_at_connect = 0  # the groups joined on connect; the rest are watched objects
    # Its unread count (notifications.unread); set on connect.
    badge: Badge
    # Closes a socket opened with an API token when the token expires.
    expiry_timer: asyncio.TimerHandle | None = None
    # What the client may ask of this socket (notifications.live.limits); set on connect.
    limits: SocketLimits
    flooding = False  # closed for flooding: what it still sends is dropped

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            # Accept first: a close code can only be sent on an open socket.
            await self.accept()
            await self.close(code=CLOSE_NOT_LOGGED_IN)
            return
        remember_server_loop(asyncio.get_running_loop())
        self.user, self.user_id = user, user.pk
        self.limits = SocketLimits()
        organizations, unread = await organizations_and_unread(user.pk)
        self.badge = Badge(unread)
        # Open before joining: a frame pushed to a socket not yet accepted is refused.
        # What is pushed before the joins, the client's resume (its first message, handled
        # after this) fetches; it also counts again, so a notification racing the count
        # is not left out of it.
        await self.accept()
        self.organizations = tuple(organizations)
        for organization_id in self.organizations:
            await fanout().join(organization_id, self)
        self.joined = (live.user_group(user.pk),)
        token = self.scope.get("api_token")
        if token is not None:
            # Revoking the token closes this socket (live.disconnect_token); so does its expiry.
            self.joined += (live.token_group(token_id(token)),)
            if token.expiry is not None:
                self.expiry_timer = asyncio.get_running_loop().call_later(
                    max(0.0, (token.expiry - timezone.now()).total_seconds()),
                    lambda: asyncio.ensure_future(self.close(code=CLOSE_NOT_LOGGED_IN)))
        for group in self.joined:
            await self.channel_layer.group_add(group, self.channel_name)
        self.joined_at_connect = len(self.joined)
        await self.send_unread(unread)
        _open_sockets.add(self)
        WEBSOCKETS_OPEN.inc()
        watch_redis_restarts()

    async def send_unread(self, exact: UnreadState) -> None:
        self.badge.reset(exact)
        await self.send_json({"type": "unread_count", "count": exact.count})

    async def disconnect(self, code: int) -> None:
        if self in _open_sockets:
            _open_sockets.discard(self)
            WEBSOCKETS_OPEN.dec()
        if self.expiry_timer is not None:
            self.expiry_timer.cancel()
            self.expiry_timer = None
        for organization_id in self.organizations:
            await fanout().leave(organization_id, self)
        self.organizations = ()
        for group in self.joined:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.joined = ()

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if self.user is None or self.flooding:
            return
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "resume":
            await self.receive_resume(content)
        elif kind == "watch":
            await self.receive_watch(content)
        else:
            await self.refuse(MESSAGES_HELP)

    async def receive_resume(self, content: dict[str, Any]) -> None:
        after = content.get("after", 0)
        if not is_db_int(after) or after < 0:
            await self.refuse("after is the id of the newest notification held.")
            return
        refusal = self.limits.admit("resume")
        if refusal is not None:
            await self.refuse(refusal)
            return
        try:
            await self.resume(after)
        finally:
            self.limits.done()

    async def receive_watch(self, content: dict[str, Any]) -> None:
        target = watch_target(content)
        if target is None:
            await self.refuse(MESSAGES_HELP)
            return
        if len(self.joined) - self.joined_at_connect >= MAX_WATCHED:
            await self.refuse(f"A socket watches at most {MAX_WATCHED} builds, apps or racks.")
            return
        refusal = self.limits.admit("watch")
        if refusal is not None:
            await self.refuse(refusal)
            return
        try:
            await self.watch(*target)
        finally:
            self.limits.done()

    async def watch(self, kind: str, key: str) -> None:
        """Join the build's, app's or rack's group if the user sees it, and say where it
        stands.

        The group is joined before the build is read: an update sent in between is
        both in the snapshot and sent after it, and the page drops logs it already shows.
        """
        if kind == "build":
            group = live.build_group(key)
            await self.join(group)
            build = await watched_build(self.user, key)
            if build is None:
                await self.leave(group)
                await self.refuse(NOT_WATCHABLE)
                return
            await self.send_json({"type": "build", "build": live.build_summary(build),
                                  "logs": build.logs, "snapshot": True})
            return
        if kind == "rack":
            if not await may_see_rack(self.user, int(key)):
                await self.refuse(NOT_WATCHABLE)
                return
            await self.join(live.rack_group(int(key)))
            await self.send_json({"type": "watching", "rack": int(key)})
            return
        rack_id, _, name = key.partition("/")
        if not await may_see_app(self.user, int(rack_id), name):
            await self.refuse(NOT_WATCHABLE)
            return
        await self.join(live.app_group(int(rack_id), name))
        await self.send_json({"type": "watching", "app": key})

    async def join(self, group: str) -> None:
        if group not in self.joined:
            self.joined += (group,)
            await self.channel_layer.group_add(group, self.channel_name)

    async def leave(self, group: str) -> None:
        if group in self.joined:
            self.joined = tuple(g for g in self.joined if g != group)
            await self.channel_layer.group_discard(group, self.channel_name)

    async def refuse(self, error: str) -> None:
        """Answer a message the socket may not send (now); close a socket that floods."""
        await self.send_json({"type": "error", "error": error})
        if self.limits.refused():
            self.flooding = True
            await self.close(code=CLOSE_FLOODING)

    async def resume(self, after: int) -> None:
        """Send what the client missed after `after`, oldest first, then its count."""
        items = await missed_items(self.user.pk, after)
        if items is None:
            await self.send_json({"type": "resync"})
        else:
            for item in items:
                await self.send_json({"type": "notification", "notification": item})
        await self.send_unread(await exact_unread(self.user.pk))

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None,
                      **kwargs: Any) -> None:
        try:
            await super().receive(text_data=text_data, bytes_data=bytes_data, **kwargs)
        except (ValueError, TypeError):
            if self.user is not None and not self.flooding:
                await self.refuse("Messages are JSON objects.")

    async def push_notification(self, head: str, notification_id: int) -> None:
        """A new notification of this user's feed, encoded but for its last field.

        The message carries the user's unread count with it (`"unread_count": N`): a
        separate count frame per notification would cost the process and every browser
        as much as the notification itself, and 1,000 of them at once hold up the next
        notification behind them.
        """
        await self.send(text_data=f"{head}{self.badge.add(notification_id)}}}")

    async def feed_unread(self, event: dict[str, Any]) -> None:
        await self.send_unread(UnreadState(event["count"], event["counted"]))

    async def feed_build(self, event: dict[str, Any]) -> None:
        """A watched build (or a build of a watched app) changed: live.broadcast_build."""
        await self.send_json({"type": "build", "build": event["build"], "logs": event["logs"]})

    async def feed_app(self, event: dict[str, Any]) -> None:
        """A watched app has a new notification: its page refreshes its timeline."""
        await self.send_json({"type": "app", "notification": event["notification"]})

    async def feed_app_state(self, event: dict[str, Any]) -> None:
        """A watched app's status or formation changed: its page re-reads them."""
        await self.send_json({"type": "app_state", "status": event["status"]})

    async def feed_rack(self, event: dict[str, Any]) -> None:
        """A watched rack has a new notification: its page redraws its activity."""
        await self.send_json({"type": "rack", "notification": event["notification"]})

    async def feed_disconnect(self, event: dict[str, Any]) -> None:
        await self.close(code=event.get("code", CLOSE_RECONNECT))
