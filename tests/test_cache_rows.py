"""Look-alike targets on different rows (issue 19.7): the cache keeps the row, not only the crop.

A real Tk window on Xvfb has two rows, "Alice [Delete]" and "Bob [Delete]", with
identical Delete buttons; a real `agent run` (OpenAI backend) asks a counting
chat-completions server that grounds with OCR (tests/fixtures/grounding_server.py).
After the rows are re-sorted, the cached place holds Bob's Delete button, whose crop
is the same: a hit there would delete the wrong row.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import need
from tests.fixtures.button_board import clicked, start_board
from tests.fixtures.run_logs import steps_of

ROOT = Path(__file__).resolve().parents[1]
TASK = """name: rows
env: {{desktop: {{}}}}
model: {{backend: openai, base_url: '{url}', model: Qwen/Qwen2.5-VL-7B-Instruct, timeout: 120}}
steps:
  - click: 'the "Delete" button in the customer''s row'
  - click: the Note button
settle: 0.5
"""
ROW = {"alice": ("alice=Alice", "del_alice=Delete"), "bob": ("bob=Bob", "del_bob=Delete"),
       "carol": ("carol=Carol", "del_carol=Delete")}  # fmt: skip


def board(*rows: str) -> tuple[str, ...]:
    return (*(spec for row in rows for spec in ROW[row]), "note=Note")


def run(task: Path, out: Path, display: str) -> Any:
    env = {k: v for k, v in os.environ.items() if k != "SCREENPILOT_LOCATE_CACHE"}
    env["DISPLAY"] = display
    return subprocess.run(
        [sys.executable, "-m", "agent.cli.main", "run", str(task), "--out", str(out)],
        capture_output=True, text=True, timeout=300, env=env, cwd=ROOT,
    )  # fmt: skip


def test_re_sorted_rows_never_get_the_old_rows_click(
    xvfb_session, grounding_server, tmp_path
) -> None:
    need(__import__("shutil").which("xdotool") is not None, "xdotool is not installed")
    task = tmp_path / "rows.yaml"
    task.write_text(TASK.format(url=grounding_server.base_url))
    display = xvfb_session.name
    app = start_board(tmp_path / "a.jsonl", display, board("alice", "bob"), columns=2)
    try:
        first = run(task, tmp_path / "run1", display)
        assert first.returncode == 0, first.stdout + first.stderr
        assert grounding_server.calls == 2
        # the customer is whichever row the (fake) model chose for "Delete"
        chosen = clicked(app)[0]
        assert chosen in ("del_alice", "del_bob") and clicked(app)[1:] == ["note"]
        customer = chosen.removeprefix("del_")
        other = "bob" if customer == "alice" else "alice"
        old_place = app.widgets[chosen]
    finally:
        app.stop()
    cache = yaml.safe_load((tmp_path / "rows.cache" / "cache.yaml").read_text())
    delete = next(e for e in cache["entries"] if "Delete" in e["instruction"])
    assert delete["context"] is not None  # look-alikes on screen: the row was kept
    assert cache["entries"][1 - cache["entries"].index(delete)].get("context") is None

    # Re-sorted: the other row is where the customer's was; its Delete crop is the same.
    rows = (other, customer) if customer == "alice" else (customer, other)
    app = start_board(tmp_path / "b.jsonl", display, board(*rows), columns=2)
    try:
        assert app.widgets[f"del_{other}"] == old_place
        second = run(task, tmp_path / "run2", display)
        assert second.returncode == 0, second.stdout + second.stderr
        assert clicked(app)[0] == chosen, clicked(app)  # the customer's row, found again
        step = steps_of(tmp_path / "run2")[0]
        assert step["cache"]["status"] == "relocated", step["cache"]
        assert grounding_server.calls == 2  # without asking the model
    finally:
        app.stop()

    # The customer's row is gone: no cached place may be used; the model is asked, and why.
    app = start_board(tmp_path / "c.jsonl", display, board("carol", other), columns=2)
    try:
        third = run(task, tmp_path / "run3", display)
        assert third.returncode == 0, third.stdout + third.stderr
        step = steps_of(tmp_path / "run3")[0]
        assert step["cache"]["status"] == "miss", step["cache"]
        assert "not its row" in step["cache"]["note"], step["cache"]
        assert grounding_server.calls == 3
    finally:
        app.stop()
