"""Time the offline OCR grounder on real screens (Xvfb): engine load, first frame, warm frames.

    .venv/bin/python bench/ocr_grounding.py [--sizes 1920x1080 1280x800] [--repeat 5]

Starts a virtual display per size, opens the demo form and a zenity dialog on
it, captures the screen with mss and runs RapidOCR on the full frame. Prints
one line per size: median / min / max seconds per frame and the lines found.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def capture() -> Image.Image:
    import mss

    with mss.MSS() as grabber:
        shot = grabber.grab(grabber.monitors[1])
    return Image.frombytes("RGB", shot.size, shot.bgra, "raw", "BGRX")


def main() -> int:
    from agent.models import ocr
    from env.virtual_display import VirtualDisplay

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["1920x1080", "1280x800"])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    start = time.perf_counter()
    ocr._get_engine()
    print(f"engine created: {time.perf_counter() - start:.2f} s (models load on first use)")
    for size in args.sizes:
        with VirtualDisplay(size):
            apps = [
                subprocess.Popen([sys.executable, str(ROOT / "tasks/examples/demo_form.py")]),
                subprocess.Popen(
                    ["zenity", "--entry", "--title", "Rename", "--text", "New file name:"],
                    stderr=subprocess.DEVNULL,
                ),
            ]
            time.sleep(2.5)
            image = capture()
            times = []
            for i in range(args.repeat + 1):
                ocr._cache.clear()
                t0 = time.perf_counter()
                lines = ocr.read_text(image)
                times.append(time.perf_counter() - t0)
                if i == 0:
                    print(f"{size}: first frame {times[0]:.2f} s (includes model load if first)")
            warm = times[1:]
            print(
                f"{size}: warm full-frame OCR median {statistics.median(warm):.2f} s "
                f"(min {min(warm):.2f}, max {max(warm):.2f}, n={len(warm)}), {len(lines)} lines"
            )
            for app in apps:
                app.terminate()
                app.wait(5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
