"""Locate latency: accessibility tree vs the OCR grounder on galculator, and the Android parse.

    .venv/bin/python bench/a11y_locate.py [--repeat 20] [--size 1920x1080] [--nodes 300]

Desktop: a private D-Bus session (its own at-spi bus) and an Xvfb of `--size`,
Debian's galculator on it; each target is located `--repeat` times through
`env.a11y_read.locate` (the whole read: registry, walk, extents of the
candidates, pick), then once per target with the OCR grounder on a captured frame
(warm: the engine is loaded first; its frame cache is cleared per call). Model
calls are counted (the tree path makes none). Android: `parse_hierarchy` + `pick` on
a synthetic `--nodes`-node uiautomator dump; the dump itself (device time,
usually well under a second, seconds on animating screens) is excluded.
The 3B model path is not timed here (see bench/cpu_3b.py: ~60-100 s per call on CPU).
State the machine's load (printed) next to any figure.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGETS = ["7", "+", "=", "sqrt", "C", "the 5 button"]


def start_session(runtime: str) -> tuple[str, int]:
    out = subprocess.run(
        ["dbus-daemon", "--session", "--fork", "--print-address=1", "--print-pid=1"],
        capture_output=True, text=True, timeout=10, check=True,
        env={**os.environ, "XDG_RUNTIME_DIR": runtime},
    ).stdout.split()  # fmt: skip
    return out[0], int(out[1])


def desktop(repeat: int, size: str) -> None:
    from agent.grounding import ground
    from agent.models import ocr
    from agent.models.load import load_model
    from agent.models.spec import ModelSpec
    from env.a11y_read import locate
    from env.desktop import DesktopEnv
    from env.virtual_display import VirtualDisplay

    runtime = tempfile.mkdtemp(prefix="a11y-bench-")
    bus, pid = start_session(runtime)
    os.environ["DBUS_SESSION_BUS_ADDRESS"] = bus
    try:
        with VirtualDisplay(size) as vd:
            env_vars = {**os.environ, "DISPLAY": vd.name, "GTK_A11Y": "atspi", "HOME": runtime}
            env_vars.pop("NO_AT_BRIDGE", None)
            app = subprocess.Popen(["galculator"], env=env_vars, stderr=subprocess.DEVNULL)
            os.environ["DISPLAY"] = vd.name
            try:
                with DesktopEnv() as env:
                    deadline = time.monotonic() + 20
                    while True:
                        obs = env.observe()
                        element, why, _ = locate(env, obs.geometry, "=", budget=2.0)
                        if element is not None or time.monotonic() > deadline:
                            break
                        time.sleep(0.2)
                    print(f"desktop {size}: galculator registered ({why or 'ok'})")
                    time.sleep(1.0)  # painted, for the OCR frame
                    obs = env.observe()
                    tree: list[float] = []
                    for target in TARGETS:
                        times = []
                        for _ in range(repeat):
                            element, why, seconds = locate(env, obs.geometry, target, budget=2.0)
                            times.append(seconds)
                        tree += times
                        shown = element.summary() if element else why
                        ms = statistics.median(times) * 1e3
                        print(f"  tree  {target!r:>14}: median {ms:6.1f}"
                              f" ms (min {min(times) * 1e3:.1f}) -> {shown}")  # fmt: skip
                    print(f"  tree, all targets: median {statistics.median(tree) * 1e3:.1f} ms, "
                          f"n={len(tree)}, model calls 0")  # fmt: skip
                    model = load_model(ModelSpec(backend="ocr"))
                    ocr.read_text(obs.image)  # load the engine
                    found = 0
                    for target in TARGETS:
                        ocr._cache.clear()
                        t0 = time.perf_counter()
                        result = ground(model, obs.image, target)
                        seconds = time.perf_counter() - t0
                        found += result.point is not None
                        print(f"  ocr   {target!r:>14}: {seconds * 1e3:8.1f} ms -> "
                              f"{result.point if result.point else result.error}")  # fmt: skip
                    print(f"  ocr found {found}/{len(TARGETS)} targets")
            finally:
                app.terminate()
                app.wait(5)
    finally:
        os.kill(pid, signal.SIGTERM)


def android(nodes: int, repeat: int) -> None:
    from env.a11y import pick
    from env.a11y_android import parse_hierarchy

    rows = []
    per_row = 4  # row + icon + title + summary
    for i in range((nodes - 2) // per_row):
        y = 400 + i * 190
        rows.append(
            f'<node class="android.widget.LinearLayout" clickable="true" enabled="true" '
            f'text="" content-desc="" bounds="[0,{y}][1080,{y + 189}]">'
            f'<node class="android.widget.ImageView" enabled="true" text="" content-desc="" '
            f'bounds="[44,{y + 50}][128,{y + 134}]"/>'
            f'<node class="android.widget.TextView" enabled="true" text="Item {i}" '
            f'bounds="[184,{y + 30}][600,{y + 93}]"/>'
            f'<node class="android.widget.TextView" enabled="true" text="Summary {i}" '
            f'bounds="[184,{y + 93}][600,{y + 156}]"/></node>'
        )
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?><hierarchy rotation="0">'
        '<node class="android.widget.FrameLayout" enabled="true" bounds="[0,0][1080,2400]">'
        '<node class="androidx.recyclerview.widget.RecyclerView" enabled="true" '
        f'bounds="[0,400][1080,2337]">{"".join(rows)}</node></node></hierarchy>'
    )
    count = xml.count("<node ")
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        element, _ = pick(parse_hierarchy(xml), "Item 3", (1080, 2400))
        times.append(time.perf_counter() - t0)
    print(f"android: parse + pick of a {count}-node dump ({len(xml) // 1024} KiB): median "
          f"{statistics.median(times) * 1e3:.2f} ms (min {min(times) * 1e3:.2f}), device time "
          f"excluded -> {element.summary() if element else None}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--nodes", type=int, default=300)
    parser.add_argument("--skip-desktop", action="store_true")
    args = parser.parse_args()
    print(f"load average: {open('/proc/loadavg').read().split()[:3]}, cpus {os.cpu_count()}")
    if not args.skip_desktop:
        desktop(args.repeat, args.size)
    android(args.nodes, args.repeat)
    print(f"load average: {open('/proc/loadavg').read().split()[:3]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
