"""DesktopEnv on real X screens (Xvfb) with real apps: what the app receives is what counts.

Every input test reads the app's own event log (tests/apps/event_logger.py),
never what the env says it sent. Geometry logic is also covered without a
display, with mss-shaped monitor lists (HiDPI, negative offsets).
"""

from __future__ import annotations

import os
import shutil
import string
import subprocess
import sys
import time

import numpy as np
import pytest

from actions.errors import InputError
from actions.types import (
    Click,
    Drag,
    Key,
    LongPress,
    Move,
    OpenApp,
    Scroll,
    Swipe,
    SystemButton,
    Type,
)
from env.base import ScreenGeometry
from env.desktop_input import FailSafeError
from env.desktop_keyboard import X11Keyboard
from env.desktop_keys import X_KEYSYMS, check_combo, check_text, text_lines
from env.desktop_monitors import geometry_for, parse_monitor, select_monitor
from env.x11 import open_display
from tests.conftest import need
from tests.fixtures.display import EVENT_LOGGER, TkApp, start_event_app, wait_for_window

UNICODE = "héllo wörld 你好"
ASCII = "".join(c for c in string.printable if c not in "\t\n\r\x0b\x0c")


def desktop(**kwargs: object):
    from env.desktop import DesktopEnv

    return DesktopEnv(**kwargs)  # type: ignore[arg-type]


def presses(app: TkApp, since: int) -> list[tuple[str, int, int, int]]:
    """(widget, button, x, y) of every mouse press since `since`."""
    return [(e["widget"], e["button"], e["x"], e["y"]) for e in app.events("press", since)]


# -- geometry, no display needed --------------------------------------------------------
RETINA = [
    {"left": -1440, "top": 0, "width": 2880, "height": 900},
    {"left": 0, "top": 0, "width": 1440, "height": 900},
    {"left": -1440, "top": 0, "width": 1440, "height": 900, "is_primary": True},
]


def test_primary_is_the_flagged_monitor_not_index_1() -> None:
    assert select_monitor(RETINA, "primary")[0] == 2
    unflagged = [{k: v for k, v in m.items() if k != "is_primary"} for m in RETINA]
    assert select_monitor(unflagged, "primary")[0] == 1
    assert select_monitor(RETINA, 0)[1]["width"] == 2880
    with pytest.raises(InputError, match="monitor 3 does not exist: .* 0..2"):
        select_monitor(RETINA, 3)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("primary", "primary"),
        (None, "primary"),
        ("2", 2),
        ("all", 0),
        (1, 1),
        (" Primary ", "primary"),
    ],
)
def test_parse_monitor(value: object, expected: object) -> None:
    assert parse_monitor(value) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["-1", "left", -2, True])
def test_parse_monitor_rejects(bad: object) -> None:
    with pytest.raises(InputError, match="monitor"):
        parse_monitor(bad)  # type: ignore[arg-type]


def test_hidpi_capture_maps_back_to_points_with_the_monitor_offset() -> None:
    # A Retina monitor left of the primary: mss reports points, the grab is 2x pixels.
    index, monitor = select_monitor(RETINA, "primary")
    geometry = geometry_for(index, monitor, (2880, 1800))
    assert (geometry.width, geometry.height, geometry.scale) == (2880, 1800, 2.0)
    assert geometry.offset == (-1440.0, 0.0)
    assert geometry.to_input(100, 50) == (-1390.0, 25.0)
    assert geometry.to_input(2879, 1799) == (-0.5, 899.5)
    assert geometry_for(1, RETINA[1], (1440, 900)).scale == 1.0


def test_non_uniform_capture_scale_is_refused() -> None:
    with pytest.raises(InputError, match="does not scale uniformly"):
        geometry_for(1, RETINA[1], (2880, 900))


