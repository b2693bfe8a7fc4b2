"""The Python API drives the demo form on a virtual display, through the same engine."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from actions.project_errors import InputError
from agent.errors import StepFailed
from tests.conftest import need

DEMO_APP = Path(__file__).resolve().parents[1] / "tasks" / "examples" / "demo_form.py"


def _events(log: Path) -> list[dict]:
    return (
        [json.loads(x) for x in log.read_text().splitlines() if x.strip()] if log.exists() else []
    )


@pytest.fixture()
def xvfb() -> None:
    need(shutil.which("Xvfb") is not None, "Xvfb is not installed (apt-get install xvfb)")
    need(shutil.which("xdotool") is not None, "xdotool is not installed")
    pytest.importorskip("rapidocr")


def test_agent_desktop_scripted_session(xvfb, tmp_path: Path, monkeypatch) -> None:
    from agent import Agent

    log = tmp_path / "app.jsonl"
    monkeypatch.setenv("SCREENPILOT_DEMO_LOG", str(log))
    with Agent.desktop(model="ocr", virtual_display="1280x800", out=tmp_path / "run") as a:
        a.launch([sys.executable, str(DEMO_APP)])
        assert a.wait_for("Contact form", timeout=20) is not None
        x, y = a.click("the Name field")
        a.type("Grace Hopper")
        a.click("the Email field")
        a.type("cobol-4ever", secret=True)
        a.click("Submit")
        match = a.assert_visible("Saved: Grace Hopper", timeout=5)
        assert match.line.startswith("Saved")
        with pytest.raises(StepFailed, match="is not on screen"):
            a.assert_visible("Saved: Ada")
        with pytest.raises(InputError):
            a.run("close the form")  # the ocr backend cannot plan
        assert a.screenshot().size == (1280, 800)
    assert 0 < x < 200 and 90 < y < 140  # the Name label, left of the entry
    submit = [e for e in _events(log) if e["event"] == "submit"]
    assert [(e["name"], e["email"]) for e in submit] == [("Grace Hopper", "cobol-4ever")]
    run_dir = tmp_path / "run"
    assert a.report == run_dir / "report.html" and a.report.is_file()
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert b"cobol-4ever" not in path.read_bytes(), path
    info = json.loads((run_dir / "run.json").read_text())
    assert info["status"] == "success"  # the failures above were caught inside the block
    steps = [json.loads(x) for x in (run_dir / "steps.jsonl").read_text().splitlines()]
    assert [s["status"] for s in steps][-2:] == ["failed", "failed"]
    assert [s["verb"] for s in steps][-2:] == ["assert", "goal"]


def test_coordinates_or_target_not_both(xvfb) -> None:
    from agent import Agent

    with Agent.desktop(virtual_display="640x480") as a:
        with pytest.raises(InputError, match="target description, or both x and y"):
            a.click("OK", x=3, y=4)
        with pytest.raises(InputError, match="needs a model"):
            a.click("OK")
        with pytest.raises(InputError, match="outside the screen"):
            a.click(x=700, y=10)
