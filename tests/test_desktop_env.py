"""DesktopEnv on real X screens (Xvfb) with real apps: what the app receives is what counts.

Every input test reads the app's own event log (tests/apps/event_logger.py),
never what the env says it sent. Geometry logic is also covered without a
display, with mss-shaped monitor lists (HiDPI, negative offsets).
"""

from __future__ import annotations

import json
import os
import shutil
import string
import subprocess
import sys
import time

import numpy as np
import pytest

from actions.frames import CoordinateFrame
from actions.parse import parse_answer
from actions.project_errors import InputError
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
from env.base import ScreenGeometry, ScrollSent
from env.desktop_keyboard import X11Keyboard
from env.desktop_keys import X_KEYSYMS, check_combo, check_text, text_lines
from env.desktop_monitors import geometry_for, parse_monitor, select_monitor
from env.desktop_pointer import FailSafeError
from env.desktop_wheel import plan_wheel
from env.x11 import open_display
from tests.conftest import need
from tests.fixtures.display import (
    DUAL_MONITORS,
    EVENT_LOGGER,
    TkApp,
    add_randr_monitors,
    start_event_app,
    wait_for_window,
)

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


def test_scroll_pixels_become_wheel_notches_at_each_platforms_stated_scale() -> None:
    full_hd = ScreenGeometry(width=1920, height=1080)
    # X11: 90 px per notch (Tk listbox / GTK text view, measured: env/desktop_wheel.py)
    assert plan_wheel(full_hd, axis="vertical", pixels=-450) == ScrollSent(
        requested_pixels=-450, notches=-5
    )
    assert plan_wheel(full_hd, axis="vertical", pixels=30).notches == 1  # never 0
    assert plan_wheel(full_hd, axis="vertical", amount=3) == ScrollSent(
        requested_notches=3, notches=3
    )
    # capped at two screens: 2 x 1080 px = 24 notches of 90
    huge = plan_wheel(full_hd, axis="vertical", pixels=-100_000)
    assert (huge.notches, huge.capped) == (-24, True)
    assert plan_wheel(full_hd, axis="horizontal", pixels=-100_000).notches == -43  # 3840/90
    # HiDPI: 900 screenshot pixels at 2x are 450 points
    retina = ScreenGeometry(width=2880, height=1800, scale=2.0)
    assert plan_wheel(retina, axis="vertical", pixels=900).notches == 5
    # macOS scrolls in lines of 10 px (Quartz); Windows sends 120 units per notch
    assert plan_wheel(full_hd, axis="vertical", pixels=500, platform="darwin").notches == 50
    assert plan_wheel(full_hd, axis="vertical", pixels=500, platform="win32").notches == 6


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


def test_a_model_scroll_of_450_pixels_turns_the_wheel_5_notches(event_app: TkApp) -> None:
    # Issue 15: computer_use's "pixels" were sent as wheel notches (-500 -> 200 notches).
    app = event_app
    px, py = app.center("pad")
    frame = CoordinateFrame.for_image((1920, 1080))  # the model saw 1932x1092
    mx, my = frame.image_to_model(px, py)
    answer = json.dumps(
        {"name": "computer_use", "arguments": {"action": "scroll", "pixels": -450,
                                               "coordinate": [round(mx), round(my)]}}
    )  # fmt: skip
    scroll = parse_answer(f"<tool_call>\n{answer}\n</tool_call>", frame).actions[0]
    assert scroll.pixels == -445  # 450 x 1080 / 1092, in screenshot pixels
    with desktop() as env:
        mark = app.mark()
        result = env.act(scroll)
        horizontal = env.act(Scroll(x=px, y=py, pixels=200, axis="horizontal"))
        app.wait_for(lambda e: e["event"] == "wheel" and e["direction"] == "right", since=mark)
        time.sleep(0.2)
    assert [e["direction"] for e in app.events("wheel", mark)] == ["down"] * 5 + ["right"] * 2
    assert result.scroll == ScrollSent(requested_pixels=-445, notches=-5)
    assert horizontal.scroll == ScrollSent(requested_pixels=200, notches=2)


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
            with pytest.raises(InputError, match="is a screen corner"):
                env.act(Move(x=0, y=0))  # never sent there by the agent itself
            env_display = {**os.environ, "DISPLAY": app.display}
            subprocess.run(["xdotool", "mousemove", "0", "0"], env=env_display, check=True)
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


