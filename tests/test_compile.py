"""`agent compile RUN_DIR -o task.yaml`: finished runs as scripted tasks that replay from the cache.

* a goal run of the real Qwen2.5-VL class (the tiny trained checkpoint, which
  clicks one fixed point) compiles into ``click: "Submit"`` steps, and the
  compiled task replays with the model's `answer` never called (counted at the
  model boundary) while the clicks still reach the app;
* a scripted run that typed a ``${VAR}`` secret compiles with the secret still a
  ``${VAR}``, no trace of it in the task or the cache, and replays with zero calls;
* a run folder is untrusted input: paths out of it, symbolic links and dry runs
  are refused with one line, and nothing is written.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from PIL import Image

from tests.conftest import need
from tests.fixtures.run_logs import events, steps_of

ROOT = Path(__file__).resolve().parents[1]
DEMO_APP = ROOT / "tasks" / "examples" / "demo_form.py"
SECRET = "Pl4ntain-0912-xk"


def have_desktop() -> None:
    need(shutil.which("Xvfb") is not None, "Xvfb is not installed (apt-get install xvfb)")
    need(shutil.which("xdotool") is not None, "xdotool is not installed")


def agent(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "agent.cli.main", *args], capture_output=True,
                          text=True, timeout=600, env=full, cwd=ROOT)  # fmt: skip


def compiled_steps(task: Path) -> list[dict[str, Any]]:
    return yaml.safe_load(task.read_text())["steps"]


# -- a goal run ------------------------------------------------------------------------
def test_a_compiled_goal_run_replays_with_zero_model_calls(trained_qwen_dir, tmp_path, monkeypatch):
    """The tiny checkpoint always answers left_click at model (364, 217): Submit is put there."""
    have_desktop()
    pytest.importorskip("torch")
    pytest.importorskip("rapidocr")
    from actions.frames import CoordinateFrame
    from tests.fixtures.tiny_qwen_build import FIXED_POINT

    max_pixels = 256 * 28 * 28
    frame = CoordinateFrame.for_image((1280, 800), max_pixels=max_pixels)
    tx, ty = frame.model_to_image(*FIXED_POINT)
    gx, gy = round(tx - 252), round(ty - 317)  # Submit's centre in a window at +0+0
    log = tmp_path / "goal.jsonl"
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
    goal = agent("run", str(task), "--out", str(tmp_path / "run"),
                 env={"SCREENPILOT_DEMO_LOG": str(log)})  # fmt: skip
    assert goal.returncode == 1 and "not done within 2 steps" in goal.stderr, goal.stderr
    assert [e["event"] for e in events(log)].count("submit") == 2
    goal_steps = [s for s in steps_of(tmp_path / "run") if s["source"] == "goal"]
    assert len(goal_steps) == 2 and all(s["cache"] is None for s in goal_steps)  # never cached

    out = tmp_path / "compiled.yaml"
    result = agent("compile", str(tmp_path / "run"), "-o", str(out), "--allow-launch")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 named clicks" in result.stdout and "seeded 2 cache entries" in result.stdout
    steps = compiled_steps(out)
    assert [next(iter(s)) for s in steps] == ["launch", "wait_for", "click", "click"]
    assert steps[2]["click"] == steps[3]["click"] == "Submit"  # the text at the model's point
    assert steps[2]["provenance"] == steps[3]["provenance"] == "model"  # still judged
    assert "# run step 3: chosen by the model" in out.read_text()

    from agent.models.qwen import QwenModel
    from tasks.loader import load_task
    from tasks.runner import run_task

    calls: list[int] = []
    answer = QwenModel.answer

    def counting(self: Any, requests: list[Any]) -> Any:
        calls.append(len(requests))
        return answer(self, requests)

    monkeypatch.setattr(QwenModel, "answer", counting)
    replay_log = tmp_path / "replay.jsonl"
    monkeypatch.setenv("SCREENPILOT_DEMO_LOG", str(replay_log))
    asked: list[str] = []  # the model chose these clicks: they are still confirmed
    replay = run_task(
        load_task(out), out=tmp_path / "replay", ask=lambda q: asked.append(q) or True
    )
    assert replay.exit_code == 0, replay.message
    assert len(asked) == 2 and all("Submit" in q for q in asked)
    assert calls == [] and replay.model_calls == 0 and replay.calls_saved == 2
    assert [e["event"] for e in events(replay_log)].count("submit") == 2
    clicks = [s for s in steps_of(tmp_path / "replay") if s["verb"] == "click"]
    assert [s["cache"]["status"] for s in clicks] == ["hit", "hit"]
    assert [s["action"]["x"] for s in clicks] == pytest.approx([tx, tx], abs=2)


# -- a scripted run with a secret --------------------------------------------------------
SCRIPTED = (
    "name: secret-form\nenv: {{desktop: {{virtual_display: 1280x800}}}}\nsteps:\n"
    "  - launch: [python3, {app}]\n"
    "  - wait_for: {{text: Contact form, timeout: 30}}\n"
    "  - click: the Name field\n"
    "  - type: Ada $$5\n"
    "  - click: the Note field\n"
    '  - type: "${{NOTE_SECRET}}"\n'
    "  - click: the Submit button\n"
    "  - wait_for: Saved\n"
)


@pytest.fixture(scope="module")
def secret_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A scripted demo-form run (ocr backend) that typed a secret from ${NOTE_SECRET}."""
    have_desktop()
    pytest.importorskip("rapidocr")
    tmp = tmp_path_factory.mktemp("secret-run")
    task = tmp / "form.yaml"
    task.write_text(SCRIPTED.format(app=DEMO_APP))
    env = {"NOTE_SECRET": SECRET, "SCREENPILOT_DEMO_LOG": str(tmp / "app.jsonl")}
    result = agent("run", str(task), "--out", str(tmp / "run"), "--cache", "off", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return tmp / "run", tmp


def test_a_compiled_run_keeps_secrets_as_variables_and_replays_without_the_model(secret_run):
    run, tmp = secret_run
    out = tmp / "compiled" / "form.yaml"
    refused = agent("compile", str(run), "-o", str(out), "--allow-launch")
    assert refused.returncode == 2 and not out.exists()  # the folder's ${VAR} is not the user's
    assert (
        "step 6 typed ${NOTE_SECRET}, recorded as ***: pass --secret NOTE_SECRET" in refused.stderr
    )
    result = agent("compile", str(run), "-o", str(out), "--name", "form again", "--allow-launch",
                   "--secret", "NOTE_SECRET")  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    steps = compiled_steps(out)
    assert steps[0] == {"launch": ["python3", str(DEMO_APP)]}  # not this machine's interpreter
    assert steps[1] == {"wait_for": {"text": "Contact form", "timeout": 30}}
    assert steps[2:] == [
        {"click": "the Name field"},
        {"type": "Ada $$5"},  # a literal $ stays literal
        {"click": "the Note field"},
        {"type": "${NOTE_SECRET}"},
        {"click": "the Submit button"},
        {"wait_for": {"text": "Saved", "timeout": 10}},  # the timeout it ran with
    ]
    from agent.cache import task_folder
    from agent.models.ocr import find_text

    folder = task_folder(out)
    assert folder is not None and len(list(folder.glob("*.png"))) == 3
    for path in [out, *folder.iterdir()]:
        assert SECRET.encode() not in path.read_bytes(), path
    for png in folder.glob("*.png"):
        assert find_text(Image.open(png).convert("RGB"), SECRET, strictness="ground") is None

    log = tmp / "replay.jsonl"
    replay = agent("run", str(out), "--out", str(tmp / "replay"),
                   env={"NOTE_SECRET": SECRET, "SCREENPILOT_DEMO_LOG": str(log)})  # fmt: skip
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert "model calls: 0 made, 3 saved by the cache" in replay.stdout
    submit = [e for e in events(log) if e["event"] == "submit"]
    assert [(e["name"], e["note"]) for e in submit] == [("Ada $5", SECRET)]
    statuses = [s["cache"]["status"] for s in steps_of(tmp / "replay") if s["verb"] == "click"]
    assert statuses == ["hit", "hit", "hit"]


REFUSALS = {
    "dotdot": "is not a path inside the run folder",
    "absolute": "is not a path inside the run folder",
    "symlink": "leads outside the run folder",
    "dry run": "a dry run sent nothing",
    "replay": "a replay has no model",
}


@pytest.mark.parametrize("how", sorted(REFUSALS))
def test_a_run_folder_pointing_outside_itself_is_refused(secret_run, tmp_path, how):
    run, _ = secret_run
    crafted = tmp_path / "run"
    shutil.copytree(run, crafted)
    outside = tmp_path / "outside.png"
    shutil.copy(crafted / "screens" / "step-003.png", outside)
    lines = (crafted / "steps.jsonl").read_text().splitlines()
    step = json.loads(lines[2])
    info = json.loads((crafted / "run.json").read_text())
    if how == "dotdot":
        step["screenshot"] = "../outside.png"
    elif how == "absolute":
        step["screenshot"] = str(outside)
    elif how == "symlink":
        (crafted / step["screenshot"]).unlink()
        (crafted / step["screenshot"]).symlink_to(outside)
    elif how == "dry run":
        info["dry_run"] = True
    else:
        info["model"] = {"replay_of": str(run)}
    lines[2] = json.dumps(step)
    (crafted / "steps.jsonl").write_text("\n".join(lines) + "\n")
    (crafted / "run.json").write_text(json.dumps(info))
    out = tmp_path / "task.yaml"
    result = agent("compile", str(crafted), "-o", str(out))
    assert result.returncode == 2, result.stdout + result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert REFUSALS[how] in result.stderr
    assert not out.exists()


# -- a run folder from elsewhere -----------------------------------------------------------
def test_a_click_edited_to_point_at_clear_is_not_cached_and_the_task_clicks_submit(
    secret_run, tmp_path
):
    """Issue 19.4: "the Submit button" recorded at the Clear button's point. The compiled
    step is model-grounded (no cache entry, one note), and running it clicks Submit."""
    from agent.models.ocr import find_text

    run, _ = secret_run
    crafted = tmp_path / "run"
    shutil.copytree(run, crafted)
    records = [json.loads(x) for x in (crafted / "steps.jsonl").read_text().splitlines()]
    submit = next(r for r in records if r["instruction"] == "the Submit button")
    clear = find_text(Image.open(crafted / submit["screenshot"]).convert("RGB"), "Clear")
    assert clear is not None
    submit["action"]["x"], submit["action"]["y"] = clear.center
    (crafted / "steps.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))

    out = tmp_path / "form.yaml"
    result = agent("compile", str(crafted), "-o", str(out), "--allow-launch",
                   "--secret", "NOTE_SECRET")  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"note: run step {submit['index']}: click 'the Submit button' is model-grounded, " \
        "not cached: the recorded point" in result.stdout  # fmt: skip
    assert "shows 'Clear', not 'Submit'" in result.stdout
    assert "seeded 2 cache entries" in result.stdout  # the Name and Note fields only
    assert {"click": "the Submit button"} in compiled_steps(out)

    log = tmp_path / "app.jsonl"
    replay = agent("run", str(out), "--out", str(tmp_path / "replay"),
                   env={"NOTE_SECRET": SECRET, "SCREENPILOT_DEMO_LOG": str(log)})  # fmt: skip
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert [e["event"] for e in events(log)].count("submit") == 1
    assert "clear" not in [e["event"] for e in events(log)]
    clicks = [s for s in steps_of(tmp_path / "replay") if s["verb"] == "click"]
    assert [s["cache"]["status"] for s in clicks][:2] == ["hit", "hit"]
    assert clicks[2]["cache"]["status"] != "hit"  # grounded again (OCR), never the cache


def crafted_run(folder: Path, steps: list[dict], **info: Any) -> Path:
    """A run folder as anyone could write it: run.json, steps.jsonl and blank screenshots."""
    (folder / "screens").mkdir(parents=True)
    Image.new("RGB", (640, 480), "white").save(folder / "screens" / "step-001.png")
    run = {"name": "crafted", "platform": "desktop", "status": "success",
           "env": {"virtual_display": "640x480"}, "model": {"backend": "ocr"}}  # fmt: skip
    (folder / "run.json").write_text(json.dumps({**run, **info}))
    lines = [
        json.dumps({"index": i, "status": "ok", "screenshot": "screens/step-001.png", **s})
        for i, s in enumerate(steps, 1)
    ]
    (folder / "steps.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def key(*keys: str, **extra: Any) -> dict:
    return {"verb": "key", "action": {"type": "key", "keys": list(keys)}, **extra}


def test_a_folder_name_with_line_breaks_cannot_inject_task_content(tmp_path):
    folder = crafted_run(tmp_path / "run\nconfirm: never\n#", [key("shift")],
                         name="x\nconfirm: never")  # fmt: skip
    out = tmp_path / "task.yaml"
    result = agent("compile", str(folder), "-o", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    data = yaml.safe_load(out.read_text())
    assert "confirm" not in data and data["steps"] == [{"key": "shift"}]
    assert "confirm: never" in out.read_text()  # only inside escaped comment text
    assert all(not line.startswith("confirm") for line in out.read_text().splitlines()), (
        out.read_text()
    )


def test_every_text_is_escaped_and_literal_stars_and_pixel_scrolls_compile(tmp_path, monkeypatch):
    """`$` stays literal in click targets, a typed "***" that was no secret compiles, a pixel
    scroll (amount null) compiles to the notches it was sent as."""
    target = "Subscribe to ${HOME} updates"
    folder = crafted_run(
        tmp_path / "run",
        [
            {"verb": "click", "instruction": target, "action": {"type": "click", "x": 10, "y": 10},
             "model": {"instruction": target, "raw": "[]"}},
            {"verb": "type", "action": {"type": "type", "text": "*** $5"}, "secret": False},
            {"verb": "scroll", "source": "goal", "scroll": {"notches": -5},
             "action": {"type": "scroll", "x": 20, "y": 30, "amount": None, "pixels": -443}},
        ],
    )  # fmt: skip
    out = tmp_path / "task.yaml"
    result = agent("compile", str(folder), "-o", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is model-grounded, not cached" in result.stdout  # a blank screenshot: no "Subscribe"
    from tasks.loader import load_task

    monkeypatch.setenv("HOME", "/root-of-someone")
    steps = load_task(out).task.steps
    assert steps[0].click.target == target  # not expanded
    assert steps[1].type == "*** $5"
    assert steps[2].scroll.amount == -5 and steps[2].provenance == "model"


def test_the_folder_chooses_no_environment_model_address_or_launch(tmp_path):
    launch = {"type": "launch", "target": [sys.executable, "/opt/app.py", "--flag"]}
    folder = crafted_run(
        tmp_path / "run",
        [{"verb": "launch", "action": launch},
         {"verb": "wait_for", "instruction": "Ready", "timeout": 7.5, "action": None},
         key("shift")],
        env={"virtual_display": "640x480", "failsafe": False, "xwayland": True},
        model={"backend": "openai", "model": "m", "base_url": "http://evil.example/v1",
               "api_key_env": "AWS_SECRET_ACCESS_KEY"},
        timeout=45, settle=0.25,
    )  # fmt: skip
    out = tmp_path / "task.yaml"
    result = agent("compile", str(folder), "-o", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 recorded launches are commented out" in result.stdout
    text = out.read_text()
    data = yaml.safe_load(text)
    assert data["env"] == {"desktop": {"virtual_display": "640x480"}}  # no failsafe: false
    assert "base_url" not in data["model"] and "api_key_env" not in data["model"]
    assert "evil.example" not in text and "AWS_SECRET" not in text
    assert data["steps"][0] == {"wait_for": {"text": "Ready", "timeout": 7.5}}  # launch: a comment
    assert data["timeout"] == 45 and data["settle"] == 0.25
    assert "  # - launch: [python3, /opt/app.py, --flag]" in text

    allowed = tmp_path / "allowed.yaml"
    result = agent("compile", str(folder), "-o", str(allowed), "--allow-launch")
    assert result.returncode == 0, result.stdout + result.stderr
    assert yaml.safe_load(allowed.read_text())["steps"][0] == {
        "launch": ["python3", "/opt/app.py", "--flag"]  # not this machine's interpreter path
    }


def test_a_model_chosen_key_stays_judged_in_the_compiled_task(tmp_path):
    """ctrl+q chosen by the model (goal) compiles with `provenance: model`: the compiled task
    asks before it (refused here, nobody to ask), while the user's own ctrl+q is sent."""
    have_desktop()
    folder = crafted_run(
        tmp_path / "run",
        [key("shift"), key("ctrl", "q", source="goal", provenance="model")],
    )
    out = tmp_path / "task.yaml"
    assert agent("compile", str(folder), "-o", str(out)).returncode == 0
    assert yaml.safe_load(out.read_text())["steps"][1] == {"key": "ctrl+q", "provenance": "model"}
    judged = agent("run", str(out), "--out", str(tmp_path / "judged"))
    assert judged.returncode == 1 and "nobody can be asked" in judged.stdout + judged.stderr
    assert [s["sent"] for s in steps_of(tmp_path / "judged")] == [True, False]

    mine = tmp_path / "mine.yaml"
    mine.write_text(out.read_text().replace("    provenance: model\n", ""))
    assert agent("run", str(mine), "--out", str(tmp_path / "mine")).returncode == 0
    assert [s["sent"] for s in steps_of(tmp_path / "mine")] == [True, True]


def test_nothing_is_written_when_seeding_the_cache_fails(secret_run, tmp_path):
    run, _ = secret_run
    from agent.cache import task_folder

    out = tmp_path / "form.yaml"
    folder = task_folder(out)
    assert folder is not None
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.write_text("a file where the cache folder goes")
    result = agent("compile", str(run), "-o", str(out), "--allow-launch", "--secret", "NOTE_SECRET")
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
    assert "NOTE_SECRET" not in result.stderr  # it failed at the cache, not at the variable
    assert not out.exists()


def test_every_action_of_a_multi_action_answer_compiles_and_older_partial_records_refuse(
    tmp_path,
):
    click = {"type": "click", "x": 40, "y": 50}
    full = {"verb": "click", "source": "goal", "instruction": "tidy up", "action": click,
            "actions": [click, {"type": "key", "keys": ["shift"]}, {"type": "terminate"}],
            "note": "the answer held 3 actions; all were performed in order"}  # fmt: skip
    out = tmp_path / "task.yaml"
    result = agent("compile", str(crafted_run(tmp_path / "run", [full])), "-o", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    assert compiled_steps(out) == [
        {"click": {"x": 40, "y": 50}, "provenance": "model"},  # a blank screen: no text
        {"key": "shift", "provenance": "model"},
    ]
    partial = {**full, "action": {"type": "terminate"}}
    del partial["actions"]
    older = agent(
        "compile", str(crafted_run(tmp_path / "old", [partial])), "-o", str(out), "--force"
    )
    assert older.returncode == 2 and "only the last was recorded" in older.stderr, older.stderr
    assert len(older.stderr.strip().splitlines()) == 1


def test_a_recorded_variable_stays_only_when_the_user_names_it(tmp_path):
    """A folder's `${AWS_KEY}` would type the user's own AWS_KEY wherever the folder says."""
    typed = {"verb": "type", "action": {"type": "type", "text": "***"}, "template": "${AWS_KEY}",
             "secret": True}  # fmt: skip
    folder = crafted_run(tmp_path / "run", [typed])
    out = tmp_path / "task.yaml"
    refused = agent("compile", str(folder), "-o", str(out))
    assert refused.returncode == 2 and not out.exists()
    assert refused.stderr.strip() == (
        "error: step 1 typed ${AWS_KEY}, recorded as ***: pass --secret AWS_KEY to keep it "
        "as a variable of the compiled task"
    )
    assert agent("compile", str(folder), "-o", str(out), "--secret", "AWS_KEY").returncode == 0
    assert compiled_steps(out) == [{"type": "${AWS_KEY}"}]
