"""What a run the locate cache serves pays for its model: lazy weights vs reading them first.

    .venv/bin/python bench/lazy_weights.py [--size 3b] [--folder DIR] [--runs 2]

A run whose every step is a cache hit makes no model call; what the model costs it
is opening the model (`load_model`) and closing it. Each row is a fresh process that
does exactly that with a real-size checkpoint on disk (the published 3B architecture,
random weights in bf16, ~7.5 GB in safetensors shards; built once into --folder by
bench/qwen_sizes.py's writer):

* lazy (ours, the default `weights: lazy`): everything is checked, no weight file read;
* eager (the baseline: what every run did before): the weights read before the run.

Per row: wall seconds to open and close, peak RSS (VmHWM), and whether the weights were
loaded. Medians of --runs. The page cache is warm after the first eager run (a
second run of the same task reads the files from memory), so eager rows are a lower
bound of a cold start. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.timing import machine  # noqa: E402

CHILD = """
import json, sys, time
sys.path.insert(0, {root!r})
started = time.perf_counter()
from agent.models.load import load_model
from agent.models.spec import ModelSpec
from bench.timing import memory
model = load_model(ModelSpec(model={folder!r}, weights={when!r}))
loaded = model.weights_loaded
model.close()
print(json.dumps({{"seconds": time.perf_counter() - started, "loaded": loaded,
                  "peak_rss_gib": memory().get("VmHWM")}}))
"""


def one(folder: Path, when: str) -> dict:
    code = CHILD.format(root=str(ROOT), folder=str(folder), when=when)
    env = {**os.environ, "SCREENPILOT_PREFIX_CACHE": "off"}
    command = [sys.executable, "-c", code]
    done = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="3b")
    parser.add_argument("--folder", type=Path, help="where the checkpoint is (built if absent)")
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.gettempdir()) / f"screenpilot-random-{args.size}"
    built = None
    if not (folder / "model.safetensors.index.json").is_file():
        from bench.qwen_sizes import build_checkpoint

        built = build_checkpoint(args.size, folder)
    size_gb = sum(f.stat().st_size for f in folder.glob("*.safetensors")) / 1e9
    rows = {}
    for when in ("eager", "lazy"):
        runs = [one(folder, when) for _ in range(args.runs)]
        rows[when] = {
            "seconds": round(statistics.median(r["seconds"] for r in runs), 2),
            "peak_rss_gib": max(r["peak_rss_gib"] or 0 for r in runs),
            "weights_loaded": runs[-1]["loaded"],
        }
    ratio = rows["eager"]["seconds"] / max(rows["lazy"]["seconds"], 1e-9)
    print(json.dumps({"bench": "lazy_weights", "size": args.size, "weights_gb": round(size_gb, 2),
                      "built": built, "rows": rows, "eager_over_lazy": round(ratio, 1),
                      **machine()}))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
