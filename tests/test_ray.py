"""`--ray` on `agent run` and `agent eval screenspot`, on a real local Ray cluster.

The cluster is started here (``ray start --head --block``, 2 CPUs, 4 ``x11``
slots, two phones ``android:emulator-5554`` and ``android:emulator-5556``, a small
object store) and reached through ``RAY_ADDRESS`` as a user's
cluster would be; it is stopped through the process this module started, by id.
The grounders are the tests' chat-completions servers on loopback speaking the
real protocol; the apps are real Tk button boards on private Xvfb displays; the
phones are the tests' adb server's (real smart-socket protocol).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import need
from tests.test_parallel_run import LABELS, clicked, presses, write_task

ROOT = Path(__file__).resolve().parents[1]
MODEL = "Qwen/Qwen2.5-VL-7B-Instruct"
RESOURCES = {"x11": 4, "android:emulator-5554": 1, "android:emulator-5556": 1}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A local Ray head node; yields its address (what RAY_ADDRESS names)."""
    import psutil

    need(importlib.util.find_spec("ray") is not None, "ray is not installed (screenpilot[ray])")
    ray_cli = Path(sys.executable).with_name("ray")
    need(ray_cli.exists(), f"no ray command next to {sys.executable}")
    port = _free_port()
    temp = Path(tempfile.mkdtemp(prefix="rt", dir="/tmp"))  # socket paths must stay short
    # Loopback only, so no token: set explicitly, Ray neither writes ~/.ray/auth_token nor
    # picks up one found there (every client below inherits the mode from os.environ).
    patch = pytest.MonkeyPatch()
    patch.setenv("RAY_AUTH_MODE", "disabled")
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS",)}
    env.update(PYTHONPATH=str(ROOT), RAY_USAGE_STATS_ENABLED="0")
    argv = [str(ray_cli), "start", "--head", "--block", f"--port={port}", "--num-cpus=2",
            f"--resources={json.dumps(RESOURCES)}", "--object-store-memory=100000000",
            "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp}",
            "--node-ip-address=127.0.0.1"]  # fmt: skip
    head = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert head.poll() is None, "ray start exited"
            probe = subprocess.run([str(ray_cli), "status", f"--address={address}"],
                                   capture_output=True, text=True, env=env)  # fmt: skip
            if probe.returncode == 0 and "x11" in probe.stdout:
                break
            assert time.monotonic() < deadline, probe.stdout + probe.stderr
            time.sleep(1)
        yield address
    finally:
        family = psutil.Process(head.pid).children(recursive=True)
        head.terminate()  # --block: the head stops every process it started
        try:
            head.wait(60)
        except subprocess.TimeoutExpired:
            head.kill()
        _, alive = psutil.wait_procs(family, timeout=30)
        for p in alive:
            p.kill()
        shutil.rmtree(temp, ignore_errors=True)
        patch.undo()


# -- agent eval screenspot --ray ----------------------------------------------------------


