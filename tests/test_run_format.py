"""Typed step records and the versioned run-folder format, and replay as a library call.

A folder written now says ``format: 2`` and its actions read back as the action
union; folders written before (no ``format``) still read and report; a newer
format, or a typed folder naming an action type this version does not know,
is refused in one line (exit 2) by `agent report` and `agent replay`.
"""

from __future__ import annotations

import json
import shutil

from actions.types import Click, Key
from agent.cli.main import main
from agent.replay import ReplayOptions, replay
from agent.report import step_markers
from agent.trajectory import RUN_FORMAT, LaunchRecord, read_run
from tests.conftest import need
from tests.test_replay import crafted, one_error_line


def test_a_folder_written_before_typing_still_reads_and_reports(tmp_path, capsys) -> None:
    folder = crafted(
        tmp_path / "old",
        [
            {"verb": "launch", "action": {"type": "launch", "target": ["xterm"]}},
            {"verb": "key", "action": {"type": "key", "keys": ["ctrl", "s"]}},
            {"verb": "click", "action": {"type": "click", "x": 10, "y": 20, "count": 2}},
            {"verb": "beam", "action": {"type": "teleport", "x": 1, "y": 2}},
        ],
    )
    run = read_run(folder)
    assert run.info.format == 1
    typed = [step.typed_action() for step in run.steps]
    assert typed[0] == LaunchRecord(target=["xterm"])
    assert isinstance(typed[1], Key) and typed[1].keys == ["ctrl", "s"]
    assert isinstance(typed[2], Click) and (typed[2].x, typed[2].y, typed[2].count) == (10, 20, 2)
    assert typed[3] is None  # another version's action: left as written
    labels = [[(m.kind, m.label) for m in step_markers(step)] for step in run.steps]
    assert labels == [
        [("caption", "launch xterm")],
        [("caption", "key ctrl+s")],
        [("point", "double-click")],
        [("point", "teleport")],  # drawn where it went, named as written
    ]
    assert main(["report", str(folder)]) == 0 and (folder / "report.html").is_file()


def test_a_newer_format_is_refused_in_one_line(tmp_path, capsys) -> None:
    folder = crafted(
        tmp_path / "new", [{"verb": "key", "action": {"type": "key", "keys": ["a"]}}], format=99
    )
    assert main(["report", str(folder)]) == 2
    line = one_error_line(capsys)
    assert "format 99 is newer than this version reads (2)" in line
    assert not (folder / "report.html").exists()


def test_a_typed_folder_naming_an_unknown_action_is_refused(tmp_path, capsys) -> None:
    folder = crafted(
        tmp_path / "typed",
        [{"verb": "beam", "action": {"type": "teleport", "x": 1, "y": 2}}],
        format=RUN_FORMAT,
    )
    assert main(["replay", str(folder), "--dry-run"]) == 2
    line = one_error_line(capsys)
    assert "steps.jsonl:1: unreadable action: unknown type 'teleport'" in line


def test_replay_is_a_library_call_and_writes_a_typed_folder(tmp_path) -> None:
    """The whole replay from Python: the recorded Xvfb size, the plan, the run folder."""
    need(shutil.which("Xvfb") is not None, "Xvfb is not installed (apt-get install xvfb)")
    folder = crafted(
        tmp_path / "run",
        [
            {"verb": "click", "instruction": "the OK button",
             "action": {"type": "click", "x": 300, "y": 200}},
            {"verb": "key", "action": {"type": "key", "keys": ["shift"]}},
        ],
    )  # fmt: skip
    out = tmp_path / "again"
    result = replay(folder, ReplayOptions(out=out, confirm="never", timeout=60))
    assert result.exit_code == 0 and result.steps == 2, result.message
    again = read_run(out)
    assert again.info.format == RUN_FORMAT and again.info.env["virtual_display"] == "640x480"
    assert json.loads((out / "run.json").read_text())["format"] == RUN_FORMAT
    click, key = (step.typed_action() for step in again.steps)
    assert isinstance(click, Click) and (click.x, click.y) == (300, 200)
    assert again.steps[0].sent and again.steps[0].screen_points == [(300, 200)]
    assert isinstance(key, Key) and key.keys == ["shift"]
    assert result.report is not None and result.report.is_file()
