"""AndroidEnv actions: the exact device commands each action sends, and what is refused."""

from __future__ import annotations

import pytest

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
    Terminate,
    Wait,
    parse_action,
)
from env.android import AndroidEnv
from env.android_apps import resolve_package
from env.android_keys import KEYCODES
from tests.fixtures.android_device import ANDROID_KEYCODES


@pytest.fixture
def phone(adb_server):
    with AndroidEnv(port=adb_server.port) as env:
        yield env, adb_server.device()


def input_calls(device) -> list[list[str]]:
    return [argv for argv in device.calls if argv[0] == "input"]


def test_tap_double_tap_long_press_and_swipe_send_input_commands(phone) -> None:
    env, device = phone
    env.act(Click(x=540, y=1200))
    env.act(Click(x=10.4, y=20.6, count=2))
    env.act(LongPress(x=100, y=200, duration=1.5))
    env.act(Swipe(x=500, y=2000, to_x=500, to_y=400, duration=0.25))
    env.act(Drag(x=1, y=2, to_x=3, to_y=4, duration=0))
    assert input_calls(device) == [
        ["input", "tap", "540", "1200"],
        ["input", "tap", "10", "21"],
        ["input", "tap", "10", "21"],
        ["input", "swipe", "100", "200", "100", "200", "1500"],
        ["input", "swipe", "500", "2000", "500", "400", "250"],
        ["input", "swipe", "1", "2", "3", "4", "300"],
    ]
    # The double tap is one shell request, so the taps are not a round trip apart.
    assert "shell,v2:input tap 10 21 && input tap 10 21" in device.services


def test_scroll_is_a_swipe_through_the_point(phone) -> None:
    env, device = phone
    env.act(Scroll(x=540, y=1200, amount=2))  # wheel up: finger moves down
    env.act(Scroll(amount=-1))  # wheel down at the centre: finger moves up
    env.act(Scroll(x=540, y=1200, amount=3, axis="horizontal"))
    assert input_calls(device) == [
        ["input", "swipe", "540", "960", "540", "1440", "500"],
        ["input", "swipe", "540", "1320", "540", "1080", "500"],
        ["input", "swipe", "702", "1200", "378", "1200", "500"],
    ]


def test_a_pixel_scroll_is_a_swipe_of_that_length_capped_on_the_screen(phone) -> None:
    # Issue 15: a desktop-style scroll of N pixels on a 1080x2400 phone: a swipe N long.
    env, device = phone
    down = env.act(Scroll(x=540, y=1200, pixels=-600))  # wheel down: the finger moves up
    up = env.act(Scroll(pixels=5000))  # more than the screen: 90 % of 2400 = 2160
    right = env.act(Scroll(x=540, y=1200, pixels=300, axis="horizontal"))
    assert input_calls(device) == [
        ["input", "swipe", "540", "1500", "540", "900", "500"],
        ["input", "swipe", "540", "120", "540", "2280", "500"],
        ["input", "swipe", "690", "1200", "390", "1200", "500"],
    ]
    assert (down.scroll.requested_pixels, down.scroll.swipe_pixels) == (-600, 600)
    assert (up.scroll.swipe_pixels, up.scroll.capped) == (2160, True)
    assert right.scroll.swipe_pixels == 300 and not right.scroll.capped


@pytest.mark.parametrize(
    "key, code",
    [
        ("back", 4),
        ("home", 3),
        ("enter", 66),
        ("app_switch", 187),
        ("menu", 82),
        ("volume_up", 24),
        ("volume_down", 25),
        ("power", 26),
        ("delete", 67),
        ("KEYCODE_DEL", 67),
        ("tab", 61),
        ("a", 29),
        ("9", 16),
    ],
)
def test_keys_arrive_as_the_android_keycode(phone, key, code) -> None:
    env, device = phone
    env.act(Key(keys=key))
    assert device.events[-1] == ("key", code)


def test_every_mapped_key_is_a_real_android_keycode() -> None:
    for name, code in KEYCODES.items():
        assert code.removeprefix("KEYCODE_") in ANDROID_KEYCODES, name


@pytest.mark.parametrize("button, code", [("back", 4), ("home", 3), ("app_switch", 187)])
def test_system_buttons(phone, button, code) -> None:
    env, device = phone
    env.act(SystemButton(button=button))
    assert device.events[-1] == ("key", code)


