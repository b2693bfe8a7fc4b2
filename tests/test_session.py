"""Session budgets: a model-chosen wait is capped and never outlives the task's time budget.

The model is a chat-completions server speaking the real protocol (the one the
openai backend talks to), answering every request with Qwen2.5-VL's
computer_use ``wait`` tool call; the agent is the real CLI in a subprocess.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import need

ROOT = Path(__file__).resolve().parents[1]


def wait_answer(seconds: float) -> str:
    call = {"name": "computer_use", "arguments": {"action": "wait", "time": seconds}}
    return "<tool_call>\n" + json.dumps(call) + "\n</tool_call>"


def completion(content: str) -> dict:
    return {
        "id": "chatcmpl-wait",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "Qwen/Qwen2.5-VL-7B-Instruct",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
    }


@pytest.fixture
def waiting_server():
    pytest.importorskip("openai")
    from tests.test_models_openai import FakeServer

    server = FakeServer()
    server.script = lambda body, number: (200, completion(wait_answer(3600)), 0.0)
    yield server
    server.close()


def test_a_model_asking_to_wait_an_hour_ends_at_the_time_budget(waiting_server, tmp_path):
    need(shutil.which("Xvfb") is not None, "Xvfb is not installed (apt-get install xvfb)")
    task = tmp_path / "wait.yaml"
    task.write_text(
        "name: wait\nenv: {desktop: {virtual_display: 640x480}}\n"
        f"model: {{backend: openai, base_url: '{waiting_server.base_url}', "
        "model: Qwen/Qwen2.5-VL-7B-Instruct}\n"
        "goal: wait until the download finishes\ntimeout: 15\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    # the hour the model asks for would overrun this timeout many times over
    result = subprocess.run(
        [sys.executable, "-m", "agent.cli.main", "run", str(task), "--out", str(tmp_path / "run")],
        capture_output=True, text=True, timeout=300, env=env, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "time budget exhausted (15 s)" in result.stderr
    steps = [json.loads(x) for x in (tmp_path / "run" / "steps.jsonl").read_text().splitlines()]
    waits = [s for s in steps if s["verb"] == "wait" and s["status"] == "ok"]
    assert waits and waits[0]["action"]["seconds"] <= 15
    assert "cut to" in waits[0]["note"] and "time budget" in waits[0]["note"]
    assert sum(s["action"]["seconds"] for s in waits) <= 15
    assert waiting_server.requests  # the model was really asked


def test_a_model_chosen_wait_is_capped_at_30_seconds(adb_server, tmp_path) -> None:
    """A dry run on a phone: nothing sleeps, and the recorded wait is what would be waited."""
    from agent.loop import run_goal
    from agent.safety import ConfirmPolicy
    from agent.session import MAX_MODEL_WAIT, Session
    from agent.trajectory import RunInfo, RunWriter
    from env.android import AndroidEnv
    from tests.test_loop import ScriptedModel

    with AndroidEnv(port=adb_server.port, dry_run=True) as env:
        writer = RunWriter(tmp_path / "run", RunInfo(name="wait", platform="android"))
        model = ScriptedModel([wait_answer(3600).replace("computer_use", "mobile_use")])
        session = Session(env, model, writer=writer, policy=ConfirmPolicy("never"), timeout=600)
        run_goal(session, "wait for the download")
    step = json.loads((tmp_path / "run" / "steps.jsonl").read_text().splitlines()[0])
    assert step["action"] == {"type": "wait", "seconds": MAX_MODEL_WAIT}
    assert MAX_MODEL_WAIT == 30.0
    assert "cut to 30.0 s (at most 30 s per wait the user did not write)" in step["note"]


def test_a_scripted_wait_is_not_capped_but_keeps_to_the_budget(adb_server, tmp_path) -> None:
    from actions.types import Wait
    from agent.session import Session
    from env.android import AndroidEnv

    with AndroidEnv(port=adb_server.port, dry_run=True) as env:
        records = []
        Session(env, None, on_step=records.append).perform(Wait(seconds=120))
    assert records[0].action == {"type": "wait", "seconds": 120.0} and records[0].note is None
