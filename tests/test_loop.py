"""The goal loop on a real screen (Xvfb + the demo form) with a scripted model.

The model is the one part replaced: it speaks the real interface (`Model.answer`,
Qwen2.5-VL tool-call text in the smart_resized frame) and replays scripted
answers, so retries, corrections, history, termination, confirmation and
budgets are checked against what really reached the app.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from actions.frames import CoordinateFrame
from actions.project_errors import ModelOutputError
from agent.errors import ActionDenied, BudgetExhausted, StepFailed
from agent.loop import run_goal
from agent.models.base import Model, ModelReply, ModelRequest
from agent.safety import ConfirmPolicy
from agent.session import Session
from agent.trajectory import RunInfo, RunWriter
from tests.conftest import need

DEMO_APP = Path(__file__).resolve().parents[1] / "tasks" / "examples" / "demo_form.py"
SUBMIT = (252, 317)  # centre of Submit with the window at +0+0 (image pixels)


class ScriptedModel(Model):
    """Answers each act request with the next scripted text, in Qwen2.5-VL's frame."""

    def __init__(self, answers: list[str]) -> None:
        self.answers = list(answers)
        self.requests: list[ModelRequest] = []

    def answer(self, requests: list[ModelRequest]) -> list[ModelReply]:
        replies = []
        for request in requests:
            self.requests.append(request)
            frame = CoordinateFrame.for_image(request.image.size)
            text = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
            replies.append(ModelReply(raw=text, frame=frame, seconds={"total": 0.01}))
        return replies


def tool_call(action: str, **args: object) -> str:
    call = {"name": "computer_use", "arguments": {"action": action, **args}}
    return "<tool_call>\n" + json.dumps(call) + "\n</tool_call>"


def click_submit() -> str:
    frame = CoordinateFrame.for_image((1280, 800))
    x, y = frame.image_to_model(*SUBMIT)
    assert frame.model_size == (1288, 812)  # up-sized: the mapping is not the identity
    return tool_call("left_click", coordinate=[round(x), round(y)])


def events(log: Path) -> list[dict]:
    return [json.loads(x) for x in log.read_text().splitlines() if x.strip()]


@pytest.fixture(scope="module")
def desktop() -> Iterator[object]:
    need(shutil.which("Xvfb") is not None, "Xvfb is not installed (apt-get install xvfb)")
    from env.desktop import DesktopEnv

    with DesktopEnv(virtual_display="1280x800", settle=0.5) as env:
        yield env


@pytest.fixture()
def app(desktop, tmp_path: Path) -> Iterator[Path]:
    log = tmp_path / "app.jsonl"
    proc = subprocess.Popen([sys.executable, str(DEMO_APP), "--log", str(log)])
    deadline = time.monotonic() + 20
    while not (log.exists() and log.read_text()) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.3)
    yield log
    proc.terminate()
    proc.wait(10)


def session(env, model, tmp_path: Path, **kwargs) -> Session:
    writer = RunWriter(tmp_path / "run", RunInfo(name="loop", platform="desktop"))
    # clicking "Submit" is risky under the default policy (tests/test_safety.py checks that);
    # these tests are about the loop, so the policy lets everything through unless told
    kwargs.setdefault("policy", ConfirmPolicy("never"))
    return Session(env, model, writer=writer, **kwargs)


def steps(tmp_path: Path) -> list[dict]:
    return [json.loads(x) for x in (tmp_path / "run" / "steps.jsonl").read_text().splitlines()]


def test_unreadable_answer_is_retried_with_a_correction_then_the_goal_completes(
    desktop, app, tmp_path
) -> None:
    done = tool_call("terminate", status="success")
    model = ScriptedModel(["I will click the submit button.", click_submit(), done])
    outcome = run_goal(session(desktop, model, tmp_path), "submit the form", max_steps=5)
    assert outcome.status == "success" and outcome.steps == 2
    assert [e["event"] for e in events(app)].count("submit") == 1
    first, second, third = model.requests
    assert first.correction is None and "could not be used" in second.correction
    assert first.history == [] and second.history == []
    assert len(third.history) == 1 and '"left_click"' in third.history[0]
    records = steps(tmp_path)
    assert records[0]["model"]["attempts"] == ["I will click the submit button."]
    assert records[0]["action"]["x"] == pytest.approx(SUBMIT[0], abs=1)
    assert records[1]["verb"] == "terminate" and records[1]["note"] == "goal reached"


def test_a_point_far_outside_the_frame_is_retried_not_clicked_at_the_edge(
    desktop, app, tmp_path
) -> None:
    # Issue 15: (2600, 300) in the 1288x812 frame is an answer in the wrong frame; it used to
    # become a click on the right edge. It is an unusable answer: asked again, nothing sent.
    far = tool_call("left_click", coordinate=[2600, 300])
    done = tool_call("terminate", status="success")
    model = ScriptedModel([far, click_submit(), done])
    outcome = run_goal(session(desktop, model, tmp_path), "submit the form", max_steps=5)
    assert outcome.status == "success"
    assert "far outside" in model.requests[1].correction
    record = steps(tmp_path)[0]
    assert record["model"]["attempts"] == [far]
    assert record["action"]["x"] == pytest.approx(SUBMIT[0], abs=1)
    assert [e["event"] for e in events(app)].count("submit") == 1


