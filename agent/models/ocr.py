"""The offline `ocr` grounder: RapidOCR with the models its wheel ships, no GPU, no weights.

It answers grounding requests ("where is the Save button?") by reading the
screen's text and matching the instruction's quoted or salient text against
it (see `agent.models.ocr_match`). The answer is written the way Qwen2.5-VL
writes a grounding answer (```json [{"bbox_2d": [...], "label": ...}]```) in
a frame whose model space *is* the image's pixel space, so the shared parser
and coordinate code treat it like any other model. When nothing matches well
enough the answer has no coordinate, which the parser reports as an error.

It cannot plan: a next-action ("act") request is refused with an error that
names the backends that can. `find_text` is the strict text search used by
the task steps ``wait_for`` and ``assert`` whatever the model backend is.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict
from typing import Any

from PIL import Image

from actions.frames import CoordinateFrame, ModelFamily
from actions.project_errors import InputError, require
from agent.models.base import Model, ModelReply, ModelRequest
from agent.models.ocr_match import (
    OcrLine,
    Strictness,
    TextMatch,
    all_matches,
    best_match,
    closest_text,
    equally_good,
    normalize,
    target_text,
    unmatchable,
)

log = logging.getLogger(__name__)

# Orientation classification only matters for upside-down text (photos,
# scans); screens are upright, and skipping it saves a model and time. Its
# warnings ("detection result is empty") are normal on a blank screen.
ENGINE_PARAMS: dict[str, Any] = {"Global.use_cls": False, "Global.log_level": "error"}
_CACHE_SIZE = 8

_engine_lock = threading.Lock()
_engine: Any = None
_cache_lock = threading.Lock()
_cache: OrderedDict[bytes, list[OcrLine]] = OrderedDict()


def _get_engine() -> Any:
    """The process's RapidOCR engine; loading its models takes seconds, so only once."""
    global _engine
    with _engine_lock:
        if _engine is None:
            rapidocr = require("rapidocr", "ocr")
            start = time.perf_counter()
            _engine = rapidocr.RapidOCR(params=dict(ENGINE_PARAMS))
            log.info("loaded RapidOCR in %.2f s", time.perf_counter() - start)
        return _engine


def _image_key(image: Image.Image) -> bytes:
    digest = hashlib.blake2b(image.tobytes(), digest_size=16)
    digest.update(f"{image.mode}{image.size}".encode())
    return digest.digest()


def cached_text(image: Image.Image) -> list[OcrLine] | None:
    """The lines already read from these pixels (by this step's grounding or check), if any."""
    key = _image_key(image)
    with _cache_lock:
        return _cache.get(key)


TILE = (1280, 800)
"""Largest piece of a screen read at once. RapidOCR's detector misses small or isolated
labels on larger frames (mousepad's menu bar, zenity's "No", a calculator's "x" at
1920x1080) that it reads in the same pixels cropped to this size, so a larger screen is
read in overlapping tiles of at most this size."""
_OVERLAP = 0.25
"""Share of a tile its neighbour also reads: a line narrower than that lies whole in one."""


def tiles(size: tuple[int, int], tile: tuple[int, int] = TILE) -> list[tuple[int, int, int, int]]:
    """Overlapping boxes (left, top, right, bottom) of at most `tile` that cover `size`."""
    return [
        (x, y, min(x + tile[0], size[0]), min(y + tile[1], size[1]))
        for y in _starts(size[1], tile[1])
        for x in _starts(size[0], tile[0])
    ]


def _starts(length: int, tile: int) -> list[int]:
    if length <= tile:
        return [0]
    count = 1 + -(-(length - tile) // int(tile * (1 - _OVERLAP)))  # ceil
    step = (length - tile) / (count - 1)
    return [round(i * step) for i in range(count)]


def _merged(lines: list[OcrLine]) -> list[OcrLine]:
    """One line per piece of text read in several tiles: the largest box (a tile's edge
    may cut a line, and the cut part is inside the whole one), then the best score."""
    kept: list[OcrLine] = []
    for line in sorted(lines, key=lambda ln: (-_area(ln.box), -ln.score)):
        if not any(_overlap(line.box, other.box) > 0.6 for other in kept):
            kept.append(line)
    return sorted(kept, key=lambda ln: (ln.box[1], ln.box[0]))


def _area(box: tuple[float, float, float, float]) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over the smaller box's area."""
    inter = _area((max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])))
    if inter <= 0:
        return 0.0
    return inter / max(min(_area(a), _area(b)), 1e-6)


