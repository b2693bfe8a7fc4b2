"""`agent run A B C D --workers 4 --out DIR`: four real Tk apps on four private displays.

Each task file launches its own button board (tests/apps/button_board.py) on
the private Xvfb its own `agent run` child starts, and clicks three of its
buttons, grounded by a chat-completions server on loopback that speaks the
real protocol (tests/fixtures/grounding_server.py). What reached each app is
read from that app's own log, so a click that went to another task's screen
would show.
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

from tests.conftest import need
from tests.fixtures.run_logs import events, steps_of

ROOT = Path(__file__).resolve().parents[1]
BOARD = ROOT / "tests" / "apps" / "button_board.py"
LABELS = {
    "alpha": ("Save", "Open", "Close"),
    "bravo": ("Copy", "Paste", "Print"),
    "charlie": ("North", "South", "East"),
    "delta": ("Red", "Green", "Blue"),
}
TASK = """name: {name}
env: {{desktop: {{virtual_display: 800x600}}}}
model: {{backend: openai, base_url: '{url}', model: Qwen/Qwen2.5-VL-7B-Instruct, timeout: 120}}
settle: 0.3
steps:
  - launch: {launch}
  - wait_for: {{text: {first}, timeout: 30}}
{clicks}"""


def write_task(folder: Path, name: str, url: str, targets: tuple[str, ...]) -> Path:
    """A task that launches its own board (its log: NAME.jsonl) and clicks `targets`."""
    labels = LABELS[name]
    launch = [sys.executable, str(BOARD), str(folder / f"{name}.jsonl")]
    for label in labels:
        launch += ["--button", f"{name}-{label.lower()}={label}"]
    clicks = "".join(f"  - click: the {t} button\n" for t in targets)
    path = folder / f"{name}.yaml"
    path.write_text(
        TASK.format(name=name, url=url, launch=json.dumps(launch), first=labels[0], clicks=clicks)
    )
    return path


def clicked(log: Path) -> list[str]:
    return [e["name"] for e in events(log) if e["event"] == "button"]


def presses(log: Path) -> int:
    return sum(e["event"] == "press" for e in events(log))


@pytest.fixture
def batch(grounding_server: Any, tmp_path: Path) -> Any:
    need(shutil.which("Xvfb") is not None, "Xvfb is not installed")
    need(shutil.which("xdotool") is not None, "xdotool is not installed")

    class Batch:
        server = grounding_server
        out = tmp_path / "out"

        def run(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
            env = {k: v for k, v in os.environ.items() if k != "SCREENPILOT_LOCATE_CACHE"}
            argv = [sys.executable, "-m", "agent.cli.main", "run", *args, "--out", str(self.out)]
            return subprocess.run(
                argv, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT
            )

        def summary(self) -> list[dict[str, Any]]:
            return json.loads((self.out / "summary.json").read_text())

    return Batch()


def test_four_tasks_on_four_displays_a_broken_one_fails_alone_and_alone_reruns(
    batch: Any, tmp_path: Path
) -> None:
    url = batch.server.base_url
    tasks = [write_task(tmp_path, n, url, LABELS[n]) for n in ("alpha", "bravo", "charlie")]
    broken = write_task(tmp_path, "delta", url, ("Red", "Purple", "Blue"))  # no Purple button
    tasks.append(broken)

    first = batch.run(*map(str, tasks), "--workers", "4")
    assert first.returncode == 1, first.stdout + first.stderr
    for name in ("alpha", "bravo", "charlie"):  # exactly its own three clicks, in order
        log = tmp_path / f"{name}.jsonl"
        assert clicked(log) == [f"{name}-{x.lower()}" for x in LABELS[name]], name
        assert presses(log) == 3, name
    assert clicked(tmp_path / "delta.jsonl") == ["delta-red"]  # stopped at Purple

    rows = batch.summary()
    assert [r["name"] for r in rows] == ["alpha", "bravo", "charlie", "delta"]
    assert [r["status"] for r in rows] == ["success", "success", "success", "failed"]
    assert [r["task"] for r in rows] == [str(t) for t in tasks]
    assert [r["model_calls"] for r in rows] == [3, 3, 3, 2]
    assert "Purple" in rows[3]["message"]
    for row in rows:
        run_dir = Path(row["run_dir"])
        assert run_dir == batch.out / row["name"]
        info = json.loads((run_dir / "run.json").read_text())
        assert info["status"] == row["status"] and (run_dir / "report.html").exists()
        assert len(steps_of(run_dir)) == (5 if row["name"] != "delta" else 4)
        assert row["seconds"] > 0
    displays = {
        json.loads((Path(r["run_dir"]) / "run.json").read_text())["env"]["display"] for r in rows
    }
    assert len(displays) == 4  # four private screens
    assert batch.server.calls == 11
    assert "3/4 succeeded" in first.stdout

    # Fixed, then the same command again: only delta runs.
    write_task(tmp_path, "delta", url, LABELS["delta"])
    second = batch.run(*map(str, tasks), "--workers", "4")
    assert second.returncode == 0, second.stdout + second.stderr
    assert batch.server.calls == 13  # Green and Blue: Red comes from delta's locate cache
    for name in ("alpha", "bravo", "charlie"):
        assert presses(tmp_path / f"{name}.jsonl") == 3, name  # not run again
    assert clicked(tmp_path / "delta.jsonl") == ["delta-red", "delta-red", "delta-green",
                                                 "delta-blue"]  # fmt: skip
    rows = batch.summary()
    assert [r["status"] for r in rows] == ["success"] * 4
    assert (batch.out / ".attempts" / "delta.1" / "run.json").exists()  # the failed try kept
    assert "4/4 succeeded" in second.stdout


def start_waiting_batch(batch: Any, tmp_path: Path) -> tuple[subprocess.Popen[str], list[Any]]:
    """Two tasks that show their board and then wait for a text that never comes."""
    import psutil

    url = batch.server.base_url
    tasks = []
    for name in ("alpha", "bravo"):
        path = write_task(tmp_path, name, url, ())
        path.write_text(path.read_text() + "  - wait_for: {text: Nowhere, timeout: 300}\n")
        tasks.append(path)
    env = {k: v for k, v in os.environ.items() if k != "SCREENPILOT_LOCATE_CACHE"}
    argv = [sys.executable, "-m", "agent.cli.main", "run", *map(str, tasks), "--workers", "2",
            "--out", str(batch.out)]  # fmt: skip
    parent = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env, cwd=ROOT)  # fmt: skip
    deadline = __import__("time").monotonic() + 120
    while not all(any(e["event"] == "ready" for e in events(tmp_path / f"{n}.jsonl"))
                  for n in ("alpha", "bravo")):  # fmt: skip
        assert parent.poll() is None, parent.communicate()
        assert __import__("time").monotonic() < deadline, "the boards never came up"
        __import__("time").sleep(0.2)
    # Into the wait: a Ctrl-C while rapidocr reads its config comes out as an omegaconf error.
    __import__("time").sleep(8)
    family = psutil.Process(parent.pid).children(recursive=True)
    names = {p.name() for p in family}
    assert "Xvfb" in names, names  # each child's private display, and its app, are below
    return parent, family


def gone(family: list[Any], within: float = 30.0) -> list[str]:
    import psutil

    _, alive = psutil.wait_procs(family, timeout=within)
    return [f"{p.pid} {p.name()}" for p in alive]


def test_ctrl_c_marks_every_started_run_interrupted_and_leaves_nothing(batch, tmp_path) -> None:
    import signal

    parent, family = start_waiting_batch(batch, tmp_path)
    parent.send_signal(signal.SIGINT)
    _, stderr = parent.communicate(timeout=120)
    assert parent.returncode == 130, stderr
    for name in ("alpha", "bravo"):
        info = json.loads((batch.out / name / "run.json").read_text())
        assert info["status"] == "interrupted" and (batch.out / name / "report.html").exists()
    rows = batch.summary()
    assert [(r["name"], r["status"]) for r in rows] == [("alpha", "error"), ("bravo", "error")]
    assert all("interrupted" in r["message"] for r in rows)
    assert gone(family) == []


def test_a_killed_parent_leaves_no_display_app_or_child(batch, tmp_path) -> None:
    parent, family = start_waiting_batch(batch, tmp_path)
    parent.kill()
    parent.wait(30)
    assert gone(family) == []


def test_four_workers_on_one_task_file_share_its_locate_cache_safely(batch, tmp_path) -> None:
    task = write_task(tmp_path, "alpha", batch.server.base_url, LABELS["alpha"])
    first = batch.run(*[str(task)] * 4, "--workers", "4")
    assert first.returncode == 0, first.stdout + first.stderr
    rows = batch.summary()
    assert [r["name"] for r in rows] == ["alpha", "alpha-2", "alpha-3", "alpha-4"]
    assert [r["status"] for r in rows] == ["success"] * 4
    env = {k: v for k, v in os.environ.items() if k != "SCREENPILOT_LOCATE_CACHE"}
    shown = subprocess.run([sys.executable, "-m", "agent.cli.main", "cache", "show", str(task)],
                           capture_output=True, text=True, cwd=ROOT, env=env)  # fmt: skip
    assert shown.returncode == 0 and "3 entries" in shown.stdout, shown.stdout + shown.stderr

    calls = batch.server.calls
    again = batch.run(*[str(task)] * 4, "--workers", "4", "--restart")
    assert again.returncode == 0, again.stdout + again.stderr
    assert batch.server.calls == calls  # every click now comes from the shared cache
    assert [r["model_calls"] for r in batch.summary()] == [0] * 4
    counts = __import__("collections").Counter(clicked(tmp_path / "alpha.jsonl"))  # 4 apps, 1 log
    assert counts == {"alpha-save": 8, "alpha-open": 8, "alpha-close": 8}


def test_runs_spread_their_requests_over_several_endpoints(batch, tmp_path) -> None:
    from tests.fixtures.grounding_server import GroundingServer

    second = GroundingServer()
    try:
        tasks = [write_task(tmp_path, n, "http://127.0.0.1:9/v1", LABELS[n]) for n in LABELS]
        urls = ["--base-url", batch.server.base_url, "--base-url", second.base_url]
        result = batch.run(*map(str, tasks), "--workers", "4", "--cache", "off", *urls)
        assert result.returncode == 0, result.stdout + result.stderr
    finally:
        second.close()
    # Each task's three requests go round the two endpoints: both serve every task.
    assert batch.server.calls + second.calls == 12
    assert batch.server.calls >= 4 and second.calls >= 4
    for name, labels in LABELS.items():
        assert clicked(tmp_path / f"{name}.jsonl") == [f"{name}-{x.lower()}" for x in labels]


def test_a_bad_task_file_stops_the_batch_before_anything_runs(tmp_path) -> None:
    good = write_task(tmp_path, "alpha", "http://127.0.0.1:9/v1", LABELS["alpha"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nsteps:\n  - clik: the Save button\n")
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "agent.cli.main", "run", str(good), str(bad), "--workers", "2",
            "--out", str(out)]  # fmt: skip
    result = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0] and "Traceback" not in result.stderr
    assert not out.exists() and not (tmp_path / "alpha.jsonl").exists()  # nothing ran

    out.mkdir()
    (out / "summary.json").write_text('{"not": "a list"}')
    result = subprocess.run([*argv[:5], *argv[6:]], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2 and "summary.json: not a batch summary" in result.stderr
    assert not (tmp_path / "alpha.jsonl").exists()


def test_workers_with_a_local_model_share_one_served_copy(batch, tmp_path, trained_qwen_dir):
    import psutil

    tasks = []
    for name in ("alpha", "bravo"):
        path = write_task(tmp_path, name, "unused", LABELS[name][:1])
        text = path.read_text().splitlines()
        text[2] = f"model: {{backend: qwen, model: '{trained_qwen_dir}'}}"
        # The tiny model always answers one fixed point: a window over the whole screen gets it.
        whole = '.jsonl", "--geometry", "800x600+0+0"'
        path.write_text("\n".join(text).replace('.jsonl"', whole) + "\n")
        tasks.append(path)
    result = batch.run(*map(str, tasks), "--workers", "2", "--cache", "off")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"starting one model server for the workers: {trained_qwen_dir}" in result.stdout
    rows = batch.summary()
    assert [(r["status"], r["model_calls"]) for r in rows] == [("success", 1), ("success", 1)]
    for row in rows:  # each worker was a client of the server, not a second copy
        info = json.loads((Path(row["run_dir"]) / "run.json").read_text())
        assert info["model"]["backend"] == "openai" and info["model"]["base_url"].startswith(
            "http://127.0.0.1:"
        )
    for name in ("alpha", "bravo"):
        assert presses(tmp_path / f"{name}.jsonl") == 1, name  # its own click, on its own screen
    argvs = [p.info["cmdline"] or [] for p in psutil.process_iter(["cmdline"])]
    left = [a for a in argvs if "serve" in a and str(trained_qwen_dir) in a]
    assert left == []  # the server stopped with the batch
