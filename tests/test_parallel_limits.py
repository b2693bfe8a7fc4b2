"""`agent run A B C ... --workers N`: a hung task is stopped alone, and Android tasks are
spread over the phones, one task per phone at a time.

The hang: a task whose grounding server never answers (its own `agent run`
child is stuck in the model call, past its time budget) beside two that click
their real Tk boards (see tests/test_parallel_run.py). The phones: the tests'
adb server (real smart-socket protocol) with two attached phones and one
unauthorized; each phone records the taps that reached it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from tests.fixtures.grounding_server import GroundingServer
from tests.test_parallel_run import LABELS, ROOT, batch, clicked, gone, presses, write_task

__all__ = ["batch"]  # the fixture, shared with tests/test_parallel_run.py


class NeverAnswers(GroundingServer):
    """A model server that takes every request and never answers (until closed)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.asked = threading.Event()
        # Released at close, its client long gone: the broken pipe is expected, not news.
        self.httpd.handle_error = lambda request, address: None  # type: ignore[method-assign]

    def completion(self, body: dict[str, Any]) -> dict[str, Any]:
        self.asked.set()
        self.release.wait(600)
        return super().completion(body)

    def close(self) -> None:
        self.release.set()
        super().close()


HUNG_TASK = """name: charlie
env: {{desktop: {{virtual_display: 800x600}}}}
model: {{backend: openai, base_url: '{url}', model: Qwen/Qwen2.5-VL-7B-Instruct, timeout: 120}}
timeout: 15
steps:
  - click: the North button
"""


def test_a_task_hung_past_its_budget_is_stopped_and_the_others_succeed(
    batch: Any, tmp_path: Path
) -> None:
    stuck = NeverAnswers()
    try:
        tasks = [
            write_task(tmp_path, n, batch.server.base_url, LABELS[n]) for n in ("alpha", "bravo")
        ]
        # A 15 s budget; the model client would wait 120 s (and retry) for its answer.
        hung = tmp_path / "charlie.yaml"
        hung.write_text(HUNG_TASK.format(url=stuck.base_url))
        os.environ["SCREENPILOT_HANG_GRACE"] = "5"
        try:
            result = batch.run(*map(str, [tasks[0], hung, tasks[1]]), "--workers", "3")
        finally:
            del os.environ["SCREENPILOT_HANG_GRACE"]
        assert stuck.asked.is_set(), result.stdout + result.stderr  # it hung in the model call
    finally:
        stuck.close()
    assert result.returncode == 1, result.stdout + result.stderr
    rows = {r["name"]: r for r in batch.summary()}
    assert [rows[n]["status"] for n in ("alpha", "charlie", "bravo")] == ["success", "error",
                                                                         "success"]  # fmt: skip
    assert rows["charlie"]["message"].startswith("timed out after 20 s"), rows["charlie"]
    info = json.loads((Path(rows["charlie"]["run_dir"]) / "run.json").read_text())
    assert info["status"] == "interrupted"  # stopped with SIGINT: its folder is complete
    assert (Path(rows["charlie"]["run_dir"]) / "report.html").exists()
    for name in ("alpha", "bravo"):  # the others: exactly their own clicks
        assert clicked(tmp_path / f"{name}.jsonl") == [f"{name}-{x.lower()}" for x in LABELS[name]]
        assert presses(tmp_path / f"{name}.jsonl") == 3
    assert "2/3 succeeded" in result.stdout


PHONE_TASK = """name: {name}
env: {{android: {{adb_host: 127.0.0.1, adb_port: {port}}}}}
settle: 0
steps:
  - click: [11, {n}]
  - wait: 1.5
  - click: [22, {n}]
"""


def phone_tasks(folder: Path, port: int, count: int) -> list[Path]:
    """Tasks that tap (11, n) on arrival and (22, n) when done: a phone's taps show whose
    turn it was, and an overlap of two tasks on one phone would interleave them."""
    paths = []
    for n in range(1, count + 1):
        path = folder / f"phone{n}.yaml"
        path.write_text(PHONE_TASK.format(name=f"phone{n}", port=port, n=n))
        paths.append(path)
    return paths


