"""Run folders are untrusted input: `agent replay` and `agent report` on crafted folders.

A crafted folder is what someone could mail a user: a recorded launch of any
command, ``${HOME}`` in a typed template, screenshot paths that lead outside
the folder (``..``, absolute, a symbolic link), a report.html that is a link.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from agent.cli.main import main
from tests.conftest import need

OUTSIDE_COLOUR = (12, 34, 56)


def crafted(folder: Path, steps: list[dict], **info: object) -> Path:
    folder.mkdir(parents=True)
    (folder / "screens").mkdir()
    run = {"name": "crafted", "platform": "desktop", "env": {"virtual_display": "640x480"}}
    (folder / "run.json").write_text(json.dumps({**run, **info}))
    lines = [json.dumps({"index": i, "status": "ok", **s}) for i, s in enumerate(steps, 1)]
    (folder / "steps.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def outside_png(tmp_path: Path) -> Path:
    path = tmp_path / "private.png"
    Image.new("RGB", (32, 32), OUTSIDE_COLOUR).save(path)
    return path


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "Traceback" not in err[0], err
    return err[0]


def launch_and_home(tmp_path: Path) -> tuple[Path, Path]:
    marker = tmp_path / "launched.txt"
    folder = crafted(
        tmp_path / "run",
        [
            {"verb": "launch", "action": {"type": "launch",
                                          "target": ["/bin/sh", "-c", f"echo ran > {marker}"]}},
            {"verb": "type", "action": {"type": "type", "text": "***"}, "template": "${HOME}"},
            {"verb": "key", "action": {"type": "key", "keys": ["shift"]}},
        ],
    )  # fmt: skip
    return folder, marker


def test_replay_never_expands_a_recorded_variable_on_its_own(tmp_path, capsys) -> None:
    folder, marker = launch_and_home(tmp_path)
    assert main(["replay", str(folder), "--allow-launch"]) == 2
    line = one_error_line(capsys)
    assert "step 2 typed ${HOME}, recorded as ***: pass --secret HOME" in line
    assert not marker.exists()


def test_replay_never_launches_without_a_yes_or_allow_launch(tmp_path, capsys) -> None:
    folder, marker = launch_and_home(tmp_path)
    out = tmp_path / "replay"
    assert main(["replay", str(folder), "--secret", "HOME", "--out", str(out)]) == 2
    line = one_error_line(capsys)
    assert f"would start: /bin/sh -c echo ran > {marker}" in line and "--allow-launch" in line
    assert not marker.exists() and not out.exists()  # refused before anything began


def test_replay_with_both_permissions_runs(tmp_path, capsys) -> None:
    need(shutil.which("Xvfb") is not None, "Xvfb is not installed (apt-get install xvfb)")
    folder, marker = launch_and_home(tmp_path)
    out = tmp_path / "replay"
    code = main(["replay", str(folder), "--secret", "HOME", "--allow-launch", "--out", str(out)])
    assert code == 0, capsys.readouterr()
    assert marker.read_text().strip() == "ran"
    typed = [json.loads(x) for x in (out / "steps.jsonl").read_text().splitlines()][1]
    assert typed["action"]["text"] == "***"  # typed from the environment, recorded masked


@pytest.mark.parametrize("how", ["dotdot", "absolute", "symlink", "final"])
def test_report_and_replay_read_only_inside_the_run_folder(tmp_path, capsys, how) -> None:
    private = outside_png(tmp_path)
    step: dict = {"verb": "key", "action": {"type": "key", "keys": ["shift"]}}
    info: dict = {}
    if how == "dotdot":
        step["screenshot"] = "screens/../../private.png"
    elif how == "absolute":
        step["screenshot"] = str(private)
    elif how == "final":
        info["final_screenshot"] = "../private.png"
    folder = crafted(tmp_path / "run", [step], **info)
    if how == "symlink":
        (folder / "screens" / "step-001.png").symlink_to(private)
        step["screenshot"] = "screens/step-001.png"
        (folder / "steps.jsonl").write_text(json.dumps({"index": 1, "status": "ok", **step}))
    assert main(["report", str(folder)]) == 2
    line = one_error_line(capsys)
    assert "outside the run folder" in line or "not a path inside the run folder" in line
    assert not (folder / "report.html").exists()
    assert main(["replay", str(folder), "--dry-run"]) == 2
    one_error_line(capsys)


def test_run_json_that_is_a_link_out_is_refused(tmp_path, capsys) -> None:
    folder = crafted(tmp_path / "run", [{"verb": "key", "action": {"type": "key", "keys": ["a"]}}])
    elsewhere = tmp_path / "elsewhere.json"
    (folder / "run.json").rename(elsewhere)
    (folder / "run.json").symlink_to(elsewhere)
    assert main(["report", str(folder)]) == 2
    assert "leads outside the run folder" in one_error_line(capsys)


def test_report_replaces_a_linked_report_html_instead_of_writing_through(tmp_path, capsys) -> None:
    folder = crafted(tmp_path / "run", [{"verb": "key", "action": {"type": "key", "keys": ["a"]}}])
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (folder / "report.html").symlink_to(victim)
    assert main(["report", str(folder)]) == 0
    assert victim.read_text() == "keep me"
    report = folder / "report.html"
    assert not report.is_symlink() and "<html" in report.read_text().lower()


def test_replay_judges_recorded_actions_as_a_models(tmp_path, capsys) -> None:
    """A risky recorded key is not sent unless confirmed: the folder may not be the user's."""
    need(shutil.which("Xvfb") is not None, "Xvfb is not installed (apt-get install xvfb)")
    folder = crafted(
        tmp_path / "run",
        [
            {"verb": "key", "action": {"type": "key", "keys": ["shift"]}},
            {"verb": "key", "action": {"type": "key", "keys": ["ctrl", "q"]}},
        ],
    )
    out = tmp_path / "replay"
    assert main(["replay", str(folder), "--out", str(out)]) == 1  # nobody can be asked here
    steps = [json.loads(x) for x in (out / "steps.jsonl").read_text().splitlines()]
    assert [(s["status"], s["sent"]) for s in steps] == [("ok", True), ("denied", False)]
    assert "quits the application) and nobody can be asked" in capsys.readouterr().out

    again = tmp_path / "replay-never"
    assert main(["replay", str(folder), "--out", str(again), "--confirm", "never"]) == 0
    steps = [json.loads(x) for x in (again / "steps.jsonl").read_text().splitlines()]
    assert [(s["status"], s["sent"]) for s in steps] == [("ok", True), ("ok", True)]