def test_desktop_key_checks() -> None:
    check_combo(["ctrl", "shift", "t"])
    check_combo(["alt", "tab"])
    check_combo(["volume_up"])
    for key, reason in [("power", "power the machine off"), ("app_switch", "alt\\+tab")]:
        with pytest.raises(InputError, match=reason):
            check_combo([key])
    with pytest.raises(InputError, match="empty key combo"):
        check_combo([])
    with pytest.raises(InputError, match="control character '\\\\x07' at position 2"):
        check_text("ab\x07")
    assert text_lines("a\r\nb\rc\n") == ["a", "b", "c", ""]


def test_no_display_is_a_one_line_error_with_the_install_hint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")  # no Xvfb either
    with pytest.raises(InputError) as caught:
        desktop()
    message = str(caught.value)
    assert "\n" not in message
    assert "DISPLAY is not set" in message and "apt-get install -y xvfb" in message
    with pytest.raises(InputError, match="Xvfb is not installed"):
        desktop(virtual_display="800x600")


# -- input on a real screen ------------------------------------------------------------
def test_clicks_land_on_the_widget_with_the_right_button(event_app: TkApp) -> None:
    app = event_app
    ok, pad = app.center("ok"), app.center("pad")
    with desktop() as env:
        mark = app.mark()
        result = env.act(Click(x=ok[0], y=ok[1]))
        app.wait_for(lambda e: e["event"] == "button", since=mark)
        assert result.sent and result.input_points == [(float(ok[0]), float(ok[1]))]
        assert presses(app, mark) == [("ok", 1, *ok)]

        mark = app.mark()
        env.act(Click(x=pad[0], y=pad[1], button="right"))
        env.act(Click(x=pad[0] + 40, y=pad[1], button="middle"))
        app.wait_for(lambda e: e["event"] == "release" and e["button"] == 2, since=mark)
        assert presses(app, mark) == [("pad", 3, *pad), ("pad", 2, pad[0] + 40, pad[1])]
        assert app.events("button", mark) == []  # OK was not clicked again

        time.sleep(0.6)  # let Tk's double-click window pass
        mark = app.mark()
        env.act(Click(x=pad[0], y=pad[1] + 50, count=2))
        app.wait_for(lambda e: e["event"] == "double", since=mark)
        time.sleep(0.6)
        mark2 = app.mark()
        env.act(Click(x=pad[0], y=pad[1] + 80, count=3))
        app.wait_for(lambda e: e["event"] == "triple", since=mark2)
        assert [e["event"] for e in app.events("double", mark)] == ["double", "double"]
        assert len(presses(app, mark)) == 5


def test_move_drag_scroll_and_long_press(event_app: TkApp) -> None:
    app = event_app
    px, py = app.center("pad")
    with desktop() as env:
        mark = app.mark()
        env.act(Move(x=px + 11, y=py + 7))
        app.wait_for(lambda e: e["event"] == "motion" and (e["x"], e["y"]) == (px + 11, py + 7))
        assert presses(app, mark) == []

        mark = app.mark()
        env.act(Drag(x=px - 100, y=py - 50, to_x=px + 150, to_y=py + 60, duration=0.2))
        app.wait_for(lambda e: e["event"] == "release", since=mark)
        assert presses(app, mark) == [("pad", 1, px - 100, py - 50)]
        release = app.events("release", mark)[-1]
        assert (release["x"], release["y"]) == (px + 150, py + 60)
        dragged = [e for e in app.events("motion", mark) if e["buttons"] == [1]]
        assert len(dragged) >= 2  # intermediate moves with the button held

        mark = app.mark()
        env.act(Scroll(x=px, y=py, amount=3))
        env.act(Scroll(x=px, y=py, amount=-2))
        env.act(Scroll(x=px, y=py, amount=2, axis="horizontal"))
        env.act(Scroll(x=px, y=py, amount=-1, axis="horizontal"))
        app.wait_for(lambda e: e["event"] == "wheel" and e["direction"] == "left", since=mark)
        directions = [e["direction"] for e in app.events("wheel", mark)]
        assert directions == ["up"] * 3 + ["down"] * 2 + ["right"] * 2 + ["left"]

        mark = app.mark()
        env.act(Swipe(x=px, y=py, to_x=px - 120, to_y=py - 30, duration=0.15))  # = a drag
        release = app.wait_for(lambda e: e["event"] == "release", since=mark)
        assert presses(app, mark) == [("pad", 1, px, py)]
        assert (release["x"], release["y"]) == (px - 120, py - 30)

        mark = app.mark()
        env.act(LongPress(x=px, y=py, duration=0.3))
        release = app.wait_for(lambda e: e["event"] == "release", since=mark)
        press = app.events("press", mark)[0]
        assert release["server_ms"] - press["server_ms"] >= 300  # held, by the X server's clock


