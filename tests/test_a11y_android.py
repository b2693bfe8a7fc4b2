"""Accessibility-first locate on a phone: `uiautomator dump` through the test adb server.

The emulated phone answers ``uiautomator dump /dev/tty`` with a realistic Settings
screen (tests/fixtures/android_device.py `settings_hierarchy`); taps are read back
from what the phone received. The model server is a closed loopback port, so any
model call would fail the step.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from agent.cli.main import main
from env.a11y import pick
from env.a11y_android import parse_hierarchy
from tests.fixtures.android_device import settings_hierarchy
from tests.fixtures.run_logs import steps_of

SIZE = (1080, 2400)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def task_file(tmp_path: Path, port: int, steps: str, extra: str = "") -> Path:
    task = tmp_path / "phone.yaml"
    task.write_text(
        "name: phone\n"
        f"env: {{android: {{serial: emulator-5554, adb_host: 127.0.0.1, adb_port: {port}}}}}\n"
        f"model: {{backend: openai, base_url: 'http://127.0.0.1:{closed_port()}/v1', "
        "model: Qwen/Qwen2.5-VL-7B-Instruct, timeout: 5}\n"
        f"cache: off\nsettle: 0\n{extra}steps:\n{steps}"
    )
    return task


def taps(device) -> list[tuple[int, int]]:
    return [(e[1], e[2]) for e in device.events if e[0] == "tap"]


# -- the parser ---------------------------------------------------------------------------
def test_a_title_stands_for_its_clickable_row() -> None:
    found = parse_hierarchy(settings_hierarchy() + "UI hierchary dumped to: /dev/tty\n")
    element, why = pick(found, "Bluetooth", SIZE)
    assert element is not None, why
    assert element.role == "linearlayout" and element.box == (0, 609, 1080, 798)
    # the longer summary "Bluetooth, Android Auto, NFC" is another row: not a match


def test_icon_with_only_a_content_desc_is_found_and_roles_narrow() -> None:
    found = parse_hierarchy(settings_hierarchy())
    element, _ = pick(found, "Search settings", SIZE)
    assert element is not None and element.box == (933, 128, 1080, 275)
    assert element.role == "imagebutton"
    assert pick(found, "the Search settings button", SIZE)[0] == element
    assert pick(found, "the Search settings checkbox", SIZE)[0] is None


def test_disabled_rows_and_unknown_names_fall_through_with_a_reason() -> None:
    found = parse_hierarchy(settings_hierarchy())
    element, why = pick(found, "Car kit", SIZE)
    assert element is None and "none usable" in why
    element, why = pick(found, "Wi-Fi", SIZE)
    assert element is None and "no element named" in why


def test_bounds_map_to_screenshot_pixels_through_the_frame() -> None:
    found = parse_hierarchy(settings_hierarchy(), lambda x, y: (x * 0.5, y * 0.5))
    element, _ = pick(found, "Bluetooth", (540, 1200))
    assert element is not None and element.box == (0, 304, 540, 399)


@pytest.mark.parametrize(
    "xml",
    [
        '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><hierarchy>&e;</hierarchy>',
        "ERROR: null root node returned by UiTestAutomationBridge.",
        "<hierarchy><node bounds=",
    ],
)
def test_not_a_dump_is_refused(xml: str) -> None:
    with pytest.raises(ValueError):
        parse_hierarchy(xml)


# -- agent run ------------------------------------------------------------------------------
def test_bluetooth_row_and_icon_are_tapped_without_a_model(adb_server, tmp_path: Path) -> None:
    device = adb_server.device()
    device.hierarchy = settings_hierarchy()
    task = task_file(tmp_path, adb_server.port,
                     '  - click: "Bluetooth"\n  - click: Search settings\n')  # fmt: skip
    code = main(["run", str(task), "--out", str(tmp_path / "run")])
    assert code == 0
    (x1, y1), (x2, y2) = taps(device)
    assert 0 <= x1 < 1080 and 609 <= y1 < 798  # inside the Bluetooth row
    assert 933 <= x2 < 1080 and 128 <= y2 < 275  # inside the search icon
    steps = steps_of(tmp_path / "run")
    assert [s["located"]["by"] for s in steps] == ["a11y", "a11y"]
    assert steps[1]["located"]["role"] == "imagebutton"
    assert all(s["model"] is None for s in steps)


def test_assert_finds_words_of_a_row_summary_in_the_hierarchy(adb_server, tmp_path: Path) -> None:
    """`assert:` is answered by the dump (a summary's words), with no OCR pass or model."""
    device = adb_server.device()
    device.hierarchy = settings_hierarchy()
    task = task_file(tmp_path, adb_server.port, '  - assert: "Android Auto"\n')
    assert main(["run", str(task), "--out", str(tmp_path / "run")]) == 0
    (step,) = steps_of(tmp_path / "run")
    assert step["located"]["by"] == "a11y" and step["model"] is None
    assert step["located"]["name"] == "Bluetooth, Android Auto, NFC"
    x1, y1, x2, y2 = step["located"]["box"]
    assert (y1, y2) == (892, 955) and x2 > x1


def test_rotated_phone_taps_inside_the_landscape_bounds(adb_server, tmp_path: Path) -> None:
    device = adb_server.device()
    device.rotation = 1
    device.screen = device.screen.rotate(90, expand=True)  # 2400x1080, as screencap gives it
    xml = settings_hierarchy().replace('rotation="0"', 'rotation="1"')
    device.hierarchy = xml.replace("[933,128][1080,275]", "[2253,40][2400,160]")
    task = task_file(tmp_path, adb_server.port, "  - click: Search settings\n")
    assert main(["run", str(task), "--out", str(tmp_path / "run")]) == 0
    ((x, y),) = taps(device)
    assert 2253 <= x < 2400 and 40 <= y < 160


def test_no_window_to_dump_falls_through_to_the_model(adb_server, tmp_path: Path) -> None:
    device = adb_server.device()
    device.hierarchy = None
    task = task_file(tmp_path, adb_server.port, "  - click: Bluetooth\n")
    assert main(["run", str(task), "--out", str(tmp_path / "run")]) == 2  # model unreachable
    (step,) = steps_of(tmp_path / "run")
    assert step["located"]["by"] == "model"
    assert "null root node" in step["located"]["fell_through"][0]
    assert taps(device) == []


def test_locate_without_model_fails_the_step_with_the_reasons(adb_server, tmp_path: Path) -> None:
    device = adb_server.device()
    device.hierarchy = settings_hierarchy()
    task = task_file(tmp_path, adb_server.port, "  - click: Wi-Fi\n", extra="locate: [a11y]\n")
    assert main(["run", str(task), "--out", str(tmp_path / "run")]) == 1
    (step,) = steps_of(tmp_path / "run")
    assert "no element named 'wi-fi'" in step["error"] and taps(device) == []


# -- agent elements -------------------------------------------------------------------------
def test_elements_lists_the_phone_screen_as_json_and_draws_it(
    adb_server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from PIL import Image

    device = adb_server.device()
    device.hierarchy = settings_hierarchy()
    out = tmp_path / "marked.png"
    args = ["elements", "--android", "emulator-5554", "--adb-host", "127.0.0.1",
            "--adb-port", str(adb_server.port)]  # fmt: skip
    assert main([*args, "--json", "--draw", str(out)]) == 0
    rows = json.loads(capsys.readouterr().out)
    by_name = {r["name"]: r for r in rows}
    assert by_name["Search settings"]["role"] == "imagebutton"
    assert by_name["Search settings"]["box"] == [933, 128, 1080, 275]
    assert "Car kit" not in by_name  # disabled: listed only with --all
    marked = Image.open(out)
    assert marked.size == SIZE
    assert marked.getpixel((933, 200)) == (255, 0, 255)  # the icon's left edge is marked
    assert main([*args, "--all"]) == 0
    table = capsys.readouterr().out
    assert "Car kit" in table and "imagebutton" in table


def test_elements_with_a_bad_draw_folder_is_exit_2(adb_server, tmp_path: Path) -> None:
    device = adb_server.device()
    device.hierarchy = settings_hierarchy()
    bad = str(tmp_path / "no" / "x.png")
    code = main(["elements", "--android", "emulator-5554", "--adb-host", "127.0.0.1",
                 "--adb-port", str(adb_server.port), "--draw", bad])  # fmt: skip
    assert code == 2 and not [c for c in device.calls if c[0] == "uiautomator"]


def test_a_dump_that_never_goes_idle_is_cut_at_the_budget(adb_server, tmp_path: Path) -> None:
    device = adb_server.device()
    device.hierarchy = settings_hierarchy()
    device.hierarchy_delay = 8.0  # longer than the read may take
    task = task_file(tmp_path, adb_server.port, "  - click: Bluetooth\n", extra="locate: [a11y]\n")
    assert main(["run", str(task), "--out", str(tmp_path / "run")]) == 1
    (step,) = steps_of(tmp_path / "run")
    assert "not dumped within 0.5 s" in step["error"] and taps(device) == []


@pytest.mark.parametrize("target, denied", [("OK", True), ("Bluetooth", False)])
def test_confirm_policy_reads_what_the_tree_says_the_button_does(
    adb_server, target: str, denied: bool
) -> None:
    """A client wrote "OK"; the app says that button removes a device: it is not clicked
    unasked. A harmless row from the same client goes through."""
    from agent.errors import ActionDenied
    from agent.provenance import Provenance
    from agent.safety import ConfirmPolicy
    from agent.session import Session
    from env.android import AndroidEnv

    device = adb_server.device()
    icon = 'text="" resource-id="" class="android.widget.ImageButton" ' \
        'package="com.android.settings" content-desc="Search settings"'  # fmt: skip
    assert icon in settings_hierarchy()
    device.hierarchy = settings_hierarchy().replace(
        icon, 'text="OK" resource-id="" class="android.widget.Button" '
        'package="com.android.settings" content-desc="Remove Pixel Buds Pro"',
    )  # fmt: skip
    with AndroidEnv(port=adb_server.port) as env:
        session = Session(env, None, policy=ConfirmPolicy("risky"), provenance=Provenance.CLIENT)
        if denied:
            with pytest.raises(ActionDenied, match="removes"):
                session.point_step("click", target)
            assert taps(device) == []
        else:
            session.point_step("click", target)
            assert len(taps(device)) == 1
