"""`agent run` end to end under Xvfb: the demo, dry runs, secrets, goal mode, replay, Ctrl-C.

Every test runs the real CLI in a subprocess and reads what really reached the
app from the app's own event log (tasks/examples/demo_form.py), never from what
the agent says it sent.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.conftest import need
from tests.fixtures.run_logs import events, steps_of

ROOT = Path(__file__).resolve().parents[1]
DEMO_APP = ROOT / "tasks" / "examples" / "demo_form.py"
DEMO_TASK = ROOT / "tasks" / "examples" / "demo.yaml"


def have_xvfb() -> None:
    need(shutil.which("Xvfb") is not None, "Xvfb is not installed (apt-get install xvfb)")
    need(shutil.which("xdotool") is not None, "xdotool is not installed")


def agent(
    *args: str, env: dict[str, str] | None = None, timeout: float = 240, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the `agent` CLI as a user would, in a fresh process."""
    full_env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "agent.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        cwd=cwd or ROOT,
    )


def received(log: Path) -> list[dict[str, Any]]:
    """Events that only input can cause (the app's own start-up line excluded)."""
    return [e for e in events(log) if e["event"] != "start"]


# -- fixtures --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess, Path, Path]:
    """The README's first command: the demo task, on a virtual display it starts itself."""
    have_xvfb()
    pytest.importorskip("rapidocr")
    tmp = tmp_path_factory.mktemp("demo")
    log = tmp / "app.jsonl"
    result = agent("run", str(DEMO_TASK), "--out", str(tmp / "run"),
                   env={"SCREENPILOT_DEMO_LOG": str(log)})  # fmt: skip
    return result, tmp / "run", log


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    """A virtual display of our own, for tests that start the app before the agent."""
    have_xvfb()
    from env.virtual_display import VirtualDisplay

    with VirtualDisplay((1280, 800)) as vd:
        yield vd.name


