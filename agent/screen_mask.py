"""Black out secrets in a run's screenshots: OCR text that shows one, and the typed field.

`mask_text_regions` reads a whole screenshot and blacks out every line that
may show a secret (`agent.secrets.shows_secret`: inside a longer word, a
part of it, any encoding, a misread copy). `ScreenMasker` does the same for
the screenshots of one run, in order, at a fraction of the cost: a screen
already read in this step (grounding, ``wait_for``) is not read again, and
otherwise only the band of rows that changed since the previous screenshot
is read, the secret boxes found outside it being kept. Once a secret was
typed, the band of the screen where it was typed (the row of the last click)
is blacked out whatever OCR reads there, and a screen on which OCR reads
nothing although it is not blank raises, so it is withheld.

`RunScreens` is what a recorded session hands each screenshot to before the
run folder's writer (`agent.trajectory.RunWriter`) gets it: the writer only
writes, it runs no model (the session owns the models, OCR included).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from PIL import Image, ImageDraw

from agent.secrets import Redactor, shows_secret

log = logging.getLogger(__name__)

Box = tuple[float, float, float, float]
FIELD_HALF_HEIGHT = 28
"""Half the height of the band blacked out around the point where a secret was typed."""
_PAD = 32
"""Rows read above and below a changed band, so a line across its edge is read whole."""
_MIN_ROWS = 736
"""RapidOCR's detector enlarges an image whose shorter side is below this (its default)."""


class SecretUnverifiable(RuntimeError):
    """A secret was typed and OCR could not check this screenshot for it."""


def secret_boxes(lines: list, redactor: Redactor) -> list[Box]:
    """Boxes of the OCR lines that may show a secret."""
    return [ln.box for ln in lines if shows_secret(ln.text, redactor)]


def _blackout(image: Image.Image, boxes: list[Box]) -> Image.Image:
    if not boxes:
        return image
    masked = image.copy()
    draw = ImageDraw.Draw(masked)
    for x1, y1, x2, y2 in boxes:
        draw.rectangle((x1 - 2, y1 - 2, x2 + 2, y2 + 2), fill="black")
    return masked


def mask_text_regions(image: Image.Image, redactor: Redactor) -> Image.Image:
    """Black out every recognised text line that may show a secret (OCR of the whole image).

    Raises:
        MissingDependency: the OCR extra is not installed (the caller decides
            whether the screenshot may be kept).
    """
    from agent.models.ocr import read_text

    return _blackout(image, secret_boxes(read_text(image), redactor))


class ScreenMasker:
    """The masking of one run's screenshots, incremental (see the module docstring)."""

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor
        self.fields: list[Box] = []
        self.seconds = 0.0  # spent by the last `mask` call
        self._last = None  # the previous screenshot's pixels (numpy) and its secret boxes
        self._boxes: list[Box] = []

    def typed_at(self, point: tuple[float, float] | None, width: int) -> None:
        """A secret was typed with the pointer last at `point` (screenshot pixels).

        The field it went into is near there (the click that focused it):
        the full-width band of rows around the point is blacked out from now on.
        """
        if point is not None:
            y = point[1]
            self.fields.append((0.0, y - FIELD_HALF_HEIGHT, float(width), y + FIELD_HALF_HEIGHT))

    def mask(self, image: Image.Image, *, secret_typed: bool) -> Image.Image:
        """`image` with every secret it may show blacked out.

        Raises:
            MissingDependency: no OCR extra.
            SecretUnverifiable: a secret was typed and OCR read nothing on a screen
                that is not blank.
        """
        start = time.perf_counter()
        try:
            boxes = self._secret_boxes(image, secret_typed)
        except Exception:
            # nothing was checked: the next screenshot must not count as "unchanged
            # since a checked one"
            self._last, self._boxes = None, []
            raise
        finally:
            self.seconds = time.perf_counter() - start
        return _blackout(image, boxes + (self.fields if secret_typed else []))

    def _secret_boxes(self, image: Image.Image, secret_typed: bool) -> list[Box]:
        from actions.project_errors import require
        from agent.models.ocr import blank, cached_text, read_text

        np = require("numpy", "ocr")
        pixels = np.asarray(image.convert("RGB"))
        lines = cached_text(image)
        last, self._last = self._last, pixels
        if lines is None and last is not None and last.shape == pixels.shape:
            rows = np.flatnonzero((pixels != last).any(axis=(1, 2)))
            if rows.size == 0:
                return list(self._boxes)
            top = max(0, int(rows[0]) - _PAD)
            bottom = min(pixels.shape[0], int(rows[-1]) + 1 + _PAD)
            if (bottom - top) < pixels.shape[0] * 0.8:  # else a full read costs the same
                kept = [b for b in self._boxes if b[3] <= top or b[1] >= bottom]
                # the band on a flat frame at least `_MIN_ROWS` high: a crop of a few
                # rows would be enlarged by the detector and cost more than the whole
                # screen; flat rows cost the recogniser nothing
                frame_top = max(0, min(top, pixels.shape[0] - _MIN_ROWS))
                frame_bottom = min(pixels.shape[0], max(bottom, frame_top + _MIN_ROWS))
                only_band = Image.new("RGB", (image.width, frame_bottom - frame_top))
                only_band.paste(image.crop((0, top, image.width, bottom)), (0, top - frame_top))
                found = [(x1, y1 + frame_top, x2, y2 + frame_top) for x1, y1, x2, y2 in
                         secret_boxes(read_text(only_band, quiet=True), self.redactor)]  # fmt: skip
                self._boxes = kept + found
                return list(self._boxes)
        if lines is None:
            lines = read_text(image)
        if secret_typed and not lines and not blank(image):
            self._last = None
            raise SecretUnverifiable("OCR read no text on this screen, so it cannot be checked")
        self._boxes = secret_boxes(lines, self.redactor)
        return list(self._boxes)


