"""Connecting to an X server from Python (python3-Xlib, the library pyautogui uses).

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

from actions.errors import InputError, require


def is_x11() -> bool:
    """True where input and capture go through an X server (Linux and the BSDs)."""
    return os.name == "posix" and sys.platform != "darwin"


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
