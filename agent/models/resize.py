"""The client-side resize: each screenshot becomes exactly the image the model sees.

Qwen2.5-VL answers in pixels of the image it was fed (after `smart_resize`).
Resizing on the client, once, to that exact size makes the processor's (or a
server's) own resize the identity, so the coordinates in the prompt (the
announced screen size) and in the answer refer to the image this process
knows, and `CoordinateFrame` maps them back to the screenshot.

The resize is on the per-step hot path. PIL's bicubic is single-threaded and
costs 30-70 ms for a 1080p frame on a 2-core machine; torch's antialiased
bicubic on uint8 computes the same filter (mean absolute difference to PIL
below 0.01 grey levels, see tests/test_resize.py) several times faster, so it
is used whenever torch is installed, and PIL otherwise.

No pixel is copied on the way in or out (`agent.models.resize_rgbx`): torch reads
Pillow's own 4-byte-per-pixel memory and the result becomes a Pillow image without a
copy; the horizontal pass, two thirds of the work, runs on two threads.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import warnings
from functools import lru_cache
from typing import Any

import numpy as np
from PIL import Image

log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def _torch() -> Any:
    """torch if it is installed (imported on first use), else None.

    ``SCREENPILOT_RESIZE=pil`` keeps torch out: the workers of `agent run --workers`
    (`agent.parallel.shared_model`) would each add ~0.5 GB of RSS for it.
    """
    if os.environ.get("SCREENPILOT_RESIZE", "").strip().lower() == "pil":
        return None
    if importlib.util.find_spec("torch") is None:
        return None
    import torch

    return torch


def _resize_torch_copying(torch: Any, image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """The general path (any RGB image): a packed copy in, planar out, merged."""
    with warnings.catch_warnings():
        # np.asarray of a PIL image is a fresh read-only array; it is only ever read.
        warnings.simplefilter("ignore", UserWarning)
        pixels = torch.from_numpy(np.asarray(image))
    batch = pixels.permute(2, 0, 1).unsqueeze(0)
    with torch.inference_mode():
        out = torch.nn.functional.interpolate(
            batch, size=(size[1], size[0]), mode="bicubic", antialias=True, align_corners=False
        )
    # The result is planar (C, H, W); merging three zero-copy planes is ~15x cheaper than
    # transposing to interleaved RGB in numpy.
    planes = out[0].numpy()
    return Image.merge("RGB", [Image.fromarray(plane, "L") for plane in planes])


def _resize_torch(torch: Any, image: Image.Image, size: tuple[int, int]) -> Image.Image:
    from agent.models.resize_rgbx import resize_rgbx

    fast = resize_rgbx(torch, image, size)
    return fast if fast is not None else _resize_torch_copying(torch, image, size)


def resize_bicubic(
    image: Image.Image, size: tuple[int, int], *, backend: str = "auto"
) -> Image.Image:
    """Resize an RGB image with antialiased bicubic filtering (PIL's filter).

    Args:
        backend: ``"auto"`` (torch when installed), ``"torch"`` or ``"pil"``.
    """
    torch = _torch() if backend in ("auto", "torch") else None
    if torch is not None:
        return _resize_torch(torch, image, size)
    if backend == "torch":
        raise RuntimeError("torch is not installed")
    return image.resize(size, Image.Resampling.BICUBIC)


def to_model_image(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """The screenshot as RGB at exactly `size` (its smart_resize size), resized once.

    Transparent pixels are laid on white, as the Qwen2-VL image processor does.
    """
    if image.mode != "RGB":
        if image.mode in ("RGBA", "LA", "P", "PA"):
            image = image.convert("RGBA")
            background = Image.new("RGBA", image.size, (255, 255, 255, 255))
            image = Image.alpha_composite(background, image)
        image = image.convert("RGB")
    size = (int(size[0]), int(size[1]))
    if image.size != size:
        image = resize_bicubic(image, size)
    return image
