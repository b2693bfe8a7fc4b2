"""Many tasks and evaluations at once: `agent run --workers N` and `agent eval` over endpoints.

    .venv/bin/python bench/parallel.py [--tasks 8] [--workers 1,2,4] [--samples 64]
                                       [--run-delay 1.0] [--eval-delay 0.5] [--skip-eval]

Runs: `--tasks` task files, each launching its own Tk button board
(tests/apps/button_board.py) on its own private Xvfb and clicking three buttons
grounded by a loopback chat-completions server (tests/fixtures/grounding_server.py)
that takes `--run-delay` seconds per request (requests overlap: a server that
batches), with the locate cache off; timed at each `--workers`. Each app's log
must show exactly its three clicks.

Eval: `agent eval screenspot` of `--samples` samples made by `agent dataset make`
(tests/made_data.py: 2 sizes x N scenes x 8 targets, enough for `--samples`) against
1 and then 2 loopback endpoints, each answering one request at a time in `--eval-delay`
seconds (one replica without batching), `--concurrency 2` per endpoint; the two
result files must hold the same predictions (the bench stops otherwise).

Prints wall-clock seconds, speed-ups and the machine's load before and after;
state the load next to any figure (this box has 2 cores shared with others).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def loadavg() -> str:
    path = Path("/proc/loadavg")
    return " ".join(path.read_text().split()[:3]) if path.exists() else "?"


def slow_grounder(delay: float) -> Any:
    from tests.fixtures.grounding_server import GroundingServer

    class Slow(GroundingServer):
        def completion(self, body: dict[str, Any]) -> dict[str, Any]:
            time.sleep(delay)
            return super().completion(body)

    return Slow()


def bench_runs(n_tasks: int, workers: list[int], delay: float, folder: Path) -> dict[int, float]:
    from tests.fixtures.run_logs import events
    from tests.test_parallel_run import write_task

    labels = [("Save", "Open", "Close"), ("Copy", "Paste", "Print"), ("North", "South", "East"),
              ("Red", "Green", "Blue")]  # fmt: skip
    server = slow_grounder(delay)
    times: dict[int, float] = {}
    try:
        for n in workers:
            runs = folder / f"w{n}"
            runs.mkdir()
            tasks = []
            import tests.test_parallel_run as t

            for i in range(n_tasks):
                name = f"t{i}"
                t.LABELS[name] = labels[i % len(labels)]
                tasks.append(write_task(runs, name, server.base_url, t.LABELS[name]))
            env = {k: v for k, v in os.environ.items() if k != "SCREENPILOT_LOCATE_CACHE"}
            argv = [sys.executable, "-m", "agent.cli.main", "run", *map(str, tasks), "--workers",
                    str(n), "--cache", "off", "--out", str(runs / "out")]  # fmt: skip
            t0 = time.perf_counter()
            done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT)
            times[n] = time.perf_counter() - t0
            if done.returncode != 0:
                raise SystemExit(f"workers {n}: exit {done.returncode}\n{done.stdout}{done.stderr}")
            for i in range(n_tasks):
                got = [e["name"] for e in events(runs / f"t{i}.jsonl") if e["event"] == "button"]
                want = [f"t{i}-{x.lower()}" for x in t.LABELS[f"t{i}"]]
                assert got == want, (i, got, want)
            print(f"runs: {n_tasks} tasks at {n} worker(s): {times[n]:.1f} s  (load {loadavg()})")
    finally:
        server.close()
    return times


def bench_eval(samples: int, delay: float, folder: Path) -> dict[int, float]:
    from tests.made_data import made_dataset
    from tests.test_models_openai import FakeServer

    def one_at_a_time() -> Any:
        server, lock = FakeServer(), threading.Lock()

        def script(body: dict, number: int) -> tuple[int, dict, float]:
            with lock:  # one replica, no batching
                time.sleep(delay)
            return 200, {}, 0.0

        server.script = script
        return server

    servers = [one_at_a_time(), one_at_a_time()]
    per_scene = 8
    scenes = -(-samples // (2 * per_scene))  # two sizes
    data = made_dataset(scenes=scenes, per_scene=per_scene)
    times: dict[int, float] = {}
    results = {}
    try:
        for n in (1, 2):
            out = folder / f"eval{n}.json"
            urls = [arg for s in servers[:n] for arg in ("--base-url", s.base_url)]
            argv = [sys.executable, "-m", "agent.cli.main", "eval", "screenspot", "--data",
                    str(data), "--backend", "openai", "--model", "Qwen/Qwen2.5-VL-7B-Instruct",
                    "--concurrency", "2", "--limit", str(samples), "--no-progress",
                    "--out", str(out), *urls]  # fmt: skip
            t0 = time.perf_counter()
            done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT)
            times[n] = time.perf_counter() - t0
            if done.returncode != 0:
                raise SystemExit(f"eval {n}: exit {done.returncode}\n{done.stdout}{done.stderr}")
            results[n] = json.loads(out.read_text())["details"]
            count = len(results[n])
            if count != samples:
                raise SystemExit(f"eval {n}: {count} samples scored, {samples} asked for")
            print(f"eval: {count} samples, {n} endpoint(s): {times[n]:.1f} s  (load {loadavg()})")
    finally:
        for s in servers:
            s.close()
    same = results[1] == results[2]
    print(f"eval: identical predictions: {same}")
    if not same:
        raise SystemExit("eval: the two runs disagree")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=8)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--run-delay", type=float, default=1.0)
    parser.add_argument("--eval-delay", type=float, default=0.5)
    parser.add_argument("--skip-eval", action="store_true")
    parser.add_argument("--skip-runs", action="store_true")
    args = parser.parse_args()
    print(f"load before: {loadavg()}; cores: {os.cpu_count()}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if not args.skip_runs:
            workers = [int(w) for w in args.workers.split(",")]
            runs = bench_runs(args.tasks, workers, args.run_delay, folder)
            base = runs[workers[0]]
            for n, s in runs.items():
                print(f"runs: {n} worker(s) {s:.1f} s, speed-up {base / s:.2f}x")
        if not args.skip_eval:
            ev = bench_eval(args.samples, args.eval_delay, folder)
            print(f"eval: 2 endpoints speed-up {ev[1] / ev[2]:.2f}x")
    print(f"load after: {loadavg()}")


if __name__ == "__main__":
    main()
