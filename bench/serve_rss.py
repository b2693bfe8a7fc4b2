"""Peak memory of `agent run A B C D --workers 4` with a local model: one served copy.

    .venv/bin/python bench/serve_rss.py [--workers 4] [--size mid|tiny]

Builds (once, cached like the tests' tiny models) a random-weight Qwen2.5-VL
checkpoint of the real architecture at a mid size (`MID`: hidden 1024, 12
layers, 8-block vision tower, the 3B's 151936-token vocabulary; about 0.33 B
parameters, 0.66 GB in bfloat16; the 3B itself takes 7 GB and minutes to
build). Then:

1. one model: `agent serve --model X` alone answers one grounding request; its
   peak RSS (VmHWM) is "one model's";
2. the batch: `agent run` of `--workers` task files (each launches its own Tk
   button board on its own private Xvfb and asks the model for one click, as in
   bench/parallel.py; with `--ocr` each first waits for its board by OCR, which
   loads the OCR engine, ~360 MB, into every worker) with `--workers N`; the RSS
   of the whole process tree (parent, `agent serve`, every `agent run` child,
   Xvfb and app) is summed every 50 ms and the peak kept.

Target (issue 21): tree peak <= one model + 300 MB per worker. RSS counts shared
library pages once per process, so the sum overstates the real footprint; PSS
(shared pages split between their users) is printed beside it.
Random weights answer no coordinate: the tasks fail at their click, after the
model answered (the memory is what is measured). Prints the load; this box has
2 cores shared with others.
"""

from __future__ import annotations

import argparse
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
MB = 1024 * 1024


def loadavg() -> str:
    path = Path("/proc/loadavg")
    return " ".join(path.read_text().split()[:3]) if path.exists() else "?"


def checkpoint(size: str) -> Path:
    from tests.fixtures.tiny_qwen_build import TinyQwenSettings, tiny_checkpoint

    if size == "tiny":
        return tiny_checkpoint()
    mid = TinyQwenSettings(
        hidden_size=1024,
        intermediate_size=2816,
        num_hidden_layers=12,
        num_attention_heads=16,  # head_dim 64: mrope_section sums to 32
        num_key_value_heads=2,
        mrope_section=(8, 12, 12),
        vision_depth=8,
        vision_hidden_size=640,
        vision_intermediate_size=1280,
        vision_num_heads=10,
        fullatt_block_indexes=(3, 7),
    )
    return tiny_checkpoint(mid)


