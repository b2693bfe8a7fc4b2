"""Small CLI messages a newcomer meets first (issue 24.11, 24.13), through the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from agent.cli.cmd_run import format_step
from agent.cli.main import main
from agent.trajectory import StepRecord

AGENT = Path(sys.executable).with_name("agent")


def test_version_prints_the_installed_version() -> None:
    from importlib.metadata import version

    result = subprocess.run([str(AGENT), "--version"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"screenpilot {version('screenpilot')} ")


@pytest.mark.parametrize(
    ("action", "shown"),
    [
        ({"type": "click", "x": 75.0, "y": 114.0}, "click -> (75, 114)"),
        ({"type": "type", "text": "Ada Lovelace"}, "type 'Ada Lovelace'"),
        ({"type": "key", "keys": ["ctrl", "s"]}, "key 'ctrl+s'"),
        ({"type": "scroll", "x": 5.0, "y": 6.0, "amount": -3}, "scroll '-3' -> (5, 6)"),
        ({"type": "terminate", "status": "success", "answer": "done"}, "terminate 'done'"),
    ],
)
def test_a_goal_step_line_shows_the_action_not_the_goal(action: dict, shown: str) -> None:
    goal = "Fill in the contact form and submit it"
    rec = StepRecord(index=3, verb=action["type"], source="goal", instruction=goal, action=action)
    line = format_step(rec, 30)
    assert line.startswith(f"[ 3/30] {shown}  ok"), line
    assert goal not in line


def test_a_scripted_step_line_still_shows_its_instruction() -> None:
    rec = StepRecord(
        index=1, verb="click", instruction="Name", action={"type": "click", "x": 1.0, "y": 2.0}
    )
    assert format_step(rec, None).startswith("[ 1] click 'Name' -> (1, 2)  ok")


def _english_results(path: Path) -> str:
    row = {"img_path": "a.png", "lang": "en", "correctness": "correct", "gt_type": "positive",
           "bbox": [0, 0, 10, 10], "pred": [5, 5], "prompt_to_evaluate": "open it"}  # fmt: skip
    text = json.dumps({"details": [row], "metrics": {}})
    path.write_text(text)
    return text


def test_eval_in_chinese_keeps_a_finished_english_result_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results.json"
    before = _english_results(out)
    server = ["--backend", "openai", "--base-url", "http://127.0.0.1:9/v1", "--model", "m"]
    code = main(
        ["eval", "screenspot", "--data", str(tmp_path), "--out", str(out), "--lang", "cn", *server]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert "holds results of --lang en; this run is --lang cn" in err and "results-cn.json" in err
    assert out.read_text() == before