def turns(device: Any) -> list[int]:
    """The tasks that ran on `device`, in order; fails when two overlapped on it."""
    taps = [(int(x), int(y)) for kind, x, y, *_ in device.events if kind == "tap"]
    assert len(taps) % 2 == 0, taps
    pairs = [taps[i : i + 2] for i in range(0, len(taps), 2)]
    assert all(a == (11, b[1]) and b == (22, a[1]) for a, b in pairs), taps  # whole turns
    return [a[1] for a, _ in pairs]


def run_batch(out: Path, *args: str, port: int | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("ANDROID_SERIAL", "DISPLAY")}
    if port is not None:
        env["ANDROID_ADB_SERVER_PORT"] = str(port)
    argv = [sys.executable, "-m", "agent.cli.main", "run", *args, "--out", str(out)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=600, env=env, cwd=ROOT)


def test_android_tasks_spread_over_the_given_phones_one_task_per_phone(
    adb_server: Any, tmp_path: Path
) -> None:
    adb_server.devices = []
    first = adb_server.add_device("emulator-5554")
    second = adb_server.add_device("emulator-5556")
    other = adb_server.add_device("emulator-5558")  # attached, but not given
    tasks = phone_tasks(tmp_path, adb_server.port, 4)
    result = run_batch(tmp_path / "out", *map(str, tasks), "--workers", "4",
                       "--android", "emulator-5554", "--android", "emulator-5556")  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    on_first, on_second = turns(first), turns(second)
    assert sorted(on_first + on_second) == [1, 2, 3, 4]  # each task once, on one phone
    assert on_first and on_second  # both phones worked
    assert other.events == []
    rows = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert [r["status"] for r in rows] == ["success"] * 4


def test_without_android_serials_tasks_go_to_every_ready_phone_adb_lists(
    adb_server: Any, tmp_path: Path
) -> None:
    adb_server.devices = []
    first = adb_server.add_device("emulator-5554")
    second = adb_server.add_device("emulator-5556")
    locked = adb_server.add_device("emulator-5558", state="unauthorized")
    env = {**os.environ, "ANDROID_ADB_SERVER_PORT": str(adb_server.port)}
    argv = [sys.executable, "-m", "agent.cli.main", "devices", "--json"]
    listed = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
    (phones,) = [s for s in json.loads(listed.stdout) if s["title"].startswith("android")]
    ready = [row[0] for row in phones["rows"] if row[1] == "device"]
    assert ready == ["emulator-5554", "emulator-5556"], phones  # what `agent devices` lists
    tasks = phone_tasks(tmp_path, adb_server.port, 2)
    result = run_batch(tmp_path / "out", *map(str, tasks), "--workers", "2", port=adb_server.port)
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(turns(first) + turns(second)) == [1, 2]
    assert turns(first) and turns(second)  # two workers, two phones: one task each
    assert locked.events == []  # an unauthorized phone gets no task


