"""The X11 capture without the intermediate copy: shared memory straight into Pillow.

mss 10.2 captures with MIT-SHM (XShmGetImage into a memory segment shared with the X
server), then copies the segment into a fresh 8 MB bytearray per 1080p frame, which
`DesktopEnv` converts into a Pillow image (BGRX -> RGB). The bytearray is a full-frame
copy that nothing needs (~0.5-0.7 CPU ms at 1080p). `ShmCapture` asks the server for the
image into mss's own segment and lets Pillow read it there: one pass (the BGRX -> RGB
conversion Pillow does anyway), into Pillow's reused blocks.

It uses mss's segment and connection, which are not public API; `for_mss` returns None
when they are not as expected (another mss version, MIT-SHM unavailable or not yet
proven by a first grab), and any error of the fast path turns it off for good: the
caller then grabs through mss as before.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from PIL import Image

log = logging.getLogger(__name__)


class ShmCapture:
    """Grabs a region of the screen through mss's MIT-SHM segment into an RGB image."""

    def __init__(self, impl: Any, xcb: Any, all_planes: int, lock: Any) -> None:
        self._impl = impl
        self._xcb = xcb
        self._all_planes = all_planes
        self._lock = lock  # mss's own: one request on its connection and segment at a time

    @classmethod
    def for_mss(cls, sct: Any) -> ShmCapture | None:
        """The fast path over an open ``mss.MSS`` whose MIT-SHM grab has worked, or None."""
        impl = getattr(sct, "_impl", None)
        try:
            from mss.linux import xcb
            from mss.linux.base import ALL_PLANES
            from mss.linux.xshmgetimage import MSSImplXShmGetImage, ShmStatus
        except ImportError:
            return None
        if not isinstance(impl, MSSImplXShmGetImage) or impl.with_cursor:
            return None
        if impl.shm_status != ShmStatus.AVAILABLE:
            return None
        needed = ("conn", "drawable", "drawable_depth", "drawable_visual_id", "_buf", "_shmseg")
        if any(getattr(impl, name, None) is None for name in needed):
            return None
        return cls(impl, xcb, ALL_PLANES, getattr(sct, "_lock", None) or threading.Lock())

    def grab(self, monitor: dict[str, int]) -> Image.Image:
        """The region `monitor` (left, top, width, height) as an RGB image of its own."""
        impl, xcb = self._impl, self._xcb
        width, height = monitor["width"], monitor["height"]
        size = width * height * 4
        if size > len(impl._buf):
            raise ValueError(f"a {width}x{height} capture exceeds the shared segment")
        with self._lock:
            reply = xcb.shm_get_image(
                impl.conn,
                impl.drawable,
                monitor["left"],
                monitor["top"],
                width,
                height,
                self._all_planes,
                xcb.ImageFormat.ZPixmap,
                impl._shmseg,
                0,
            )
            if reply.depth != impl.drawable_depth or reply.visual != impl.drawable_visual_id:
                raise ValueError("the server returned an image of another depth or visual")
            # The server has written the segment before it replied; it is reused next grab,
            # so its pixels are decoded (BGRX -> RGB, one pass) into an image of their own,
            # not filled first (Image.frombytes would zero-fill it).
            image = Image.new("RGB", (width, height), None)
            with memoryview(impl._buf) as segment:
                image.frombytes(segment[:size], "raw", "BGRX")
        return image
