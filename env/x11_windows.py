"""Which X11 window has the keyboard, by its WM_CLASS (python3-Xlib, as env/x11.py).

Keys go to the focus window; when the focus is ``PointerRoot`` (the X
server's default without a window manager, e.g. under Xvfb) they go to the
window under the pointer. The class is read from the deepest window on the
way that has one (toolkits set WM_CLASS on their top-level window, not on
the widget windows inside it).
"""

from __future__ import annotations

from typing import Any

from env.x11 import open_display

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
