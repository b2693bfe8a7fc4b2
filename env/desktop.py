"""The desktop environment: mss capture, XTest pointer and keyboard (pyautogui off X11).

`DesktopEnv` captures one monitor (or all of them) with mss and performs
actions given in screenshot pixels of that capture: the base class validates
them (bounds, supported keys and text) and maps them to input coordinates with
the geometry recorded at capture time (monitor offset and HiDPI scale), then
`_perform` sends them. The screen is live: `act` returns once the input was
sent; pass ``settle`` to wait until the screen stops changing.

On X11 each env holds one connection to its display: pointer and keyboard go
through XTest on it, and it watches the RandR layout, so that the next
`observe` after monitors were rearranged (or another became primary) reads the
geometry again. Two envs on two displays in one process do not interfere.

Platforms: Linux X11 and Xvfb are tested. A Wayland session is refused unless
the env runs its own Xvfb or ``xwayland=True`` says that driving X11 apps under
XWayland is what is wanted. macOS and Windows use mss and pyautogui, untested:
the HiDPI scale is measured (captured size / monitor size), never assumed (2.0
on a Retina Mac, whose mss monitors and pyautogui coordinates are points); on
Windows mss is opened in ``__init__``, before pyautogui is imported, so both
work in physical pixels (scale 1).

Typical use::

    with DesktopEnv(virtual_display="1920x1080") as env:
        env.launch(["xterm"])
        obs = env.observe()                     # obs.image: RGB, obs.geometry
        env.act(Click(x=100, y=200))            # screenshot pixels
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import subprocess
import time
from typing import TYPE_CHECKING, Any

from PIL import Image

from actions.project_errors import InputError, require
from actions.types import (
    Action,
    Click,
    Drag,
    HoldKey,
    Key,
    LongPress,
    Move,
    Scroll,
    Swipe,
    Terminate,
    Type,
    Wait,
)
from env.base import Env, FailSafeError, ScreenGeometry, ScrollSent
from env.desktop_backends import Keyboard, Pointer
from env.desktop_capture import ShmCapture
from env.desktop_monitors import (
    MonitorChoice,
    MonitorInfo,
    geometry_for,
    monitor_infos,
    parse_monitor,
    select_monitor,
)
from env.desktop_wheel import plan_wheel
from env.display_services import DEFAULT_WINDOW_MANAGER, WindowManagerName
from env.reaper import watch
from env.virtual_display import VirtualDisplay, ensure_display, started_here
from env.x11 import WAYLAND_MESSAGE, LayoutWatch, is_x11, open_display, wayland_session

if TYPE_CHECKING:
    from env.devices import DeviceSection

log = logging.getLogger(__name__)

FOCUS_SECONDS = 15.0
"""How long `launch` waits for the app's window to focus it (less if the app exits)."""
TERMINATE_SECONDS = 3.0
"""How long a launched app (and what it started) gets to exit before it is killed."""