def _same_result(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert b["details"] == a["details"] and b["metrics"] == a["metrics"]
    assert b["run"]["fingerprint"] == a["run"]["fingerprint"]
    assert b["protocol"] == a["protocol"]
    assert [e["sample_id"] for e in b["extra"]] == [e["sample_id"] for e in a["extra"]]


def test_eval_on_ray_writes_the_plain_runs_result_and_resumes(
    cluster: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    pytest.importorskip("openai")
    from agent.cli.main import main
    from tests.made_data import made_dataset
    from tests.test_models_openai import FakeServer

    one, two = FakeServer(), FakeServer()
    base = ["eval", "screenspot", "--data", str(made_dataset()), "--backend", "openai",
            "--model", MODEL, "--concurrency", "2", "--no-progress",
            "--base-url", one.base_url, "--base-url", two.base_url]  # fmt: skip
    try:
        assert main([*base, "--limit", "12", "--out", str(tmp_path / "plain.json")]) == 0
        plain_calls = len(one.requests) + len(two.requests)
        monkeypatch.setenv("RAY_ADDRESS", cluster)
        ray_out = tmp_path / "ray.json"
        assert main([*base, "--limit", "5", "--ray", "--out", str(ray_out)]) == 0
        assert len(json.loads(ray_out.read_text())["details"]) == 5
        capsys.readouterr()
        # The same command for all 12: the 5 done are kept, only 7 are asked.
        assert main([*base, "--limit", "12", "--ray", "--out", str(ray_out)]) == 0
        out = " ".join(capsys.readouterr().out.split())
    finally:
        one.close()
        two.close()
    assert plain_calls == 12
    assert len(one.requests) + len(two.requests) == 12 + 5 + 7
    assert len(one.requests) > 6 and len(two.requests) > 6  # the shards reached both
    assert "7 now, 5 resumed" in out, out
    _same_result(json.loads((tmp_path / "plain.json").read_text()), json.loads(ray_out.read_text()))


def test_eval_on_ray_fails_as_the_plain_run_when_every_endpoint_fails(
    cluster: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    pytest.importorskip("openai")
    from agent.cli.main import main
    from tests.made_data import made_dataset
    from tests.test_models_openai import FakeServer

    broken = FakeServer()
    broken.script = lambda body, number: (400, {"error": {"message": "no such model"}}, 0.0)
    base = ["eval", "screenspot", "--data", str(made_dataset()), "--backend", "openai",
            "--model", MODEL, "--base-url", broken.base_url, "--limit", "2",
            "--no-progress"]  # fmt: skip
    try:
        plain = main([*base, "--out", str(tmp_path / "plain.json")])
        plain_err = capsys.readouterr().err.strip().splitlines()
        monkeypatch.setenv("RAY_ADDRESS", cluster)
        on_ray = main([*base, "--ray", "--out", str(tmp_path / "ray.json")])
        ray_err = capsys.readouterr().err.strip().splitlines()
    finally:
        broken.close()
    assert plain != 0 and on_ray == plain
    assert len(ray_err) == 1 and ray_err == plain_err, (plain_err, ray_err)
    assert not (tmp_path / "ray.json").exists()


def test_eval_on_ray_without_ray_address_starts_a_local_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("openai")
    need(importlib.util.find_spec("ray") is not None, "ray is not installed (screenpilot[ray])")
    import psutil

    from agent.cli.main import main
    from tests.made_data import made_dataset
    from tests.test_models_openai import FakeServer

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")  # else Ray writes a token to ~/.ray
    server = FakeServer()
    base = ["eval", "screenspot", "--data", str(made_dataset()), "--backend", "openai",
            "--model", MODEL, "--base-url", server.base_url, "--limit", "4",
            "--no-progress"]  # fmt: skip
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    try:
        assert main([*base, "--out", str(tmp_path / "plain.json")]) == 0
        assert main([*base, "--ray", "--out", str(tmp_path / "ray.json")]) == 0
    finally:
        server.close()
    assert len(server.requests) == 8
    plain, ray = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("plain", "ray"))
    _same_result(plain, ray)
    started = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
    _, alive = psutil.wait_procs(started, timeout=30)
    assert alive == []  # the local cluster is stopped with the command


# -- agent run --ray ----------------------------------------------------------------------


def _run(
    out: Path, *args: str, env: dict[str, str], terminal: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`agent run ... --out OUT`; with `terminal`, on a pseudo-terminal (the live table),
    its screen written to that file (util-linux `script`)."""
    argv = [sys.executable, "-m", "agent.cli.main", "run", *args, "--out", str(out)]
    if terminal is not None:
        argv = ["script", "-qefc", shlex.join(argv), str(terminal)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=600, env=env, cwd=ROOT)


def test_run_on_ray_a_broken_task_fails_alone_and_alone_reruns(
    cluster: str, grounding_server: Any, tmp_path: Path
) -> None:
    need(shutil.which("Xvfb") is not None, "Xvfb is not installed")
    need(shutil.which("xdotool") is not None, "xdotool is not installed")
    url = grounding_server.base_url
    tasks = [write_task(tmp_path, n, url, LABELS[n]) for n in ("alpha", "bravo")]
    tasks.append(write_task(tmp_path, "delta", url, ("Red", "Purple", "Blue")))  # no Purple
    env = {k: v for k, v in os.environ.items() if k != "SCREENPILOT_LOCATE_CACHE"}
    env["RAY_ADDRESS"] = cluster
    out = tmp_path / "out"

    need(shutil.which("script") is not None, "script (util-linux) is not installed")
    screen = tmp_path / "screen.txt"
    first = _run(out, *map(str, tasks), "--workers", "2", "--ray", env=env, terminal=screen)
    assert first.returncode == 1, first.stdout + first.stderr
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.read_text(errors="replace"))
    for name in ("alpha", "bravo"):  # the live table showed the steps as the node ran them
        steps = {int(m) for m in re.findall(rf"│ {name} +│ \d +│ (\d+) +│ running", shown)}
        assert steps and max(steps) >= 3, (name, steps)
    for name in ("alpha", "bravo"):  # exactly its own three clicks, in order
        assert clicked(tmp_path / f"{name}.jsonl") == [f"{name}-{x.lower()}" for x in LABELS[name]]
    assert clicked(tmp_path / "delta.jsonl") == ["delta-red"]  # stopped at Purple
    rows = json.loads((out / "summary.json").read_text())
    assert [r["name"] for r in rows] == ["alpha", "bravo", "delta"]
    assert [r["status"] for r in rows] == ["success", "success", "failed"]
    assert [r["task"] for r in rows] == [str(t) for t in tasks]
    assert [r["model_calls"] for r in rows] == [3, 3, 2]
    assert "Purple" in rows[2]["message"]
    for row in rows:  # the run folders came back from the node, under OUT/<task>
        run_dir = Path(row["run_dir"])
        assert run_dir == out / row["name"]
        info = json.loads((run_dir / "run.json").read_text())
        assert info["status"] == row["status"] and (run_dir / "report.html").exists()
        assert (out / "logs" / f"{row['name']}.log").exists()
    displays = {json.loads((out / r["name"] / "run.json").read_text())["env"]["display"]
                for r in rows}  # fmt: skip
    assert len(displays) == 3  # each task on a private screen of its own
    assert "2/3 succeeded" in shown

    write_task(tmp_path, "delta", url, LABELS["delta"])  # fixed; the same command again
    second = _run(out, *map(str, tasks), "--workers", "2", "--ray", env=env)
    assert second.returncode == 0, second.stdout + second.stderr
    for name in ("alpha", "bravo"):
        assert presses(tmp_path / f"{name}.jsonl") == 3, name  # not run again
    assert clicked(tmp_path / "delta.jsonl") == ["delta-red", "delta-red", "delta-green",
                                                 "delta-blue"]  # fmt: skip
    assert [r["status"] for r in json.loads((out / "summary.json").read_text())] == ["success"] * 3
    assert (out / ".attempts" / "delta.1" / "run.json").exists()  # the failed try kept
    assert "3/3 succeeded" in second.stdout


def test_ctrl_c_on_ray_marks_started_runs_interrupted_and_leaves_nothing(
    cluster: str, grounding_server: Any, tmp_path: Path
) -> None:
    import signal

    import psutil

    from tests.fixtures.run_logs import events

    need(shutil.which("Xvfb") is not None, "Xvfb is not installed")
    tasks = []
    for name in ("alpha", "bravo"):  # each shows its board, then waits for what never comes
        path = write_task(tmp_path, name, grounding_server.base_url, ())
        path.write_text(path.read_text() + "  - wait_for: {text: Nowhere, timeout: 300}\n")
        tasks.append(path)
    env = {k: v for k, v in os.environ.items() if k != "SCREENPILOT_LOCATE_CACHE"}
    env["RAY_ADDRESS"] = cluster
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "agent.cli.main", "run", *map(str, tasks), "--workers", "2",
            "--ray", "--out", str(out)]  # fmt: skip
    parent = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env, cwd=ROOT)  # fmt: skip
    deadline = time.monotonic() + 120
    while not all(any(e["event"] == "ready" for e in events(tmp_path / f"{n}.jsonl"))
                  for n in ("alpha", "bravo")):  # fmt: skip
        assert parent.poll() is None, parent.communicate()
        assert time.monotonic() < deadline, "the boards never came up"
        time.sleep(0.2)
    time.sleep(8)  # into the wait (see tests/test_parallel_run.py)

    def ours() -> list[psutil.Process]:  # the tasks' children and apps, on the cluster's node
        found = []
        for p in psutil.process_iter(["cmdline"]):
            if p.pid != parent.pid and str(tmp_path) in " ".join(p.info["cmdline"] or ()):
                found.append(p)
        return found

    assert ours(), "no task process found"
    parent.send_signal(signal.SIGINT)
    _, stderr = parent.communicate(timeout=120)
    assert parent.returncode == 130, stderr
    for name in ("alpha", "bravo"):
        info = json.loads((out / name / "run.json").read_text())
        assert info["status"] == "interrupted" and (out / name / "report.html").exists()
    rows = json.loads((out / "summary.json").read_text())
    assert [(r["name"], r["status"]) for r in rows] == [("alpha", "error"), ("bravo", "error")]
    _, alive = psutil.wait_procs(ours(), timeout=30)
    assert alive == [], alive


def test_android_tasks_on_ray_go_one_per_phone_to_the_node_that_declares_it(
    cluster: str, adb_server: Any, grounding_server: Any, tmp_path: Path
) -> None:
    """Four phone tasks over the two declared phones, beside a desktop task on a display."""
    from tests.test_parallel_limits import phone_tasks, turns

    need(shutil.which("Xvfb") is not None, "Xvfb is not installed")
    need(shutil.which("xdotool") is not None, "xdotool is not installed")
    adb_server.devices = []
    first = adb_server.add_device("emulator-5554")
    second = adb_server.add_device("emulator-5556")
    other = adb_server.add_device("emulator-5558")  # attached, but no node declares it
    tasks = phone_tasks(tmp_path, adb_server.port, 4)
    desk = write_task(tmp_path, "alpha", grounding_server.base_url, LABELS["alpha"])
    env = {k: v for k, v in os.environ.items() if k not in ("ANDROID_SERIAL", "DISPLAY")}
    env["RAY_ADDRESS"] = cluster
    env.pop("SCREENPILOT_LOCATE_CACHE", None)
    out = tmp_path / "out"
    result = _run(out, *map(str, [*tasks[:2], desk, *tasks[2:]]), "--workers", "4", "--ray",
                  env=env)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    on_first, on_second = turns(first), turns(second)  # whole turns: never two on one phone
    assert sorted(on_first + on_second) == [1, 2, 3, 4]  # each task once, on one phone
    assert on_first and on_second  # both phones worked
    assert other.events == []
    assert clicked(tmp_path / "alpha.jsonl") == [f"alpha-{x.lower()}" for x in LABELS["alpha"]]
    rows = json.loads((out / "summary.json").read_text())
    assert [r["name"] for r in rows] == ["phone1", "phone2", "alpha", "phone3", "phone4"]
    assert [r["status"] for r in rows] == ["success"] * 5
    assert [r["model_calls"] for r in rows] == [0, 0, 3, 0, 0]
    for row in rows:  # the run folders came back from the node
        info = json.loads((out / row["name"] / "run.json").read_text())
        assert info["status"] == "success" and (out / row["name"] / "report.html").exists()

    # A phone no node declares: one line, exit 2, no tap sent.
    only = _run(tmp_path / "out2", str(tasks[0]), "--ray", "--android", "emulator-5558", env=env)
    assert only.returncode == 2, only.stdout + only.stderr
    lines = only.stderr.strip().splitlines()
    assert len(lines) == 1 and "declares a phone (emulator-5558)" in lines[0], only.stderr
    assert other.events == [] and len(turns(first) + turns(second)) == 4
    assert not (tmp_path / "out2" / "phone1").exists()


def test_android_tasks_on_a_local_ray_cluster_use_the_phones_adb_lists(
    adb_server: Any, tmp_path: Path
) -> None:
    """Without RAY_ADDRESS the command's own cluster declares this machine's ready phones."""
    need(importlib.util.find_spec("ray") is not None, "ray is not installed (screenpilot[ray])")
    from tests.test_parallel_limits import phone_tasks, turns

    adb_server.devices = []
    first = adb_server.add_device("emulator-5554")
    second = adb_server.add_device("emulator-5556")
    locked = adb_server.add_device("emulator-5558", state="unauthorized")
    tasks = phone_tasks(tmp_path, adb_server.port, 2)
    env = {k: v for k, v in os.environ.items()
           if k not in ("ANDROID_SERIAL", "DISPLAY", "RAY_ADDRESS")}  # fmt: skip
    env.update(ANDROID_ADB_SERVER_PORT=str(adb_server.port), RAY_AUTH_MODE="disabled")
    result = _run(tmp_path / "out", *map(str, tasks), "--workers", "2", "--ray", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(turns(first) + turns(second)) == [1, 2]
    assert turns(first) and turns(second)  # two workers, two phones: one task each
    assert locked.events == []
    rows = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert [r["status"] for r in rows] == ["success"] * 2


# -- without ray --------------------------------------------------------------------------


def test_ray_without_ray_installed_is_one_line_exit_2_and_nothing_sent(
    grounding_server: Any, tmp_path: Path
) -> None:
    shim = tmp_path / "shim" / "ray"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text("raise ImportError('no ray here')\n")
    env = {**os.environ, "PYTHONPATH": f"{shim.parent}{os.pathsep}{ROOT}"}
    task = write_task(tmp_path, "alpha", grounding_server.base_url, LABELS["alpha"])
    runs = [
        _run(tmp_path / "out", str(task), "--ray", env=env),
        subprocess.run(
            [sys.executable, "-m", "agent.cli.main", "eval", "screenspot", "--data",
             str(tmp_path), "--out", str(tmp_path / "r.json"), "--backend", "openai",
             "--base-url", grounding_server.base_url, "--ray"],
            capture_output=True, text=True, timeout=120, env=env, cwd=ROOT,
        ),
    ]  # fmt: skip
    for done in runs:
        assert done.returncode == 2, done.stdout + done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "pip install 'screenpilot[ray]'" in lines[0], done.stderr
    assert not (tmp_path / "alpha.jsonl").exists()  # the app was never launched
    assert not (tmp_path / "out").exists() and not (tmp_path / "r.json").exists()
    assert grounding_server.calls == 0


def test_ray_eval_needs_served_endpoints_one_line_exit_2(tmp_path: Path, capsys) -> None:
    need(importlib.util.find_spec("ray") is not None, "ray is not installed (screenpilot[ray])")
    from agent.cli.main import main

    code = main(["eval", "screenspot", "--data", str(tmp_path), "--out",
                 str(tmp_path / "r.json"), "--backend", "qwen", "--ray"])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--backend openai --base-url" in err[0], err
    assert not (tmp_path / "r.json").exists()


@pytest.mark.parametrize(
    "name",
    ["../escape.txt", "/etc/passwd-copy", "a/../../x", "", ".", "a//b", "a\\..\\x", "a/./b"],
)
def test_a_run_folder_from_a_node_writes_nothing_outside_its_folder(tmp_path: Path, name) -> None:
    from agent.parallel.ray_cluster import unpack

    folder = tmp_path / "out" / "task"
    with pytest.raises(ValueError):
        unpack({"run.json": b"{}", name: b"x"}, folder)
    assert not folder.exists()  # nothing written, not even the good file
    assert sorted(p.name for p in tmp_path.rglob("*")) == []


def test_a_run_folder_from_a_node_is_size_bound_and_goes_through_no_link(tmp_path: Path) -> None:
    from agent.parallel.ray_cluster import pack, unpack

    with pytest.raises(ValueError, match="bytes"):
        unpack({"a.png": b"x" * 10, "b.png": b"y" * 10}, tmp_path / "big", limit=15)
    assert not (tmp_path / "big").exists()
    outside = tmp_path / "outside"
    outside.mkdir()
    folder = tmp_path / "task"
    folder.mkdir()
    (folder / "steps").symlink_to(outside)  # a link already there is not followed
    with pytest.raises(ValueError, match="refused"):
        unpack({"run.json": b"{}", "steps/1.png": b"png"}, folder)
    assert list(outside.iterdir()) == [] and not (folder / "run.json").exists()
    source = tmp_path / "src"
    (source / "steps").mkdir(parents=True)
    (source / "run.json").write_text("{}")
    (source / "steps" / "1.png").write_bytes(b"png")
    (source / "link").symlink_to(outside)
    assert pack(source) == {"run.json": b"{}", "steps/1.png": b"png"}  # links not followed


def test_an_unreachable_ray_address_is_one_line_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    need(importlib.util.find_spec("ray") is not None, "ray is not installed (screenpilot[ray])")
    from agent.cli.main import main

    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{_free_port()}")  # nobody listens there
    task = tmp_path / "t.yaml"
    task.write_text("name: t\nenv: {desktop: {virtual_display: 800x600}}\nsteps:\n  - wait: 1\n")
    assert main(["run", str(task), "--ray", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot reach RAY_ADDRESS=127.0.0.1:" in err[0], err
    assert not (tmp_path / "out" / "t").exists()


def test_a_desktop_task_on_the_real_display_is_refused_under_ray_one_line_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    need(importlib.util.find_spec("ray") is not None, "ray is not installed (screenpilot[ray])")
    from agent.cli.main import main

    monkeypatch.setenv("DISPLAY", ":99")  # a user's screen: no cluster node has it
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{_free_port()}")  # never reached
    task = tmp_path / "t.yaml"
    task.write_text("name: t\nenv: {desktop: {}}\nsteps:\n  - wait: 1\n")
    assert main(["run", str(task), "--ray", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--virtual-display WxH" in err[0], err
    assert not (tmp_path / "out").exists()
