"""Canonical key names (actions/keys.py) on a desktop: X keysyms and pyautogui names.

Pure tables and checks, no display needed, so a combo the desktop cannot send
is rejected before anything is sent. Phone-only keys (app switcher, power,
notification shade) have no desktop meaning and are refused with a hint rather
than mapped to something that merely looks similar.
"""

from __future__ import annotations

import string

from actions.keys import KEY_NAMES
from actions.project_errors import InputError

# canonical name -> X keysym name (Xlib.XK, with the xf86 group loaded)
X_KEYSYMS: dict[str, str] = {
    "ctrl": "Control_L",
    "shift": "Shift_L",
    "alt": "Alt_L",
    "super": "Super_L",
    "enter": "Return",
    "tab": "Tab",
    "escape": "Escape",
    "backspace": "BackSpace",
    "delete": "Delete",
    "space": "space",
    "insert": "Insert",
    "up": "Up",
    "down": "Down",
    "left": "Left",
    "right": "Right",
    "home": "Home",
    "end": "End",
    "pageup": "Prior",
    "pagedown": "Next",
    "capslock": "Caps_Lock",
    "numlock": "Num_Lock",
    "scrolllock": "Scroll_Lock",
    "printscreen": "Print",
    "pause": "Pause",
    "menu": "Menu",
    "clear": "Clear",
    "back": "XF86Back",
    "search": "XF86Search",
    "volume_up": "XF86AudioRaiseVolume",
    "volume_down": "XF86AudioLowerVolume",
    "volume_mute": "XF86AudioMute",
    "mute": "XF86AudioMute",
    "media_play_pause": "XF86AudioPlay",
    "media_next": "XF86AudioNext",
    "media_previous": "XF86AudioPrev",
    "media_stop": "XF86AudioStop",
    "brightness_up": "XF86MonBrightnessUp",
    "brightness_down": "XF86MonBrightnessDown",
    **{f"f{i}": f"F{i}" for i in range(1, 25)},
}

# canonical name -> pyautogui name (the keyboard on macOS and Windows)
PYAUTOGUI_KEYS: dict[str, str] = {
    "ctrl": "ctrl",
    "shift": "shift",
    "alt": "alt",
    "super": "win",
    "enter": "enter",
    "tab": "tab",
    "escape": "esc",
    "backspace": "backspace",
    "delete": "delete",
    "space": "space",
    "insert": "insert",
    "up": "up",
    "down": "down",
    "left": "left",
    "right": "right",
    "home": "home",
    "end": "end",
    "pageup": "pageup",
    "pagedown": "pagedown",
    "capslock": "capslock",
    "numlock": "numlock",
    "scrolllock": "scrolllock",
    "printscreen": "printscreen",
    "pause": "pause",
    "menu": "apps",
    "clear": "clear",
    "back": "browserback",
    "search": "browsersearch",
    "volume_up": "volumeup",
    "volume_down": "volumedown",
    "volume_mute": "volumemute",
    "mute": "volumemute",
    "media_play_pause": "playpause",
    "media_next": "nexttrack",
    "media_previous": "prevtrack",
    "media_stop": "stop",
    **{f"f{i}": f"f{i}" for i in range(1, 25)},
}

# Keys with no desktop meaning, or that would do something drastic to a real machine.
REFUSED: dict[str, str] = {
    "app_switch": "it is a phone key; use alt+tab on a desktop",
    "notification": "it is a phone key",
    "camera": "it is a phone key",
    "power": "it would power the machine off",
    "sleep": "it would suspend the machine",
    "wakeup": "it is a power key",
}

_CHARACTERS = frozenset(string.ascii_lowercase + string.digits + string.punctuation)


def check_desktop_key(name: str) -> None:
    """Raise `InputError` unless the canonical key `name` can be sent on a desktop."""
    if name not in KEY_NAMES:
        raise InputError(f"unknown key {name!r}")
    if name in REFUSED:
        raise InputError(f"key {name!r} cannot be sent on a desktop: {REFUSED[name]}")
    if name not in X_KEYSYMS and name not in _CHARACTERS:
        raise InputError(f"key {name!r} has no desktop equivalent")


def check_combo(keys: list[str]) -> None:
    """Raise `InputError` for an empty combo or any key a desktop cannot send."""
    if not keys:
        raise InputError("empty key combo")
    for key in keys:
        check_desktop_key(key)


def x_keysym_name(name: str) -> str:
    """The X keysym name of a canonical key (a printable character maps to itself)."""
    return X_KEYSYMS.get(name, name)


def pyautogui_name(name: str) -> str:
    """The pyautogui name of a canonical key."""
    if name in PYAUTOGUI_KEYS:
        return PYAUTOGUI_KEYS[name]
    if name in _CHARACTERS:
        return name
    raise InputError(f"key {name!r} cannot be sent with pyautogui on this platform")


def check_text(text: str) -> None:
    """Raise `InputError` for control characters a keyboard cannot type.

    Newlines (``\\n``, ``\\r\\n``, ``\\r``) become Enter and ``\\t`` becomes Tab.
    """
    for index, ch in enumerate(text):
        if ch in "\n\r\t":
            continue
        if ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 or 0xD800 <= ord(ch) <= 0xDFFF:
            raise InputError(f"text has an untypable control character {ch!r} at position {index}")


def text_lines(text: str) -> list[str]:
    """Split text into the lines typed between Enter presses (``\\r\\n`` is one Enter)."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
