"""Signals the racks send for the rest of the console to act on (the live feed listens)."""

from django.dispatch import Signal

# Sent with `build` and `appended_logs` (the log lines it gained, "" for none) after a
# change to a build is committed (racks.events.build_progressed).
build_changed = Signal()
