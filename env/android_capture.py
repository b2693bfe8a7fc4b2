"""Decoding what Android's `screencap` writes: the raw framebuffer dump and PNG.

`exec-out screencap` (no ``-p``) writes a small little-endian header and the
pixels, row after row without padding:

* Android up to 7: width, height, pixel format (12 bytes);
* Android 8 and later: width, height, pixel format, colour space (16 bytes).

Nothing in the stream says which header it is, so the size decides: the
pixels are width * height * bytes-per-pixel, and whatever precedes them is the
header. Raw capture skips the PNG encoder on the phone, which is the slow part
(seconds on real phones); `screencap -p` remains the fallback for pixel formats
this module does not decode.
"""

from __future__ import annotations

import io
import struct

from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel, ConfigDict

# android.graphics.PixelFormat / ui/PixelFormat.h values -> (bytes per pixel, PIL mode, rawmode)
PIXEL_FORMATS: dict[int, tuple[int, str, str]] = {
    1: (4, "RGBA", "RGBA"),  # RGBA_8888
    2: (4, "RGBX", "RGBX"),  # RGBX_8888
    3: (3, "RGB", "RGB"),  # RGB_888
    4: (2, "RGB", "BGR;16"),  # RGB_565: little-endian 16-bit words, red in the high bits
    5: (4, "RGBA", "BGRA"),  # BGRA_8888
}
PIXEL_FORMAT_NAMES = {1: "RGBA_8888", 2: "RGBX_8888", 3: "RGB_888", 4: "RGB_565", 5: "BGRA_8888"}
HEADER_SIZES = (12, 16)


class CaptureError(ValueError):
    """The bytes are not a screencap image this module can decode."""


class RawHeader(BaseModel):
    """The header of a raw screencap dump."""

    model_config = ConfigDict(frozen=True)

    width: int
    height: int
    pixel_format: int
    colorspace: int | None = None
    header_size: int

    @property
    def bytes_per_pixel(self) -> int:
        return PIXEL_FORMATS[self.pixel_format][0]


def parse_raw_header(data: bytes | bytearray | memoryview) -> RawHeader:
    """Read the header of a raw dump; the payload size decides between 12 and 16 bytes.

    Raises:
        CaptureError: too short, an unknown pixel format, or a size matching neither header.
    """
    if len(data) < 12:
        raise CaptureError(f"raw screencap too short ({len(data)} bytes)")
    width, height, fmt = struct.unpack_from("<III", data, 0)
    if fmt not in PIXEL_FORMATS:
        raise CaptureError(f"unsupported screencap pixel format {fmt}")
    if not (0 < width <= 32768 and 0 < height <= 32768):
        raise CaptureError(f"implausible screencap size {width}x{height}")
    pixels = width * height * PIXEL_FORMATS[fmt][0]
    header_size = len(data) - pixels
    if header_size not in HEADER_SIZES:
        raise CaptureError(
            f"raw screencap of {width}x{height} {PIXEL_FORMAT_NAMES[fmt]} should be "
            f"{pixels} bytes after a 12- or 16-byte header, got {len(data)} bytes in all"
        )
    colorspace = struct.unpack_from("<I", data, 12)[0] if header_size == 16 else None
    return RawHeader(
        width=width,
        height=height,
        pixel_format=fmt,
        colorspace=colorspace,
        header_size=header_size,
    )


def strip_leading_text(data: bytes | bytearray | memoryview) -> memoryview:
    """Drop text lines printed before the image (at most a few, within the first 4 KiB).

    `exec-out` carries stderr too, and Android 12+ `screencap` warns on stderr
    when a device has several displays ("[Warning] Multiple displays were
    found..."). A raw header holds NUL bytes in its first four (the width is
    below 65536) and a PNG starts with byte 0x89, so neither is taken for text.
    """
    view = memoryview(data)
    for _ in range(5):
        head = bytes(view[:4096])
        end = head.find(b"\n")
        if end < 0 or b"\0" in head[: min(end, 4)] or head.startswith(b"\x89PNG"):
            break
        try:
            line = head[:end].decode("utf-8")
        except UnicodeDecodeError:
            break
        if not line.isprintable():
            break
        view = view[end + 1 :]
    return view


def decode_raw(data: bytes | bytearray | memoryview) -> Image.Image:
    """Decode a raw `screencap` dump (either header version) into an RGB image.

    Text lines before the header (stderr warnings) are skipped.
    """
    try:
        header = parse_raw_header(data)
    except CaptureError:
        stripped = strip_leading_text(data)
        if len(stripped) == len(data):
            raise
        data = stripped
        header = parse_raw_header(data)
    _, mode, rawmode = PIXEL_FORMATS[header.pixel_format]
    view = memoryview(data)[header.header_size :]
    image = Image.frombuffer(mode, (header.width, header.height), view, "raw", rawmode, 0, 1)
    # RGBA -> RGB drops alpha without compositing: screen pixels are opaque.
    return image.convert("RGB")


def decode_png(data: bytes | bytearray | memoryview) -> Image.Image:
    """Decode `screencap -p` output into an RGB image (text lines before it are skipped)."""
    original, data = data, strip_leading_text(data)
    if bytes(data[:8]) != b"\x89PNG\r\n\x1a\n":
        head = bytes(original[:60]).decode("utf-8", "replace").strip()
        raise CaptureError(f"screencap -p did not return a PNG: {head!r}")
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError) as exc:
        raise CaptureError(f"screencap -p returned a broken PNG: {exc}") from exc
    return image.convert("RGB")


def encode_raw(image: Image.Image, *, pixel_format: int = 1, colorspace: int | None = 1) -> bytes:
    """The raw dump `screencap` would write for `image` (the inverse of `decode_raw`).

    `colorspace=None` writes the 12-byte header of Android 7 and older. Used by
    the test device and the capture benchmark.
    """
    if pixel_format not in PIXEL_FORMATS:
        raise CaptureError(f"unsupported screencap pixel format {pixel_format}")
    rgb = image.convert("RGB")
    if pixel_format == 1:
        pixels = image.convert("RGBA").tobytes("raw", "RGBA")
    elif pixel_format == 2:
        pixels = rgb.tobytes("raw", "RGBX")
    elif pixel_format == 3:
        pixels = rgb.tobytes("raw", "RGB")
    elif pixel_format == 5:
        pixels = image.convert("RGBA").tobytes("raw", "BGRA")
    else:
        import numpy as np

        arr = np.asarray(rgb, dtype=np.uint16)
        words = ((arr[..., 0] >> 3) << 11) | ((arr[..., 1] >> 2) << 5) | (arr[..., 2] >> 3)
        pixels = words.astype("<u2").tobytes()
    header = struct.pack("<III", image.width, image.height, pixel_format)
    if colorspace is not None:
        header += struct.pack("<I", colorspace)
    return header + pixels
