"""The shared-memory capture and the copy-free resize on a real screen with known content."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.fixtures.display import _app_env

pytest.importorskip("torch")

SHOW = """
import sys, tkinter as tk
root = tk.Tk()
root.overrideredirect(True)
photo = tk.PhotoImage(file=sys.argv[1])
root.geometry(f"{photo.width()}x{photo.height()}+{sys.argv[2]}+{sys.argv[3]}")
tk.Label(root, image=photo, borderwidth=0, highlightthickness=0).pack()
root.mainloop()
"""
PLACE = (300, 200)


def known_image() -> Image.Image:
    """Noise (every channel differs: a swapped channel shows), stripes and flat panels."""
    rng = np.random.default_rng(7)
    pixels = rng.integers(0, 256, (400, 640, 3), dtype=np.uint8)
    pixels[:, 320:400] = (250, 30, 90)
    pixels[100:140, :] = np.array([0, 255], np.uint8)[np.arange(640) % 2][:, None]
    return Image.fromarray(pixels)


@pytest.fixture
def shown(xvfb, tmp_path: Path):
    """`known_image()` drawn by a real Tk window at `PLACE` on the session's Xvfb."""
    path = tmp_path / "known.png"
    known_image().save(path)
    script = tmp_path / "show.py"
    script.write_text(SHOW)
    app = subprocess.Popen(
        [sys.executable, str(script), str(path), *map(str, PLACE)], env=_app_env(xvfb.name)
    )
    yield app
    app.terminate()
    app.wait(5)


def test_shared_memory_capture_is_the_screen_exactly(shown) -> None:
    from env.desktop import DesktopEnv

    expected = np.asarray(known_image())
    x, y = PLACE
    with DesktopEnv() as env:
        assert env._shm is not None  # the fast path is the one in use
        deadline = time.monotonic() + 20
        while True:
            obs = env.observe()
            region = np.asarray(obs.image)[y : y + 400, x : x + 640]
            if (region == expected).all() or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert obs.image.mode == "RGB" and obs.image.size == (1920, 1080)
        assert (region == expected).all()
        through_mss = env._sct.grab(env._monitor)
    again = Image.frombytes("RGB", through_mss.size, through_mss.raw, "raw", "BGRX")
    assert again.tobytes() == obs.image.tobytes()


def test_model_image_of_a_real_capture_matches_pil(shown) -> None:
    from agent.models.resize import _resize_torch_copying, _torch, to_model_image
    from env.desktop import DesktopEnv

    with DesktopEnv() as env:
        time.sleep(1.0)
        obs = env.observe()
    size = obs.geometry.frame(max_pixels=1280 * 28 * 28).model_size
    assert size == (1316, 728)
    model = to_model_image(obs.image, size)
    assert model.mode == "RGB" and model.size == size
    ours = np.asarray(model, dtype=float)
    pil = np.asarray(obs.image.resize(size, Image.Resampling.BICUBIC), dtype=float)
    assert np.abs(ours - pil).mean() < 0.05 and np.abs(ours - pil).max() <= 2
    general = _resize_torch_copying(_torch(), obs.image, size)
    assert model.tobytes() == general.tobytes()  # the copy-free path changes no pixel


def test_a_failing_fast_path_falls_back_to_mss_for_good(shown, caplog) -> None:
    from env.desktop import DesktopEnv

    with DesktopEnv() as env:
        time.sleep(1.0)
        fast = env.observe().image
        env._shm._impl = object()  # as if mss changed its internals under us
        with caplog.at_level("WARNING", logger="env.desktop"):
            fallback = env.observe().image
        assert env._shm is None and "capturing through mss" in caplog.text
        assert env.observe().image.tobytes() == fallback.tobytes() == fast.tobytes()
