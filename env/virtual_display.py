"""A virtual X display (Xvfb) for machines with no screen: servers, CI.

Xvfb is started here (not through PyVirtualDisplay) so that each piece can be
chosen: a random free display number from `DISPLAY_RANGE` (two agents starting at
once, or a user's own ``:1``, are not raced for the first free number), readiness
from Xvfb's ``-displayfd`` (no polling), a session bus and a window manager
(`env.display_services`), and a stop by SIGTERM, so that Xvfb removes its
``/tmp/.X11-unix/X<n>`` socket and ``/tmp/.X<n>-lock``. Started displays are
stopped on exit, on Ctrl-C (the context manager unwinds), at interpreter exit
(atexit), and by the watchdog of `env.reaper` when the agent is killed outright.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import random
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from actions.project_errors import InputError
from env.display_services import (
    DEFAULT_WINDOW_MANAGER,
    SessionBus,
    WindowManager,
    WindowManagerName,
)
from env.reaper import watch

log = logging.getLogger(__name__)

XVFB_HINT = "install it with: sudo apt-get install -y xvfb"
DISPLAY_RANGE = (100, 9999)
"""Display numbers tried at random (Xvfb listens on no TCP port, so any number works)."""
START_TRIES = 8
START_SECONDS = 20.0
STOP_SECONDS = 5.0

_RUNNING: set[str] = set()
"""DISPLAY names of the Xvfbs this process started and has not stopped yet."""


def started_here(name: str | None) -> bool:
    """True when `name` is an Xvfb this process started (a private display, in any session)."""
    return name is not None and name in _RUNNING


def parse_size(text: str) -> tuple[int, int]:
    """Parse ``"1920x1080"`` into ``(1920, 1080)``; a one-line error otherwise."""
    match = re.fullmatch(r"\s*(\d{2,5})\s*[xX]\s*(\d{2,5})\s*", text or "")
    if not match:
        raise InputError(f"invalid screen size {text!r}: expected WIDTHxHEIGHT such as 1920x1080")
    width, height = int(match.group(1)), int(match.group(2))
    if not (64 <= width <= 16384 and 64 <= height <= 16384):
        raise InputError(f"invalid screen size {text!r}: each side must be 64..16384")
    return width, height


def _free(number: int) -> bool:
    return not (
        Path(f"/tmp/.X{number}-lock").exists() or Path(f"/tmp/.X11-unix/X{number}").exists()
    )


class VirtualDisplay:
    """An Xvfb display of a given size that the process's DISPLAY points at while open.

    Args:
        size: ``(width, height)`` or ``"WxH"``.
        depth: colour depth.
        number: the display number; None picks a free one at random.
        window_manager: ``"openbox"`` or ``"none"`` (the default here, for tests and
            benches that place windows themselves; the agent's displays use openbox).
        session_bus: give apps launched on it their own D-Bus session bus.
    """

    def __init__(
        self,
        size: tuple[int, int] | str = (1920, 1080),
        *,
        depth: int = 24,
        number: int | None = None,
        window_manager: WindowManagerName = "none",
        session_bus: bool = True,
    ) -> None:
        self.size = parse_size(size) if isinstance(size, str) else size
        self.depth = depth
        self.number = number
        self.window_manager = WindowManager(window_manager)
        self.bus = SessionBus() if session_bus else None
        self._xvfb: subprocess.Popen[bytes] | None = None
        self._display: int | None = None
        self._ready_fd: int | None = None
        self._previous: str | None = None

    @property
    def name(self) -> str:
        """The DISPLAY value, e.g. ``:3``."""
        if self._display is None:
            raise InputError("virtual display is not started")
        return f":{self._display}"

    def child_env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment for an app on this display: DISPLAY and its own session bus."""
        env = dict(os.environ if base is None else base)
        env["DISPLAY"] = self.name
        if self.bus is not None and self.bus.address:
            env["DBUS_SESSION_BUS_ADDRESS"] = self.bus.address
        return env

    def start(self) -> VirtualDisplay:
        """Start Xvfb (then its bus and window manager) and point DISPLAY at it."""
        if shutil.which("Xvfb") is None:
            raise InputError(f"Xvfb is not installed; {XVFB_HINT}")
        self._previous = os.environ.get("DISPLAY")
        # Registered before the start, so that a Ctrl-C during start-up still stops Xvfb.
        atexit.register(self.stop)
        try:
            self._start_xvfb()
            os.environ["DISPLAY"] = self.name
            _RUNNING.add(self.name)
            if self.bus is not None:
                self.bus.start()
            self.window_manager.start(self.name, self.child_env())
        except BaseException:
            with contextlib.suppress(Exception):
                self.stop()
            raise
        log.info("started Xvfb %s at %dx%d", self.name, *self.size)
        return self

    def _start_xvfb(self) -> None:
        tries = 1 if self.number is not None else START_TRIES
        problem = ""
        for _ in range(tries):
            number = self.number if self.number is not None else random.randint(*DISPLAY_RANGE)
            if not _free(number):
                problem = f"display :{number} is in use"
                continue
            problem = self._try_xvfb(number)
            if not problem:
                self._display = number
                return
        raise InputError(f"cannot start Xvfb: {problem}")

    def _try_xvfb(self, number: int) -> str:
        """Start Xvfb on `number`; '' once it accepts connections, else why not."""
        read_end, write_end = os.pipe()
        width, height = self.size
        argv = [
            "Xvfb", f":{number}", "-screen", "0", f"{width}x{height}x{self.depth}",
            # -noreset: Xvfb otherwise resets (dropping RandR monitors and keymap changes)
            # whenever its last client disconnects.
            "-noreset", "-nolisten", "tcp", "-displayfd", str(write_end),
        ]  # fmt: skip
        # A file, not a pipe, for its messages: nobody reads a pipe while Xvfb runs.
        err = tempfile.TemporaryFile()
        try:
            self._xvfb = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                pass_fds=(write_end,),
                start_new_session=True,  # the terminal's Ctrl-C reaches us; we stop it after
            )
        finally:
            os.close(write_end)
        watch(self._xvfb.pid)
        # Xvfb writes its number when it is ready; EOF without it means it exited. The
        # read end stays open while it runs: Xvfb dies when a later write to it fails.
        reply = _read_with_timeout(read_end, START_SECONDS)
        if reply.strip() == str(number).encode():
            err.close()
            self._ready_fd = read_end
            return ""
        os.close(read_end)
        process, self._xvfb = self._xvfb, None
        with contextlib.suppress(Exception):
            process.kill()
        process.wait(timeout=STOP_SECONDS)
        err.seek(0)
        lines = err.read().decode(errors="replace").strip().splitlines()
        err.close()
        return lines[-1] if lines else f"Xvfb :{number} did not start"

    def stop(self) -> None:
        """Stop the window manager, the bus and Xvfb; restore DISPLAY. Safe to call twice."""
        atexit.unregister(self.stop)
        try:
            self.window_manager.stop()
            if self.bus is not None:
                self.bus.stop()
        finally:
            process, self._xvfb = self._xvfb, None
            if self._display is not None:
                _RUNNING.discard(self.name)
                if os.environ.get("DISPLAY") == self.name:
                    if self._previous is None:
                        os.environ.pop("DISPLAY", None)
                    else:
                        os.environ["DISPLAY"] = self._previous
                self._display = None
            if process is not None:
                _stop_xvfb(process)
            if self._ready_fd is not None:
                os.close(self._ready_fd)
                self._ready_fd = None

    def __enter__(self) -> VirtualDisplay:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _read_with_timeout(fd: int, seconds: float) -> bytes:
    import select

    ready, _, _ = select.select([fd], [], [], seconds)
    return os.read(fd, 64) if ready else b""


def _stop_xvfb(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, so that Xvfb removes its socket and lock file; SIGKILL only if it hangs."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_SECONDS)
    log.info("stopped Xvfb")


def ensure_display(
    virtual: str | tuple[int, int] | None = None,
    *,
    window_manager: WindowManagerName = DEFAULT_WINDOW_MANAGER,
) -> VirtualDisplay | None:
    """Start a virtual display when asked to; otherwise check that a display exists.

    Args:
        virtual: the size of a private display to start; None uses $DISPLAY.
        window_manager: what manages the private display's windows (``none``: nothing).

    Returns:
        The started `VirtualDisplay` (the caller stops it), or None when the
        existing DISPLAY is used.
    """
    if virtual:
        return VirtualDisplay(virtual, window_manager=window_manager).start()
    if not os.environ.get("DISPLAY") and os.name == "posix" and not _is_macos():
        hint = "pass --virtual-display 1920x1080 to start one"
        if shutil.which("Xvfb") is None:
            hint += f" (Xvfb is not installed; {XVFB_HINT})"
        raise InputError(f"no display: DISPLAY is not set; {hint}")
    return None


def _is_macos() -> bool:
    import sys

    return sys.platform == "darwin"
