"""Connecting to an X server from Python (python3-xlib), and what kind of session this is.

Two traps live here so that the drivers do not each rediscover them:

* python3-Xlib 0.15 raises ``XauthError`` when ``~/.Xauthority`` does not exist,
  which is the normal state on a fresh server or CI box running Xvfb with no
  cookie. Only in that case do we point ``XAUTHORITY`` at an empty file for the
  duration of the connect (no cookie is what the server expects then).
* The same library prints "Xlib.xauth: warning, no xauthority details
  available" to *stdout* for an empty file, which would pollute the CLI's
  output (e.g. ``agent devices --json``); it is swallowed here.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator
from typing import Any

from actions.project_errors import InputError, require


def is_x11() -> bool:
    """True where input and capture go through an X server (Linux and the BSDs)."""
    return os.name == "posix" and sys.platform != "darwin"


def wayland_session() -> bool:
    """True in a Wayland desktop session (XDG_SESSION_TYPE=wayland, or WAYLAND_DISPLAY set
    in a session that does not say it is X11).

    Wayland lets no client capture other windows or send them input: through $DISPLAY
    (XWayland) screenpilot sees and drives X11 apps only.
    """
    if not is_x11():
        return False
    session = os.environ.get("XDG_SESSION_TYPE", "").strip().lower()
    if session == "wayland":
        return True
    return bool(os.environ.get("WAYLAND_DISPLAY")) and session != "x11"


WAYLAND_MESSAGE = (
    "this is a Wayland session, where screenpilot can neither capture nor control "
    "Wayland windows: use --virtual-display WxH (a private Xvfb; virtual_display in a task "
    "file), or --xwayland (xwayland: true) to drive X11 apps under XWayland only"
)


def _cookie_file_missing() -> bool:
    path = os.environ.get("XAUTHORITY") or os.path.join(os.path.expanduser("~"), ".Xauthority")
    return not os.path.exists(path)


@contextlib.contextmanager
def quiet_xauth() -> Iterator[None]:
    """Let python3-Xlib connect when no Xauthority file exists, without its stdout chatter."""
    previous = os.environ.get("XAUTHORITY")
    patched = _cookie_file_missing()
    if patched:
        os.environ["XAUTHORITY"] = os.devnull
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        if patched:
            if previous is None:
                os.environ.pop("XAUTHORITY", None)
            else:
                os.environ["XAUTHORITY"] = previous


def open_display(name: str | None = None) -> Any:
    """Open an Xlib connection to `name` (default: $DISPLAY); a one-line error when it fails."""
    xdisplay = require("Xlib.display", "desktop", package="python3-xlib")
    target = name or os.environ.get("DISPLAY")
    if not target:
        raise InputError("no display: DISPLAY is not set; pass --virtual-display 1920x1080")
    try:
        with quiet_xauth():
            return xdisplay.Display(target)
    except Exception as exc:  # Xlib raises several unrelated types for "cannot connect"
        raise InputError(f"cannot open X display {target}: {exc}") from None


class LayoutWatch:
    """Tells whether the screen layout changed: monitors added, moved or resized, another
    primary, a new screen size.

    Every such RandR change makes the X server send ConfigureNotify on the root window
    (RRSendConfigNotify: on RRSetMonitor and RRDeleteMonitor, and whenever the layout
    changes, which includes a new primary output), so the watch selects StructureNotify
    on the root and looks for it. One round trip per look (~0.1 ms) makes sure that
    every change made before the look is seen.
    """

    def __init__(self, connection: Any) -> None:
        from Xlib import X

        self._display = connection
        self._configure_notify = X.ConfigureNotify
        connection.screen().root.change_attributes(event_mask=X.StructureNotifyMask)
        connection.sync()

    def changed(self) -> bool:
        """True when the layout changed since the last call."""
        self._display.sync()
        changed = False
        while self._display.pending_events():
            event = self._display.next_event()
            changed = changed or event.type == self._configure_notify
        return changed