def test_replay_refuses_an_unknown_confirm_mode(tmp_path, capsys) -> None:
    folder, marker = launch_and_home(tmp_path)
    assert main(["replay", str(folder), "--confirm", "sometimes"]) == 2
    assert "--confirm: 'sometimes' is not one of never, risky, always" in one_error_line(capsys)


# -- the environment is the user's, never the folder's ------------------------------------
def test_a_folders_failsafe_false_does_not_turn_the_emergency_stop_off(tmp_path, capsys) -> None:
    """The pointer is put in a corner by step 1; the fail-safe (on by default) stops step 2."""
    need(shutil.which("Xvfb") is not None, "Xvfb is not installed (apt-get install xvfb)")
    folder = crafted(
        tmp_path / "run",
        [
            {"verb": "click", "action": {"type": "click", "x": 0, "y": 0}},
            {"verb": "key", "action": {"type": "key", "keys": ["shift"]}},
        ],
        env={"virtual_display": "640x480", "failsafe": False},
    )
    out = tmp_path / "replay"
    code = main(["replay", str(folder), "--out", str(out), "--confirm", "never"])
    assert code != 0, capsys.readouterr()
    steps = [json.loads(x) for x in (out / "steps.jsonl").read_text().splitlines()]
    assert not all(s["status"] == "ok" and s["sent"] for s in steps)  # stopped, not sent
    assert steps[-1]["status"] in ("stopped", "denied", "failed")
    assert json.loads((out / "run.json").read_text())["env"]["failsafe"] is True


def test_a_secret_is_never_typed_on_the_adb_server_the_folder_names(
    adb_server, tmp_path, capsys, monkeypatch
) -> None:
    """Two adb servers: the user's (--adb-port) and the one run.json names. Only the user's
    phone gets the secret; the folder's server is never asked for anything."""
    from tests.fixtures.adb_server import AdbTestServer
    from tests.fixtures.android_device import FakeDevice

    secret = "Xq7-secret-for-adb"
    monkeypatch.setenv("REPLAY_PIN", secret)
    typed = {"verb": "type", "action": {"type": "type", "text": "***"}, "template": "${REPLAY_PIN}"}
    with AdbTestServer([FakeDevice()]) as elsewhere:
        folder = crafted(
            tmp_path / "run",
            [typed],
            platform="android",
            env={"serial": "emulator-5554", "adb_host": "127.0.0.1", "adb_port": elsewhere.port},
        )
        out = tmp_path / "replay"
        code = main(["replay", str(folder), "--secret", "REPLAY_PIN", "--out", str(out),
                     "--adb-port", str(adb_server.port)])  # fmt: skip
        assert code == 0, capsys.readouterr()
        assert adb_server.device().typed == secret
        assert elsewhere.device().typed == "" and elsewhere.requests == []


@pytest.mark.parametrize("seconds", [-1, float("nan"), 1e12, "10"])
def test_recorded_waits_outside_bounds_are_refused_before_anything_is_sent(
    tmp_path, capsys, seconds
) -> None:
    marker = tmp_path / "launched.txt"
    folder = crafted(
        tmp_path / "run",
        [
            {"verb": "launch", "action": {"type": "launch", "target": ["touch", str(marker)]}},
            {"verb": "wait", "action": {"type": "wait", "seconds": seconds}},
        ],
    )
    out = tmp_path / "replay"
    assert main(["replay", str(folder), "--allow-launch", "--out", str(out)]) == 2
    line = one_error_line(capsys)
    assert "step 2: recorded wait" in line
    assert not marker.exists() and not out.exists()


