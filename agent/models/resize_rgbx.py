"""The copy-free resize: torch reads Pillow's pixel memory and writes the model image's.

Pillow keeps an RGB image as 4 bytes per pixel (R, G, B, padding) and exports that
memory without a copy through the Arrow C data interface (Pillow >= 11.2, when the
image lies in one block: up to 16 MB, a 1080p or 1440p screen). torch's antialiased
bicubic on uint8 reads exactly that layout (4 channels, channels-last) with no
repacking, and its output in the same layout becomes a Pillow RGB image that maps
the tensor's memory. Against the general path (a packed RGB copy in, planar planes
merged out) this saves two full-frame copies.

The resize is separable: a horizontal pass (each row alone) then a vertical one. The
horizontal pass is about two thirds of the work and its rows are independent, so it
runs on `THREADS` threads, each on a band of rows written in place; the result is
bit-identical to one `interpolate` call (tests/test_resize.py).
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from PIL import Image

log = logging.getLogger(__name__)

THREADS = min(2, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)
"""Threads for the horizontal pass (torch releases the GIL in it)."""
MIN_SPLIT_PIXELS = 200_000
"""Below this many horizontal-pass output pixels a second thread costs more than it saves."""

_pool: ThreadPoolExecutor | None = None
_pool_pid = 0
_pool_lock = threading.Lock()
_buffers = threading.local()  # the intermediate of the two passes, kept per thread and shape


class _ArrowSchema(ctypes.Structure):
    pass


_ArrowSchema._fields_ = [
    ("format", ctypes.c_char_p),
    ("name", ctypes.c_char_p),
    ("metadata", ctypes.c_char_p),
    ("flags", ctypes.c_int64),
    ("n_children", ctypes.c_int64),
    ("children", ctypes.POINTER(ctypes.POINTER(_ArrowSchema))),
    ("dictionary", ctypes.c_void_p),
    ("release", ctypes.c_void_p),
    ("private_data", ctypes.c_void_p),
]


class _ArrowArray(ctypes.Structure):
    pass


_ArrowArray._fields_ = [
    ("length", ctypes.c_int64),
    ("null_count", ctypes.c_int64),
    ("offset", ctypes.c_int64),
    ("n_buffers", ctypes.c_int64),
    ("n_children", ctypes.c_int64),
    ("buffers", ctypes.POINTER(ctypes.c_void_p)),
    ("children", ctypes.POINTER(ctypes.POINTER(_ArrowArray))),
    ("dictionary", ctypes.c_void_p),
    ("release", ctypes.c_void_p),
    ("private_data", ctypes.c_void_p),
]

_capsule_pointer = ctypes.pythonapi.PyCapsule_GetPointer
_capsule_pointer.restype = ctypes.c_void_p
_capsule_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]


def rgbx_memory(image: Image.Image) -> tuple[Any, tuple[object, object]] | None:
    """A ctypes view of an RGB image's pixel memory (R, G, B, pad per pixel), or None.

    Returns the view and the Arrow capsules that keep the memory alive: hold both while
    the view is read. None when Pillow cannot export the image in one piece.
    """
    export = getattr(image, "__arrow_c_array__", None)
    if image.mode != "RGB" or export is None:
        return None
    try:
        capsules = export()
    except ValueError:  # "rows are not contiguous in memory": more than one block
        return None
    schema = _ArrowSchema.from_address(_capsule_pointer(capsules[0], b"arrow_schema"))
    array = _ArrowArray.from_address(_capsule_pointer(capsules[1], b"arrow_array"))
    pixels = image.width * image.height
    if (
        schema.format != b"+w:4"
        or schema.n_children != 1
        or schema.children[0].contents.format != b"C"
        or array.length != pixels
        or array.offset != 0
        or array.n_children != 1
    ):
        return None
    child = array.children[0].contents
    if child.length != pixels * 4 or child.offset != 0 or child.n_buffers != 2:
        return None
    address = child.buffers[1]
    if not address:
        return None
    return (ctypes.c_uint8 * (pixels * 4)).from_address(address), capsules


def _executor() -> ThreadPoolExecutor:
    """The worker threads, made again in a forked child (whose copy has no threads)."""
    global _pool, _pool_pid
    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid():
            _pool = ThreadPoolExecutor(THREADS - 1, thread_name_prefix="resize")
            _pool_pid = os.getpid()
        return _pool


def _intermediate(torch: Any, height: int, width: int) -> Any:
    """The horizontal pass's output (1, 4, height, width) channels-last, reused per thread."""
    cached = getattr(_buffers, "tensor", None)
    if cached is None or tuple(cached.shape) != (1, 4, height, width):
        cached = torch.empty((1, height, width, 4), dtype=torch.uint8).permute(0, 3, 1, 2)
        _buffers.tensor = cached
    return cached


def _horizontal(torch: Any, source: Any, out: Any) -> None:
    """The horizontal pass over `source`'s rows into `out` (same rows), split over threads."""
    resample = torch._C._nn._upsample_bicubic2d_aa
    rows, width = source.shape[2], out.shape[3]
    bands = min(THREADS, rows) if rows * width >= MIN_SPLIT_PIXELS else 1
    edges = [rows * i // bands for i in range(bands + 1)]
    jobs = [
        (source[:, :, top:bottom], [bottom - top, width], False, None, None)
        for top, bottom in zip(edges, edges[1:], strict=False)
    ]
    targets = [out[:, :, top:bottom] for top, bottom in zip(edges, edges[1:], strict=False)]
    pending = [
        _executor().submit(resample, *job, out=target)
        for job, target in zip(jobs[1:], targets[1:], strict=True)
    ]
    resample(*jobs[0], out=targets[0])
    for future in pending:
        future.result()


def resize_rgbx(torch: Any, image: Image.Image, size: tuple[int, int]) -> Image.Image | None:
    """`image` resized with antialiased bicubic to `size`, or None when the copy-free path
    does not apply (not RGB, Pillow without Arrow export, more than one memory block)."""
    if not hasattr(torch._C._nn, "_upsample_bicubic2d_aa"):  # the op with out= (torch >= 2.0)
        return None
    memory = rgbx_memory(image)
    if memory is None:
        return None
    view, _capsules = memory  # the capsules keep Pillow's memory alive until we return
    width, height = image.size
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a writable view that is only read
        flat = torch.frombuffer(view, dtype=torch.uint8)
    source = flat.view(1, height, width, 4).permute(0, 3, 1, 2)
    out_w, out_h = size
    image_out = Image.new("RGB", (out_w, out_h), None)  # not filled: every pixel is written
    target = rgbx_memory(image_out)
    if target is None:  # an output of more than one block (16 MB)
        return None
    out_view, _out_capsules = target
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        result = torch.frombuffer(out_view, dtype=torch.uint8)
    result = result.view(1, out_h, out_w, 4).permute(0, 3, 1, 2)
    if out_w != width:
        middle = _intermediate(torch, height, out_w)
        _horizontal(torch, source, middle)
    else:
        middle = source
    if out_h != height:
        torch._C._nn._upsample_bicubic2d_aa(middle, [out_h, out_w], False, None, None, out=result)
    else:
        result.copy_(middle)
    return image_out