class DesktopEnv(Env):
    """This machine's screen (or a fresh Xvfb), driven like a user would.

    Args:
        monitor: index into mss's monitor list (0 = all monitors together) or
            ``"primary"``.
        virtual_display: ``"WxH"`` starts an Xvfb of that size for the life of
            the env (DISPLAY points at it meanwhile); None uses $DISPLAY.
        window_manager: what manages the windows of that Xvfb: ``openbox`` (titles,
            focus, dialogs kept on screen) or ``none``. $DISPLAY keeps its own.
        failsafe: a pointer resting in a screen corner stops the next action,
            sending nothing.
        xwayland: in a Wayland session, drive $DISPLAY (XWayland) anyway: only X11
            apps are seen and reached there. Without it a Wayland session is refused.
        dry_run, settle: see `Env`.
    """

    platform = "desktop"

    def __init__(
        self,
        *,
        monitor: MonitorChoice = "primary",
        virtual_display: str | tuple[int, int] | None = None,
        window_manager: WindowManagerName = DEFAULT_WINDOW_MANAGER,
        failsafe: bool = True,
        xwayland: bool = False,
        dry_run: bool = False,
        settle: float = 0.0,
    ) -> None:
        super().__init__(dry_run=dry_run, settle=settle)
        self.monitor_choice = parse_monitor(monitor)
        self.failsafe = failsafe
        self.launched: list[subprocess.Popen[bytes]] = []
        self._pointer: Pointer | None = None
        self._keyboard: Keyboard | None = None
        self._x: Any = None  # this env's X connection: input and the layout watch
        self._layout: LayoutWatch | None = None
        self._monitor: dict[str, Any] = {}
        self._sct: Any = None
        self._shm: ShmCapture | None = None  # mss's shared segment read in place (X11)
        on_own_xvfb = virtual_display is not None or started_here(os.environ.get("DISPLAY"))
        if wayland_session() and not (on_own_xvfb or xwayland):
            raise InputError(WAYLAND_MESSAGE)
        self.virtual_display: VirtualDisplay | None = ensure_display(
            virtual_display, window_manager=window_manager
        )
        try:
            self.display_name = os.environ.get("DISPLAY") if is_x11() else None
            self._sct = self._open_mss()
            if is_x11():
                self._x = open_display(self.display_name)
                self._layout = LayoutWatch(self._x)
            self._geometry = self._read_geometry()
        except BaseException:
            self._release()
            raise

    # -- capture ---------------------------------------------------------------------------
    def _open_mss(self) -> Any:
        mss = require("mss", "desktop")
        try:
            if self.display_name:
                return mss.MSS(display=self.display_name)
            return mss.MSS()
        except mss.ScreenShotError as exc:
            raise InputError(f"cannot open display {self.display_name}: {exc}") from None

    def monitors(self) -> list[MonitorInfo]:
        """Every monitor mss reports (index 0 = all together), with the capture scale."""
        infos = monitor_infos(self._sct.monitors)
        result = []
        for info in infos:
            shot = self._sct.grab(self._sct.monitors[info.index])
            result.append(info.model_copy(update={"scale": shot.size.width / info.width}))
        return result

    def _read_geometry(self) -> ScreenGeometry:
        forget = getattr(self._pointer, "forget_screen", None)
        if forget is not None:  # the fail-safe's corners follow the new layout
            forget()
        if self._geometry is not None:
            # mss caches the monitor list; a resolution change needs a fresh connection.
            self._sct.close()
            self._sct = self._open_mss()
        index, monitor = select_monitor(self._sct.monitors, self.monitor_choice)
        self._monitor = dict(monitor)
        shot = self._sct.grab(self._monitor)
        # after a grab through mss, which proves its shared-memory segment works
        self._shm = ShmCapture.for_mss(self._sct) if self._x is not None else None
        geometry = geometry_for(index, monitor, (shot.size.width, shot.size.height))
        log.info(
            "monitor %d: %dx%d at %s, scale %g",
            index,
            geometry.width,
            geometry.height,
            geometry.offset,
            geometry.scale,
        )
        return geometry

    def _capture(self) -> Image.Image:
        if self._shm is not None:
            try:
                return self._shm.grab(self._monitor)
            except Exception as exc:  # its assumptions about mss failed: mss from now on
                log.warning("shared-memory capture off (%s); capturing through mss", exc)
                self._shm = None
        shot = self._sct.grab(self._monitor)
        # Raw BGRA straight into PIL: no PNG round trip, and `.raw` rather than `.bgra`
        # (which copies the 8 MB frame into bytes first).
        return Image.frombytes("RGB", shot.size, shot.raw, "raw", "BGRX")

    def _layout_changed(self) -> bool:
        return self._layout is not None and self._layout.changed()

    def focused_window_class(self) -> tuple[str, ...] | None:
        """WM_CLASS of the X window with the keyboard focus (None off X11)."""
        if self._x is None:
            return None
        from env.x11_windows import focused_window_class

        return focused_window_class(self.display_name)

    # -- input ---------------------------------------------------------------------------
    @property
    def pointer(self) -> Pointer:
        """The pointer: XTest on this env's X connection, pyautogui elsewhere (on first use)."""
        if self._pointer is None:
            if self._x is not None:
                from env.desktop_pointer import X11Pointer

                self._pointer = X11Pointer(self._x, failsafe=self.failsafe)
            else:
                from env.desktop_input import PyautoguiPointer

                self._pointer = PyautoguiPointer(failsafe=self.failsafe)
        return self._pointer

    @property
    def keyboard(self) -> Keyboard:
        """The keyboard: XTest on X11 (exact Unicode), pyautogui elsewhere (ASCII)."""
        if self._keyboard is None:
            if self._x is not None:
                from env.desktop_keyboard import X11Keyboard

                self._keyboard = X11Keyboard(connection=self._x)
            else:
                from env.desktop_input import PyautoguiKeyboard

                self._keyboard = PyautoguiKeyboard(self.pointer)
        return self._keyboard

    def _plan_scroll(self, action: Scroll) -> ScrollSent:
        geometry, axis = self.geometry, action.axis
        return plan_wheel(geometry, axis=axis, amount=action.amount, pixels=action.pixels)

    # each action type's handler (`Env._perform`); `actions.vocabulary` says which exist here
    def _check_key(self, action: Key) -> None:
        self.keyboard.check_combo(action.keys)

    def _check_hold_key(self, action: HoldKey) -> None:
        self.keyboard.check_combo(action.keys)

    def _check_type(self, action: Type) -> None:
        self.keyboard.check_text(action.text)

    def _perform(self, action: Action) -> None:
        # pointer actions check in the pointer, once (a move is the way out of a corner)
        if action.type in ("type", "key", "hold_key"):
            self.pointer.check_failsafe()
        try:
            super()._perform(action)
        except Exception as exc:
            if type(exc).__name__ == "FailSafeException":  # pyautogui's own, off X11
                raise FailSafeError("fail-safe: the pointer was moved to a corner") from exc
            raise

    def _do_wait(self, action: Wait) -> None:
        time.sleep(action.seconds)

    def _do_terminate(self, action: Terminate) -> None:
        return

    def _do_click(self, action: Click) -> None:
        self.pointer.click(action.x, action.y, button=action.button, count=action.count)

    def _do_move(self, action: Move) -> None:
        self.pointer.move(action.x, action.y)

    def _do_drag(self, action: Drag) -> None:
        start = None if action.x is None or action.y is None else (action.x, action.y)
        end = (action.to_x, action.to_y)
        self.pointer.drag(start, end, button=action.button, duration=action.duration)

    def _do_swipe(self, action: Swipe) -> None:
        start, end = (action.x, action.y), (action.to_x, action.to_y)
        self.pointer.drag(start, end, duration=action.duration)

    def _do_long_press(self, action: LongPress) -> None:
        self.pointer.long_press(action.x, action.y, duration=action.duration)

    def _do_scroll(self, action: Scroll) -> None:
        notches = self._plan_scroll(action).notches or 0
        horizontal = action.axis == "horizontal"
        self.pointer.scroll(notches, action.x, action.y, horizontal=horizontal)

    def _do_type(self, action: Type) -> None:
        self.keyboard.type_text(action.text)

    def _do_key(self, action: Key) -> None:
        self.keyboard.press_combo(action.keys)

    def _do_hold_key(self, action: HoldKey) -> None:
        self.keyboard.press_combo(action.keys, hold=action.seconds)

    # -- apps ------------------------------------------------------------------------------
    def launch(self, target: str | list[str]) -> None:
        """Start a desktop app (no shell; a string is split like a command line).

        The app runs on this env's display and is terminated when the env closes (or
        when the agent is killed: `env.reaper`). On X11 this returns once the app's
        first window is shown and has been given the keyboard focus, so that typing
        right after reaches it; at most `FOCUS_SECONDS`, at once for a program that
        exits. The new process is `launched[-1]`.
        """
        self._ensure_open()
        argv = shlex.split(target) if isinstance(target, str) else list(target)
        if not argv or not argv[0]:
            raise InputError("launch: empty command")
        program = argv[0]
        if shutil.which(program) is None:
            raise InputError(f"launch: program {program!r} not found")
        if self.dry_run:
            log.info("dry run: would launch %s", shlex.join(argv))
            return
        if self.virtual_display is not None:  # its own session bus, too (display_services)
            env = self.virtual_display.child_env()
        else:
            env = dict(os.environ)
        if self.display_name:
            env["DISPLAY"] = self.display_name
        before = self._windows()
        process = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # not in our terminal's process group: Ctrl-C stops the run, then close() the app
            start_new_session=os.name == "posix",
            creationflags=getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0),
        )
        self.launched.append(process)
        watch(process.pid)  # ended with the agent, even when the agent is killed
        log.info("launched %s (pid %d)", shlex.join(argv), process.pid)
        if before is not None:
            self._focus_new_window(process, before)

    def _windows(self) -> set[int] | None:
        """The top-level windows now, to tell a launched app's window apart (X11 only)."""
        if self.display_name is None or not is_x11():
            return None
        from env.x11_windows import top_level_windows

        return top_level_windows(self.display_name)

    def _focus_new_window(self, process: subprocess.Popen[bytes], before: set[int]) -> None:
        """Give the launched app's first window the keyboard, so typing goes there."""
        from env.x11_windows import focus_new_window

        window = focus_new_window(self.display_name, process.pid, before, timeout=FOCUS_SECONDS)
        if window is None:
            log.info("no new window of pid %d to focus", process.pid)

    def _stop_launched(self) -> None:
        """Terminate each launched app and every process it started, then kill what is left.

        psutil walks the process tree on every platform (os.killpg is POSIX-only, and
        misses children that left the group with setsid).
        """
        import psutil

        for process in reversed(self.launched):
            if process.poll() is not None:
                continue
            try:
                parent = psutil.Process(process.pid)
                tree = [parent, *parent.children(recursive=True)]
            except psutil.NoSuchProcess:
                continue
            for member in tree:
                try:
                    member.terminate()
                except psutil.NoSuchProcess:
                    pass
            _, alive = psutil.wait_procs(tree, timeout=TERMINATE_SECONDS)
            for member in alive:
                try:
                    member.kill()
                except psutil.NoSuchProcess:
                    pass
            psutil.wait_procs(alive, timeout=TERMINATE_SECONDS)
            process.poll()  # reap it, so that Popen knows
        self.launched.clear()

    # -- lifetime ---------------------------------------------------------------------------
    def _close(self) -> None:
        self._release()

    def _release(self) -> None:
        try:
            self._stop_launched()
        finally:
            try:
                if self._keyboard is not None:
                    self._keyboard.close()
                    self._keyboard = None
                self._pointer = self._layout = None
                if self._x is not None:
                    # Clicks are flushed, not waited for: let the server take them before
                    # the connection goes (closing at once would drop the last one).
                    try:
                        self._x.sync()
                    except Exception as exc:  # a server gone already: nothing left to wait for
                        log.debug("no sync before closing the X connection: %s", exc)
                    self._x.close()
                    self._x = None
                self._shm = None
                if self._sct is not None:
                    self._sct.close()
                    self._sct = None
            finally:
                if self.virtual_display is not None:
                    self.virtual_display.stop()
                    self.virtual_display = None

    def __enter__(self) -> DesktopEnv:
        return self


def desktop_devices(*, xwayland: bool = False) -> DeviceSection:
    """The `agent devices` section for this display's monitors (index 0 = all together).

    Args:
        xwayland: list XWayland's monitors in a Wayland session (see `DesktopEnv`).
    """
    from env.devices import DeviceSection

    columns = ["index", "geometry", "primary", "scale", "name"]
    if is_x11() and not os.environ.get("DISPLAY"):
        note = "no display: DISPLAY is not set (pass --virtual-display WxH to start one)"
        return DeviceSection(title="monitors", columns=columns, note=note)
    with DesktopEnv(monitor=0, xwayland=xwayland) as env:
        infos = env.monitors()
    rows = [
        [
            str(info.index),
            info.geometry_text,
            "yes" if info.primary else "",
            f"{info.scale:g}" if info.scale is not None else "",
            "all" if info.index == 0 else info.name or "",
        ]
        for info in infos
    ]
    title = f"monitors (DISPLAY={env.display_name})" if env.display_name else "monitors"
    return DeviceSection(title=title, columns=columns, rows=rows)