def test_key_combo_uses_keycombination_on_android_13(phone) -> None:
    env, device = phone
    env.act(Key(keys="ctrl+a"))
    assert input_calls(device)[-1] == ["input", "keycombination", "KEYCODE_CTRL_LEFT", "KEYCODE_A"]
    assert device.events[-1] == ("combo", 113, 29)


def test_key_combo_on_an_older_phone_is_refused_before_sending(adb_server) -> None:
    device = adb_server.device()
    device.sdk = 30
    with AndroidEnv(port=adb_server.port) as env:
        with pytest.raises(InputError, match="Android 13"):
            env.act(Key(keys="ctrl+c"))
    assert not input_calls(device)


@pytest.mark.parametrize(
    "action, message",
    [
        (Key(keys="f13"), "no Android keycode"),
        (Key(keys="!"), "type it as text"),
        (Move(x=1, y=1), "no pointer"),
        (Click(x=1, y=1, button="right"), "no right button"),
        (Click(x=1, y=1, count=3), "double tap"),
        (Drag(to_x=5, to_y=5), "start point"),
        (Click(x=1080, y=5), "outside the screen"),
        (Swipe(x=5, y=5, to_x=5, to_y=2400), "outside the screen"),
        (OpenApp(app="Nonexistent Thing"), "no installed app matches"),
        (OpenApp(app="com.example.missing"), "not installed"),
    ],
)
def test_bad_actions_are_one_line_errors_and_send_nothing(phone, action, message) -> None:
    env, device = phone
    with pytest.raises(InputError, match=message) as err:
        env.act(action)
    assert "\n" not in str(err.value)
    assert not input_calls(device) and not device.events


def test_open_app_by_label_and_by_package(phone) -> None:
    env, device = phone
    env.act(OpenApp(app="Settings"))
    env.act(OpenApp(app="Google Maps"))
    env.act(OpenApp(app="WhatsApp"))
    env.act(OpenApp(app="com.android.chrome"))
    assert [e for e in device.events if e[0] == "launch"] == [
        ("launch", "com.android.settings"),
        ("launch", "com.google.android.apps.maps"),
        ("launch", "com.whatsapp"),
        ("launch", "com.android.chrome"),
    ]
    starts = [argv for argv in device.calls if argv[:2] == ["am", "start"]]
    assert starts[0] == ["am", "start", "-n", "com.android.settings/.Settings"]


def test_open_app_falls_back_to_monkey_without_resolve_activity(adb_server) -> None:
    device = adb_server.device()
    device.sdk = 23

    def no_cmd(args):
        return "", "/system/bin/sh: cmd: not found\n", 127

    device._p_cmd = no_cmd  # Android 6 has no `cmd package`
    with AndroidEnv(port=adb_server.port) as env:
        env.launch("Settings")
    assert ["monkey", "-p", "com.android.settings", "-c", "android.intent.category.LAUNCHER",
            "1"] in device.calls  # fmt: skip
    assert device.events[-1] == ("launch", "com.android.settings")


def test_resolve_package_rules() -> None:
    installed = ["com.android.settings", "org.mozilla.firefox", "com.a.notes", "com.b.notes"]
    assert resolve_package("Firefox", installed) == "org.mozilla.firefox"
    assert resolve_package(" settings ", installed) == "com.android.settings"
    with pytest.raises(InputError, match="several packages"):
        resolve_package("Notes", installed)


def test_wait_and_terminate_send_nothing(phone) -> None:
    env, device = phone
    env.act(Wait(seconds=0.01))
    env.act(Terminate(status="success", answer="done"))
    assert not device.events
    assert {argv[0] for argv in device.calls} <= {"wm", "dumpsys"}  # geometry reads only


def test_dry_run_validates_but_sends_nothing(adb_server) -> None:
    device = adb_server.device()
    with AndroidEnv(port=adb_server.port, dry_run=True) as env:
        result = env.act(parse_action({"type": "click", "x": 5, "y": 5}))
        with pytest.raises(InputError):
            env.act(Click(x=5000, y=5))
    assert result.sent is False and not input_calls(device)


def test_shell_v1_devices_work_too(adb_server) -> None:
    device = adb_server.device()
    device.features = "cmd,stat_v2"  # no shell_v2: adbutils appends its exit-code echo
    with AndroidEnv(port=adb_server.port) as env:
        env.act(Click(x=1, y=2))
        assert env.geometry.size == (1080, 2400)
    assert device.events[-1] == ("tap", 1.0, 2.0, 0)
    assert any(s.startswith("shell:input tap 1 2") for s in device.services)
