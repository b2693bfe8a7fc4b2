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

from actions.errors import InputError, require
from actions.frames import CoordinateFrame, ModelFamily
from agent.models.base import Model, ModelReply, ModelRequest
from agent.models.ocr_match import (
    OcrLine,
    Strictness,
    TextMatch,
    best_match,
    closest_text,
    target_text,
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


def read_text(image: Image.Image) -> list[OcrLine]:
    """Recognise every text line of `image` (boxes in its pixels); cached per image content."""
    key = _image_key(image)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    np = require("numpy", "ocr")
    engine = _get_engine()
    start = time.perf_counter()
    result = engine(np.asarray(image.convert("RGB")))
    lines: list[OcrLine] = []
    if result.boxes is not None and result.txts:
        for quad, text, score in zip(result.boxes, result.txts, result.scores, strict=False):
            xs = [float(p[0]) for p in quad]
            ys = [float(p[1]) for p in quad]
            lines.append(OcrLine(text, (min(xs), min(ys), max(xs), max(ys)), float(score)))
    log.debug("OCR %dx%d: %d lines in %.2f s", *image.size, len(lines), time.perf_counter() - start)
    with _cache_lock:
        _cache[key] = lines
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return lines


def find_text(
    image: Image.Image, text: str, *, strictness: Strictness = "strict"
) -> TextMatch | None:
    """Where `text` appears on `image` (None if it does not), for wait_for and assert."""
    return best_match(read_text(image), text, strictness=strictness)


def grounding_answer(match: TextMatch) -> str:
    """A match written as Qwen2.5-VL writes a grounding answer (pixels of the image)."""
    x1, y1, x2, y2 = (round(v) for v in match.box)
    item = {"bbox_2d": [x1, y1, x2, y2], "label": match.line}
    return "```json\n" + json.dumps([item], ensure_ascii=False) + "\n```"


def not_found_answer(target: str, lines: list[OcrLine]) -> str:
    """An answer with no coordinate, so that the parser reports the miss as an error."""
    closest = closest_text(lines, target)
    # brackets and parentheses could read as coordinates to a tolerant parser
    clean = (closest or "").translate(str.maketrans("", "", "()[]{}<>"))
    seen = f"; closest text on screen: {json.dumps(clean, ensure_ascii=False)}" if clean else ""
    return f"not found: no text on screen matches {json.dumps(target, ensure_ascii=False)}{seen}"


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
        return [self._ground(request) for request in requests]

    def _ground(self, request: ModelRequest) -> ModelReply:
        image = request.image
        start = time.perf_counter()
        lines = read_text(image)
        ocr_seconds = time.perf_counter() - start
        target = target_text(request.instruction)
        match = best_match(lines, target, strictness="ground")
        raw = grounding_answer(match) if match else not_found_answer(target, lines)
        frame = CoordinateFrame(family=self.family, image_size=image.size, model_size=image.size)
        seconds = {"ocr": ocr_seconds, "match": time.perf_counter() - start - ocr_seconds}
        return ModelReply(raw=raw, frame=frame, visual_tokens=None, seconds=seconds)
