"""What a run the locate cache serves pays for its model: before (torch imported) vs now.

    .venv/bin/python bench/lazy_weights.py [--size 3b] [--folder DIR] [--runs 2] [--eager]

A run whose every step is a cache hit makes no model call; what the model costs it is
opening the model (`load_model`) and closing it. Each row is a fresh process that does
exactly that with a real-size checkpoint configured, side by side in one run:

* before: the old path, still what a model step does first: after the checks, torch and
  transformers imported and the processor built (`model.processor` sets that up, as the
  constructor used to), weights not read;
* now (the default `weights: lazy`): plain-Python checks only, neither imported;
* eager (with --eager; what every run did before lazy weights): the weights read too.

Per row: wall and CPU seconds to open and close, peak RSS (VmHWM), whether torch /
transformers were imported, and the weight files the process opened (the kernel's
inotify report on the folder, whichever library opens them). Medians of --runs.

The checkpoint: --folder if given (e.g. bench/cpu_3b.py's random 3B); else a stand-in
built once: the published 3B's config.json, its real tensor names, shapes and shard
layout (model.safetensors.index.json and ~7.5 GB of bf16 shards), with the weights all
zero and the shards sparse on disk (valid safetensors that load, but cost no disk and
no minutes of random init). Rows that never open the shards time the same either way.
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import struct
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.timing import machine  # noqa: E402
from tests.fixtures.open_watch import OpenWatch  # noqa: E402

CHILD = """
import json, sys, time
sys.path.insert(0, {root!r})
started, cpu = time.perf_counter(), time.process_time()
from agent.models.load import load_model
from agent.models.spec import ModelSpec
from bench.timing import memory
model = load_model(ModelSpec(model={folder!r}, weights={weights!r}))
if {setup!r}:
    model.processor  # the old constructor's work: torch, transformers, the processor
loaded = model.weights_loaded
model.close()
print(json.dumps({{"seconds": time.perf_counter() - started, "cpu_s": time.process_time() - cpu,
                  "loaded": loaded, "peak_rss_gib": memory().get("VmHWM"),
                  "torch": "torch" in sys.modules,
                  "transformers": "transformers" in sys.modules}}))
"""
ROWS = {"before": ("lazy", True), "now": ("lazy", False), "eager": ("eager", False)}
WEIGHTS = (".safetensors", ".bin")
DTYPES = {"torch.bfloat16": ("BF16", 2), "torch.float32": ("F32", 4)}


def one(folder: Path, row: str) -> dict[str, Any]:
    weights, setup = ROWS[row]
    code = CHILD.format(root=str(ROOT), folder=str(folder), weights=weights, setup=setup)
    env = {**os.environ, "SCREENPILOT_PREFIX_CACHE": "off"}
    watch = OpenWatch(folder)
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=True, env=env)  # fmt: skip
        opened = sorted({n for n in watch.opened() if n.endswith(WEIGHTS)})
    finally:
        watch.close()
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "weight_files_opened": opened}


def write_sparse_shard(path: Path, tensors: dict[str, Any]) -> None:
    """A safetensors file of zeros: the header, then the data as a hole (sparse on disk)."""
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for key, tensor in tensors.items():
        dtype, size = DTYPES[str(tensor.dtype)]
        end = offset + tensor.numel() * size
        header[key] = {"dtype": dtype, "shape": list(tensor.shape), "data_offsets": [offset, end]}
        offset = end
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)
    with open(path, "wb") as handle:
        handle.write(struct.pack("<Q", len(blob)) + blob)
        handle.truncate(8 + len(blob) + offset)


def build_standin(size: str, folder: Path) -> dict[str, Any]:
    """The published `size` checkpoint's files, weights zero and sparse (see the docstring)."""
    import safetensors.torch
    import torch

    from bench.qwen_sizes import build_model, write_checkpoint

    model = build_model(size, torch.bfloat16, device="meta")  # names and shapes, no memory
    real_save = safetensors.torch.save_file
    # write_checkpoint's own shard layout, index and tokenizer files; only the bytes differ.
    safetensors.torch.save_file = lambda tensors, path, metadata=None: write_sparse_shard(
        Path(path), tensors
    )
    try:
        write_checkpoint(model, size, folder)
    finally:
        safetensors.torch.save_file = real_save
    return {"standin": "zero weights, sparse shards", "parameters": sum(
        p.numel() for p in model.parameters())}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="3b")
    parser.add_argument("--folder", type=Path, help="a checkpoint to use (default: a stand-in)")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--eager", action="store_true", help="add the row that reads weights")
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.gettempdir()) / f"screenpilot-standin-{args.size}"
    built = None
    if not (folder / "model.safetensors.index.json").is_file():
        built = build_standin(args.size, folder)
    size_gb = sum(f.stat().st_size for f in folder.glob("*.safetensors")) / 1e9
    rows = {}
    for row in ("before", "now", "eager") if args.eager else ("before", "now"):
        runs = [one(folder, row) for _ in range(args.runs)]
        rows[row] = {
            "seconds": round(statistics.median(r["seconds"] for r in runs), 2),
            "cpu_s": round(statistics.median(r["cpu_s"] for r in runs), 2),
            "peak_rss_gib": max(r["peak_rss_gib"] or 0 for r in runs),
            "weights_loaded": runs[-1]["loaded"],
            "torch_imported": any(r["torch"] for r in runs),
            "transformers_imported": any(r["transformers"] for r in runs),
            "weight_files_opened": max(len(r["weight_files_opened"]) for r in runs),
        }
    ratio = rows["before"]["seconds"] / max(rows["now"]["seconds"], 1e-9)
    print(json.dumps({"bench": "lazy_weights", "size": args.size, "folder": str(folder),
                      "weights_gb": round(size_gb, 2), "built": built, "rows": rows,
                      "before_over_now": round(ratio, 1), "loadavg": os.getloadavg(),
                      **machine()}))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