CHILD_LEAVES_THE_GROUP = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import os, time; os.setsid(); time.sleep(60)"])
open(sys.argv[1], "w").write(str(child.pid))
time.sleep(60)
"""


def test_close_ends_what_a_launched_app_started_even_outside_its_group(
    xvfb: object, tmp_path
) -> None:
    # The whole process tree is ended (psutil), not only the launched process group:
    # a helper that called setsid() would have outlived os.killpg.
    import psutil

    pid_file = tmp_path / "child.pid"
    env = desktop()
    try:
        env.launch([sys.executable, "-c", CHILD_LEAVES_THE_GROUP, str(pid_file)])
        deadline = time.monotonic() + 20
        while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        child = psutil.Process(int(pid_file.read_text()))
        while os.getsid(child.pid) != child.pid and time.monotonic() < deadline:
            time.sleep(0.05)
        assert os.getsid(child.pid) == child.pid  # its own session, out of the app's group
    finally:
        env.close()
    assert env.launched == []
    with pytest.raises(psutil.NoSuchProcess):
        child.wait(5)  # ended: gone (or reaped) once close returned
        child.status()


def test_virtual_display_api_starts_and_stops_its_own_xvfb(xvfb: object, tmp_path) -> None:
    outer = os.environ["DISPLAY"]
    # window_manager none: the test places the app's window itself (no title bar moves it)
    with desktop(virtual_display="800x600", window_manager="none") as env:
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


def relayout(display: str, monitors: tuple[tuple[object, ...], ...]) -> None:
    """Replace the RandR monitors by these (what ``xrandr --delmonitor/--setmonitor`` do)."""
    from Xlib.protocol import rq

    class DeleteMonitor(rq.Request):  # python3-Xlib 0.15 lacks RRDeleteMonitor
        _request = rq.Struct(
            rq.Card8("opcode"),
            rq.Opcode(44),
            rq.RequestLength(),
            rq.Window("window"),
            rq.Card32("name"),
        )

    xdisplay = open_display(display)
    try:
        opcode = xdisplay.display.get_extension_major("RANDR")
        root = xdisplay.screen().root
        for name, *_ in monitors:
            DeleteMonitor(display=xdisplay.display, opcode=opcode, window=root,
                          name=xdisplay.intern_atom(str(name)))  # fmt: skip
        xdisplay.sync()
    finally:
        xdisplay.close()
    add_randr_monitors(display, monitors).close()


def test_rearranged_monitors_and_a_new_primary_are_seen_by_the_next_observe(tmp_path) -> None:
    # Issue 15: the geometry was kept until the frame size changed, so a monitor moved to
    # another place (same size) or another primary kept getting the old offsets.
    need(shutil.which("Xvfb") is not None, "Xvfb (apt-get install xvfb)")
    from env.virtual_display import VirtualDisplay

    outer = os.environ.get("DISPLAY")
    with VirtualDisplay((3200, 1080)) as screen:
        keeper = add_randr_monitors(screen.name, DUAL_MONITORS)  # RIGHT 1280x720+1920+0 primary
        app = start_event_app(tmp_path / "moved.jsonl", display=screen.name,
                              geometry="900x600+2000+420")  # fmt: skip
        try:
            with desktop(monitor="primary") as env:
                assert env.observe().geometry.offset == (1920.0, 0.0)
                moved = (("LEFT", 0, 0, 1920, 1080, False), ("RIGHT", 1920, 360, 1280, 720, True))
                relayout(screen.name, moved)
                obs = env.observe()
                assert (obs.geometry.offset, obs.image.size) == ((1920.0, 360.0), (1280, 720))
                red = app.widgets["red_patch"]
                assert obs.image.getpixel((red.center[0] - 1920, red.center[1] - 360)) == (
                    255, 0, 0,
                )  # fmt: skip
                ok = app.center("ok")
                mark = app.mark()
                env.act(Click(x=ok[0] - 1920, y=ok[1] - 360))
                app.wait_for(lambda e: e["event"] == "button", since=mark)
                assert presses(app, mark) == [("ok", 1, *ok)]

                swapped = (("LEFT", 0, 0, 1920, 1080, True), ("RIGHT", 1920, 360, 1280, 720, False))
                relayout(screen.name, swapped)
                obs = env.observe()
                assert (obs.geometry.offset, obs.image.size) == ((0.0, 0.0), (1920, 1080))
                assert env.observe().geometry is obs.geometry  # no change: nothing re-read
        finally:
            app.stop()
            keeper.close()
    assert os.environ.get("DISPLAY") == outer


def test_two_envs_on_two_displays_in_one_process_each_drive_their_own(tmp_path) -> None:
    # Issue 15: pyautogui's one module-level display made a second env's clicks land on the
    # first env's display. Each env now sends through its own X connection.
    need(shutil.which("Xvfb") is not None, "Xvfb (apt-get install xvfb)")
    first = desktop(virtual_display="1280x800", window_manager="none")  # apps placed by the test
    second = desktop(virtual_display="1024x768", window_manager="none")
    apps: list[TkApp] = []
    try:
        assert first.display_name != second.display_name
        a = start_event_app(tmp_path / "a.jsonl", display=first.display_name,
                            geometry="900x640+100+50")  # fmt: skip
        apps.append(a)
        b = start_event_app(tmp_path / "b.jsonl", display=second.display_name,
                            geometry="800x600+20+30")  # fmt: skip
        apps.append(b)
        steps = [
            (first, Click(x=a.center("ok")[0], y=a.center("ok")[1])),
            (second, Click(x=b.center("pad")[0], y=b.center("pad")[1], button="right")),
            (first, Click(x=a.center("entry")[0], y=a.center("entry")[1])),
            (second, Click(x=b.center("entry")[0], y=b.center("entry")[1])),
            (first, Type(text="première é")),
            (second, Type(text="second 第二")),
            (first, Key(keys="ctrl+s")),
            (second, Scroll(x=b.center("pad")[0], y=b.center("pad")[1], amount=-2)),
            (second, Key(keys="f5")),
            (first, Move(x=a.center("pad")[0] + 3, y=a.center("pad")[1] + 4)),
        ]
        for env, action in steps:
            env.act(action)
        a.wait_for(lambda e: e["event"] == "motion", timeout=10)
        b.wait_for(lambda e: e.get("name") == "refresh", timeout=10)
        time.sleep(0.3)
    finally:
        for app in apps:
            app.stop()
        second.close()
        first.close()
    assert presses(a, 0) == [("ok", 1, *a.center("ok")), ("entry", 1, *a.center("entry"))]
    assert presses(b, 0) == [("pad", 3, *b.center("pad")), ("entry", 1, *b.center("entry"))]
    assert a.text("entry") == "première é" and b.text("entry") == "second 第二"
    assert [e["name"] for e in a.events("shortcut")] == ["save"]
    assert [e["name"] for e in b.events("shortcut")] == ["refresh"]
    assert a.events("wheel") == [] and [e["direction"] for e in b.events("wheel")] == ["down"] * 2
    assert b.events("motion") == [] or all(e["buttons"] == [] for e in b.events("motion"))
    assert "pyautogui" not in sys.modules  # X11 input has no process-global state
    assert any((e["x"], e["y"]) == (a.center("pad")[0] + 3, a.center("pad")[1] + 4)
               for e in a.events("motion"))  # fmt: skip


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