def read_text(image: Image.Image, *, quiet: bool = False) -> list[OcrLine]:
    """Recognise every text line of `image` (boxes in its pixels); cached per image content.

    A screen larger than `TILE` is read in overlapping tiles and the lines
    seen twice are merged, so that what is read does not depend on the frame
    size. A screen that is not blank but yields no text is logged as a warning
    (``quiet``: not for a piece of a screen, where that is normal).
    """
    key = _image_key(image)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    np = require("numpy", "ocr")
    engine = _get_engine()
    start = time.perf_counter()
    rgb = image.convert("RGB")
    found: list[OcrLine] = []
    pieces = tiles(rgb.size)
    for left, top, right, bottom in pieces:
        result = engine(np.asarray(rgb.crop((left, top, right, bottom))))
        if result.boxes is None or not result.txts:
            continue
        for quad, text, score in zip(result.boxes, result.txts, result.scores, strict=False):
            xs = [float(p[0]) + left for p in quad]
            ys = [float(p[1]) + top for p in quad]
            found.append(OcrLine(text, (min(xs), min(ys), max(xs), max(ys)), float(score)))
    lines = _merged(found) if len(pieces) > 1 else found
    log.debug(
        "OCR %dx%d in %d tiles: %d lines in %.2f s",
        *image.size, len(pieces), len(lines), time.perf_counter() - start,
    )  # fmt: skip
    if not lines and not quiet and not blank(rgb):
        log.warning("OCR read no text on a %dx%d screen that is not blank", *image.size)
    with _cache_lock:
        _cache[key] = lines
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return lines


ZOOM = 2
"""How much a keypad is enlarged for the second read of a short label (`zoomed_text`)."""


def zoomed_text(image: Image.Image, lines: list[OcrLine]) -> list[OcrLine]:
    """`lines` plus what a second read finds in keypads enlarged `ZOOM` times.

    The detector misses small lone symbols ("=", "-" on a calculator's keys)
    that it finds in the same pixels enlarged. A keypad shows itself as a
    cluster of at least three short labels; each cluster (the labels' box
    and a small margin) is read again enlarged, and the lines not seen before
    are added. Only used when a short target was not found, so the cost is
    paid on misses alone.
    """
    short = [ln.box for ln in lines if 0 < len(normalize(ln.text).replace(" ", "")) <= 3]
    found: list[OcrLine] = []
    for x1, y1, x2, y2 in _keypads(short):
        box = (max(0, int(x1) - 20), max(0, int(y1) - 20),
               min(image.width, int(x2) + 20), min(image.height, int(y2) + 20))  # fmt: skip
        crop = image.crop(box)
        big = crop.resize((crop.width * ZOOM, crop.height * ZOOM), Image.Resampling.BICUBIC)
        for ln in read_text(big, quiet=True):
            bx1, by1, bx2, by2 = (v / ZOOM for v in ln.box)
            moved = (bx1 + box[0], by1 + box[1], bx2 + box[0], by2 + box[1])
            if not any(_overlap(moved, old.box) > 0.5 for old in lines + found):
                found.append(OcrLine(ln.text, moved, ln.score))
    if found:
        log.debug("a zoomed read of keypads found %d more lines", len(found))
    return lines + found


def _keypads(boxes: list[tuple[float, float, float, float]]) -> list[tuple[float, ...]]:
    """Bounding boxes of clusters of at least three short labels close to each other
    (within 2.5 label heights: a keypad's keys)."""
    groups: list[tuple[tuple[float, ...], tuple[float, ...], int]] = []  # grown, tight, count
    for box in boxes:
        margin = (box[3] - box[1]) * 2.5
        grown: tuple[float, ...] = (box[0] - margin, box[1] - margin,
                                    box[2] + margin, box[3] + margin)  # fmt: skip
        tight: tuple[float, ...] = box
        count = 1
        rest = []
        for g, t, n in groups:
            if g[0] < grown[2] and grown[0] < g[2] and g[1] < grown[3] and grown[1] < g[3]:
                grown = (min(g[0], grown[0]), min(g[1], grown[1]),
                         max(g[2], grown[2]), max(g[3], grown[3]))  # fmt: skip
                tight = (min(t[0], tight[0]), min(t[1], tight[1]),
                         max(t[2], tight[2]), max(t[3], tight[3]))  # fmt: skip
                count += n
            else:
                rest.append((g, t, n))
        groups = [*rest, (grown, tight, count)]
    return [tight for _, tight, count in groups if count >= 3]


def blank(image: Image.Image) -> bool:
    """One colour, or nearly: nothing on it to read."""
    extrema = image.convert("L").getextrema()
    return int(extrema[1]) - int(extrema[0]) < 16


def find_text(
    image: Image.Image, text: str, *, strictness: Strictness = "strict"
) -> TextMatch | None:
    """Where `text` appears on `image` (None if it does not), for wait_for and assert."""
    return best_match(read_text(image), text, strictness=strictness)


def grounding_answer(match: TextMatch, candidates: list[TextMatch] | None = None) -> str:
    """A match written as Qwen2.5-VL writes a grounding answer (pixels of the image).

    When the target's text appears several times, ``candidates`` lists every
    box (the chosen one first) for the step record (`ambiguity`).
    """
    x1, y1, x2, y2 = (round(v) for v in match.box)
    item: dict[str, Any] = {"bbox_2d": [x1, y1, x2, y2], "label": match.line}
    if candidates and len(candidates) > 1:
        item["candidates"] = [[round(v) for v in c.box] for c in candidates]
    return "```json\n" + json.dumps([item], ensure_ascii=False) + "\n```"