def test_a_recorded_wait_is_capped_and_the_replay_has_a_time_budget(tmp_path, capsys) -> None:
    need(shutil.which("Xvfb") is not None, "Xvfb is not installed (apt-get install xvfb)")
    folder = crafted(
        tmp_path / "run",
        [
            {"verb": "wait", "action": {"type": "wait", "seconds": 3000}},
            {"verb": "key", "action": {"type": "key", "keys": ["shift"]}},
        ],
    )
    out = tmp_path / "replay"
    assert main(["replay", str(folder), "--out", str(out), "--timeout", "2"]) == 1
    steps = [json.loads(x) for x in (out / "steps.jsonl").read_text().splitlines()]
    assert steps[0]["action"]["seconds"] <= 2 and "cut to" in steps[0]["note"]
    assert "time budget exhausted (2 s)" in capsys.readouterr().err


# -- several actions in one answer ---------------------------------------------------------
def multi_action_folder(tmp_path: Path, *, recorded_in_full: bool) -> Path:
    click = {"type": "click", "x": 40, "y": 40}
    key = {"type": "key", "keys": ["shift"]}
    step: dict = {"verb": "click", "source": "goal", "instruction": "do two things",
                  "note": "the answer held 3 actions; all were performed in order"}  # fmt: skip
    if recorded_in_full:
        step |= {"action": key, "actions": [click, key, {"type": "terminate"}]}
    else:
        step |= {"action": {"type": "terminate"}}
    return crafted(tmp_path / "run", [step])


def test_replay_sends_every_action_of_a_multi_action_answer_in_order(tmp_path, capsys) -> None:
    need(shutil.which("Xvfb") is not None, "Xvfb is not installed (apt-get install xvfb)")
    folder = multi_action_folder(tmp_path, recorded_in_full=True)
    out = tmp_path / "replay"
    assert main(["replay", str(folder), "--out", str(out)]) == 0, capsys.readouterr()
    steps = [json.loads(x) for x in (out / "steps.jsonl").read_text().splitlines()]
    assert [(s["action"]["type"], s["sent"]) for s in steps] == [("click", True), ("key", True)]


def test_a_multi_action_step_recorded_only_partly_is_refused(tmp_path, capsys) -> None:
    folder = multi_action_folder(tmp_path, recorded_in_full=False)
    out = tmp_path / "replay"
    assert main(["replay", str(folder), "--out", str(out)]) == 2
    line = one_error_line(capsys)
    assert "step 1: one answer held several actions but only the last was recorded" in line
    assert not out.exists()


# -- what the user sees --------------------------------------------------------------------
def test_replay_lines_show_the_recorded_instruction(tmp_path, capsys) -> None:
    need(shutil.which("Xvfb") is not None, "Xvfb is not installed (apt-get install xvfb)")
    folder = crafted(
        tmp_path / "run",
        [{"verb": "click", "instruction": "the Name field",
          "action": {"type": "click", "x": 300, "y": 200}}],
    )  # fmt: skip
    assert main(["replay", str(folder), "--out", str(tmp_path / "replay")]) == 0
    out = capsys.readouterr().out
    assert "click 'the Name field' -> (300, 200)" in out and "replay of step" not in out


def test_a_dry_run_does_not_succeed_where_the_real_replay_would_ask(
    tmp_path, capsys, monkeypatch
) -> None:
    """At a terminal the user would be asked about ctrl+q: the dry run says so and fails."""
    need(shutil.which("Xvfb") is not None, "Xvfb is not installed (apt-get install xvfb)")
    import agent.cli.cmd_replay as cmd_replay

    asked: list[str] = []
    monkeypatch.setattr(cmd_replay.sys.stdin, "isatty", lambda: True, raising=False)
    monkeypatch.setattr(cmd_replay, "ask_on_terminal", lambda q: asked.append(q) or True)
    folder = crafted(
        tmp_path / "run", [{"verb": "key", "action": {"type": "key", "keys": ["ctrl", "q"]}}]
    )
    code = main(["replay", str(folder), "--dry-run", "--out", str(tmp_path / "dry")])
    captured = capsys.readouterr()
    assert code == 1 and asked == [], captured
    assert "the real replay would stop or ask here" in captured.err
    assert "success" not in captured.out + captured.err


def test_a_dry_run_judges_a_click_by_its_recorded_words_when_the_app_is_not_there(
    tmp_path, capsys
) -> None:
    """A dry run starts no app, so the screen cannot show the Submit label; the recorded
    instruction still says what the click does, and the dry run stops as the real one would."""
    need(shutil.which("Xvfb") is not None, "Xvfb is not installed (apt-get install xvfb)")
    folder = crafted(
        tmp_path / "run",
        [{"verb": "click", "instruction": "the Submit button",
          "action": {"type": "click", "x": 300, "y": 200}}],
    )  # fmt: skip
    assert main(["replay", str(folder), "--dry-run", "--out", str(tmp_path / "dry")]) == 1
    captured = capsys.readouterr()
    assert "the real replay would stop or ask here" in captured.err
    steps = [json.loads(x) for x in (tmp_path / "dry" / "steps.jsonl").read_text().splitlines()]
    assert steps[0]["status"] == "denied" and "Submit" in steps[0]["error"]
