"""The test adb server against the real Debian `adb` client: it speaks what real clients speak.

Every call names the server's port (``-P``, ``ANDROID_ADB_SERVER_PORT`` or
``ADB_SERVER_SOCKET``). A client that found the server incompatible would send
``host:kill`` and start its own; each test checks that never happened.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from env.android_capture import decode_png, decode_raw
from tests.conftest import need

ADB = shutil.which("adb")


@pytest.fixture
def adb(adb_server, tmp_path):
    need(ADB is not None, "the adb CLI is not installed (apt-get install adb)")

    def run(*args: str, env: dict[str, str] | None = None, port: bool = True):
        argv = [ADB, *(["-P", str(adb_server.port)] if port else []), *args]
        environ = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **(env or {})}
        return subprocess.run(
            argv, capture_output=True, env=environ, timeout=30, stdin=subprocess.DEVNULL
        )

    yield run
    assert "host:kill" not in adb_server.requests


def test_devices_lists_every_state(adb, adb_server) -> None:
    adb_server.add_device("R58M1234ABC", state="unauthorized")
    adb_server.add_device("192.168.1.20:5555", state="offline")
    result = adb("devices")
    assert result.returncode == 0
    assert result.stdout.decode().splitlines()[1:4] == [
        "emulator-5554\tdevice",
        "R58M1234ABC\tunauthorized",
        "192.168.1.20:5555\toffline",
    ]
    long = adb("devices", "-l").stdout.decode()
    assert "model:Pixel_7" in long and "transport_id:1" in long


def test_shell_runs_on_the_device_shell(adb, adb_server) -> None:
    result = adb("-s", "emulator-5554", "shell", "echo", "hi")
    assert (result.returncode, result.stdout) == (0, b"hi\n")
    assert "shell,v2,raw:echo hi" in adb_server.device().services


def test_shell_quoting_reaches_the_program_as_the_device_shell_splits_it(adb, adb_server) -> None:
    # adb joins its arguments with spaces; the device shell does the splitting.
    result = adb("shell", "input", "text", "'a b;c'", "&&", "wm", "size")
    assert result.returncode == 0
    assert result.stdout == b"Physical size: 1080x2400\n"
    assert adb_server.device().calls == [["input", "text", "a b;c"], ["wm", "size"]]
    assert adb_server.device().typed == "a b;c"


def test_shell_v2_exit_code_and_stderr(adb, adb_server) -> None:
    result = adb("shell", "input", "frobnicate")
    assert result.returncode == 1
    assert b"Unknown command: frobnicate" in result.stderr


def test_shell_v1_device(adb, adb_server) -> None:
    adb_server.device().features = "cmd,stat_v2"
    result = adb("shell", "echo", "v1")
    assert result.stdout == b"v1\n"
    assert "shell:echo v1" in adb_server.device().services


def test_exec_out_screencap_raw_and_png(adb, adb_server) -> None:
    screen = adb_server.device().screen
    raw = adb("exec-out", "screencap")
    assert raw.returncode == 0
    assert decode_raw(raw.stdout).tobytes() == screen.tobytes()
    png = adb("exec-out", "screencap", "-p")
    assert decode_png(png.stdout).tobytes() == screen.tobytes()


@pytest.mark.parametrize("variable", ["ANDROID_ADB_SERVER_PORT", "ADB_SERVER_SOCKET"])
def test_server_address_from_the_environment(adb, adb_server, variable) -> None:
    value = str(adb_server.port)
    if variable == "ADB_SERVER_SOCKET":
        value = f"tcp:127.0.0.1:{value}"
    result = adb("devices", env={variable: value}, port=False)
    assert result.returncode == 0 and b"emulator-5554\tdevice" in result.stdout


@pytest.mark.parametrize(
    "serial, state, message",
    [
        ("nope", None, b"device 'nope' not found"),
        ("emulator-5554", "unauthorized", b"device unauthorized"),
        ("emulator-5554", "offline", b"device offline"),
    ],
)
def test_device_errors_come_back_as_adb_prints_them(adb, adb_server, serial, state, message):
    if state:
        adb_server.device().state = state
    result = adb("-s", serial, "shell", "echo", "x")
    assert result.returncode == 1
    assert message in result.stderr


def test_several_devices_without_serial(adb, adb_server) -> None:
    adb_server.add_device("R58M1234ABC")
    result = adb("shell", "echo", "x")
    assert result.returncode == 1 and b"more than one device" in result.stderr