def withheld_screenshot(size: tuple[int, int], why: str) -> Image.Image:
    """A grey frame of `size` saying why the real screenshot was not kept."""
    image = Image.new("RGB", size, (48, 48, 48))
    draw = ImageDraw.Draw(image)
    lines = ["screenshot withheld: a secret was typed and cannot be blacked out", why]
    for i, text in enumerate(lines):
        draw.text((16, 16 + 24 * i), text[:160], fill=(230, 230, 230))
    return image


class RunScreens:
    """The screenshots of one recorded run, made safe to write: secrets blacked out.

    Without OCR the secrets cannot be found on screen: once a secret was typed,
    a screenshot is then replaced by a grey frame saying why (fail closed)
    rather than kept as it is. `mask_screens` None: screenshots are kept as they
    are (a caller that knows no secret can be on screen).
    """

    def __init__(
        self,
        redactor: Redactor,
        mask_screens: Callable[[Image.Image, Redactor], Image.Image] | None = mask_text_regions,
    ) -> None:
        self.redactor = redactor  # shared with the session: secrets added later count
        self.mask_screens = mask_screens
        # the default masking is incremental over the run
        self._masker = ScreenMasker(redactor) if mask_screens is mask_text_regions else None
        self.seconds = 0.0  # spent on the last screenshot
        self._secret_typed = False

    def secret_typed(self, point: tuple[float, float] | None = None, width: int = 0) -> None:
        """A secret was typed: from now on a screenshot that cannot be masked is withheld.

        Args:
            point: where the pointer last was (screenshot pixels), near the field
                the secret went into: that band of the screen is blacked out.
            width: the screenshot's width.
        """
        self._secret_typed = True
        if self._masker is not None:
            self._masker.typed_at(point, width)

    def safe(self, image: Image.Image, name: str) -> Image.Image:
        """`image` with every secret it may show blacked out, or the withheld frame."""
        start = time.perf_counter()
        if self.redactor and self.mask_screens is not None:
            try:
                if self._masker is not None:
                    image = self._masker.mask(image, secret_typed=self._secret_typed)
                else:
                    image = self.mask_screens(image, self.redactor)
            except Exception as exc:  # no OCR extra, or OCR failed on this frame
                if self._secret_typed:
                    why = self.redactor.text(str(exc).splitlines()[0] if str(exc) else repr(exc))
                    log.warning("screenshot %s withheld: %s", name, why)
                    image = withheld_screenshot(image.size, why)
                else:
                    log.debug("cannot look for secrets in screenshot %s: %s", name, exc)
        self.seconds = time.perf_counter() - start
        return image
