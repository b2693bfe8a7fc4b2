"""Typing on Android: every character arrives as itself, nothing runs in the device shell."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actions.project_errors import InputError
from actions.types import Type
from env.android import AndroidEnv
from env.android_text import (
    ADB_KEYBOARD_IME,
    broadcast_messages,
    decode_input_text,
    encode_input_text,
    plan_text,
)
from tests.fixtures.android_device import LATIN_IME

LONG = "".join(string.printable[:94][(i * 7) % 94] for i in range(500))
CASES = [
    "hello world",
    "a;b && echo pwned | cat $(id) `uname`",
    "50%s off",
    "héllo 你好 👋",
    LONG,
]
ALLOWED_PROGRAMS = {"input", "am", "ime", "settings"}


@given(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60))
@settings(max_examples=300, deadline=None)
def test_input_text_encoding_round_trips_any_printable_ascii(text) -> None:
    assert "".join(decode_input_text(a) for a in encode_input_text(text)) == text


def test_decode_follows_androids_percent_s_rule() -> None:
    assert decode_input_text("hello%sworld") == "hello world"
    assert decode_input_text("50%%soff") == "50% off"
    assert decode_input_text("%") == "%"
    # One call can never type a literal "%s": the encoder splits it.
    assert encode_input_text("50%s off") == ["50%", "s%soff"]


def test_control_characters_are_refused_and_newlines_become_enter() -> None:
    with pytest.raises(InputError, match="control character"):
        plan_text("a\x1bb")
    steps = plan_text("one\r\ntwo\tthree")
    assert [s.kind for s in steps] == ["ascii", "key", "ascii", "key", "ascii"]
    assert steps[1].value == "KEYCODE_ENTER" and steps[3].value == "KEYCODE_TAB"


def test_broadcast_chunks_end_on_characters_and_stay_under_the_limit() -> None:
    import base64

    text = "你好👋é" * 100
    messages = broadcast_messages(text, chunk_bytes=100)
    decoded = [base64.b64decode(m).decode("utf-8") for m in messages]
    assert "".join(decoded) == text
    assert all(len(d.encode("utf-8")) <= 100 for d in decoded) and len(messages) > 5


@pytest.mark.parametrize("text", CASES, ids=["space", "shell", "percent-s", "unicode", "long"])
def test_each_case_arrives_exactly_as_one_line(adb_server, text) -> None:
    device = adb_server.device()
    with AndroidEnv(port=adb_server.port, ime_switch_delay=0) as env:
        env.act(Type(text=text))
    assert device.typed == text
    # Only the phone's own programs ran (an injected `echo`/`id` would add output or
    # calls), and text went out as single quoted arguments.
    assert {argv[0] for argv in device.calls} <= ALLOWED_PROGRAMS | {"pm", "wm", "dumpsys"}
    for argv in device.calls:
        if argv[:2] == ["input", "text"]:
            assert len(argv) == 3
    assert device.current_ime == LATIN_IME


def test_shell_metacharacters_reach_input_text_as_one_argument(adb_server) -> None:
    device = adb_server.device()
    with AndroidEnv(port=adb_server.port) as env:
        env.act(Type(text="a;b && echo pwned | cat $(id) `uname`"))
    texts = [argv for argv in device.calls if argv[:2] == ["input", "text"]]
    assert texts == [["input", "text", "a;b%s&&%secho%spwned%s|%scat%s$(id)%s`uname`"]]


def test_ascii_text_never_touches_the_ime(adb_server) -> None:
    device = adb_server.device()
    with AndroidEnv(port=adb_server.port) as env:
        env.act(Type(text="hello\nworld"))
    assert device.typed == "hello\nworld"
    assert not any(argv[0] in ("ime", "am", "settings") for argv in device.calls)
    assert [e for e in device.events if e[0] == "key"] == [("key", 66)]


def test_unicode_switches_to_adbkeyboard_and_back(adb_server) -> None:
    device = adb_server.device()
    with AndroidEnv(port=adb_server.port, ime_switch_delay=0) as env:
        env.act(Type(text="héllo; 你好\nzweite Zeile"))
    assert device.typed == "héllo; 你好\nzweite Zeile"
    switches = [e[1] for e in device.events if e[0] == "ime"]
    assert switches == [ADB_KEYBOARD_IME, LATIN_IME]
    # It was not enabled before, so it is disabled again afterwards.
    assert device.imes_enabled == [LATIN_IME]
    broadcasts = [a for a in device.calls if a[:2] == ["am", "broadcast"]]
    assert all(a[2:5] == ["-a", "ADB_INPUT_B64", "--es"] for a in broadcasts)


def test_long_unicode_text_is_chunked_and_arrives(adb_server) -> None:
    device = adb_server.device()
    text = "日本語のテキスト👋" * 120
    with AndroidEnv(port=adb_server.port, ime_switch_delay=0) as env:
        env.act(Type(text=text))
    assert device.typed == text
    assert len([a for a in device.calls if a[:2] == ["am", "broadcast"]]) > 3


def test_when_adbkeyboard_is_already_current_nothing_is_switched(adb_server) -> None:
    device = adb_server.device()
    device.imes_enabled.append(ADB_KEYBOARD_IME)
    device.current_ime = ADB_KEYBOARD_IME
    with AndroidEnv(port=adb_server.port, ime_switch_delay=0) as env:
        env.act(Type(text="ça"))
    assert device.typed == "ça"
    assert not [e for e in device.events if e[0] == "ime"]


def test_missing_adbkeyboard_is_one_error_with_the_install_hint_and_nothing_sent(
    adb_server,
) -> None:
    device = adb_server.device()
    device.imes_installed = [LATIN_IME]
    with AndroidEnv(port=adb_server.port) as env:
        with pytest.raises(InputError, match="ADBKeyBoard") as err:
            env.act(Type(text="héllo"))
    assert "adb install" in str(err.value) and "\n" not in str(err.value)
    assert device.typed == "" and not device.events