@pytest.fixture()
def demo_app(display: str, tmp_path: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """The demo form running on `display`; yields its log and its start event."""
    log = tmp_path / "app.jsonl"
    proc = subprocess.Popen(
        [sys.executable, str(DEMO_APP), "--log", str(log)], env={**os.environ, "DISPLAY": display}
    )
    deadline = time.monotonic() + 20
    while not events(log) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert events(log), "the demo app did not start"
    time.sleep(0.3)
    yield log, events(log)[0]
    proc.terminate()
    proc.wait(10)


# -- the demo --------------------------------------------------------------------------
def test_demo_fills_the_form_and_the_app_logs_every_step(demo_run) -> None:
    result, run_dir, log = demo_run
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"report: {run_dir / 'report.html'}" in result.stdout
    got = events(log)
    kinds = [e["event"] for e in got]
    # every step reached the app: label clicks focus fields, text arrives, checkbox, submit
    labels = [e["field"] for e in got if e["event"] == "label"]
    assert labels == ["name", "email"]
    texts = {e["field"]: e["value"] for e in got if e["event"] == "text"}
    assert texts == {"name": "Ada Lovelace", "email": "ada@example.com"}
    assert kinds.count("checkbox") == 1
    submit = [e for e in got if e["event"] == "submit"]
    assert len(submit) == 1
    assert (submit[0]["name"], submit[0]["email"], submit[0]["subscribe"]) == (
        "Ada Lovelace", "ada@example.com", True,
    )  # fmt: skip
    steps = steps_of(run_dir)
    assert [s["verb"] for s in steps] == [
        "launch", "wait_for", "click", "type", "click", "type", "click", "click", "wait_for",
        "assert",
    ]  # fmt: skip
    assert all(s["status"] == "ok" for s in steps)
    for step in steps:
        if step["verb"] == "click":
            assert step["model"]["raw"] and step["model"]["box"]
            assert step["model"]["model_size"] == step["model"]["image_size"] == [1280, 800]
            assert step["screen_points"] and step["sent"]
            assert set(step["timings"]) >= {"capture", "model", "act", "settle", "total"}
            assert (run_dir / step["screenshot"]).is_file()


def test_demo_report_marks_every_click(demo_run) -> None:
    _, run_dir, _ = demo_run
    html = (run_dir / "report.html").read_text()
    assert html.count('class="step"') == len(steps_of(run_dir)) + 1  # + the final screen
    sections = html.split('<section class="step" id="step-')[1:]
    assert len(sections) == len(steps_of(run_dir))
    for number, section in enumerate(sections, start=1):
        assert "data:image/png;base64," in section, f"step {number} has no screenshot"
        assert "<circle" in section or 'class="caption"' in section, f"step {number} unmarked"
    clicks = [s for s in sections if "<h2>" in s and ". click " in s]
    assert len(clicks) == 4 and all(s.count("<circle") == 2 for s in clicks)
    info = json.loads((run_dir / "run.json").read_text())
    assert (info["status"], info["exit_code"], info["env"]["virtual_display"]) == (
        "success", 0, "1280x800",
    )  # fmt: skip


def test_demo_dry_run_launches_nothing(tmp_path: Path) -> None:
    have_xvfb()
    log = tmp_path / "app.jsonl"
    result = agent("run", str(DEMO_TASK), "--dry-run", "--out", str(tmp_path / "run"),
                   env={"SCREENPILOT_DEMO_LOG": str(log)})  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert not log.exists()  # the app was never started
    steps = steps_of(tmp_path / "run")
    assert not any(s["sent"] for s in steps)
    assert "dry run: nothing was sent" in (tmp_path / "run" / "report.html").read_text()


def test_dry_run_on_a_running_app_sends_nothing_but_shows_the_clicks(demo_app, display, tmp_path):
    log, start = demo_app
    task = tmp_path / "task.yaml"
    task.write_text(
        "name: dry\nenv: {desktop: {}}\nsteps:\n"
        "  - click: the Name field\n  - type: hello\n  - key: ctrl+s\n"
        "  - click: {x: 300, y: 310}\n  - click: the Submit button\n  - assert: Saved\n"
    )
    result = agent("run", str(task), "--dry-run", "--out", str(tmp_path / "run"),
                   env={"DISPLAY": display})  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    time.sleep(0.5)
    assert received(log) == []
    steps = steps_of(tmp_path / "run")
    actions = [s for s in steps if s["action"]]
    assert actions and all(s["status"] == "dry_run" and not s["sent"] for s in actions)
    submit = start["widgets"]["submit"]
    click = steps[4]["action"]
    assert submit[0] <= click["x"] <= submit[0] + submit[2]
    assert submit[1] <= click["y"] <= submit[1] + submit[3]


def test_real_gtk_app_zenity_gets_the_text_and_ok(tmp_path: Path) -> None:
    """Debian's zenity (GTK) under Xvfb: type into its entry, click OK; it prints the entry."""
    have_xvfb()
    need(shutil.which("zenity") is not None, "zenity is not installed (apt-get install zenity)")
    pytest.importorskip("rapidocr")
    out = tmp_path / "zenity.out"
    task = tmp_path / "zenity.yaml"
    task.write_text(
        "name: zenity\nenv: {desktop: {virtual_display: 1280x800}}\nsteps:\n"
        '  - launch: [sh, -c, \'zenity --entry --title Rename --text "New file name:" '
        f"> {out}']\n"
        "  - wait_for: {text: New file name, timeout: 30}\n"
        "  - type: report-2024.txt\n"
        "  - click: the OK button\n"
        "  - wait: 1\n"
    )
    result = agent("run", str(task), "--out", str(tmp_path / "run"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert out.read_text().strip() == "report-2024.txt"


# -- secrets ---------------------------------------------------------------------------
SECRET = "Gr0ceries-7781-zq"


def test_secret_from_env_reaches_the_app_and_nowhere_in_the_run_folder(tmp_path: Path) -> None:
    have_xvfb()
    pytest.importorskip("rapidocr")
    log = tmp_path / "app.jsonl"
    task = tmp_path / "secret.yaml"
    task.write_text(
        "name: secret\nenv: {desktop: {virtual_display: 1280x800}}\nsteps:\n"
        f"  - launch: [python3, {DEMO_APP}]\n"
        "  - wait_for: {text: Contact form, timeout: 20}\n"
        "  - click: the Note field\n"
        '  - type: "${DEMO_NOTE_SECRET}"\n'
        "  - click: the Name field\n  - type: Ada\n"
        "  - click: Submit\n  - wait_for: Saved\n"
    )
    result = agent("run", str(task), "--out", str(tmp_path / "run"),
                   env={"SCREENPILOT_DEMO_LOG": str(log), "DEMO_NOTE_SECRET": SECRET})  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    submit = [e for e in events(log) if e["event"] == "submit"]
    assert submit and submit[0]["note"] == SECRET  # it really was typed
    assert SECRET not in result.stdout + result.stderr
    run_dir = tmp_path / "run"
    files = [p for p in run_dir.rglob("*") if p.is_file()]
    assert len(files) > 5
    for path in files:
        assert SECRET.encode() not in path.read_bytes(), path
    typed = [s for s in steps_of(run_dir) if s["verb"] == "type"][0]
    assert typed["action"]["text"] == "***" and typed["template"] == "${DEMO_NOTE_SECRET}"
    from agent.models.ocr import find_text

    for png in run_dir.glob("screens/*.png"):  # the typed note is visible on screen
        assert find_text(Image.open(png).convert("RGB"), SECRET, strictness="ground") is None, png


# -- goal mode with the real model class -----------------------------------------------
def test_goal_mode_with_the_tiny_trained_qwen_clicks_submit(trained_qwen_dir, tmp_path: Path):
    """The tiny checkpoint always answers left_click at model (364, 217): put Submit there."""
    have_xvfb()
    pytest.importorskip("torch")
    from actions.frames import CoordinateFrame
    from tests.fixtures.tiny_qwen_build import FIXED_ANSWER, FIXED_POINT

    max_pixels = 256 * 28 * 28  # 1280x800 is fed as 560x336: the mapping is not the identity
    frame = CoordinateFrame.for_image((1280, 800), max_pixels=max_pixels)
    tx, ty = frame.model_to_image(*FIXED_POINT)
    # Submit's centre is at (252, 317) in a demo window placed at +0+0
    gx, gy = round(tx - 252), round(ty - 317)
    log = tmp_path / "app.jsonl"
    task = tmp_path / "goal.yaml"
    task.write_text(
        "name: goal\nenv: {desktop: {virtual_display: 1280x800}}\n"
        f"model: {{backend: qwen, model: '{trained_qwen_dir}', max_pixels: {max_pixels}, "
        "device: cpu}\nsteps:\n"
        f"  - launch: [python3, {DEMO_APP}, --geometry, '+{gx}+{gy}']\n"
        "  - wait_for: {text: Contact form, timeout: 30}\n"
        "  - goal: {goal: Submit the form, max_steps: 2}\n"
        "max_steps: 10\nconfirm: never\n"
    )
    result = agent("run", str(task), "--out", str(tmp_path / "run"),
                   env={"SCREENPILOT_DEMO_LOG": str(log)}, timeout=600)  # fmt: skip
    # the tiny model never terminates: the goal's own budget ends it, a task failure
    assert result.returncode == 1, result.stdout + result.stderr
    assert "not done within 2 steps" in result.stderr
    assert [e["event"] for e in events(log)].count("submit") == 2
    goal_steps = [s for s in steps_of(tmp_path / "run") if s["source"] == "goal"]
    assert len(goal_steps) == 2
    first = goal_steps[0]
    assert first["model"]["raw"].strip() == FIXED_ANSWER
    assert first["model"]["model_size"] == [560, 336]
    assert first["model"]["model_xy"] == list(FIXED_POINT)
    assert first["action"]["x"] == pytest.approx(tx, abs=1)
    assert first["action"]["y"] == pytest.approx(ty, abs=1)


# -- replay ----------------------------------------------------------------------------
def test_replay_performs_the_recorded_actions_again(demo_run, tmp_path: Path) -> None:
    result, run_dir, _ = demo_run
    assert result.returncode == 0
    # A replay judges recorded clicks as a model's: Submit is risky, and nobody can be asked.
    refused_log = tmp_path / "refused.jsonl"
    refused = agent("replay", str(run_dir), "--allow-launch", "--out", str(tmp_path / "refused"),
                    env={"SCREENPILOT_DEMO_LOG": str(refused_log)})  # fmt: skip
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "clicks a label that submits ('Submit')" in refused.stdout
    assert not [e for e in events(refused_log) if e["event"] == "submit"]
    log = tmp_path / "replay.jsonl"
    replay = agent("replay", str(run_dir), "--allow-launch", "--confirm", "never",
                   "--out", str(tmp_path / "replay"),
                   env={"SCREENPILOT_DEMO_LOG": str(log)})  # fmt: skip
    assert replay.returncode == 0, replay.stdout + replay.stderr
    submit = [e for e in events(log) if e["event"] == "submit"]
    assert [(e["name"], e["email"], e["subscribe"]) for e in submit] == [
        ("Ada Lovelace", "ada@example.com", True)
    ]
    assert (tmp_path / "replay" / "report.html").is_file()
    dry_log = tmp_path / "dry.jsonl"
    dry = agent("replay", str(run_dir), "--dry-run", "--out", str(tmp_path / "dry"),
                env={"SCREENPILOT_DEMO_LOG": str(dry_log)})  # fmt: skip
    # the real replay stops at Submit here (nobody to ask): so does its dry run, saying so
    assert dry.returncode == 1, dry.stdout + dry.stderr
    assert "the real replay would stop or ask here" in dry.stderr
    dry = agent("replay", str(run_dir), "--dry-run", "--confirm", "never",
                "--out", str(tmp_path / "dry-never"),
                env={"SCREENPILOT_DEMO_LOG": str(dry_log)})  # fmt: skip
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert not dry_log.exists()


# -- bad input, Ctrl-C, budgets --------------------------------------------------------
BAD_FILES = {
    "syntax": ("steps:\n  - click: {x: 10, y: 20\n", 5),
    "unknown key": ("steps:\n  - click: the Submit button\nspeed: 3\n", 5),
    "both envs": ("steps:\n  - click: the Submit button\n", 2),
    "two verbs": ("steps:\n  - click: the Submit button\n    type: hi\n", 4),
    "negative coordinate": ("steps:\n  - click: the Submit button\n  - click: {x: -1, y: 5}\n", 5),
    "missing env var": ("steps:\n  - click: the Name field\n  - type: ${NOT_SET_ANYWHERE}\n", 5),
    "missing file": ("steps:\n  - click: the Submit button\n  - launch: python3 nope.py\n", 5),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_task_file_exits_2_and_the_app_receives_nothing(case, demo_app, display, tmp_path):
    log, _ = demo_app
    body, line = BAD_FILES[case]
    env_block = (
        "env:\n  desktop: {}\n  android: {}\n" if case == "both envs" else "env: {desktop: {}}\n"
    )
    task = tmp_path / "bad.yaml"
    task.write_text(f"name: bad\n{env_block}{body}")
    result = agent("run", str(task), "--out", str(tmp_path / "run"), env={"DISPLAY": display})
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {task}:{line}: "), result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()
    time.sleep(0.3)
    assert received(log) == []


def test_ctrl_c_stops_cleanly_and_keeps_the_trajectory(tmp_path: Path) -> None:
    have_xvfb()
    task = tmp_path / "slow.yaml"
    task.write_text(
        "name: slow\nenv: {desktop: {virtual_display: 640x480}}\nsteps:\n"
        "  - key: shift\n  - wait: 60\n  - key: shift\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent.cli.main", "run", str(task), "--out", str(tmp_path / "run")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
    )  # fmt: skip
    steps_file = tmp_path / "run" / "steps.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (steps_file.exists() and steps_file.read_text()):
        time.sleep(0.1)
    time.sleep(0.5)  # now inside the long wait
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["status"] == "interrupted"
    steps = steps_of(tmp_path / "run")
    assert [s["status"] for s in steps] == ["ok", "stopped"]
    assert (tmp_path / "run" / "report.html").is_file()
    assert "report:" in out


def test_time_budget_ends_the_task_with_exit_1(tmp_path: Path) -> None:
    have_xvfb()
    task = tmp_path / "long.yaml"
    task.write_text(
        "name: long\nenv: {desktop: {virtual_display: 640x480}}\nsteps:\n"
        "  - wait: 3\n  - key: shift\n"
    )
    result = agent("run", str(task), "--timeout", "1", "--out", str(tmp_path / "run"))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "time budget exhausted" in result.stderr
    assert [s["verb"] for s in steps_of(tmp_path / "run")] == ["wait"]
