"""What a private Xvfb needs to feel like a desktop: a window manager and a session bus.

Without a window manager, X gives the keyboard to whatever window is under the
pointer, windows have no title bars (so no title to wait for) and a dialog taller
than the screen is cut off. Openbox (Debian's ``openbox``, ~1 MB) is started by
default: it is small, follows the EWMH hints the agent uses (``_NET_ACTIVE_WINDOW``,
``_NET_WM_PID``, ``_NET_CLIENT_LIST``), focuses new windows, draws titles, and fits
a window larger than the screen inside it. It runs with a config written here,
with focus on click and *no key bindings*, so that every key the agent sends
reaches the app.

GTK apps look for a D-Bus session bus and, finding none, autolaunch one
(``dbus-launch --autolaunch``) with an accessibility bus that outlive the run. Each
private display gets its own ``dbus-daemon --session`` instead; launched apps see
it in ``DBUS_SESSION_BUS_ADDRESS``, and what it activates (at-spi-bus-launcher,
at-spi2-registryd, dconf) is stopped with it.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Literal

from actions.project_errors import InputError
from env.reaper import watch

log = logging.getLogger(__name__)

WindowManagerName = Literal["openbox", "none"]
WINDOW_MANAGERS: tuple[str, ...] = ("openbox", "none")
DEFAULT_WINDOW_MANAGER: WindowManagerName = "openbox"
WM_HINT = "install it with: sudo apt-get install -y openbox (or pass --window-manager none)"
START_SECONDS = 10.0
"""How long a window manager or bus gets to come up."""
STOP_SECONDS = 3.0

OPENBOX_RC = """<?xml version="1.0" encoding="UTF-8"?>
<openbox_config xmlns="http://openbox.org/3.4/rc">
  <resistance><strength>0</strength><screen_edge_strength>0</screen_edge_strength></resistance>
  <focus><focusNew>yes</focusNew><followMouse>no</followMouse></focus>
  <placement><policy>Smart</policy><center>yes</center></placement>
  <theme><name>Clearlooks</name><titleLayout>NLIMC</titleLayout></theme>
  <desktops><number>1</number></desktops>
  <keyboard></keyboard>
  <mouse>
    <dragThreshold>1</dragThreshold>
    <doubleClickTime>500</doubleClickTime>
    <context name="Titlebar">
      <mousebind button="Left" action="Drag"><action name="Move"/></mousebind>
      <mousebind button="Left" action="DoubleClick"><action name="ToggleMaximize"/></mousebind>
    </context>
    <context name="Titlebar Top Right Bottom Left TLCorner TRCorner BRCorner BLCorner">
      <mousebind button="Left" action="Press"><action name="Focus"/><action name="Raise"/></mousebind>
    </context>
    <context name="Top"><mousebind button="Left" action="Drag"><action name="Resize"><edge>top</edge></action></mousebind></context>
    <context name="Bottom"><mousebind button="Left" action="Drag"><action name="Resize"><edge>bottom</edge></action></mousebind></context>
    <context name="Left"><mousebind button="Left" action="Drag"><action name="Resize"><edge>left</edge></action></mousebind></context>
    <context name="Right"><mousebind button="Left" action="Drag"><action name="Resize"><edge>right</edge></action></mousebind></context>
    <context name="BRCorner"><mousebind button="Left" action="Drag"><action name="Resize"/></mousebind></context>
    <context name="Client">
      <mousebind button="Left" action="Press"><action name="Focus"/><action name="Raise"/></mousebind>
      <mousebind button="Middle" action="Press"><action name="Focus"/><action name="Raise"/></mousebind>
      <mousebind button="Right" action="Press"><action name="Focus"/><action name="Raise"/></mousebind>
    </context>
    <context name="Close"><mousebind button="Left" action="Click"><action name="Close"/></mousebind></context>
    <context name="Maximize"><mousebind button="Left" action="Click"><action name="ToggleMaximize"/></mousebind></context>
    <context name="Iconify"><mousebind button="Left" action="Click"><action name="Iconify"/></mousebind></context>
  </mouse>
