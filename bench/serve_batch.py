"""`agent serve` with and without server-side batching: N concurrent grounding requests.

    .venv/bin/python bench/serve_batch.py [--requests 8] [--max-batch 4] [--size mid|tiny]
                                          [--max-tokens 24]

Starts `agent serve` on the bench checkpoint (bench/serve_rss.py: a random-weight
Qwen2.5-VL of the real architecture, mid size) twice, ``--max-batch 1`` (one
generate per request, as before batching) and ``--max-batch N``, and sends
`--requests` chat requests at once (different screenshots and instructions, the
same token cap). Prints wall seconds and the server's CPU seconds for each, and
checks that both servers gave every request the same answer. Wall time on this
shared 2-core box is noisy: compare CPU seconds, and state the load.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.serve_rss import checkpoint, loadavg  # noqa: E402


def request_body(i: int, cap: int) -> bytes:
    from PIL import Image

    image = Image.new("RGB", (812, 616), (240, 240, 240))
    image.paste((30 * (i % 8), 90, 200), (40 + 60 * i, 30, 160 + 60 * i, 70))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    content = [{"type": "image_url", "image_url": {"url": url}},
               {"type": "text", "text": f"Click the button number {i}"}]  # fmt: skip
    return json.dumps({"messages": [{"role": "user", "content": content}], "max_tokens": cap,
                       "stop": ["</tool_call>"]}).encode()  # fmt: skip


def serve_and_ask(model: Path, max_batch: int, bodies: list[bytes]) -> dict[str, Any]:
    import psutil

    argv = [sys.executable, "-m", "agent.cli.main", "serve", "--model", str(model), "--port", "0",
            "--max-batch", str(max_batch)]  # fmt: skip
    server = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"})  # fmt: skip
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        if not line.startswith("serving "):
            raise SystemExit(f"agent serve did not start: {line}{server.communicate()[1]}")
        url = line.split(" at ")[1].strip() + "/chat/completions"

        def ask(body: bytes) -> str:
            req = urllib.request.Request(url, data=body,
                                         headers={"Content-Type": "application/json"})  # fmt: skip
            with urllib.request.urlopen(req, timeout=1800) as reply:
                return json.load(reply)["choices"][0]["message"]["content"]

        ask(bodies[0])  # warm-up: first-call costs out of the figure
        proc = psutil.Process(server.pid)
        cpu0 = sum(proc.cpu_times()[:2])
        t0 = time.perf_counter()
        with ThreadPoolExecutor(len(bodies)) as pool:
            answers = list(pool.map(ask, bodies))
        wall = time.perf_counter() - t0
        cpu = sum(proc.cpu_times()[:2]) - cpu0
        server.send_signal(2)
        out, _ = server.communicate(timeout=120)
        return {"answers": answers, "wall": wall, "cpu": cpu, "line": out.strip().splitlines()[-1]}
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=8)
    parser.add_argument("--max-batch", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=24)
    parser.add_argument("--size", choices=["mid", "tiny"], default="mid")
    args = parser.parse_args()
    print(f"load before: {loadavg()}; cores: {os.cpu_count()}")
    model = checkpoint(args.size)
    bodies = [request_body(i, args.max_tokens) for i in range(args.requests)]
    runs = {}
    for size in (1, args.max_batch):
        runs[size] = run = serve_and_ask(model, size, bodies)
        print(f"--max-batch {size}: {args.requests} concurrent requests: wall {run['wall']:.1f} s, "
              f"server CPU {run['cpu']:.1f} s; {run['line']}  (load {loadavg()})")  # fmt: skip
    one, many = runs[1], runs[args.max_batch]
    same = one["answers"] == many["answers"]
    print(f"identical answers: {same}")
    print(f"batched vs one at a time: wall {one['wall'] / many['wall']:.2f}x, "
          f"CPU {one['cpu'] / many['cpu']:.2f}x")  # fmt: skip
    print(f"load after: {loadavg()}")
    if not same:
        raise SystemExit("the batched server answered differently")


if __name__ == "__main__":
    main()