def _focus_entry(env: object, app: TkApp) -> int:
    x, y = app.center("entry")
    mark = app.mark()
    env.act(Click(x=x, y=y, count=3))  # type: ignore[attr-defined]
    env.act(Key(keys="backspace"))  # type: ignore[attr-defined]
    return mark


def test_text_arrives_exactly_unicode_ascii_and_newlines(event_app: TkApp) -> None:
    app = event_app
    with desktop() as env:
        _focus_entry(env, app)
        mark = app.mark()
        env.act(Type(text=UNICODE))
        app.wait_for(lambda e: e["event"] == "text" and e["value"] == UNICODE, since=mark)

        mark = _focus_entry(env, app)
        env.act(Type(text=ASCII))  # pyautogui.write would type '<' as '>'
        app.wait_for(lambda e: e["event"] == "text" and e["value"] == ASCII, since=mark)

        rare = "ñ ß € 😀 Ωμέγα Ж ąčę 日本語テキスト"
        mark = _focus_entry(env, app)
        env.act(Type(text=rare))
        app.wait_for(lambda e: e["event"] == "text" and e["value"] == rare, since=mark)

        nx, ny = app.center("notes")
        env.act(Click(x=nx, y=ny))
        mark = app.mark()
        env.act(Type(text="first line\nzweite Zeile\r\n\tdritte"))
        expected = "first line\nzweite Zeile\n\tdritte"
        app.wait_for(
            lambda e: e.get("widget") == "notes" and e.get("value") == expected, since=mark
        )


def test_more_distinct_characters_than_spare_keycodes(event_app: TkApp) -> None:
    app = event_app
    with desktop() as env:
        capacity = env.keyboard.capacity()
        text = "".join(chr(0x4E00 + i) for i in range(capacity + 5)) + " end"
        mark = _focus_entry(env, app)
        env.act(Type(text=text))
        app.wait_for(lambda e: e["event"] == "text" and e["value"] == text, since=mark, timeout=20)
    with X11Keyboard() as fresh:
        assert fresh.capacity() == capacity  # the borrowed keycodes were given back


def test_shortcuts_and_combos_reach_the_app(event_app: TkApp) -> None:
    app = event_app
    with desktop() as env:
        _focus_entry(env, app)
        mark = app.mark()
        combos = ("ctrl+s", "f5", "escape", "ctrl+shift+t", "alt+tab", "ctrl++", "volume_up", "<")
        for combo in combos:
            env.act(Key(keys=combo))
        app.wait_for(lambda e: e["event"] == "key" and e["keysym"] == "less", since=mark)
        shortcuts = [e["name"] for e in app.events("shortcut", mark)]
        assert shortcuts == ["save", "refresh", "cancel"]
        keys = {
            e["keysym"]: sorted(e["mods"])
            for e in app.events("key", mark)
            if e["keysym"] not in ("Control_L", "Shift_L", "Alt_L")
        }
        assert keys["T"] == ["Control", "Shift"]
        assert keys["Tab"] == ["Alt"]
        assert keys["plus"] == ["Control", "Shift"]
        assert keys["less"] == []
        assert keys["XF86AudioRaiseVolume"] == []  # not in Xvfb's keymap: bound on the fly
        for name in X_KEYSYMS:  # every desktop key name has a keysym
            assert env.keyboard.key_keysym(name) > 0, name


