"""Visual fingerprints of grounded targets, and finding one again on a new screenshot.

A fingerprint is a crop of the screenshot around the target: the target's box
(or a small area around the point) plus a margin of context, so that two
identical "OK" buttons in different places still look different. Whether a
window of a new screenshot shows the same thing is decided by two measures
together:

* normalised cross-correlation of the grey levels (NCC): the shapes - label,
  borders, icon - are the same, whatever the brightness;
* the share of pixels whose colour moved by more than `PIXEL_TOLERANCE` in any
  channel: NCC alone is blind to a recolour (a grey button turned red keeps
  its shapes), this is not.

`verify_at` checks the cached place (and a couple of pixels around it);
`search` looks over the whole screen: a coarse NCC map at a quarter of the
resolution, computed with FFTs, proposes the best few places, each is refined
and scored at full resolution. Plain numpy; no OpenCV needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from PIL import Image

Rect = tuple[int, int, int, int]  # x, y, width, height in screenshot pixels

PIXEL_TOLERANCE = 40
"""A pixel counts as changed when a channel moved by more than this (0-255)."""
MATCH_NCC, MATCH_CHANGED = 0.97, 0.01
"""Same face: grey-level correlation at least this, at most this share of pixels changed."""
SIMILAR_NCC, SIMILAR_CHANGED = 0.92, 0.04
"""Nearly a match: two such places make a search ambiguous. Measured on Tk buttons: the same
button 1.0 (hovered 0.99), other labels 0.73-0.87 ("Export" against "Import": 0.87)."""
MIN_CONTRAST = 6.0
"""A crop whose grey levels vary less than this (std) is too plain to be recognised."""
VERIFY_RADIUS = 2
"""The cached place is checked this many pixels around, for sub-pixel layout jitter."""
COARSE = 4
"""Down-sampling factor of the search's first pass."""
PHASES = (0, COARSE // 2)
"""Sub-block offsets of the crop tried in each axis in the coarse pass: averaging 4x4 blocks
loses text detail unless the crop's blocks line up with the screen's (measured: the same
button at the wrong phase scores 0.85 there, below other buttons' 0.9)."""
CANDIDATES = 8
"""Places the coarse pass hands to the full-resolution check, at most."""
COARSE_FLOOR = 0.88
"""Coarse NCC below which a second place is not checked at full resolution: the same face
scores 0.95-1.0 at its best phase, and blurring only raises a look-alike's score, so a
place that could be comparable at full resolution is above this (other labels: 0.7-0.87)."""

# Crop sizes at scale 1 (multiplied by the screen's HiDPI scale).
POINT_HALF = (24, 12)  # the target's assumed half-size when only a point is known
MARGIN = (24, 16)  # context on each side of the target
MIN_SIZE = (96, 48)
MAX_SIZE = (256, 128)


@dataclass(frozen=True)
class Score:
    """How alike a crop and a window of the screen are."""

    ncc: float
    changed: float

    @property
    def matches(self) -> bool:
        return self.ncc >= MATCH_NCC and self.changed <= MATCH_CHANGED

    @property
    def similar(self) -> bool:
        return self.ncc >= SIMILAR_NCC and self.changed <= SIMILAR_CHANGED


@dataclass(frozen=True)
class Found:
    """Where a crop was found: its top-left corner, and how well it matched there."""

    x: int
    y: int
    score: Score


def crop_rect(
    point: tuple[float, float],
    box: tuple[float, float, float, float] | None,
    image_size: tuple[int, int],
    scale: float = 1.0,
) -> Rect:
    """The area to keep around a target: its box (or point) plus context, inside the image."""
    width, height = image_size
    unit = max(1.0, scale)
    px, py = point
    if box is not None and box[2] - box[0] >= 4 and box[3] - box[1] >= 4:
        x1, y1, x2, y2 = box
    else:
        x1, y1 = px - POINT_HALF[0] * unit, py - POINT_HALF[1] * unit
        x2, y2 = px + POINT_HALF[0] * unit, py + POINT_HALF[1] * unit
    x1, y1 = x1 - MARGIN[0] * unit, y1 - MARGIN[1] * unit
    x2, y2 = x2 + MARGIN[0] * unit, y2 + MARGIN[1] * unit
    w = min(max(x2 - x1, MIN_SIZE[0] * unit), MAX_SIZE[0] * unit, width)
    h = min(max(y2 - y1, MIN_SIZE[1] * unit), MAX_SIZE[1] * unit, height)
    # centred on the box, or on the point when the box is larger than the largest crop
    cx = (x1 + x2) / 2 if x2 - x1 <= w else px
    cy = (y1 + y2) / 2 if y2 - y1 <= h else py
    left = int(round(min(max(cx - w / 2, 0), width - w)))
    top = int(round(min(max(cy - h / 2, 0), height - h)))
    return left, top, int(w), int(h)


CONTEXT_SIDE = 480
"""How far (pixels at scale 1) the context strip reaches left and right of the crop: far
enough for a row's name column beside its buttons."""


def context_rect(crop: Rect, image_size: tuple[int, int], scale: float = 1.0) -> Rect:
    """The target's row: the crop's band, widened by `CONTEXT_SIDE` each way (inside the image).

    Kept for targets whose crop has look-alikes on screen; what tells "Delete in Alice's row"
    from "Delete in Bob's row" is beside the button, not in its crop.
    """
    x, y, w, h = crop
    side = int(round(CONTEXT_SIDE * max(1.0, scale)))
    left, right = max(0, x - side), min(image_size[0], x + w + side)
    return left, y, right - left, h


def to_array(image: Image.Image) -> np.ndarray:
    """An RGB image as a uint8 array (height, width, 3)."""
    return np.asarray(image.convert("RGB") if image.mode != "RGB" else image)


def _grey(rgb: np.ndarray) -> np.ndarray:
    # ITU-R 601 luma, as PIL's convert("L")
    return (
        rgb[..., 0] * np.float32(0.299)
        + rgb[..., 1] * np.float32(0.587)
        + rgb[..., 2] * np.float32(0.114)
    )


def distinct(crop: np.ndarray) -> bool:
    """Whether a crop has enough structure to be recognised (not a plain area)."""
    return float(_grey(crop.astype(np.float32)).std()) >= MIN_CONTRAST


def score(crop: np.ndarray, window: np.ndarray) -> Score:
    """Compare a stored crop with a window of the same size (both uint8 RGB)."""
    diff = np.abs(crop.astype(np.int16) - window.astype(np.int16)).max(axis=2)
    changed = float((diff > PIXEL_TOLERANCE).mean())
    a = _grey(crop.astype(np.float32))
    b = _grey(window.astype(np.float32))
    a -= a.mean()
    b -= b.mean()
    denominator = float(np.sqrt((a * a).sum() * (b * b).sum()))
    ncc = float((a * b).sum()) / denominator if denominator > 1e-6 else 0.0
    return Score(ncc=round(ncc, 4), changed=round(changed, 4))


class Screen:
    """One screenshot, with the search's coarse grey image computed once, when first needed.

    Everything else reads small regions straight from the image: converting a
    whole 1080p frame to an array costs more than checking a crop.
    """

    def __init__(self, image: Image.Image) -> None:
        self.image = image if image.mode == "RGB" else image.convert("RGB")
        self.size = image.size

    def region(self, rect: Rect) -> np.ndarray:
        """The RGB pixels of `rect` (clipped to the image) as a uint8 array."""
        x, y, w, h = rect
        return np.asarray(self.image.crop((x, y, x + w, y + h)))

    @cached_property
    def coarse(self) -> np.ndarray:
        """The grey image averaged over COARSE x COARSE blocks (PIL's box reduce, in C)."""
        return np.asarray(self.image.convert("L").reduce(COARSE), dtype=np.float32)

    @cached_property
    def _coarse_spectrum(self) -> tuple[np.ndarray, tuple[int, int], np.ndarray, np.ndarray]:
        c = self.coarse
        shape = (_fast_length(c.shape[0]), _fast_length(c.shape[1]))
        spectrum = np.fft.rfft2(c, s=shape)
        s1 = np.pad(c, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
        s2 = np.pad(c * c, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
        return spectrum, shape, s1, s2


STRIP_TILE = 64
"""Width of the tiles a context strip is compared in: a name that differs ("Alice" / "Bob")
changes a few hundred pixels, under 1 % of a whole row but several % of its tile."""


def strip_matches(screen: Screen, strip: np.ndarray, x: int, y: int) -> bool:
    """Whether a context strip is still there at (x, y), tile by tile (`STRIP_TILE`).

    A row is wide and mostly background, so one score over all of it misses a changed
    name; each tile must match on its own (plain tiles by their colours alone).
    """
    found = verify_at(screen, strip, x, y)
    if not found.score.matches:
        return False
    h, w = strip.shape[:2]
    window = screen.region((found.x, found.y, w, h))
    for left in range(0, w, STRIP_TILE):
        a, b = strip[:, left : left + STRIP_TILE], window[:, left : left + STRIP_TILE]
        tile = score(a, b)
        if tile.changed > MATCH_CHANGED or (distinct(a) and tile.ncc < MATCH_NCC):
            return False
    return True


def _fast_length(n: int) -> int:
    """The smallest m >= n with no prime factor above 5: FFT sizes pocketfft handles fastest."""
    m = max(n, 1)
    while True:
        k = m
        for p in (2, 3, 5):
            while k % p == 0:
                k //= p
        if k == 1:
            return m
        m += 1


def _refine(screen: Screen, crop: np.ndarray, x: int, y: int, radius: int) -> Found:
    """The best place for the crop within `radius` pixels of (x, y), scored in full.

    Aligned by least squares on grey levels, then scored (`score`) there.
    """
    h, w = crop.shape[:2]
    width, height = screen.size
    x0, y0 = max(x - radius, 0), max(y - radius, 0)
    x1, y1 = min(x + radius, width - w), min(y + radius, height - h)
    if x1 < x0 or y1 < y0:  # the crop no longer fits there
        return Found(x, y, Score(ncc=0.0, changed=1.0))
    region = screen.region((x0, y0, x1 - x0 + w, y1 - y0 + h))
    views = np.lib.stride_tricks.sliding_window_view(_grey(region.astype(np.float32)), (h, w))
    sse = ((views - _grey(crop.astype(np.float32))) ** 2).sum(axis=(2, 3))
    dy, dx = (int(v) for v in np.unravel_index(int(np.argmin(sse)), sse.shape))
    return Found(x0 + dx, y0 + dy, score(crop, region[dy : dy + h, dx : dx + w]))


def verify_at(screen: Screen, crop: np.ndarray, x: int, y: int) -> Found:
    """The crop checked at its cached place, allowing `VERIFY_RADIUS` pixels of jitter."""
    return _refine(screen, crop, x, y, VERIFY_RADIUS)


def search(screen: Screen, crop: np.ndarray) -> list[Found]:
    """Places on the whole screen where the crop may be, best first (each scored in full)."""
    h, w = crop.shape[:2]
    half = COARSE // 2
    ch, cw = (h - half) // COARSE, (w - half) // COARSE  # blocks that fit at every phase
    coarse = screen.coarse
    if ch < 2 or cw < 2 or ch > coarse.shape[0] or cw > coarse.shape[1]:
        return []
    spectrum, shape, s1, s2 = screen._coarse_spectrum
    rows, cols = coarse.shape[0] - ch + 1, coarse.shape[1] - cw + 1
    total = s1[ch:, cw:] - s1[:-ch, cw:] - s1[ch:, :-cw] + s1[:-ch, :-cw]
    squares = s2[ch:, cw:] - s2[:-ch, cw:] - s2[ch:, :-cw] + s2[:-ch, :-cw]
    deviation = np.sqrt(np.maximum(squares - total * total / (ch * cw), 0.0))
    grey = _grey(crop.astype(np.float32))
    best = np.full((rows, cols), -np.inf, dtype=np.float32)  # correlation / |template|
    phase = np.zeros((rows, cols), dtype=np.int8)
    for number, (py, px) in enumerate((py, px) for py in PHASES for px in PHASES):
        block = grey[py : py + ch * COARSE, px : px + cw * COARSE]
        template = block.reshape(ch, COARSE, cw, COARSE).mean(axis=(1, 3))
        template -= template.mean()
        t_norm = float(np.sqrt((template * template).sum()))
        if t_norm < 1e-6:
            return []
        product = spectrum * np.conj(np.fft.rfft2(template, s=shape))
        correlation = np.fft.irfft2(product, s=shape)[:rows, :cols] / t_norm
        better = correlation > best
        best[better], phase[better] = correlation[better], number
    best = np.where(deviation > 0.03, best / np.maximum(deviation, 1e-6), -1.0)  # NCC
    found: list[Found] = []
    for _ in range(CANDIDATES):
        cy, cx = divmod(int(np.argmax(best)), cols)
        if found and best[cy, cx] < COARSE_FLOOR:
            break  # nothing else comes close even at a quarter of the resolution
        py, px = PHASES[int(phase[cy, cx]) // len(PHASES)], PHASES[int(phase[cy, cx]) % len(PHASES)]
        # suppress this peak's neighbourhood: the next candidate is another place
        best[max(cy - ch // 2, 0) : cy + ch // 2 + 1, max(cx - cw // 2, 0) : cx + cw // 2 + 1] = -1
        place = _refine(screen, crop, cx * COARSE - px, cy * COARSE - py, half + 1)
        if not any(abs(f.x - place.x) <= 3 and abs(f.y - place.y) <= 3 for f in found):
            found.append(place)
    found.sort(key=lambda f: (f.score.matches, f.score.ncc, -f.score.changed), reverse=True)
    return found
