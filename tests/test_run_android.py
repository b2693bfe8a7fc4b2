"""`agent run` on a phone: a task file through AndroidEnv and the test adb server.

The phone is the test server's emulated device (real adb protocol, real shell
quoting); its screen shows rendered text, so the ocr grounder finds targets on
it as it would on a real phone's screenshot.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from agent.cli.main import main

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def settings_screen() -> Image.Image:
    image = Image.new("RGB", (1080, 2400), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(FONT, 52)
    for i, text in enumerate(["Settings", "Network & internet", "Display", "Dark theme"]):
        draw.text((80, 200 + i * 220), text, fill="black", font=font)
    return image


def test_android_task_runs_through_adb(adb_server, tmp_path: Path) -> None:
    pytest.importorskip("rapidocr")
    device = adb_server.device()
    device.screen = settings_screen()
    task = tmp_path / "phone.yaml"
    task.write_text(
        "name: phone\n"
        f"env: {{android: {{serial: emulator-5554, adb_host: 127.0.0.1, "
        f"adb_port: {adb_server.port}}}}}\n"
        "steps:\n"
        "  - launch: Settings\n"
        "  - wait_for: Display\n"
        "  - click: Display\n"
        "  - type: night mode; ok\n"
        "  - key: back\n"
        "  - swipe: {x: 540, y: 1800, to_x: 540, to_y: 600}\n"
        "  - long_press: Dark theme\n"
        "  - assert: Dark theme\n"
        "settle: 0\n"
    )
    code = main(["run", str(task), "--out", str(tmp_path / "run")])
    assert code == 0
    starts = [c for c in device.calls if c[:2] == ["am", "start"]]
    assert starts and "com.android.settings" in " ".join(starts[0])
    taps = [e for e in device.events if e[0] == "tap"]
    assert len(taps) == 1
    _, x, y, _display = taps[0]
    assert 80 <= x <= 320 and 640 <= y <= 720  # on the word "Display" (drawn at y=640)
    assert device.typed == "night mode; ok"  # shell metacharacters arrived as text
    assert ("key", 4) in device.events  # back
    swipes = [e[1:6] for e in device.events if e[0] == "swipe"]
    assert swipes[0] == (540, 1800, 540, 600, 300)
    x1, y1, x2, y2, ms = swipes[1]  # the long press: a swipe that stays on "Dark theme"
    assert (x1, y1) == (x2, y2) and 860 <= y1 <= 940 and ms >= 500
    steps = [json.loads(x) for x in (tmp_path / "run" / "steps.jsonl").read_text().splitlines()]
    assert [s["status"] for s in steps] == ["ok"] * 8
    assert steps[2]["geometry"]["width"] == 1080 and steps[2]["geometry"]["height"] == 2400
    assert (tmp_path / "run" / "report.html").is_file()


def test_android_dry_run_sends_nothing(adb_server, tmp_path: Path) -> None:
    pytest.importorskip("rapidocr")
    device = adb_server.device()
    device.screen = settings_screen()
    task = tmp_path / "phone.yaml"
    task.write_text(
        f"name: phone\nenv: {{android: {{adb_port: {adb_server.port}}}}}\n"
        "steps:\n  - launch: Settings\n  - click: Display\n  - type: hi\n  - key: home\n"
    )
    assert main(["run", str(task), "--dry-run", "--out", str(tmp_path / "run")]) == 0
    assert device.events == [] and device.typed == ""
    assert not [c for c in device.calls if c[0] in ("input", "am", "monkey")]