def test_rejected_input_sends_nothing(event_app: TkApp) -> None:
    app = event_app
    with desktop() as env:
        width, height = env.size
        mark = app.mark()
        for action, message in [
            (Click(x=width, y=10), "outside the screen"),
            (Drag(x=10, y=10, to_x=10, to_y=height + 5), "outside the screen"),
            (Key(keys="ctrl+power"), "cannot be sent on a desktop"),
            (Key(keys="app_switch"), "alt\\+tab"),
            (Type(text="ok\x00"), "control character"),
            (SystemButton(button="back"), "phone button"),
            (OpenApp(app="Settings"), "launch"),
        ]:
            with pytest.raises(InputError, match=message):
                env.act(action)
        time.sleep(0.3)
        assert app.events(since=mark) == []


def test_dry_run_and_failsafe_send_nothing(event_app: TkApp) -> None:
    app = event_app
    ok = app.center("ok")
    with desktop(dry_run=True) as env:
        mark = app.mark()
        result = env.act(Click(x=ok[0], y=ok[1]))
        env.act(Type(text=UNICODE))
        env.act(Key(keys="ctrl+s"))
        assert not result.sent and result.input_points == [(float(ok[0]), float(ok[1]))]
    time.sleep(0.3)
    assert app.events(since=mark) == []
    with desktop() as env:
        try:
            env.act(Move(x=0, y=0))  # the emergency corner
            time.sleep(0.2)
            mark = app.mark()
            for action in (Click(x=ok[0], y=ok[1]), Type(text="x"), Key(keys="ctrl+s")):
                with pytest.raises(FailSafeError, match="corner"):
                    env.act(action)
        finally:
            with desktop(failsafe=False) as rescue:
                rescue.act(Move(x=ok[0], y=ok[1] + 300))
    time.sleep(0.3)
    assert app.events("press", mark) == [] and app.events("button", mark) == []
    assert app.events("key", mark) == [] and app.events("shortcut", mark) == []


def test_screenshot_pixels_are_what_the_app_drew(event_app: TkApp) -> None:
    app = event_app
    with desktop() as env:
        obs = env.observe()
    assert obs.image.mode == "RGB" and obs.image.size == (1920, 1080)
    assert obs.geometry.scale == 1.0 and obs.geometry.offset == (0.0, 0.0)
    pixels = np.asarray(obs.image)
    for name, color in [
        ("red_patch", "#ff0000"),
        ("green_patch", "#00c000"),
        ("blue_patch", "#2040ff"),
    ]:
        box = app.widgets[name]
        rgb = tuple(int(color[i : i + 2], 16) for i in (1, 3, 5))
        patch = pixels[box.y : box.y + box.h, box.x : box.x + box.w]
        assert (patch == rgb).all(), name
        assert tuple(pixels[box.y + box.h + 2, box.x + 5]) != rgb  # and it stops at its edge


def test_hidpi_scale_is_applied_on_the_way_to_the_pointer(event_app: TkApp) -> None:
    # Pretend the capture was 2x (as on a Retina Mac): pixel (2x, 2y) must hit point (x, y).
    app = event_app
    ok = app.center("ok")
    with desktop() as env:
        env._geometry = ScreenGeometry(width=3840, height=2160, scale=2.0)
        mark = app.mark()
        result = env.act(Click(x=2 * ok[0] + 1, y=2 * ok[1]))
        app.wait_for(lambda e: e["event"] == "button", since=mark)
    assert result.input_points == [(ok[0] + 0.5, float(ok[1]))]
    assert presses(app, mark)[0][:2] == ("ok", 1)


def test_launch_and_close_terminates_the_app(xvfb: object, tmp_path) -> None:
    log = tmp_path / "launched.jsonl"
    env = desktop()
    try:
        env.launch([sys.executable, str(EVENT_LOGGER), str(log), "--title", "launched"])
        process = env.launched[-1]
        wait_for_window("launched", os.environ["DISPLAY"])
        with pytest.raises(InputError, match="not found"):
            env.launch("no-such-program --flag")
    finally:
        env.close()
    assert process.poll() is not None


