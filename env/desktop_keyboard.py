"""The X11 keyboard: key combos and text through XTest, exact for any Unicode text.

Why not pyautogui or ``xdotool type`` (measured under Xvfb with a Tk entry; see
bench/desktop_input.py):

* ``pyautogui.write`` drops every non-ASCII character, and even ASCII goes wrong:
  it types ``<`` as ``>`` (it presses Shift for ``<`` on the key that has ``<``
  unshifted), so ``pyautogui.press``/``hotkey`` share the bug.
* ``xdotool type`` rebinds one scratch keycode per non-keymap character and
  restores it ~12 ms later; a client that reads the keymap after the next
  rebind types the wrong character or nothing. With both cores busy it lost a
  CJK character in 1 of 10 runs of ``héllo wörld 你好 ñ ß € 😀`` at its default
  12 ms delay (and most of them at ``--delay 0``).

Here every distinct character the keymap lacks gets its *own* spare keycode
(one ChangeKeyboardMapping per character, before any key is pressed), the
whole text is typed, and a keycode is rebound only when the spares run out
(after a grace period, so the app has read the keys that used it). Borrowed
keycodes are returned when the keyboard is closed, again after the grace
period. Characters that the keymap has on its first or shifted level are typed
with their own keys, so ASCII on a US layout never touches the keymap.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from actions.project_errors import InputError
from env.desktop_keys import check_combo, check_text, text_lines, x_keysym_name
from env.x11 import open_display

log = logging.getLogger(__name__)

GRACE_SECONDS = 0.3
"""How long a borrowed keycode keeps its character after its last use."""

NO_SYMBOL = 0
_RETURN, _TAB = 0xFF0D, 0xFF09
_SHIFT_L = 0xFFE1


def char_keysym(ch: str) -> int:
    """The X keysym that types character `ch` (Latin-1 keysyms are the code point)."""
    if ch == "\t":
        return _TAB
    code = ord(ch)
    if 0x20 <= code <= 0x7E or 0xA0 <= code <= 0xFF:
        return code
    return 0x01000000 | code


class X11Keyboard:
    """Sends key combos and text to an X display through the XTest extension."""

    def __init__(
        self,
        display_name: str | None = None,
        *,
        grace: float = GRACE_SECONDS,
        connection: Any = None,
    ) -> None:
        """
        Args:
            display_name: the X display (default: $DISPLAY), when no `connection` is given.
            grace: see `GRACE_SECONDS`.
            connection: an open python3-xlib ``Display`` to share (the env's, which its
                pointer uses too); it is left open by `close`.
        """
        from Xlib import XK, X
        from Xlib.ext import xtest

        self._X = X
        self._XK = XK
        self._fake_input = xtest.fake_input
        XK.load_keysym_group("xf86")
        self.grace = grace
        self._owns_display = connection is None
        self._display = open_display(display_name) if connection is None else connection
        if not self._display.query_extension("XTEST").present:
            if self._owns_display:
                self._display.close()
            raise InputError("the X server has no XTEST extension: input cannot be sent")
        info = self._display.display.info
        self._min_keycode, self._max_keycode = info.min_keycode, info.max_keycode
        self._borrowed: dict[int, int] = {}  # keycode -> keysym we bound to it
        self._last_use: dict[int, float] = {}  # keycode -> time of its last key press
        self._closed = False

    # -- keymap ----------------------------------------------------------------------------
    def _keymap(self) -> list[list[int]]:
        count = self._max_keycode - self._min_keycode + 1
        return [list(row) for row in self._display.get_keyboard_mapping(self._min_keycode, count)]

    def _spare_keycodes(self, keymap: list[list[int]]) -> list[int]:
        modifier_keycodes = {kc for row in self._display.get_modifier_mapping() for kc in row}
        spare = [
            self._min_keycode + i
            for i, row in enumerate(keymap)
            if not any(row) and self._min_keycode + i not in modifier_keycodes
        ]
        # keycode 8 is ignored by some toolkits; prefer high, rarely used codes
        return [kc for kc in reversed(spare) if kc > 8]

    def _index(self, keymap: list[list[int]]) -> dict[int, tuple[int, bool]]:
        """keysym -> (keycode, needs Shift), from the first group's plain and Shift levels."""
        index: dict[int, tuple[int, bool]] = {}
        for level in (1, 0):  # the plain level (0) last, so that it wins over Shift
            for i, row in reversed(list(enumerate(keymap))):  # lowest keycode wins
                if len(row) > level and row[level] != NO_SYMBOL:
                    index[row[level]] = (self._min_keycode + i, level == 1)
        return index

    def capacity(self) -> int:
        """How many characters missing from the keymap can be bound at once."""
        return len(self._spare_keycodes(self._keymap())) + len(self._borrowed)

    def _bind(self, keysyms: list[int]) -> dict[int, tuple[int, bool]]:
        """Resolve each keysym to a key, borrowing spare keycodes for missing ones."""
        keymap = self._keymap()
        index = self._index(keymap)
        resolved: dict[int, tuple[int, bool]] = {}
        missing: list[int] = []
        for keysym in dict.fromkeys(keysyms):
            found = index.get(keysym)
            if found is None:
                missing.append(keysym)
            else:
                resolved[keysym] = found
        if not missing:
            return resolved
        in_use = {kc for kc, _ in resolved.values()}
        free = [kc for kc in self._spare_keycodes(keymap) if kc not in in_use]
        # Borrowed codes not needed now can be rebound, oldest first.
        free += sorted(
            (kc for kc in self._borrowed if kc not in in_use),
            key=lambda kc: self._last_use.get(kc, 0),
        )
        if len(missing) > len(free):
            raise InputError(
                f"the keyboard map has only {len(free)} spare keycodes for {len(missing)} "
                "characters it lacks"
            )
        width = len(keymap[0]) if keymap else 2
        for keysym, keycode in zip(missing, free, strict=False):
            self._wait_grace(keycode)
            self._display.change_keyboard_mapping(keycode, [[keysym, keysym] + [0] * (width - 2)])
            self._borrowed[keycode] = keysym
            resolved[keysym] = (keycode, False)
        self._display.sync()
        log.debug("bound %d keysyms to spare keycodes", len(missing))
        return resolved

    def _wait_grace(self, keycode: int) -> None:
        last = self._last_use.get(keycode)
        if last is not None:
            remaining = self.grace - (time.monotonic() - last)
            if remaining > 0:
                time.sleep(remaining)

    # -- sending -----------------------------------------------------------------------------
    def _shift_keycode(self) -> int:
        found = self._index(self._keymap()).get(_SHIFT_L)
        if found is None:
            raise InputError("the keyboard map has no Shift key")
        return found[0]

    def _tap(self, keycode: int, shift: bool, shift_keycode: int) -> None:
        X = self._X
        if shift:
            self._fake_input(self._display, X.KeyPress, shift_keycode)
        self._fake_input(self._display, X.KeyPress, keycode)
        self._fake_input(self._display, X.KeyRelease, keycode)
        if shift:
            self._fake_input(self._display, X.KeyRelease, shift_keycode)
        self._display.sync()
        if keycode in self._borrowed:
            self._last_use[keycode] = time.monotonic()

    def key_keysym(self, name: str) -> int:
        """The keysym of a canonical key name."""
        if len(name) == 1:
            return char_keysym(name)
        x_name = x_keysym_name(name)
        keysym = self._XK.string_to_keysym(x_name)
        if keysym == NO_SYMBOL and x_name.startswith("XF86"):
            # python3-Xlib spells the XF86 group "XF86_AudioMute" (X itself: "XF86AudioMute")
            keysym = self._XK.string_to_keysym("XF86_" + x_name[4:])
        if keysym == NO_SYMBOL:
            raise InputError(f"key {name!r} has no X keysym")
        return keysym

    def check_combo(self, keys: list[str]) -> None:
        """Raise `InputError` unless every key of the combo can be sent; sends nothing."""
        check_combo(keys)
        index = self._index(self._keymap())
        missing = {k for k in map(self.key_keysym, keys) if k not in index}
        if len(missing) > self.capacity():
            raise InputError(f"no spare keycode to send {'+'.join(keys)!r}")

    def check_text(self, text: str) -> None:
        """Raise `InputError` for text that cannot be typed; sends nothing."""
        check_text(text)
        index = self._index(self._keymap())
        if any(char_keysym(ch) not in index for ch in set(text) - set("\n\r")):
            if self.capacity() == 0:
                raise InputError("the keyboard map has no spare keycode to type non-keymap text")

    def press_combo(self, keys: list[str], *, hold: float = 0.0) -> None:
        """Hold the keys in order, then release them in reverse (``ctrl+shift+t``).

        Args:
            hold: seconds to keep them all down before the release (`HoldKey`); the
                presses are flushed to the server first, so the app sees them at once.
        """
        X = self._X
        keysyms = [self.key_keysym(k) for k in keys]
        resolved = self._bind(keysyms)
        shift_keycode = self._shift_keycode()
        held: list[int] = []
        try:
            for keysym in keysyms:
                keycode, shift = resolved[keysym]
                if shift and shift_keycode not in held:
                    self._fake_input(self._display, X.KeyPress, shift_keycode)
                    held.append(shift_keycode)
                self._fake_input(self._display, X.KeyPress, keycode)
                held.append(keycode)
                if keycode in self._borrowed:
                    self._last_use[keycode] = time.monotonic()
            if hold > 0:
                self._display.sync()
                time.sleep(hold)
                for keycode in held:  # a borrowed keycode stays bound while it is down
                    if keycode in self._borrowed:
                        self._last_use[keycode] = time.monotonic()
        finally:
            for keycode in reversed(held):
                self._fake_input(self._display, X.KeyRelease, keycode)
            self._display.sync()

    def type_text(self, text: str) -> None:
        """Type `text` exactly; newlines press Enter, tabs press Tab."""
        sequence: list[int] = []
        for number, line in enumerate(text_lines(text)):
            if number:
                sequence.append(_RETURN)
            sequence.extend(char_keysym(ch) for ch in line)
        shift_keycode = self._shift_keycode()
        for segment in self._segments(sequence):
            resolved = self._bind(segment)
            for keysym in segment:
                keycode, shift = resolved[keysym]
                self._tap(keycode, shift, shift_keycode)

    def _segments(self, sequence: list[int]) -> list[list[int]]:
        """Split a keysym sequence so that no part needs more spare keycodes than exist."""
        index = self._index(self._keymap())
        borrowed = set(self._borrowed.values())
        capacity = max(self.capacity(), 1)
        segments: list[list[int]] = [[]]
        needed: set[int] = set()
        for keysym in sequence:
            extra = keysym not in needed and (keysym in borrowed or keysym not in index)
            if extra and len(needed) == capacity:
                segments.append([])
                needed = set()
            if extra:
                needed.add(keysym)
            segments[-1].append(keysym)
        return [s for s in segments if s]

    # -- lifetime ---------------------------------------------------------------------------
    def close(self) -> None:
        """Give borrowed keycodes back (after the grace period) and disconnect."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._borrowed:
                last = max(self._last_use.values(), default=0.0)
                remaining = self.grace - (time.monotonic() - last)
                if remaining > 0:
                    time.sleep(remaining)
                keymap = self._keymap()
                width = len(keymap[0])
                for keycode, keysym in self._borrowed.items():
                    if keymap[keycode - self._min_keycode][0] != keysym:
                        continue  # someone else rebound it since: theirs now
                    self._display.change_keyboard_mapping(keycode, [[NO_SYMBOL] * width])
                self._display.sync()
                self._borrowed.clear()
        finally:
            if self._owns_display:
                self._display.close()

    def __enter__(self) -> X11Keyboard:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
