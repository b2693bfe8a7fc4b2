"""`agent do`, `agent screenshot`, `agent devices` as a user runs them, against real apps on Xvfb.

The real console script (.venv/bin/agent) runs in a subprocess with DISPLAY
pointing at the test display; what counts is what the app logged. Bad-input
cases run in-process through `agent.cli.main.main` (same code path, faster).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from agent.cli.main import main
from env.devices import DeviceSection, device_sections
from tests.fixtures.display import TkApp, start_event_app

AGENT = Path(sys.executable).with_name("agent")


def agent(
    *args: str, display: str | None, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the installed `agent` script as a user would."""
    full_env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    if display:
        full_env["DISPLAY"] = display
    full_env.update(env or {})
    return subprocess.run(
        [str(AGENT), *args], capture_output=True, text=True, env=full_env, timeout=timeout
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def xvfb_processes(size: str) -> list[str]:
    ps = subprocess.run(["ps", "-eo", "pid=,ppid=,args="], capture_output=True, text=True)
    return [line for line in ps.stdout.splitlines() if "Xvfb" in line and f" {size}x24" in line]


def presses(app: TkApp, since: int) -> list[tuple[str, int, int, int]]:
    return [(e["widget"], e["button"], e["x"], e["y"]) for e in app.events("press", since)]


def test_click_on_a_real_button_reaches_the_app(event_app: TkApp) -> None:
    app = event_app
    x, y = app.center("ok")
    mark = app.mark()
    out = ok(agent("do", "click", str(x), str(y), display=app.display))
    app.wait_for(lambda e: e["event"] == "button" and e["name"] == "ok", since=mark)
    assert presses(app, mark) == [("ok", 1, x, y)]
    assert (
        out.strip()
        == f"sent click(x={x:.1f}, y={y:.1f}, button='left', count=1) -> input ({x}, {y})"
    )


def test_type_arrives_exactly(event_app: TkApp) -> None:
    app = event_app
    ok(agent("do", "click", *map(str, app.center("entry")), display=app.display))
    mark = app.mark()
    ok(agent("do", "type", "héllo wörld 你好", display=app.display))
    app.wait_for(lambda e: e["event"] == "text" and e["value"] == "héllo wörld 你好", since=mark)

    ok(agent("do", "click", *map(str, app.center("notes")), display=app.display))
    mark = app.mark()
    ok(agent("do", "type", "--", "-dash first\nsecond <line>", display=app.display))
    expected = "-dash first\nsecond <line>"
    app.wait_for(lambda e: e.get("widget") == "notes" and e.get("value") == expected, since=mark)


def test_every_pointer_and_key_verb(event_app: TkApp) -> None:
    app = event_app
    px, py = app.center("pad")
    d = app.display

    def run(*args: object) -> int:
        time.sleep(0.6)  # keep Tk from merging consecutive clicks into multi-clicks
        mark = app.mark()
        ok(agent("do", *map(str, args), display=d))
        return mark

    mark = run("double_click", px, py)
    app.wait_for(lambda e: e["event"] == "double" and e["button"] == 1, since=mark)
    mark = run("right_click", px, py)
    app.wait_for(lambda e: e["event"] == "press" and e["button"] == 3, since=mark)
    mark = run("click", px, py, "--button", "middle", "--count", "3")
    app.wait_for(lambda e: e["event"] == "triple" and e["button"] == 2, since=mark)
    assert presses(app, mark) == [("pad", 2, px, py)] * 3
    mark = run("move", px + 5, py + 6)
    app.wait_for(lambda e: e["event"] == "motion" and (e["x"], e["y"]) == (px + 5, py + 6))
    assert presses(app, mark) == []
    mark = run("drag", px - 50, py, px + 50, py + 40, "--duration", "0.2")
    release = app.wait_for(lambda e: e["event"] == "release", since=mark)
    assert presses(app, mark) == [("pad", 1, px - 50, py)]
    assert (release["x"], release["y"]) == (px + 50, py + 40)
    mark = run("scroll", px, py, -2)  # a negative amount is a number, not an option
    run("scroll", px, py, 1, "--horizontal")
    app.wait_for(lambda e: e["event"] == "wheel" and e["direction"] == "right", since=mark)
    assert [e["direction"] for e in app.events("wheel", mark)] == ["down", "down", "right"]

    ok(agent("do", "click", *map(str, app.center("entry")), display=d))
    mark = run("key", "ctrl+s")
    run("key", "F5")
    app.wait_for(lambda e: e["event"] == "shortcut" and e["name"] == "refresh", since=mark)
    assert [e["name"] for e in app.events("shortcut", mark)] == ["save", "refresh"]
    mark = run("wait", "0.1")
    assert app.events(since=mark) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["click", "5000", "10"],
            "click point (5000, 10) is outside the screen (0..1919, 0..1079)",
        ),
        (["drag", "1", "1", "1", "1080"], "outside the screen"),
        (["key", "ctrl+nosuchkey"], "error: keys: unknown key 'nosuchkey'"),
        (["key", ""], "empty key combo"),
        (["key", "power"], "cannot be sent on a desktop"),
        (["click", "10", "10", "--count", "4"], "count"),
        (["click", "10", "10", "--button", "side"], "button"),
        (["scroll", "10", "10", "0"], "must not be 0"),
        (["type", "bell\a"], "control character"),
        (["--monitor", "7", "click", "1", "1"], "monitor 7 does not exist"),
        (["--virtual-display", "12x", "click", "1", "1"], "invalid screen size '12x'"),
        (["--android", "--virtual-display", "800x600", "click", "1", "1"], "cannot go with"),
        (["--adb-port", "5038", "click", "1", "1"], "need --android"),
        (
            ["--virtual-display", "640x480", "--window-manager", "kde", "click", "1", "1"],
            "window_manager: unknown window manager 'kde': expected one of openbox, none",
        ),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_sent(
    event_app: TkApp, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    mark = event_app.mark()
    assert main(["do", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err, err
    assert "Value error" not in err  # pydantic's prefix is not for users (issue 24.11)
    time.sleep(0.2)
    assert event_app.events(since=mark) == []


def test_no_display_is_one_line_with_the_install_hint() -> None:
    result = agent("do", "click", "1", "1", display=None, env={"PATH": "/nonexistent"})
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert "no display" in result.stderr and "apt-get install -y xvfb" in result.stderr


def test_dry_run_prints_and_sends_nothing(event_app: TkApp) -> None:
    app = event_app
    x, y = app.center("ok")
    mark = app.mark()
    out = ok(agent("do", "--dry-run", "click", str(x), str(y), display=app.display))
    assert out.startswith("dry run: would send click(") and f"-> input ({x}, {y})" in out
    ok(agent("do", "--dry-run", "type", "héllo", display=app.display))
    ok(agent("do", "--dry-run", "key", "ctrl+s", display=app.display))
    time.sleep(0.3)
    assert app.events(since=mark) == []


def person_moves_pointer(display: str, x: int, y: int) -> None:
    """Put the pointer somewhere as a person would, outside the agent (xdotool)."""
    env = {**os.environ, "DISPLAY": display}
    subprocess.run(["xdotool", "mousemove", str(x), str(y)], env=env, check=True)


def test_failsafe_corner_aborts_with_nothing_sent(event_app: TkApp) -> None:
    app = event_app
    x, y = app.center("ok")
    person_moves_pointer(app.display, 0, 0)
    try:
        mark = app.mark()
        result = agent("do", "click", str(x), str(y), display=app.display)
        assert result.returncode == 1 and "fail-safe" in result.stderr
        assert result.stderr.count("\n") == 1
        time.sleep(0.3)
        assert app.events("press", mark) == [] and app.events("button", mark) == []
    finally:
        ok(agent("do", "--no-failsafe", "move", str(x), str(y + 300), display=app.display))


@pytest.mark.parametrize("corner", ["0 0", "1919 1079", "1919 0"])
def test_clicking_a_corner_is_refused_and_nothing_is_sent(event_app: TkApp, corner: str) -> None:
    app = event_app
    x, y = app.center("ok")
    person_moves_pointer(app.display, x, y)
    mark = app.mark()
    result = agent("do", "click", *corner.split(), display=app.display)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "is a screen corner" in result.stderr
    assert "Traceback" not in result.stderr
    # the pointer stayed where it was, so the next command is not trapped by the fail-safe
    result = agent("do", "move", *corner.split(), display=app.display)
    assert result.returncode == 2 and "is a screen corner" in result.stderr
    ok(agent("do", "click", str(x), str(y), display=app.display))
    app.wait_for(lambda e: e["event"] == "button" and e["name"] == "ok", since=mark)
    assert presses(app, mark) == [("ok", 1, x, y)]  # only the last click arrived


def test_a_move_out_of_the_corner_frees_a_stuck_display(event_app: TkApp) -> None:
    # The fail-safe message says "move it away to go on": `agent do move` must be allowed to.
    app = event_app
    x, y = app.center("ok")
    person_moves_pointer(app.display, 0, 0)
    mark = app.mark()
    result = agent("do", "click", str(x), str(y), display=app.display)
    assert result.returncode == 1 and "fail-safe" in result.stderr
    ok(agent("do", "move", str(x), str(y + 300), display=app.display))
    ok(agent("do", "click", str(x), str(y), display=app.display))
    app.wait_for(lambda e: e["event"] == "button" and e["name"] == "ok", since=mark)
    assert presses(app, mark) == [("ok", 1, x, y)]


WAYLAND = {"XDG_SESSION_TYPE": "wayland", "WAYLAND_DISPLAY": "wayland-0"}


def test_a_wayland_session_is_refused_in_one_line_unless_asked_for(
    event_app: TkApp, tmp_path: Path
) -> None:
    # Issue 14: Wayland windows can be neither captured nor driven; $DISPLAY is XWayland.
    app = event_app
    x, y = app.center("ok")
    mark = app.mark()
    for args in (["do", "click", str(x), str(y)], ["screenshot", "-o", str(tmp_path / "s.png")]):
        result = agent(*args, display=app.display, env=WAYLAND)
        assert result.returncode == 2, result.stderr
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
        for words in ("Wayland session", "--virtual-display", "--xwayland"):
            assert words in result.stderr
    time.sleep(0.3)
    assert app.events(since=mark) == [] and not (tmp_path / "s.png").exists()
    # --xwayland: X11 apps under XWayland are what the user wants to drive
    ok(agent("do", "--xwayland", "click", str(x), str(y), display=app.display, env=WAYLAND))
    app.wait_for(lambda e: e["event"] == "button" and e["name"] == "ok", since=mark)
    # --virtual-display: a private Xvfb works in any session
    out = ok(agent("do", "--virtual-display", "640x488", "move", "9", "9", display=None,
                   env=WAYLAND))  # fmt: skip
    assert out.startswith("sent move(")
    listed = json.loads(ok(agent("devices", "--json", "--virtual-display", "640x488",
                                 display=app.display, env=WAYLAND)))  # fmt: skip
    assert listed[0]["rows"][0][1] == "640x488+0+0"  # the private Xvfb, not the session
    listed = json.loads(ok(agent("devices", "--json", "--xwayland", display=app.display,
                                 env=WAYLAND)))  # fmt: skip
    assert listed[0]["title"] == f"monitors (DISPLAY={app.display})" and listed[0]["rows"]
    # an X11 session with a stray WAYLAND_DISPLAY (a nested compositor) is X11
    x11 = {"XDG_SESSION_TYPE": "x11", "WAYLAND_DISPLAY": "wayland-1"}
    ok(agent("do", "move", str(x), str(y + 200), display=app.display, env=x11))


def test_scroll_by_pixels_prints_the_notches_sent(event_app: TkApp) -> None:
    app = event_app
    x, y = app.center("pad")
    mark = app.mark()
    out = ok(agent("do", "scroll", str(x), str(y), "-270", "--pixels", display=app.display))
    assert "(3 wheel notches)" in out  # 270 px / 90 px per notch
    app.wait_for(lambda e: e["event"] == "wheel", since=mark)
    time.sleep(0.2)
    assert [e["direction"] for e in app.events("wheel", mark)] == ["down"] * 3


def test_virtual_display_is_started_and_stopped(tmp_path: Path) -> None:
    out = ok(agent("do", "--virtual-display", "640x488", "click", "10", "10", display=None))
    assert out.startswith("sent click(")
    shot = tmp_path / "empty.png"
    ok(agent("screenshot", "--virtual-display", "640x488", "-o", str(shot), display=None))
    assert Image.open(shot).size == (640, 488)
    assert xvfb_processes("640x488") == []


def test_ctrl_c_stops_the_virtual_display() -> None:
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    process = subprocess.Popen(
        [str(AGENT), "do", "--virtual-display", "656x496", "wait", "60"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not [p for p in xvfb_processes("656x496") if p.split()[1] == str(process.pid)]:
            assert time.monotonic() < deadline and process.poll() is None, "no Xvfb started"
            time.sleep(0.05)
        time.sleep(2.0)  # let the env open, so Ctrl-C lands in the wait
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, err
    assert xvfb_processes("656x496") == []


def test_a_killed_agent_leaves_no_xvfb() -> None:
    # Issue 21: `kill -9` of `agent do --virtual-display` left its Xvfb running (and its socket).
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    process = subprocess.Popen(
        [str(AGENT), "do", "--virtual-display", "664x504", "wait", "60"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not (
            mine := [p for p in xvfb_processes("664x504") if p.split()[1] == str(process.pid)]
        ):
            assert time.monotonic() < deadline and process.poll() is None, "no Xvfb started"
            time.sleep(0.05)
        number = mine[0].split()[3].lstrip(":")
        time.sleep(1.0)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        deadline = time.monotonic() + 15
        while xvfb_processes("664x504") and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        if process.poll() is None:
            process.kill()
    assert xvfb_processes("664x504") == []
    assert not Path(f"/tmp/.X11-unix/X{number}").exists()  # stopped by SIGTERM: socket removed


def test_screenshot_saves_what_the_app_drew(event_app: TkApp, tmp_path: Path) -> None:
    app = event_app
    png = tmp_path / "shot.png"
    out = ok(agent("screenshot", "-o", str(png), display=app.display))
    assert str(png) in out and "1920x1080" in out
    image = Image.open(png)
    assert image.format == "PNG" and image.size == (1920, 1080)
    pixels = np.asarray(image.convert("RGB"))
    for name, rgb in [("red_patch", (255, 0, 0)), ("blue_patch", (0x20, 0x40, 0xFF))]:
        box = app.widgets[name]
        assert (pixels[box.y : box.y + box.h, box.x : box.x + box.w] == rgb).all(), name

    jpg = tmp_path / "shot.jpg"
    ok(agent("screenshot", "--monitor", "0", "-o", str(jpg), display=app.display))
    assert Image.open(jpg).format == "JPEG"
    red = app.widgets["red_patch"].center
    assert np.abs(np.asarray(Image.open(jpg).convert("RGB").getpixel(red)) - (255, 0, 0)).max() < 40

    raw = subprocess.run(
        [str(AGENT), "screenshot", "-o", "-"],
        capture_output=True,
        env={**os.environ, "DISPLAY": app.display},
    )
    assert raw.stdout.startswith(b"\x89PNG\r\n")

    bad = agent("screenshot", "-o", str(tmp_path / "shot.xyz"), display=app.display)
    assert bad.returncode == 2 and "unsupported image format '.xyz'" in bad.stderr
    missing = agent("screenshot", "-o", str(tmp_path / "no" / "x.png"), display=app.display)
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_devices_lists_the_monitors(xvfb: object) -> None:
    sections = json.loads(ok(agent("devices", "--json", display=xvfb.name)))  # type: ignore[attr-defined]
    monitors = next(s for s in sections if s["title"].startswith("monitors"))
    assert monitors["rows"] == [
        ["0", "1920x1080+0+0", "", "1", "all"],
        ["1", "1920x1080+0+0", "yes", "1", "screen"],
    ]
    table = ok(agent("devices", display=xvfb.name))  # type: ignore[attr-defined]
    assert "1920x1080+0+0" in table
    small = json.loads(ok(agent("devices", "--json", "--virtual-display", "800x600", display=None)))
    assert (
        next(s for s in small if s["title"].startswith("monitors"))["rows"][1][1] == "800x600+0+0"
    )
    headless = json.loads(ok(agent("devices", "--json", display=None)))
    assert "DISPLAY is not set" in next(s for s in headless if s["title"] == "monitors")["note"]


def test_device_sections_are_contributed_and_isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    from env import devices

    def broken() -> DeviceSection:
        raise RuntimeError("adb exploded")

    monkeypatch.setattr(devices, "PROVIDERS", {})
    devices.register_section(
        "phones", lambda: DeviceSection(title="phones", columns=["serial"], rows=[["emu-1"]])
    )
    devices.register_section("broken", broken)
    devices.register_section("absent", "env.no_such_platform:devices")
    sections = device_sections()
    assert [s.title for s in sections] == ["phones", "broken"]
    assert sections[0].rows == [["emu-1"]]
    assert sections[1].note == "unavailable: RuntimeError: adb exploded"


def test_monitor_option_on_two_monitors(dual_monitor_xvfb: object, tmp_path: Path) -> None:
    name = dual_monitor_xvfb.name  # type: ignore[attr-defined]
    app = start_event_app(tmp_path / "dual.jsonl", display=name, geometry="900x640+2100+40")
    try:
        x, y = app.center("ok")
        mark = app.mark()
        out = ok(agent("do", "--monitor", "1", "click", str(x - 1920), str(y), display=name))
        app.wait_for(lambda e: e["event"] == "button", since=mark)
        assert presses(app, mark) == [("ok", 1, x, y)]
        assert f"-> input ({x}, {y}) [offset 1920,0 scale 1]" in out
        shot = tmp_path / "left.png"
        ok(agent("screenshot", "--monitor", "2", "-o", str(shot), display=name))
        assert Image.open(shot).size == (1920, 1080)
        ok(agent("screenshot", "-o", str(shot), display=name))  # primary = the right one
        assert Image.open(shot).size == (1280, 720)
    finally:
        app.stop()