def test_virtual_display_api_starts_and_stops_its_own_xvfb(xvfb: object, tmp_path) -> None:
    outer = os.environ["DISPLAY"]
    with desktop(virtual_display="800x600") as env:
        inner = env.display_name
        assert inner != outer and os.environ["DISPLAY"] == inner
        assert env.size == (800, 600)
        # pyautogui was bound to the session display by earlier tests: it must follow.
        app = start_event_app(tmp_path / "v.jsonl", display=inner, geometry="500x400+50+40")
        try:
            x, y = app.center("ok")
            env.act(Click(x=x, y=y))
            app.wait_for(lambda e: e["event"] == "button")
        finally:
            app.stop()
    assert os.environ["DISPLAY"] == outer
    with pytest.raises(InputError, match="cannot open X display"):
        open_display(inner)  # the Xvfb is gone


# -- two monitors ------------------------------------------------------------------------
def test_two_monitors_offsets_and_primary(
    dual_monitor_xvfb: object, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    name = dual_monitor_xvfb.name  # type: ignore[attr-defined]
    monkeypatch.setenv("DISPLAY", name)
    app = start_event_app(tmp_path / "dual.jsonl", display=name, geometry="900x640+2100+40")
    try:
        with desktop(monitor="primary") as right:
            g = right.geometry
            assert (g.display, g.width, g.height, g.offset) == (1, 1280, 720, (1920.0, 0.0))
            ok = app.center("ok")
            shot_x, shot_y = ok[0] - 1920, ok[1]  # the button in this monitor's screenshot
            obs = right.observe()
            red = app.widgets["red_patch"]
            assert obs.image.getpixel((red.center[0] - 1920, red.center[1])) == (255, 0, 0)
            mark = app.mark()
            result = right.act(Click(x=shot_x, y=shot_y))
            app.wait_for(lambda e: e["event"] == "button", since=mark)
            assert result.input_points == [(float(ok[0]), float(ok[1]))]
            assert presses(app, mark) == [("ok", 1, *ok)]
            with pytest.raises(InputError, match="outside the screen"):
                right.act(Click(x=1300, y=10))  # fine on the full desktop, not on this monitor
        with desktop(monitor=2) as left:
            assert left.geometry.offset == (0.0, 0.0) and left.size == (1920, 1080)
        with desktop(monitor=0) as both:
            assert both.size == (3200, 1080)
            assert [m.primary for m in both.monitors()] == [False, True, False]
        with pytest.raises(InputError, match="monitor 3 does not exist"):
            desktop(monitor=3)
    finally:
        app.stop()


# -- a second toolkit: GTK (zenity) ----------------------------------------------------
def test_zenity_entry_driven_by_clicking_and_typing(xvfb: object) -> None:
    need(shutil.which("zenity") is not None, "zenity (apt-get install zenity)")
    title = "screenpilot zenity"
    dialog = subprocess.Popen(
        ["zenity", "--entry", "--title", title, "--text", "Name:"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ),
    )
    try:
        box = wait_for_window(title, os.environ["DISPLAY"])
        with desktop() as env:
            time.sleep(0.3)  # first paint
            pixels = np.asarray(env.observe().image)[box.y : box.y + box.h, box.x : box.x + box.w]
            # The entry is the dialog's only white field; OK is the right-hand button below it.
            white = (pixels == 255).all(axis=2)
            rows = np.nonzero(white.sum(axis=1) > box.w // 2)[0]
            cols = np.nonzero(white[rows].any(axis=0))[0]
            top, bottom = box.y + rows.min(), box.y + rows.max()
            left, right = box.x + cols.min(), box.x + cols.max()
            env.act(Click(x=(left + right) / 2, y=(top + bottom) / 2))
            env.act(Type(text="zénith 你好 <ok>"))
            env.act(Click(x=left + 0.75 * (right - left), y=(bottom + box.y + box.h) / 2))
        out, _ = dialog.communicate(timeout=10)
    finally:
        if dialog.poll() is None:
            dialog.kill()
    assert dialog.returncode == 0  # OK, not Cancel
    assert out.decode() == "zénith 你好 <ok>\n"
