"""Reaching the adb server and picking a device: adb's conventions, one-line errors,
and never a stray `adb start-server`."""

from __future__ import annotations

import socket
import stat

import pytest

from actions.project_errors import InputError
from actions.types import Click
from env.adb_connect import AdbFailure, AdbServerAddress, DeviceInfo, select_device
from env.android import AndroidEnv


@pytest.fixture
def spawn_spy(tmp_path, monkeypatch):
    """Point adbutils' `adb` at a script that records being run (it would start a server)."""
    marker = tmp_path / "adb-was-run"
    script = tmp_path / "adb"
    script.write_text(f'#!/bin/sh\necho "$@" >> {marker}\nexit 1\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("ADBUTILS_ADB_PATH", str(script))
    return marker


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    "environ, expected",
    [
        ({}, ("127.0.0.1", 5037)),
        ({"ANDROID_ADB_SERVER_PORT": "5038"}, ("127.0.0.1", 5038)),
        ({"ANDROID_ADB_SERVER_ADDRESS": "10.0.0.2"}, ("10.0.0.2", 5037)),
        ({"ADB_SERVER_SOCKET": "tcp:host.lan:6000"}, ("host.lan", 6000)),
        ({"ADB_SERVER_SOCKET": "tcp:6001", "ANDROID_ADB_SERVER_PORT": "5"}, ("127.0.0.1", 6001)),
    ],
)
def test_server_address_follows_adb(environ, expected) -> None:
    address = AdbServerAddress.resolve(environ=environ)
    assert (address.host, address.port) == expected


def test_explicit_host_and_port_win_over_the_environment() -> None:
    environ = {"ADB_SERVER_SOCKET": "tcp:a:1", "ANDROID_ADB_SERVER_PORT": "2"}
    assert str(AdbServerAddress.resolve(port=7000, environ=environ)) == "127.0.0.1:7000"
    assert str(AdbServerAddress.resolve("box", None, environ={})) == "box:5037"


@pytest.mark.parametrize(
    "environ", [{"ANDROID_ADB_SERVER_PORT": "x"}, {"ADB_SERVER_SOCKET": "localabstract:adb"}]
)
def test_bad_server_environment_is_an_input_error(environ) -> None:
    with pytest.raises(InputError, match="ADB_SERVER"):
        AdbServerAddress.resolve(environ=environ)


def test_unreachable_server_is_one_line_and_starts_nothing(spawn_spy) -> None:
    port = free_port()
    with pytest.raises(InputError) as err:
        AndroidEnv(port=port)
    assert str(err.value).startswith(f"adb server not reachable at 127.0.0.1:{port}")
    assert "\n" not in str(err.value)
    assert not spawn_spy.exists()


def test_server_that_goes_away_is_an_error_not_a_new_server(adb_server, spawn_spy) -> None:
    env = AndroidEnv(port=adb_server.port)
    env.geometry  # noqa: B018 - read while the server is up
    adb_server.stop()
    with pytest.raises(AdbFailure, match="went away"):
        env.act(Click(x=1, y=1))
    assert not spawn_spy.exists()


def test_the_only_device_is_chosen(adb_server) -> None:
    with AndroidEnv(port=adb_server.port) as env:
        assert env.serial == "emulator-5554"


@pytest.mark.parametrize(
    "serials, wanted, message",
    [
        ([], None, "no Android device attached"),
        (["a1", "b2"], None, "2 Android devices attached, choose one with --android SERIAL: a1"),
        (["a1"], "zz", "no Android device 'zz'; attached: a1 (device"),
    ],
)
def test_device_selection_errors_list_what_is_attached(
    adb_server, serials, wanted, message, monkeypatch
) -> None:
    monkeypatch.delenv("ANDROID_SERIAL", raising=False)
    adb_server.devices.clear()
    for serial in serials:
        adb_server.add_device(serial)
    with pytest.raises(InputError, match=message.replace("(", r"\(")) as err:
        AndroidEnv(wanted, port=adb_server.port)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "state, hint", [("unauthorized", "Allow USB debugging"), ("offline", "reconnect")]
)
def test_unusable_device_states(adb_server, state, hint) -> None:
    adb_server.device().state = state
    with pytest.raises(InputError, match=f"emulator-5554 is {state}: .*{hint}"):
        AndroidEnv(port=adb_server.port)
    assert not adb_server.device().services


def test_serial_and_android_serial_pick_among_several(adb_server, monkeypatch) -> None:
    second = adb_server.add_device("R58M1234ABC", model="SM_G991B")
    with AndroidEnv("R58M1234ABC", port=adb_server.port) as env:
        env.act(Click(x=3, y=4))
    assert second.events == [("tap", 3.0, 4.0, 0)]
    assert not adb_server.device("emulator-5554").events
    monkeypatch.setenv("ANDROID_SERIAL", "emulator-5554")
    with AndroidEnv(port=adb_server.port) as env:
        assert env.serial == "emulator-5554"


def test_select_device_is_pure() -> None:
    devices = [DeviceInfo(serial="x", state="device", tags={"model": "P"})]
    assert select_device(devices, None, environ={}) == "x"
    assert select_device(devices, None, environ={"ANDROID_SERIAL": "x"}) == "x"


def test_something_else_on_the_port_is_a_one_line_error(spawn_spy, monkeypatch) -> None:
    monkeypatch.setattr("env.adb_connect.PROBE_TIMEOUT", 0.3)
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        with pytest.raises(InputError, match="does not answer like an adb server"):
            AndroidEnv(port=silent.getsockname()[1])
    assert not spawn_spy.exists()
