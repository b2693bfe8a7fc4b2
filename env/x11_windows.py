"""Which X11 window has the keyboard, and giving it to a launched app (python3-Xlib).

A launched app's window is found as a new top-level window (a client of the
window manager, ``_NET_CLIENT_LIST``, or a child of the root without one) whose
``_NET_WM_PID`` is the app or one of its children; toolkits that set no pid
(Xt's xcalc, Tk) are taken as the new window. It gets the focus through the
window manager (EWMH ``_NET_ACTIVE_WINDOW``, source "pager" so focus-stealing
prevention lets it through), or with ``XSetInputFocus`` where none runs.

Keys go to the focus window; when the focus is ``PointerRoot`` (the X
server's default without a window manager, e.g. under Xvfb) they go to the
window under the pointer. The class is read from the deepest window on the
way that has one (toolkits set WM_CLASS on their top-level window, not on
the widget windows inside it).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from env.x11 import open_display

log = logging.getLogger(__name__)

_POINTER_ROOT = 1  # X.PointerRoot
_NONE = 0


def focused_window_class(display_name: str | None = None) -> tuple[str, ...]:
    """WM_CLASS (instance, class) of the window that gets key presses; () when none has one."""
    xdisplay = open_display(display_name)
    try:
        root = xdisplay.screen().root
        focus = xdisplay.get_input_focus().focus
        if isinstance(focus, int) or focus in (_NONE, _POINTER_ROOT) or focus == root:
            chain = _under_pointer(root)
        else:
            chain = _ancestors(focus, root)
        for window in reversed(chain):  # deepest first
            try:
                wm_class = window.get_wm_class()
            except Exception:  # the window went away while we looked
                continue
            if wm_class:
                return tuple(str(part) for part in wm_class)
        return ()
    finally:
        xdisplay.close()


def _under_pointer(root: Any) -> list[Any]:
    chain: list[Any] = []
    window = root
    while True:
        child = window.query_pointer().child
        if not child or child == _NONE:
            return chain
        chain.append(child)
        window = child


def _ancestors(window: Any, root: Any) -> list[Any]:
    """`window` and its parents up to (not including) the root, outermost first."""
    chain: list[Any] = []
    while window and window != root and len(chain) < 64:
        chain.append(window)
        window = window.query_tree().parent
    return list(reversed(chain))


def _property(xdisplay: Any, window: Any, name: str) -> list[int] | None:
    try:
        prop = window.get_full_property(xdisplay.intern_atom(name), 0)
    except Exception:  # the window went away while we looked
        return None
    return list(prop.value) if prop is not None else None


def _wm_running(xdisplay: Any, root: Any) -> bool:
    return bool(_property(xdisplay, root, "_NET_SUPPORTING_WM_CHECK"))


def _top_levels(xdisplay: Any) -> list[Any]:
    """The app windows at the top: the window manager's clients, else the root's children."""
    root = xdisplay.screen().root
    clients = _property(xdisplay, root, "_NET_CLIENT_LIST")
    if clients is not None and _wm_running(xdisplay, root):
        return [xdisplay.create_resource_object("window", wid) for wid in clients]
    return list(root.query_tree().children)


def top_level_windows(display_name: str | None = None) -> set[int]:
    """Ids of the top-level app windows on the display now."""
    xdisplay = open_display(display_name)
    try:
        return {window.id for window in _top_levels(xdisplay)}
    finally:
        xdisplay.close()


def _process_tree(pid: int) -> set[int] | None:
    """`pid` and its descendants; None once none of them runs."""
    import psutil

    try:
        root = psutil.Process(pid)
        if root.status() == psutil.STATUS_ZOMBIE:
            children = root.children(recursive=True)
            return {child.pid for child in children} or None
        return {pid, *(child.pid for child in root.children(recursive=True))}
    except psutil.NoSuchProcess:
        return None


def _app_window(xdisplay: Any, before: set[int], pids: set[int]) -> Any:
    """The new, shown window of one of `pids` (or a new one that names no pid)."""
    unnamed = None
    for window in _top_levels(xdisplay):
        if window.id in before:
            continue
        try:
            attributes = window.get_attributes()
        except Exception:
            continue
        if attributes.override_redirect or attributes.map_state != 2:  # 2: IsViewable
            continue
        owner = _property(xdisplay, window, "_NET_WM_PID")
        if owner and owner[0] in pids:
            return window
        if not owner and unnamed is None:
            try:
                if window.get_wm_class():
                    unnamed = window
            except Exception:
                continue
    return unnamed


def _activate(xdisplay: Any, window: Any) -> None:
    from Xlib import X
    from Xlib.protocol import event

    root = xdisplay.screen().root
    if _wm_running(xdisplay, root):
        message = event.ClientMessage(
            window=window,
            client_type=xdisplay.intern_atom("_NET_ACTIVE_WINDOW"),
            data=(32, [2, X.CurrentTime, 0, 0, 0]),  # 2: a pager/tool asks, not an app
        )
        mask = X.SubstructureRedirectMask | X.SubstructureNotifyMask
        root.send_event(message, event_mask=mask)
    else:
        window.configure(stack_mode=X.Above)
        # PointerRoot again when the window goes: other windows then get keys as before.
        window.set_input_focus(X.RevertToPointerRoot, X.CurrentTime)
    xdisplay.sync()


def _has_focus(xdisplay: Any, window: Any) -> bool:
    focus = xdisplay.get_input_focus().focus
    if isinstance(focus, int):
        return False
    root = xdisplay.screen().root
    for _ in range(64):  # the focus may be a child of the app's window
        if focus.id == window.id:
            return True
        if focus.id == root.id:
            return False
        focus = focus.query_tree().parent
    return False


def focus_new_window(
    display_name: str | None, pid: int, before: set[int], *, timeout: float
) -> int | None:
    """Wait for the first window of process `pid` (or its children) and give it the focus.

    Args:
        before: the top-level windows from before the launch (`top_level_windows`).
        timeout: seconds to wait; waiting ends early when the process and its
            children have exited (a program with no window).

    Returns:
        The focused window's id, or None when no window came.
    """
    xdisplay = open_display(display_name)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = _process_tree(pid)
            if pids is None:
                return None
            window = _app_window(xdisplay, before, pids)
            if window is not None:
                return _focus(xdisplay, window)
            time.sleep(0.05)
        log.info("no window of pid %d within %gs", pid, timeout)
        return None
    finally:
        xdisplay.close()


def _focus(xdisplay: Any, window: Any, seconds: float = 3.0) -> int | None:
    """Ask for the focus until `window` has it (a window manager acts asynchronously)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            _activate(xdisplay, window)
            if _has_focus(xdisplay, window):
                log.info("focused window 0x%x", window.id)
                return int(window.id)
        except Exception as exc:  # the window went away, or is not viewable yet
            log.info("cannot focus window 0x%x: %s", window.id, exc)
        if time.monotonic() > deadline:
            return None
        time.sleep(0.05)
