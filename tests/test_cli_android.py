"""`agent do --android`, `agent screenshot --android`, `agent devices` against the test adb server.

The user-facing promise: with a phone attached, ``agent do --android tap 540 1200``
and ``agent do --android type 'héllo; 你好'`` arrive as written. Here the
"phone" is the test server's device and the server is found the way a user's
would be (adb's own environment variable), through the installed `agent` script.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from agent.cli.main import main
from tests.conftest import need
from tests.fixtures.android_device import LATIN_IME

AGENT = Path(sys.executable).with_name("agent")


def agent(adb_server, *args: str) -> subprocess.CompletedProcess:
    """Run the installed `agent` command with the test server as the user's adb server."""
    need(AGENT.exists(), f"the agent script is not installed next to {sys.executable}")
    env = {k: v for k, v in os.environ.items() if k not in ("ANDROID_SERIAL", "DISPLAY")}
    env["ANDROID_ADB_SERVER_PORT"] = str(adb_server.port)
    env["ADBUTILS_ADB_PATH"] = "/nonexistent/adb"  # a stray `adb start-server` would fail loudly
    return subprocess.run([str(AGENT), *args], capture_output=True, text=True, env=env, timeout=120)


def test_the_users_two_commands_arrive_as_written(adb_server) -> None:
    device = adb_server.device()
    tap = agent(adb_server, "do", "--android", "tap", "540", "1200")
    assert tap.returncode == 0, tap.stderr
    typed = agent(adb_server, "do", "--android", "type", "héllo; 你好")
    assert typed.returncode == 0, typed.stderr
    assert device.events[0] == ("tap", 540.0, 1200.0, 0)
    assert device.typed == "héllo; 你好"
    assert device.current_ime == LATIN_IME


@pytest.mark.parametrize(
    "verb, expected",
    [
        (["long_press", "5", "6", "--ms", "800"], ("swipe", 5.0, 6.0, 5.0, 6.0, 800, 0)),
        (["swipe", "100", "2000", "100", "500", "--ms", "250"], ("swipe", 100.0, 2000.0, 100.0,
                                                                500.0, 250, 0)),
        (["double_tap", "7", "8"], ("tap", 7.0, 8.0, 0)),
        (["key", "back"], ("key", 4)),
        (["key", "KEYCODE_APP_SWITCH"], ("key", 187)),
        (["button", "home"], ("key", 3)),
        (["open", "Settings"], ("launch", "com.android.settings")),
        (["open", "com.whatsapp"], ("launch", "com.whatsapp")),
    ],
)  # fmt: skip
def test_android_verbs(adb_server, verb, expected) -> None:
    code = main(["do", "--android", "--adb-port", str(adb_server.port), *verb])
    assert code == 0
    assert adb_server.device().events[-1] == expected


def test_serial_and_server_options(adb_server) -> None:
    other = adb_server.add_device("R58M1234ABC")
    code = main(["do", "--adb-host", "127.0.0.1", "--adb-port", str(adb_server.port),
                 "--android", "R58M1234ABC", "tap", "1", "2"])  # fmt: skip
    assert code == 0
    assert other.events == [("tap", 1.0, 2.0, 0)]
    assert not adb_server.device("emulator-5554").events


@pytest.mark.parametrize(
    "args, message",
    [
        (["tap", "1080", "5"], "outside the screen"),
        (["key", "f13"], "no Android keycode"),
        (["key", "nosuchkey"], "unknown key"),
        (["open", "No Such App"], "no installed app matches"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_sent(adb_server, args, message) -> None:
    result = agent(adb_server, "do", "--android", *args)
    assert result.returncode == 2
    assert message in result.stderr and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
    device = adb_server.device()
    assert not device.events and not [c for c in device.calls if c[0] in ("input", "am")]


def test_unknown_serial_and_bad_states_exit_2(adb_server) -> None:
    result = agent(adb_server, "do", "--android", "nope", "tap", "1", "1")
    assert result.returncode == 2
    assert "no Android device 'nope'; attached: emulator-5554" in result.stderr
    adb_server.device().state = "unauthorized"
    result = agent(adb_server, "do", "--android", "tap", "1", "1")
    assert result.returncode == 2 and "is unauthorized" in result.stderr
    assert not adb_server.device().services


def test_unreachable_server_exits_2(tmp_path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = main(["do", "--android", "--adb-port", str(port), "tap", "1", "1"])
    assert code == 2


def test_screenshot_android(adb_server, tmp_path) -> None:
    out = tmp_path / "phone.png"
    result = agent(adb_server, "screenshot", "--android", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert "1080x2400" in result.stdout
    with Image.open(out) as image:
        assert image.convert("RGB").tobytes() == adb_server.device().screen.tobytes()


def test_devices_lists_the_adb_devices(adb_server) -> None:
    adb_server.add_device("R58M1234ABC", state="unauthorized")
    result = agent(adb_server, "devices", "--json")
    assert result.returncode == 0, result.stderr
    sections = json.loads(result.stdout)
    android = next(s for s in sections if s["title"].startswith("android"))
    rows = {row[0]: row for row in android["rows"]}
    assert rows["emulator-5554"][1:3] == ["device", "Pixel_7"]
    assert rows["R58M1234ABC"][1] == "unauthorized"
    assert "Allow USB debugging" in rows["R58M1234ABC"][-1]


def test_devices_with_an_explicit_server(adb_server, capsys, monkeypatch) -> None:
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", "1")  # the option wins over adb's variable
    assert main(["devices", "--json", "--adb-port", str(adb_server.port)]) == 0
    sections = json.loads(capsys.readouterr().out)
    android = next(s for s in sections if s["title"].startswith("android"))
    assert android["title"] == f"android (adb server 127.0.0.1:{adb_server.port})"
    assert [row[0] for row in android["rows"]] == ["emulator-5554"]
