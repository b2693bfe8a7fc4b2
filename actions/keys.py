"""Canonical key names and key-combo parsing.

One vocabulary for every platform: the desktop adapter maps these names to
pyautogui/xdotool names and the Android adapter to KEYCODE_* values. Names are
lower-case; aliases the models and users commonly write are folded in here, so
an unknown key is rejected before any input event is sent.
"""

from __future__ import annotations

import string

MODIFIERS = ("ctrl", "shift", "alt", "super")

_NAMED = {
    *MODIFIERS,
    "enter",
    "tab",
    "escape",
    "backspace",
    "delete",
    "space",
    "insert",
    "up",
    "down",
    "left",
    "right",
    "home",
    "end",
    "pageup",
    "pagedown",
    "capslock",
    "numlock",
    "scrolllock",
    "printscreen",
    "pause",
    "menu",
    # phone and media keys (Android keyevent names, also XF86 keys on desktops)
    "back",
    "app_switch",
    "power",
    "camera",
    "search",
    "clear",
    "notification",
    "volume_up",
    "volume_down",
    "volume_mute",
    "mute",
    "media_play_pause",
    "media_next",
    "media_previous",
    "media_stop",
    "brightness_up",
    "brightness_down",
    "sleep",
    "wakeup",
}
_FUNCTION = {f"f{i}" for i in range(1, 25)}
_CHARACTERS = set(string.ascii_lowercase + string.digits + string.punctuation)

KEY_NAMES: frozenset[str] = frozenset(_NAMED | _FUNCTION | _CHARACTERS)

ALIASES: dict[str, str] = {
    "control": "ctrl",
    "ctl": "ctrl",
    "lctrl": "ctrl",
    "rctrl": "ctrl",
    "control_l": "ctrl",
    "control_r": "ctrl",
    "ctrlleft": "ctrl",
    "ctrlright": "ctrl",
    "shift_l": "shift",
    "shift_r": "shift",
    "shiftleft": "shift",
    "shiftright": "shift",
    "option": "alt",
    "alt_l": "alt",
    "alt_r": "alt",
    "altleft": "alt",
    "altright": "alt",
    "meta": "super",
    "win": "super",
    "windows": "super",
    "cmd": "super",
    "command": "super",
    "super_l": "super",
    "super_r": "super",
    "winleft": "super",
    "winright": "super",
    "return": "enter",
    "kp_enter": "enter",
    "ret": "enter",
    "esc": "escape",
    "del": "delete",
    "bksp": "backspace",
    "back_space": "backspace",
    "ins": "insert",
    "spacebar": "space",
    " ": "space",
    "arrowup": "up",
    "arrowdown": "down",
    "arrowleft": "left",
    "arrowright": "right",
    "up_arrow": "up",
    "down_arrow": "down",
    "left_arrow": "left",
    "right_arrow": "right",
    "pgup": "pageup",
    "page_up": "pageup",
    "prior": "pageup",
    "pgdn": "pagedown",
    "page_down": "pagedown",
    "next": "pagedown",
    "caps_lock": "capslock",
    "num_lock": "numlock",
    "scroll_lock": "scrolllock",
    "print": "printscreen",
    "prtsc": "printscreen",
    "print_screen": "printscreen",
    "recent": "app_switch",
    "recents": "app_switch",
    "appswitch": "app_switch",
    "app_switcher": "app_switch",
    "overview": "app_switch",
    "volumeup": "volume_up",
    "volumedown": "volume_down",
    "volumemute": "volume_mute",
    "plus": "+",
    "minus": "-",
    "comma": ",",
    "period": ".",
    "slash": "/",
    "backslash": "\\",
    "semicolon": ";",
    "apostrophe": "'",
    "grave": "`",
    "equal": "=",
    "equals": "=",
    "bracketleft": "[",
    "bracketright": "]",
}


class KeyNameError(ValueError):
    """A key name that is not in the vocabulary."""


def normalize_key(name: str) -> str:
    """Return the canonical name of one key, or raise `KeyNameError`.

    Accepts any case, common aliases (``Return``, ``Esc``, ``cmd``), Android
    ``KEYCODE_*`` names and single printable characters (``A`` means ``a``).
    """
    if not isinstance(name, str) or name == "":
        raise KeyNameError("empty key name")
    raw = name if name == " " else name.strip()
    if len(raw) == 1:
        key = raw.lower()
        key = ALIASES.get(key, key)
        if key in KEY_NAMES:
            return key
        raise KeyNameError(f"unknown key {name!r}")
    key = raw.lower().replace("-", "_")
    if key.startswith("keycode_"):
        key = key[len("keycode_") :]
    key = ALIASES.get(key, key)
    if key in KEY_NAMES:
        return key
    squashed = key.replace("_", "")
    key = ALIASES.get(squashed, squashed)
    if key in KEY_NAMES:
        return key
    raise KeyNameError(f"unknown key {name!r}")


def split_combo(combo: str) -> list[str]:
    """Split ``"ctrl+shift+t"`` (or ``"ctrl shift t"``) into its key names.

    A ``+`` that follows another ``+`` is the plus key itself (``ctrl++``).
    """
    text = combo.strip()
    if not text:
        raise KeyNameError("empty key combo")
    if "+" not in text and " " in text:
        parts = text.split()
    else:
        parts = []
        token = ""
        for ch in text:
            if ch == "+" and token:
                parts.append(token.strip())
                token = ""
            else:
                token += ch
        if token:
            parts.append(token.strip())
    parts = [p for p in parts if p != ""]
    if not parts:
        raise KeyNameError(f"empty key combo {combo!r}")
    return parts


def parse_combo(keys: str | list[str] | tuple[str, ...]) -> list[str]:
    """Normalize a combo given as a string or a list (list items may be combos too)."""
    if isinstance(keys, str):
        items = split_combo(keys)
    else:
        items = []
        for item in keys:
            if not isinstance(item, str):
                raise KeyNameError(f"key names must be strings, got {item!r}")
            items.extend(split_combo(item) if len(item.strip()) > 1 else [item])
    if not items:
        raise KeyNameError("empty key combo")
    return [normalize_key(k) for k in items]
