"""Signals the racks send for the rest of the console to act on (the live feed listens)."""

from django.dispatch import Signal

# Sent with `build` and `appended_logs` (the log lines it gained, "" for none) after a
# change to a build is committed (racks.events.build_progressed).
build_changed = Signal()
# Sent with `app` after a change to an app's status or formation is committed
# (racks.events.app_progressed), for the pages that show the app.
app_changed = Signal()