def test_a_scroll_step_records_the_pixels_asked_for_and_the_notches_sent(
    desktop, app, tmp_path
) -> None:
    scroll = tool_call("scroll", pixels=-450, coordinate=[640, 400])
    model = ScriptedModel([scroll, tool_call("terminate", status="success")])
    run_goal(session(desktop, model, tmp_path), "scroll down", max_steps=3)
    record = steps(tmp_path)[0]
    assert record["action"]["pixels"] == -443  # 450 x 800 / 812: the model saw 1288x812
    assert record["scroll"]["requested_pixels"] == -443
    assert record["scroll"]["notches"] == -5  # 443 / 90 px per notch (env/desktop_wheel.py)
    assert '"pixels": -450' in model.requests[1].history[0]  # shown back in its own pixels


def test_always_unreadable_fails_the_step_and_keeps_every_answer(desktop, app, tmp_path) -> None:
    model = ScriptedModel(["no idea"])
    with pytest.raises(ModelOutputError):
        run_goal(session(desktop, model, tmp_path, retries=2), "submit the form")
    assert len(model.requests) == 3
    record = steps(tmp_path)[0]
    assert record["status"] == "failed" and record["model"]["raw"] == "no idea"
    assert record["model"]["attempts"] == ["no idea", "no idea"]
    assert [e["event"] for e in events(app)] == ["start"]


def test_terminate_with_failure_fails_the_task(desktop, app, tmp_path) -> None:
    model = ScriptedModel([tool_call("terminate", status="failure")])
    with pytest.raises(StepFailed, match="gave up"):
        run_goal(session(desktop, model, tmp_path), "do the impossible")


def test_risky_planned_action_needs_a_yes(desktop, app, tmp_path) -> None:
    quit_app = tool_call("key", keys=["ctrl", "q"])
    asked: list[str] = []
    policy = ConfirmPolicy("risky", lambda q: asked.append(q) or False)
    with pytest.raises(ActionDenied):
        run_goal(session(desktop, ScriptedModel([quit_app]), tmp_path, policy=policy), "quit")
    assert asked and "quits" in asked[0]
    time.sleep(0.3)
    assert [e["event"] for e in events(app)] == ["start"]
    assert steps(tmp_path)[0]["status"] == "denied"


def test_risky_action_is_sent_after_a_yes(desktop, app, tmp_path) -> None:
    model = ScriptedModel([tool_call("key", keys=["ctrl", "q"]), tool_call("terminate")])
    policy = ConfirmPolicy("risky", lambda q: True)
    run_goal(session(desktop, model, tmp_path, policy=policy), "quit the app")
    time.sleep(0.3)
    assert "quit" in [e["event"] for e in events(app)]


def test_step_budget_ends_a_model_that_never_terminates(desktop, app, tmp_path) -> None:
    model = ScriptedModel([click_submit()])
    with pytest.raises(BudgetExhausted, match="not done within 3 steps"):
        run_goal(session(desktop, model, tmp_path), "submit", max_steps=3)
    assert [e["event"] for e in events(app)].count("submit") == 3
    with pytest.raises(BudgetExhausted, match="step budget exhausted"):
        run_goal(session(desktop, model, tmp_path / "b", max_steps=1), "submit")


def test_dry_run_plans_one_step_and_sends_nothing(app, tmp_path) -> None:
    from env.desktop import DesktopEnv

    with DesktopEnv(dry_run=True) as env:  # the module's display is the current one
        model = ScriptedModel([click_submit()])
        outcome = run_goal(session(env, model, tmp_path), "submit")
    assert outcome.steps == 1 and len(model.requests) == 1
    record = steps(tmp_path)[0]
    assert record["status"] == "dry_run" and not record["sent"]
    time.sleep(0.3)
    assert [e["event"] for e in events(app)] == ["start"]


def test_fail_safe_stops_the_run_before_anything_is_sent(desktop, app, tmp_path) -> None:
    need(shutil.which("xdotool") is not None, "xdotool is not installed")
    from agent.errors import RunStopped

    subprocess.run(["xdotool", "mousemove", "0", "0"], check=True)  # a person grabs the mouse
    try:
        with pytest.raises(RunStopped, match="fail-safe"):
            session(desktop, None, tmp_path).point_step("click", x=SUBMIT[0], y=SUBMIT[1])
    finally:
        subprocess.run(["xdotool", "mousemove", "640", "400"], check=True)
    assert steps(tmp_path)[0]["status"] == "stopped"
    time.sleep(0.3)
    assert "submit" not in [e["event"] for e in events(app)]


def test_every_action_of_one_answer_is_recorded_and_replayed_in_order(
    desktop, app, tmp_path, capsys
) -> None:
    """Issue 19.9: a click, a key and a terminate in one answer: the record keeps all three
    (the terminate erases nothing), and `agent replay` sends the click and the key again."""
    from agent.cli.main import main

    answer = "\n".join([click_submit(), tool_call("key", keys=["shift"]),
                        tool_call("terminate", status="success")])  # fmt: skip
    model = ScriptedModel([answer])
    outcome = run_goal(session(desktop, model, tmp_path), "submit the form", max_steps=3)
    assert outcome.status == "success" and outcome.steps == 1
    assert [e["event"] for e in events(app)].count("submit") == 1
    (record,) = steps(tmp_path)
    assert [a["type"] for a in record["actions"]] == ["click", "key", "terminate"]
    assert record["action"]["type"] == "key"  # the last action sent, for older readers
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    (tmp_path / "run" / "run.json").write_text(json.dumps({**info, "status": "success"}))

    out = tmp_path / "replay"
    code = main(["replay", str(tmp_path / "run"), "--virtual-display", "1280x800",
                 "--confirm", "never", "--out", str(out)])  # fmt: skip
    assert code == 0, capsys.readouterr()
    replayed = [json.loads(x) for x in (out / "steps.jsonl").read_text().splitlines()]
    assert [(s["action"]["type"], s["sent"]) for s in replayed] == [("click", True), ("key", True)]
