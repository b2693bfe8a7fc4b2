"""A Qwen3-VL checkpoint end to end, with nothing but its folder: `agent ground` and a goal run.

The tiny Qwen3-VL of tests/fixtures/tiny_qwen3_build.py was trained on the
qwen3-vl profile's own prompts to answer one computer_use left_click at
(224, 316) in 0-1000 space. Its folder name says nothing about the model, and
no profile or family is given: the checkpoint's config.json (model_type
qwen3_vl) must select the profile, the 32-px frame and the 0-1000 mapping. On
a 1920x1080 screen the click lands on the green patch of
tests/apps/event_logger.py, which logs what it really received.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.display import start_event_app
from tests.fixtures.tiny_qwen3_build import FIXED3_ANSWER, FIXED3_POINT

pytest.importorskip("torch")

AGENT = [sys.executable, "-m", "agent.cli.main"]
# 224/1000 * 1920 and 316/1000 * 1080: the 0-1000 point on the 1920x1080 screenshot.
EXPECTED_POINT = [430.08, 341.28]


def agent(*args: str, display: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    env["HF_HUB_OFFLINE"] = "1"
    if display:
        env["DISPLAY"] = display
    return subprocess.run(
        [*AGENT, *args], capture_output=True, text=True, timeout=600, check=False, env=env
    )


@pytest.fixture
def app(xvfb_session, tmp_path: Path):
    """The event logger at its default geometry on the session's 1920x1080 Xvfb."""
    app = start_event_app(tmp_path / "events.jsonl", display=xvfb_session.name)
    patch = app.widgets["green_patch"]
    x, y = EXPECTED_POINT
    # The trained point was chosen on this layout; a different font would show here first.
    assert patch.x <= x < patch.x + patch.w and patch.y <= y < patch.y + patch.h, app.widgets
    yield app
    app.stop()


def test_the_folder_names_no_profile(trained_qwen3_dir):
    from agent.models.detect import name_match

    assert name_match(str(trained_qwen3_dir)) == []
    config = json.loads((trained_qwen3_dir / "config.json").read_text())
    assert config["model_type"] == "qwen3_vl"


def test_agent_ground_maps_the_answer_exactly(trained_qwen3_dir, app, xvfb_session, tmp_path):
    import mss
    from PIL import Image

    shot = tmp_path / "shot.png"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DISPLAY", xvfb_session.name)
        with mss.MSS() as screen:
            grab = screen.grab(screen.monitors[1])
    Image.frombytes("RGB", grab.size, grab.bgra, "raw", "BGRX").save(shot)
    result = agent(
        "-v", "ground", str(shot), "the green patch", "--model", str(trained_qwen3_dir), "--json"
    )
    assert result.returncode == 0, result.stderr
    assert "profile qwen3-vl (a plain qwen3_vl checkpoint)" in result.stderr
    out = json.loads(result.stdout)
    assert out["raw"] == FIXED3_ANSWER
    assert out["model_xy"] == list(FIXED3_POINT)
    assert out["point"] == EXPECTED_POINT
    # The image the model saw: smart_resize at factor 32 within 1280 tokens of 32x32 px.
    assert out["model_size"] == [1504, 832] and out["visual_tokens"] == 47 * 26


def test_goal_run_clicks_the_green_patch(trained_qwen3_dir, app, xvfb_session, tmp_path):
    task = tmp_path / "goal.yaml"
    task.write_text(
        "name: click the green patch\n"
        "env: {desktop: {}}\n"
        f"model: {{backend: qwen, model: '{trained_qwen3_dir}', device: cpu}}\n"
        "goal: Click the green patch\n"
        "max_steps: 2\n"
        "confirm: never\n"
    )
    mark = app.mark()
    result = agent("run", str(task), "--out", str(tmp_path / "run"), display=xvfb_session.name)
    # The tiny model never says it is done: the step budget ends the run, a task failure.
    assert result.returncode == 1, result.stdout + result.stderr
    assert "budget exhausted (2 steps)" in result.stderr, result.stderr
    presses = app.events("press", since=mark)
    assert [(e["widget"], e["button"]) for e in presses] == [("green_patch", 1)] * 2
    assert all(abs(e["x"] - 430) <= 1 and abs(e["y"] - 341) <= 1 for e in presses)
    steps = [json.loads(x) for x in (tmp_path / "run" / "steps.jsonl").read_text().splitlines()]
    goal_steps = [s for s in steps if s["source"] == "goal"]
    assert len(goal_steps) == 2
    for step in goal_steps:  # the second step saw the first in its history, same answer
        assert step["model"]["profile"] == "qwen3-vl"
        assert step["model"]["raw"].strip() == FIXED3_ANSWER
        assert step["model"]["model_xy"] == list(FIXED3_POINT)
        assert step["model"]["model_size"] == [1504, 832]
