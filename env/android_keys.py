"""Canonical key names (actions/keys.py) to Android `KEYCODE_*` names.

The names are sent as is (``input keyevent KEYCODE_BACK``): `input` accepts
them on every Android version and they read well in logs. Values follow
android.view.KeyEvent.

Two choices worth knowing:

* ``delete`` and ``backspace`` both send ``KEYCODE_DEL``, Android's delete key
  (the soft keyboard's backspace). The vocabulary folds ``KEYCODE_DEL`` into
  ``delete``, so forward-delete would surprise anyone who wrote Android's own
  name; there is no canonical name for ``KEYCODE_FORWARD_DEL``.
* ``home`` is the phone's home button, not "start of line" (``KEYCODE_MOVE_HOME``).

Keys without a keycode (``f13``, ``!``, ``~``...) raise `InputError` before
anything is sent; printable characters are better sent as text anyway.
"""

from __future__ import annotations

import string

from actions.project_errors import InputError

_NAMED: dict[str, str] = {
    "enter": "KEYCODE_ENTER",
    "back": "KEYCODE_BACK",
    "home": "KEYCODE_HOME",
    "app_switch": "KEYCODE_APP_SWITCH",
    "menu": "KEYCODE_MENU",
    "power": "KEYCODE_POWER",
    "backspace": "KEYCODE_DEL",
    "delete": "KEYCODE_DEL",
    "tab": "KEYCODE_TAB",
    "space": "KEYCODE_SPACE",
    "escape": "KEYCODE_ESCAPE",
    "up": "KEYCODE_DPAD_UP",
    "down": "KEYCODE_DPAD_DOWN",
    "left": "KEYCODE_DPAD_LEFT",
    "right": "KEYCODE_DPAD_RIGHT",
    "end": "KEYCODE_MOVE_END",
    "pageup": "KEYCODE_PAGE_UP",
    "pagedown": "KEYCODE_PAGE_DOWN",
    "insert": "KEYCODE_INSERT",
    "capslock": "KEYCODE_CAPS_LOCK",
    "numlock": "KEYCODE_NUM_LOCK",
    "scrolllock": "KEYCODE_SCROLL_LOCK",
    "printscreen": "KEYCODE_SYSRQ",
    "pause": "KEYCODE_BREAK",
    "ctrl": "KEYCODE_CTRL_LEFT",
    "shift": "KEYCODE_SHIFT_LEFT",
    "alt": "KEYCODE_ALT_LEFT",
    "super": "KEYCODE_META_LEFT",
    "camera": "KEYCODE_CAMERA",
    "search": "KEYCODE_SEARCH",
    "clear": "KEYCODE_CLEAR",
    "notification": "KEYCODE_NOTIFICATION",
    "volume_up": "KEYCODE_VOLUME_UP",
    "volume_down": "KEYCODE_VOLUME_DOWN",
    "volume_mute": "KEYCODE_VOLUME_MUTE",
    "mute": "KEYCODE_MUTE",
    "media_play_pause": "KEYCODE_MEDIA_PLAY_PAUSE",
    "media_next": "KEYCODE_MEDIA_NEXT",
    "media_previous": "KEYCODE_MEDIA_PREVIOUS",
    "media_stop": "KEYCODE_MEDIA_STOP",
    "brightness_up": "KEYCODE_BRIGHTNESS_UP",
    "brightness_down": "KEYCODE_BRIGHTNESS_DOWN",
    "sleep": "KEYCODE_SLEEP",
    "wakeup": "KEYCODE_WAKEUP",
}
_PUNCTUATION: dict[str, str] = {
    ",": "KEYCODE_COMMA",
    ".": "KEYCODE_PERIOD",
    "`": "KEYCODE_GRAVE",
    "-": "KEYCODE_MINUS",
    "=": "KEYCODE_EQUALS",
    "[": "KEYCODE_LEFT_BRACKET",
    "]": "KEYCODE_RIGHT_BRACKET",
    "\\": "KEYCODE_BACKSLASH",
    ";": "KEYCODE_SEMICOLON",
    "'": "KEYCODE_APOSTROPHE",
    "/": "KEYCODE_SLASH",
    "@": "KEYCODE_AT",
    "+": "KEYCODE_PLUS",
    "*": "KEYCODE_STAR",
    "#": "KEYCODE_POUND",
    "(": "KEYCODE_NUMPAD_LEFT_PAREN",
    ")": "KEYCODE_NUMPAD_RIGHT_PAREN",
}

KEYCODES: dict[str, str] = {
    **_NAMED,
    **_PUNCTUATION,
    **{c: f"KEYCODE_{c.upper()}" for c in string.ascii_lowercase},
    **{d: f"KEYCODE_{d}" for d in string.digits},
    **{f"f{i}": f"KEYCODE_F{i}" for i in range(1, 13)},
}
"""Canonical key name -> Android keycode name."""

MODIFIER_KEYCODES = frozenset(
    {"KEYCODE_CTRL_LEFT", "KEYCODE_SHIFT_LEFT", "KEYCODE_ALT_LEFT", "KEYCODE_META_LEFT"}
)

# `input keycombination` (hold several keys together) exists from Android 13 (API 33).
KEYCOMBINATION_SDK = 33


def keycode(name: str) -> str:
    """The `KEYCODE_*` name of a canonical key, or `InputError` naming the key."""
    try:
        return KEYCODES[name]
    except KeyError:
        hint = " (type it as text instead)" if len(name) == 1 else ""
        raise InputError(f"key {name!r} has no Android keycode{hint}") from None


def keycodes(keys: list[str]) -> list[str]:
    """Keycodes of a whole combo, validated together before anything is sent."""
    return [keycode(k) for k in keys]