def peak_hwm(pid: int) -> int:
    """A process's peak resident set (VmHWM), bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def one_model(model: Path) -> int:
    """Peak RSS of `agent serve` alone after one grounding request."""
    from PIL import Image

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OPENAI_API_KEY": "EMPTY"}
    argv = [sys.executable, "-m", "agent.cli.main", "serve", "--model", str(model), "--port", "0"]
    server = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env, cwd=ROOT)  # fmt: skip
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        if not line.startswith("serving "):
            raise SystemExit(f"agent serve did not start: {line}{server.communicate()[1]}")
        url = line.split(" at ")[1].strip()
        with tempfile.TemporaryDirectory() as tmp:
            shot = Path(tmp) / "shot.png"
            Image.new("RGB", (800, 600), (240, 240, 240)).save(shot)
            ground = [sys.executable, "-m", "agent.cli.main", "ground", str(shot), "the Save",
                      "--backend", "openai", "--base-url", url, "--model", str(model),
                      "--profile", "qwen2.5-vl", "--prefill", "--max-new-tokens", "24",
                      "--json"]  # fmt: skip
            subprocess.run(ground, capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)
        return peak_hwm(server.pid)
    finally:
        server.terminate()
        server.wait(60)


def tree_peak(pid: int, stop: threading.Event, found: dict[str, Any]) -> None:
    """Poll the RSS and PSS of `pid` and all its descendants every 50 ms; keep the peaks."""
    import psutil

    root = psutil.Process(pid)
    while not stop.is_set():
        try:
            family = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return
        total, pss, parts = 0, 0, []
        for p in family:
            try:
                info = p.memory_full_info()
                parts.append((info.rss, info.pss, p.name(), " ".join(p.cmdline()[2:5])))
            except psutil.Error:
                continue
            total += info.rss
            pss += info.pss
        if total > found.get("peak", 0):
            found.update(peak=total, parts=sorted(parts, reverse=True), processes=len(parts))
        found["pss"] = max(found.get("pss", 0), pss)
        stop.wait(0.05)


def batch(model: Path, workers: int, folder: Path, ocr: bool) -> dict[str, Any]:
    import tests.test_parallel_run as t

    labels = list(t.LABELS)
    tasks = []
    for i in range(workers):
        name = labels[i % len(labels)]
        path = t.write_task(folder, name, "unused", t.LABELS[name][:1])
        text = path.read_text().splitlines()
        text[0] = f"name: {name}{i}"
        text[2] = f"model: {{backend: qwen, model: '{model}', max_new_tokens: 24}}"
        if not ocr:  # the board's first label is awaited by time, not read by OCR
            text = [line if "wait_for" not in line else "  - wait: 5" for line in text]
        path = path.rename(folder / f"{name}{i}.yaml")
        path.write_text("\n".join(text) + "\n")
        tasks.append(path)
    env = {k: v for k, v in os.environ.items() if k != "SCREENPILOT_LOCATE_CACHE"}
    argv = [sys.executable, "-m", "agent.cli.main", "run", *map(str, tasks), "--workers",
            str(workers), "--cache", "off", "--out", str(folder / "out")]  # fmt: skip
    found: dict[str, Any] = {}
    stop = threading.Event()
    t0 = time.perf_counter()
    parent = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=env, cwd=ROOT)  # fmt: skip
    poller = threading.Thread(target=tree_peak, args=(parent.pid, stop, found))
    poller.start()
    out, _ = parent.communicate(timeout=1800)
    stop.set()
    poller.join()
    found["seconds"] = time.perf_counter() - t0
    found["served"] = "starting one model server" in out
    found["tail"] = out.strip().splitlines()[-1] if out.strip() else ""
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--size", choices=["mid", "tiny"], default="mid")
    parser.add_argument("--ocr", action="store_true", help="tasks wait for the board by OCR")
    args = parser.parse_args()
    print(f"load before: {loadavg()}; cores: {os.cpu_count()}")
    model = checkpoint(args.size)
    weights = sum(f.stat().st_size for f in model.glob("*.safetensors"))
    print(f"checkpoint: {model} ({weights / MB:.0f} MB of weights)  (load {loadavg()})")
    single = one_model(model)
    print(f"one model: agent serve peak RSS {single / MB:.0f} MB  (load {loadavg()})")
    with tempfile.TemporaryDirectory() as tmp:
        found = batch(model, args.workers, Path(tmp), args.ocr)
    peak = found.get("peak", 0)
    budget = single + args.workers * 300 * MB
    print(f"batch: {args.workers} workers, one served model: {found['served']}; "
          f"{found['seconds']:.0f} s; {found['tail']}  (load {loadavg()})")  # fmt: skip
    print(f"batch: peak RSS of the tree {peak / MB:.0f} MB over {found.get('processes')} processes")
    print(f"batch: peak PSS of the tree {found.get('pss', 0) / MB:.0f} MB (shared pages split)")
    for rss, pss, name, cmd in found.get("parts", [])[:12]:
        print(f"  RSS {rss / MB:6.0f} MB  PSS {pss / MB:6.0f} MB  {name} {cmd}")
    verdict = "within" if peak <= budget else "OVER"
    print(f"target: one model + 300 MB x {args.workers} = {budget / MB:.0f} MB: {verdict} "
          f"(margin {(budget - peak) / MB:.0f} MB)")  # fmt: skip
    print(f"load after: {loadavg()}")


if __name__ == "__main__":
    main()
