"""Typing text on Android so that every character arrives as itself.

Two paths, chosen per call:

* **ASCII** goes through ``input text ARG``. The command string is read twice
  on the way: once by the device shell (``sh -c``), where `shlex.quote` makes
  ARG one literal word (no ``;``, ``&&``, ``|``, ``$()`` or backtick can run),
  and once by `input` itself, which turns ``%s`` into a space and types every
  other character as is. So spaces are sent as ``%s`` and a literal ``%s`` in
  the text is split across two `input text` calls (``50%`` then ``s...``): one
  call can never type it. Every encoded argument is decoded again with the
  same rule before sending, as a guard.
* **Anything else** goes through the ADBKeyBoard IME
  (https://github.com/senzhk/ADBKeyBoard): switch to it, send the UTF-8 text
  base64-encoded in broadcasts (``am broadcast -a ADB_INPUT_B64 --es msg B64``)
  in chunks, then switch back to the IME the user had.

Newlines become Enter key events and tabs Tab key events on both paths; any
other control character is refused before anything is sent.

The commands carry the text (``%s``-encoded, base64), which may be a secret:
they are never logged, and an error names them by `typing_label` only.
"""

from __future__ import annotations

import base64
import logging
import shlex
import time
from collections.abc import Callable
from typing import Literal, NamedTuple

from actions.project_errors import InputError

log = logging.getLogger(__name__)

ADB_KEYBOARD_IME = "com.android.adbkeyboard/.AdbIME"
ADB_KEYBOARD_HINT = (
    "install the ADBKeyBoard IME on the phone (download ADBKeyboard.apk from "
    "https://github.com/senzhk/ADBKeyBoard/releases, then `adb install ADBKeyboard.apk`)"
)
INPUT_TEXT_CHUNK = 400
"""Characters of text per `input text` call (long arguments drop keys on some phones)."""
BROADCAST_CHUNK_BYTES = 512
"""UTF-8 bytes per ADBKeyBoard broadcast (kept well below intent and command-line limits)."""

_CONTROL_KEYS = {"\n": "KEYCODE_ENTER", "\t": "KEYCODE_TAB"}


class TextStep(NamedTuple):
    """One thing to send: ASCII for `input text`, unicode for the IME, or a keycode."""

    kind: Literal["ascii", "unicode", "key"]
    value: str


def decode_input_text(arg: str) -> str:
    """What Android's ``input text ARG`` types for ARG: ``%s`` becomes a space.

    Mirrors ``InputShellCommand.sendText`` (AOSP): after a ``%``, an ``s`` is
    replaced by a space and the ``%`` removed; everything else stays.
    """
    buff = list(arg)
    escape = False
    i = 0
    while i < len(buff):
        if escape:
            escape = False
            if buff[i] == "s":
                buff[i] = " "
                i -= 1
                del buff[i]
        if buff[i] == "%":
            escape = True
        i += 1
    return "".join(buff)


def encode_input_text(text: str) -> list[str]:
    """Arguments for successive ``input text`` calls that together type `text` exactly.

    Raises:
        InputError: `text` holds something `input text` cannot type (non-ASCII,
            control characters).
    """
    bad = next((c for c in text if not (" " <= c <= "~")), None)
    if bad is not None:
        raise InputError(f"`input text` cannot type {bad!r}; use the ADBKeyBoard path")
    # A literal "%s" cannot survive one call: cut between "%" and "s".
    pieces = text.replace("%s", "%\0s").split("\0")
    args: list[str] = []
    for piece in pieces:
        for start in range(0, len(piece), INPUT_TEXT_CHUNK):
            chunk = piece[start : start + INPUT_TEXT_CHUNK]
            arg = chunk.replace(" ", "%s")
            if decode_input_text(arg) != chunk:  # the guard the module docstring promises
                raise AssertionError(f"input text encoding broke {chunk!r}")
            args.append(arg)
    return args


def check_text(text: str) -> None:
    """Raise `InputError` for characters no path can type (control characters)."""
    for i, ch in enumerate(text):
        if ch in "\n\r\t":
            continue
        if ord(ch) < 0x20 or ord(ch) == 0x7F or 0xD800 <= ord(ch) <= 0xDFFF:
            raise InputError(f"cannot type control character {ch!r} at position {i}")


def needs_ime(text: str) -> bool:
    """True when `text` has characters `input text` cannot type (non-ASCII)."""
    return any(ord(c) > 0x7E for c in text)