def ambiguity(raw: str) -> list[list[int]] | None:
    """The candidate boxes an OCR answer lists when its text was on screen several times."""
    if not raw.startswith("```json\n"):
        return None
    try:
        items = json.loads(raw.removeprefix("```json\n").removesuffix("\n```"))
        boxes = items[0].get("candidates") if isinstance(items, list) and items else None
    except (ValueError, AttributeError):
        return None
    return boxes if isinstance(boxes, list) and len(boxes) > 1 else None


def enclosure(image: Image.Image, box: tuple[float, float, float, float]) -> float:
    """How far the label's background reaches, in label heights: small for a button.

    From the middle of each side of the box, walk outwards until the colour
    changes (a button's edge, another widget): a button's label is enclosed
    closely on all four sides; a display's or a text's is not (a calculator's
    display shows "7" with a wide empty field to its left).
    """
    grey = image.convert("L")
    width, height = grey.size
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    cx, cy = (x1 + x2) // 2, (y1 + y2) // 2
    size = max(y2 - y1, 8)
    limit = 12 * size
    pixels = grey.load()

    def reach(x: int, y: int, dx: int, dy: int) -> int:
        x, y = x + 2 * dx, y + 2 * dy
        if not (0 <= x < width and 0 <= y < height):
            return 0
        background = pixels[x, y]
        for step in range(limit):
            px, py = x + dx * step, y + dy * step
            if not (0 <= px < width and 0 <= py < height):
                return step
            if abs(int(pixels[px, py]) - int(background)) > 24:
                return step
        return limit

    sides = [reach(x1, cy, -1, 0), reach(x2, cy, 1, 0), reach(cx, y1, 0, -1), reach(cx, y2, 0, 1)]
    return max(sides) / size


def _button_like_first(image: Image.Image, matches: list[TextMatch]) -> list[TextMatch]:
    """Ambiguous matches, the most button-like (most closely enclosed) first."""
    return sorted(matches, key=lambda m: enclosure(image, m.box))


MISS_PREFIX = "not found: "


def not_found_answer(target: str, lines: list[OcrLine]) -> str:
    """An answer with no coordinate, so that the parser reports the miss as an error.

    It reads ``not found: no text reads "Save"; closest text: "Saved"``;
    `miss_message` gives the part after the prefix, for the user.
    """
    closest = closest_text(lines, target)
    # brackets and parentheses could read as coordinates to a tolerant parser
    drop = str.maketrans("", "", "()[]{}<>")
    clean = (closest or "").translate(drop)
    seen = f"; closest text: {json.dumps(clean, ensure_ascii=False)}" if clean else ""
    if not lines:
        seen = "; no text was read on the screen"
    shown = json.dumps(target.translate(drop), ensure_ascii=False)
    return f"{MISS_PREFIX}no text reads {shown}{seen}"


def miss_message(raw: str) -> str | None:
    """The user's words for an OCR miss (`not_found_answer`), or None for any other answer."""
    return raw[len(MISS_PREFIX) :] if raw.startswith(MISS_PREFIX) else None


def check_target(text: str) -> None:
    """Raise `InputError` for a target OCR can never find (no readable character in it)."""
    why = unmatchable(text)
    if why is not None:
        raise InputError(f"the ocr backend cannot look for {why}")


class OcrModel(Model):
    """Grounding by text recognition. `spec` is the task's ModelSpec (nothing in it is needed)."""

    family = ModelFamily.QWEN2_5_VL

    def __init__(self, spec: Any = None) -> None:
        self.spec = spec

    def answer(self, requests: list[ModelRequest]) -> list[ModelReply]:
        for request in requests:
            if request.kind != "ground":
                raise InputError(
                    "the ocr backend can only find text on screen (click, wait_for, assert); "
                    "it cannot plan towards a goal: use --backend qwen or --backend openai"
                )
        for request in requests:  # all checked before any is answered: nothing half-done
            check_target(target_text(request.instruction))
        return [self._ground(request) for request in requests]

    def _ground(self, request: ModelRequest) -> ModelReply:
        image = request.image
        start = time.perf_counter()
        lines = read_text(image)
        ocr_seconds = time.perf_counter() - start
        target = target_text(request.instruction)
        matches = all_matches(lines, target, strictness="ground")
        if not matches and len(normalize(target).replace(" ", "")) <= 3:
            lines = zoomed_text(image, lines)  # a small key's label the first read missed
            matches = all_matches(lines, target, strictness="ground")
        tied = equally_good(matches)
        if len(tied) > 1:  # the same text several times: prefer what looks like a button
            tied = _button_like_first(image, tied)
        match = tied[0] if tied else None
        raw = grounding_answer(match, tied) if match else not_found_answer(target, lines)
        frame = CoordinateFrame(family=self.family, image_size=image.size, model_size=image.size)
        seconds = {"ocr": ocr_seconds, "match": time.perf_counter() - start - ocr_seconds}
        return ModelReply(raw=raw, frame=frame, visual_tokens=None, seconds=seconds)