def test_a_hung_child_that_ignores_sigint_is_killed(tmp_path: Path, monkeypatch: Any) -> None:
    """The SIGKILL half of the hang limit: a child deaf to SIGINT (stuck in C code, say)
    is killed after the interrupt grace, and with it what it started (its process group)."""
    import psutil

    from agent.parallel import batch as batch_module

    monkeypatch.setattr(batch_module, "INTERRUPT_GRACE_SECONDS", 1.0)
    pid_file = tmp_path / "grandchild.pid"
    deaf = (
        "import pathlib, signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        "kid = subprocess.Popen([sys.executable, '-c', 'import signal, time; "
        "signal.signal(signal.SIGINT, signal.SIG_IGN); time.sleep(600)'])\n"
        f"pathlib.Path({str(pid_file)!r}).write_text(str(kid.pid))\n"
        "print('[ 1] waiting', flush=True)\n"
        "time.sleep(600)\n"
    )

    class Deaf(batch_module.Batch):
        def _argv(self, task: batch_module.Planned) -> list[str]:
            return [sys.executable, "-c", deaf]  # in place of an `agent run` child

    out = tmp_path / "out"
    out.mkdir()
    task = batch_module.Planned(path=tmp_path / "deaf.yaml", name="deaf", run_dir=out / "deaf",
                                platform="desktop", own_display=True, timeout=2.0)  # fmt: skip
    runner = Deaf([task], workers=1, child_args=[], serials=[], out=out)
    assert runner.run() is False
    assert task.result is not None and task.result.status == "error"
    assert task.result.message.startswith("timed out after 2 s"), task.result.message
    assert task.step == 1  # it had started
    try:
        grandchild = [psutil.Process(int(pid_file.read_text()))]
    except psutil.NoSuchProcess:
        grandchild = []
    assert gone(grandchild, 10) == []  # SIGKILL went to its whole process group


def test_resize_pil_keeps_torch_out_of_a_worker() -> None:
    """Workers of a served model get SCREENPILOT_RESIZE=pil (agent.parallel.shared_model):
    torch (~0.5 GB RSS each) stays out of them; the screenshot still gets its exact size."""
    probe = (
        "import sys\n"
        "from PIL import Image\n"
        "from agent.models.resize import to_model_image\n"
        "out = to_model_image(Image.new('RGB', (1920, 1080), (9, 99, 199)), (1316, 728))\n"
        "print(out.size, out.getpixel((600, 300)), 'torch' in sys.modules)\n"
    )
    runs = {}
    for resize in ("pil", ""):
        env = {**os.environ, "SCREENPILOT_RESIZE": resize}
        done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                              env=env, cwd=ROOT, timeout=120)  # fmt: skip
        assert done.returncode == 0, done.stderr
        runs[resize] = done.stdout.strip()
    assert runs["pil"] == "(1316, 728) (9, 99, 199) False"
    assert runs[""] == "(1316, 728) (9, 99, 199) True"  # torch's resize, where installed


def test_the_model_served_for_workers_on_cpu_answers_one_request_at_a_time(
    tiny_qwen_dir: Path, caplog: Any, monkeypatch: Any
) -> None:
    """On CPU, batching bought no time and held a batch's activations (BENCHMARKS.md 13):
    the server `agent run --workers` starts answers four workers asking at once in four
    generate calls (its own "stopped after" line, logged by the batch)."""
    import base64
    import io
    import logging
    import urllib.request
    from concurrent.futures import ThreadPoolExecutor

    from PIL import Image

    from agent.parallel.shared_model import served_model

    caplog.set_level(logging.INFO, logger="agent.parallel.shared_model")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    buffer = io.BytesIO()
    Image.new("RGB", (280, 196), (30, 110, 210)).save(buffer, format="PNG")
    png = base64.b64encode(buffer.getvalue()).decode()
    barrier = threading.Barrier(4)
    with served_model(str(tiny_qwen_dir), None) as (options, env):
        url = options[options.index("--base-url") + 1]

        def ask(i: int) -> dict[str, Any]:
            content = [{"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}},
                       {"type": "text", "text": f"click thing {i}"}]  # fmt: skip
            body = {"messages": [{"role": "user", "content": content}], "max_tokens": 4}
            request = urllib.request.Request(
                f"{url}/chat/completions", data=json.dumps(body).encode(),
                headers={"Content-Type": "application/json",
                         "Authorization": f"Bearer {env['OPENAI_API_KEY']}"})  # fmt: skip
            barrier.wait()
            with urllib.request.urlopen(request, timeout=300) as reply:
                return json.load(reply)

        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(ask, range(4)))
    assert all("choices" in a for a in answers)
    lines = [r.getMessage() for r in caplog.records if "stopped after" in r.getMessage()]
    assert lines == ["model server stopped after 4 request(s) in 4 batch(es)"], lines
