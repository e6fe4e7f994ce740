"""How much one websocket may ask of its server: the limits every client message counts in.

Each socket holds one `SocketLimits`. A message that makes the server work (a `resume`
reads the database and may send back 500 notifications; a `watch` checks a build's, an
app's or a rack's permission and joins its group) is started only through `admit()`: at most one at
a time per socket, and at most one of each kind a second (a page sends its resume and its
watch together when it connects). A socket watches at most `MAX_WATCHED` objects. A
message the server refuses, for those limits or because it cannot be read, is counted
with `refused()`; a socket refused more than `MAX_REFUSALS` times within
`REFUSAL_WINDOW_SECONDS` is flooding, and the consumer closes it with `CLOSE_FLOODING`.

A browser sends one resume when it (re)connects, so none of this touches it; a program
that sends 100 resumes at once gets one answer, a few errors, then the close.
"""

import time
from collections import deque
from collections.abc import Callable

CLOSE_FLOODING = 1008  # policy violation (RFC 6455)
MIN_INTERVAL_SECONDS = 1.0
MAX_REFUSALS = 10
REFUSAL_WINDOW_SECONDS = 10.0
# A page watches one build, app or rack; a socket holding more than this is not a page's.
MAX_WATCHED = 10


class SocketLimits:
    """One socket's budget of requests; see the module's docstring."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.in_flight: str | None = None
        self.last_started: dict[str, float] = {}
        self.refusals: deque[float] = deque()

    def admit(self, kind: str) -> str | None:
        """Start a `kind` request if the limits allow it now: None. Else say why not, in
        words for the client; the caller refuses the message. Call `done()` after."""
        if self.in_flight is not None:
            return f"The last {self.in_flight} is still being answered; wait for its end."
        now = self.clock()
        if now - self.last_started.get(kind, float("-inf")) < MIN_INTERVAL_SECONDS:
            return (f"At most one {kind} request every {MIN_INTERVAL_SECONDS:g} s; "
                    "send it again later.")
        self.in_flight, self.last_started[kind] = kind, now
        return None

    def done(self) -> None:
        """The admitted request is answered (or failed)."""
        self.in_flight = None

    def refused(self) -> bool:
        """Count a refused message; True when the socket is flooding and must be closed."""
        now = self.clock()
        self.refusals.append(now)
        while self.refusals[0] <= now - REFUSAL_WINDOW_SECONDS:
            self.refusals.popleft()
        return len(self.refusals) > MAX_REFUSALS