</openbox_config>
"""  # noqa: E501 (one binding a line reads better than wrapped XML)


def parse_window_manager(value: object) -> WindowManagerName:
    """``openbox`` or ``none`` (case-insensitive); a one-line error otherwise."""
    text = str(value).strip().lower() if value is not None else "none"
    if text not in WINDOW_MANAGERS:
        raise InputError(
            f"unknown window manager {value!r}: expected one of {', '.join(WINDOW_MANAGERS)}"
        )
    return text  # type: ignore[return-value]


def _stop(process: subprocess.Popen[bytes] | None, what: str) -> None:
    """SIGTERM `process` and what it started; SIGKILL what is left after `STOP_SECONDS`."""
    if process is None or process.poll() is not None:
        return
    import psutil

    try:
        root = psutil.Process(process.pid)
        tree = [*root.children(recursive=True), root]
    except psutil.NoSuchProcess:
        tree = []
    for member in tree:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.terminate()
    _, alive = psutil.wait_procs(tree, timeout=STOP_SECONDS)
    for member in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=STOP_SECONDS)
    log.info("stopped %s", what)


class SessionBus:
    """A ``dbus-daemon --session`` of our own, stopped with everything it activated."""

    def __init__(self) -> None:
        self.address: str | None = None
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> SessionBus:
        """Start the bus; without dbus-daemon, say so in the log and go on without one."""
        if shutil.which("dbus-daemon") is None:
            log.info("dbus-daemon not found: apps on this display may start their own bus")
            return self
        self._process = subprocess.Popen(
            ["dbus-daemon", "--session", "--nofork", "--nopidfile", "--print-address=1"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        watch(self._process.pid)
        assert self._process.stdout is not None
        line = self._process.stdout.readline().decode(errors="replace").strip()
        if not line:
            self.stop()
            raise InputError("dbus-daemon did not start a session bus")
        self.address = line
        log.info("started D-Bus session bus %s (pid %d)", line, self._process.pid)
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        _stop(process, "D-Bus session bus")
        if process is not None and process.stdout is not None:
            process.stdout.close()
        self.address = None


class WindowManager:
    """A window manager (openbox) on one display, with the agent's config."""

    def __init__(self, name: WindowManagerName = DEFAULT_WINDOW_MANAGER) -> None:
        self.name = parse_window_manager(name)
        self._process: subprocess.Popen[bytes] | None = None
        self._folder: str | None = None

    def start(self, display: str, env: dict[str, str]) -> WindowManager:
        """Start it on `display` and wait until it manages the screen."""
        if self.name == "none":
            return self
        if shutil.which(self.name) is None:
            raise InputError(f"window manager {self.name!r} is not installed; {WM_HINT}")
        self._folder = tempfile.mkdtemp(prefix="screenpilot-wm-")
        config = Path(self._folder) / "rc.xml"
        config.write_text(OPENBOX_RC)
        self._process = subprocess.Popen(
            ["openbox", "--config-file", str(config), "--sm-disable"],
            env={**env, "DISPLAY": display},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        watch(self._process.pid)
        deadline = time.monotonic() + START_SECONDS
        while not _wm_running(display):
            if self._process.poll() is not None or time.monotonic() > deadline:
                code = self._process.poll()
                self.stop()
                raise InputError(f"window manager {self.name} did not start (exit code {code})")
            time.sleep(0.02)
        log.info("started %s on %s (pid %d)", self.name, display, self._process.pid)
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        _stop(process, f"window manager {self.name}")
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None


def _wm_running(display: str) -> bool:
    """True once an EWMH window manager has announced itself on `display`'s root window."""
    from env.x11 import open_display

    try:
        xdisplay = open_display(display)
    except Exception:
        return False
    try:
        atom = xdisplay.intern_atom("_NET_SUPPORTING_WM_CHECK")
        prop = xdisplay.screen().root.get_full_property(atom, 0)
        return prop is not None and len(prop.value) > 0
    finally:
        xdisplay.close()
