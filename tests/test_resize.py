"""The client-side resize: exact size, and torch's filter equal to PIL's bicubic."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from agent.models.resize import resize_bicubic, to_model_image


def screenshot(size=(1920, 1080)) -> Image.Image:
    """A screen-like image: flat panels, text-like strokes, a gradient and noise."""
    rng = np.random.default_rng(0)
    base = np.zeros((size[1], size[0], 3), np.uint8)
    base[:] = np.linspace(0, 255, size[0], dtype=np.uint8)[None, :, None]
    rows = size[1] // 5
    base[rows : 2 * rows] = rng.integers(0, 256, (rows, size[0], 3), dtype=np.uint8)
    image = Image.fromarray(base)
    draw = ImageDraw.Draw(image)
    for i in range(0, size[0] - 200, 180):
        draw.rectangle((i, 600, i + 150, 640), fill=(255, 255, 255), outline=(0, 0, 0))
        draw.text((i + 10, 610), "Save file", fill=(0, 0, 0))
    return image


@pytest.mark.parametrize("size", [(1932, 1092), (1316, 728), (672, 378)])
def test_torch_and_pil_bicubic_agree(size):
    image = screenshot()
    pil = np.asarray(resize_bicubic(image, size, backend="pil"), dtype=float)
    fast = np.asarray(resize_bicubic(image, size, backend="torch"), dtype=float)
    assert fast.shape == pil.shape == (size[1], size[0], 3)
    assert np.abs(fast - pil).mean() < 0.05
    assert np.abs(fast - pil).max() <= 2


def test_to_model_image_gives_exact_size_rgb_and_flattens_alpha_on_white():
    rgba = Image.new("RGBA", (200, 100), (0, 0, 0, 0))
    out = to_model_image(rgba, (196, 112))
    assert out.mode == "RGB" and out.size == (196, 112)
    assert out.getpixel((50, 50)) == (255, 255, 255)
    same = screenshot((196, 112))
    assert to_model_image(same, (196, 112)) is same


@pytest.mark.parametrize("threads", [1, 2])
def test_copy_free_path_reads_pillows_memory_and_changes_no_pixel(threads, monkeypatch):
    torch = pytest.importorskip("torch")
    from agent.models import resize_rgbx
    from agent.models.resize import _resize_torch_copying

    monkeypatch.setattr(resize_rgbx, "THREADS", threads)
    image = screenshot()
    assert resize_rgbx.rgbx_memory(image) is not None  # a 1080p frame is one block
    for size in [(1316, 728), (1932, 1092), (1920, 728), (1316, 1080)]:
        fast = resize_rgbx.resize_rgbx(torch, image, size)
        assert fast is not None and fast.mode == "RGB" and fast.size == size
        assert fast.tobytes() == _resize_torch_copying(torch, image, size).tobytes()
        # the padding byte Pillow keeps per RGB pixel is 255, as in every RGB image it makes
        assert set(fast.tobytes("raw", "RGBX")[3::4]) == {255}


def test_a_4k_frame_in_several_blocks_takes_the_general_path_and_agrees_with_pil():
    torch = pytest.importorskip("torch")
    from agent.models import resize_rgbx

    image = screenshot((3840, 2160))
    assert resize_rgbx.rgbx_memory(image) is None  # more than one 16 MB block
    size = (1316, 728)
    out = resize_bicubic(image, size, backend="torch")
    pil = np.asarray(resize_bicubic(image, size, backend="pil"), dtype=float)
    assert out.size == size and np.abs(np.asarray(out, dtype=float) - pil).mean() < 0.05
    assert resize_rgbx.resize_rgbx(torch, image, size) is None
    # an output of more than one block, too (1080p up to 2800x1600, 17.9 MB)
    assert resize_rgbx.resize_rgbx(torch, screenshot(), (2800, 1600)) is None
    assert resize_bicubic(screenshot(), (2800, 1600), backend="torch").size == (2800, 1600)


def test_the_two_thread_resize_works_in_a_forked_child():
    # A forked child inherits the worker pool without its thread: waiting on it would hang.
    import multiprocessing

    torch = pytest.importorskip("torch")
    from agent.models import resize_rgbx

    image = screenshot()
    expected = resize_rgbx.resize_rgbx(torch, image, (1316, 728))  # the pool exists now
    context = multiprocessing.get_context("fork")
    with context.Pool(1) as pool:
        child = pool.apply_async(_resize_in_child, (image.tobytes(),)).get(timeout=60)
    assert child == expected.tobytes()


def _resize_in_child(pixels: bytes) -> bytes:
    import torch

    from agent.models.resize_rgbx import resize_rgbx

    image = Image.frombytes("RGB", (1920, 1080), pixels)
    return resize_rgbx(torch, image, (1316, 728)).tobytes()
