"""Benchmark 6: decoding a phone screenshot, raw ``screencap`` dump vs ``screencap -p`` PNG.

Only the host-side decoding is measured (no phone here, so neither the
on-device PNG encoding, which is the expensive part, nor the USB transfer).
Both decoders run side by side in this process on the same 1080x2400 frame:
our raw parser (`env.android_capture.decode_raw`, header + RGBA -> RGB) and
PIL decoding the PNG (`decode_png`). Prints one JSON line with medians.

    .venv/bin/python bench/android_capture.py [--runs 50]
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image, ImageDraw  # noqa: E402

from env.android_capture import decode_png, decode_raw, encode_raw  # noqa: E402


def phone_screen(width: int = 1080, height: int = 2400) -> Image.Image:
    """A phone-like frame: flat UI, status bar, list rows with text, and a photo-like area."""
    image = Image.new("RGB", (width, height), (250, 250, 252))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width, 80), fill=(30, 30, 35))
    draw.rectangle((0, 80, width, 260), fill=(66, 133, 244))
    draw.text((40, 140), "Settings", fill=(255, 255, 255))
    for row in range(14):
        top = 300 + row * 120
        draw.ellipse((40, top + 20, 120, top + 100), fill=(200 - row * 9, 120, 60 + row * 10))
        draw.text((150, top + 30), f"List item number {row} - some secondary text", fill=(20,) * 3)
        draw.line((150, top + 119, width, top + 119), fill=(225, 225, 228))
    photo = Image.effect_noise((width, 420), 64).convert("RGB")
    image.paste(photo, (0, height - 560))
    draw.rectangle((0, height - 140, width, height), fill=(240, 240, 243))
    return image


def median_ms(fn, data: bytes, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn(data)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50, help="timed runs per decoder (>= 30)")
    args = parser.parse_args()
    runs = max(args.runs, 30)
    screen = phone_screen()
    raw = encode_raw(screen, pixel_format=1, colorspace=1)
    buf = io.BytesIO()
    screen.save(buf, format="PNG", compress_level=6)  # zlib's default level
    png = buf.getvalue()
    if not decode_raw(raw).tobytes() == decode_png(png).tobytes() == screen.tobytes():
        raise SystemExit("the decoders disagree about the frame")
    for _ in range(3):  # warm-up
        decode_raw(raw)
        decode_png(png)
    raw_ms = median_ms(decode_raw, raw, runs)
    png_ms = median_ms(decode_png, png, runs)
    print(
        json.dumps(
            {
                "frame": f"{screen.width}x{screen.height}",
                "runs": runs,
                "raw_ms": round(raw_ms, 2),
                "png_ms": round(png_ms, 2),
                "ratio": round(png_ms / raw_ms, 1),
                "raw_bytes": len(raw),
                "png_bytes": len(png),
            }
        )
    )


if __name__ == "__main__":
    main()