def plan_text(text: str) -> list[TextStep]:
    """Split `text` into ASCII/unicode runs and Enter/Tab key events, in order."""
    check_text(text)
    unicode = needs_ime(text)
    steps: list[TextStep] = []
    run = ""
    for ch in text.replace("\r\n", "\n").replace("\r", "\n"):
        if ch in _CONTROL_KEYS:
            if run:
                steps.append(TextStep("unicode" if unicode else "ascii", run))
                run = ""
            steps.append(TextStep("key", _CONTROL_KEYS[ch]))
        else:
            run += ch
    if run:
        steps.append(TextStep("unicode" if unicode else "ascii", run))
    return steps


def broadcast_messages(text: str, chunk_bytes: int = BROADCAST_CHUNK_BYTES) -> list[str]:
    """Base64 messages for ADBKeyBoard, each at most `chunk_bytes` of UTF-8.

    Chunks end on code-point boundaries: ADBKeyBoard decodes each message on its own.
    """
    messages: list[str] = []
    chunk = ""
    size = 0
    for ch in text:
        n = len(ch.encode("utf-8"))
        if chunk and size + n > chunk_bytes:
            messages.append(base64.b64encode(chunk.encode("utf-8")).decode("ascii"))
            chunk, size = "", 0
        chunk += ch
        size += n
    if chunk:
        messages.append(base64.b64encode(chunk.encode("utf-8")).decode("ascii"))
    return messages


def typing_label(text: str) -> str:
    """How errors name the typing of `text`: its length and path, never its commands."""
    path = "ADBKeyBoard" if needs_ime(text) else "input text"
    return f"typing {len(text)} characters ({path})"


def input_prefix(display: int | None) -> str:
    """``input`` or ``input -d N`` for a secondary display."""
    return "input" if not display else f"input -d {int(display)}"


def text_commands(steps: list[TextStep], display: int | None = None) -> list[str]:
    """Device shell commands for the steps, every argument quoted for the device shell."""
    prefix = input_prefix(display)
    commands: list[str] = []
    for step in steps:
        if step.kind == "ascii":
            commands += [f"{prefix} text {shlex.quote(a)}" for a in encode_input_text(step.value)]
        elif step.kind == "key":
            commands.append(f"{prefix} keyevent {shlex.quote(step.value)}")
        else:
            commands += [
                f"am broadcast -a ADB_INPUT_B64 --es msg {shlex.quote(m)}"
                for m in broadcast_messages(step.value)
            ]
    return commands


class AdbKeyboard:
    """Switches to the ADBKeyBoard IME and back, through a device shell runner.

    Args:
        run: runs one device shell command and returns its stdout.
        switch_delay: seconds to let the IME bind to the focused field after
            switching; broadcasts sent before that are lost on real phones.
    """

    def __init__(self, run: Callable[[str], str], *, switch_delay: float = 0.5) -> None:
        self._run = run
        self.switch_delay = switch_delay

    def installed(self) -> bool:
        """Whether the IME is installed (enabled or not)."""
        return ADB_KEYBOARD_IME in self._run("ime list -a -s").split()

    def require(self) -> None:
        """Raise `InputError` with the install hint unless the IME is installed."""
        if not self.installed():
            raise InputError(f"non-ASCII text needs the ADBKeyBoard IME: {ADB_KEYBOARD_HINT}")

    def current(self) -> str:
        """The user's current IME id ('' when none is set)."""
        value = self._run("settings get secure default_input_method").strip()
        return "" if value == "null" else value

    def activate(self) -> tuple[str, bool]:
        """Switch to ADBKeyBoard.

        Returns:
            The IME to restore afterwards, and whether ADBKeyBoard had to be
            enabled first (then `restore` disables it again).
        """
        previous = self.current()
        if previous == ADB_KEYBOARD_IME:
            return previous, False
        enabled_here = ADB_KEYBOARD_IME not in self._run("ime list -s").split()
        if enabled_here:
            self._run(f"ime enable {shlex.quote(ADB_KEYBOARD_IME)}")
        self._run(f"ime set {shlex.quote(ADB_KEYBOARD_IME)}")
        if self.current() != ADB_KEYBOARD_IME:
            raise InputError(
                "could not switch to the ADBKeyBoard IME (enable it in Settings > "
                "System > Keyboard, or check `adb shell ime list -a`)"
            )
        if self.switch_delay > 0:
            time.sleep(self.switch_delay)
        return previous, enabled_here

    def restore(self, previous: str, disable: bool = False) -> None:
        """Switch back to `previous` (the device default when it was unset)."""
        if previous == ADB_KEYBOARD_IME:
            return
        if previous:
            self._run(f"ime set {shlex.quote(previous)}")
        else:
            self._run("ime reset")
        if disable:
            self._run(f"ime disable {shlex.quote(ADB_KEYBOARD_IME)}")
        log.debug("restored input method %r", previous or "(default)")
