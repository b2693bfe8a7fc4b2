"""The offline OCR grounder: text matching, and RapidOCR on rendered and real screens."""

from __future__ import annotations

import pytest
from PIL import Image, ImageDraw, ImageFont

from actions.parse import parse_answer
from actions.project_errors import InputError
from agent.models.base import ModelRequest
from agent.models.ocr_match import OcrLine, best_match, normalize, span_box, target_text

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


# -- matching (pure) -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("instruction", "target"),
    [
        ('click the "Save" button', "Save"),
        ("the Name field", "Name"),
        ("Click on the Submit button.", "Submit"),
        ("the text box labelled Email address", "Email address"),
        ("double-click the Groceries item", "Groceries"),
        ("tap Settings", "Settings"),
        ("wait for Saved", "Saved"),
        ("Subscribe to updates", "Subscribe to updates"),
        ("press \u201cOK\u201d", "OK"),
        ("the button", "button"),
    ],
)
def test_target_text_keeps_the_salient_words(instruction: str, target: str) -> None:
    assert target_text(instruction) == target


def test_normalize_folds_case_accents_and_punctuation() -> None:
    assert normalize("  Héllo,  WORLD! ") == "hello world"
    assert normalize("Name:") == "name"
    assert normalize("你好 世界") == "你好 世界"


LINES = [
    OcrLine("Save note", (100, 10, 190, 30), 0.99),
    OcrLine("Saved", (100, 200, 150, 220), 0.98),
    OcrLine("Submlt", (300, 10, 360, 30), 0.9),  # a typical one-letter misread
    OcrLine("你好世界 hello", (0, 100, 120, 120), 0.95),
    OcrLine("Name:", (10, 50, 60, 70), 0.99),
]


def test_word_inside_a_line_gets_its_own_box() -> None:
    match = best_match(LINES, "note")
    assert match is not None and match.line == "Save note"
    x1, _, x2, _ = match.box
    assert 140 <= x1 < x2 <= 190  # the right half of the line, not the whole line


def test_whole_line_beats_a_word_of_a_longer_line() -> None:
    match = best_match(LINES, "Saved")
    assert match is not None and match.box == (100, 200, 150, 220)


def test_strict_mode_does_not_take_save_for_saved() -> None:
    lines = [LINES[0]]  # only "Save note" on screen
    assert best_match(lines, "Saved", strictness="strict") is None
    assert best_match(lines, "Sav", strictness="strict") is None


def test_fuzzy_matching_tolerates_a_misread_letter() -> None:
    match = best_match(LINES, "Submit")
    assert match is not None and match.edits == 1 and match.line == "Submlt"


def test_cjk_substring_gets_a_proportional_box() -> None:
    match = best_match(LINES, "世界")
    assert match is not None
    # four wide characters (weight 2 each) then " hello" (6): 世界 spans 4..8 of 14 units
    x1, _, x2, _ = match.box
    assert x1 == pytest.approx(120 * 4 / 14, abs=0.1)
    assert x2 == pytest.approx(120 * 8 / 14, abs=0.1)


def test_span_box_splits_by_character_position() -> None:
    line = OcrLine("ab cd", (0, 0, 50, 10))
    assert span_box(line, 3, 5) == (30, 0, 50, 10)


def test_nothing_close_enough_is_no_match() -> None:
    assert best_match(LINES, "Delete") is None


# -- RapidOCR on rendered text ---------------------------------------------------------
def _rendered(
    words: dict[str, tuple[int, int]], size: tuple[int, int] = (1280, 800)
) -> Image.Image:
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(FONT, 18)
    for text, (x, y) in words.items():
        draw.text((x, y), text, fill="black", font=font)
    return image


@pytest.fixture(scope="module")
def screen() -> tuple[Image.Image, dict[str, tuple[int, int, int, int]]]:
    pytest.importorskip("rapidocr")
    words = {"File": (20, 12), "Save note": (400, 300), "Submit": (900, 640), "Cancel": (1040, 640)}
    image = _rendered(words)
    font = ImageFont.truetype(FONT, 18)
    boxes = {}
    for text, (x, y) in words.items():
        left, top, right, bottom = font.getbbox(text)
        boxes[text] = (x + left, y + top, x + right, y + bottom)
    return image, boxes


def test_ocr_model_grounds_a_button_label(screen) -> None:
    from agent.models.ocr import OcrModel

    image, boxes = screen
    reply = OcrModel().answer(
        [ModelRequest(kind="ground", image=image, instruction="the Submit button")]
    )[0]
    assert reply.frame.model_size == image.size == reply.frame.image_size
    parsed = parse_answer(reply.raw, reply.frame)
    assert parsed.ok, parsed.error
    x, y = parsed.point
    x1, y1, x2, y2 = boxes["Submit"]
    assert x1 - 4 <= x <= x2 + 4 and y1 - 4 <= y <= y2 + 4


def test_ocr_model_grounds_a_word_inside_a_line(screen) -> None:
    from agent.models.ocr import OcrModel

    image, boxes = screen
    reply = OcrModel().answer([ModelRequest(kind="ground", image=image, instruction='"note"')])[0]
    x, _ = parse_answer(reply.raw, reply.frame).point
    x1, _, x2, _ = boxes["Save note"]
    assert (x1 + x2) / 2 < x <= x2  # the second word, not the line's centre


def test_ocr_model_without_a_match_answers_no_coordinate(screen) -> None:
    from agent.models.ocr import OcrModel

    image, _ = screen
    reply = OcrModel().answer([ModelRequest(kind="ground", image=image, instruction="Delete")])[0]
    parsed = parse_answer(reply.raw, reply.frame)
    assert not parsed.ok and parsed.point is None
    assert "Delete" in reply.raw


def test_ocr_model_refuses_to_plan(screen) -> None:
    from agent.models.ocr import OcrModel

    image, _ = screen
    with pytest.raises(InputError, match="cannot plan"):
        OcrModel().answer([ModelRequest(kind="act", image=image, instruction="save the note")])


def test_find_text_is_strict(screen) -> None:
    from agent.models.ocr import find_text

    image, boxes = screen
    assert find_text(image, "Cancel") is not None
    assert find_text(image, "Saved") is None  # "Save note" is not "Saved"
    assert find_text(image, "Submit").box[0] == pytest.approx(boxes["Submit"][0], abs=6)


def test_ocr_reads_each_image_once(screen, monkeypatch) -> None:
    from agent.models import ocr

    image, _ = screen
    ocr.read_text(image)
    calls = []
    engine = ocr._get_engine()
    monkeypatch.setattr(ocr, "_get_engine", lambda: calls.append(1) or engine)
    ocr.find_text(image, "File")
    ocr.find_text(image.copy(), "Cancel")  # same pixels, another object
    assert calls == []


# -- symbols and signs (issue 24.4) ------------------------------------------------------
def _line(text: str) -> list[OcrLine]:
    return [OcrLine(text, (0, 0, 40, 20), 0.9)]


@pytest.mark.parametrize(
    ("target", "screen"),
    [("-2", "2"), ("2", "-2"), ("$12", "12"), ("12", "$12"), ("12", "12%"), ("12%", "12"),
     ("Total -1234567", "Total 1234567"), ("Total 1234567", "Total 1234568"), ("12", "Total: -12")],
)  # fmt: skip
def test_a_dropped_or_changed_sign_never_satisfies_an_assert(target: str, screen: str) -> None:
    assert best_match(_line(screen), target, strictness="strict") is None


@pytest.mark.parametrize(
    ("target", "screen"),
    [("+", "+"), ("+", "\u5341"), ("-", "\u2212"), ("-", "\u4e00"), ("*", "\u00d7"), ("*", "x"),
     ("=", "\u4e8c"), ("\u00f7", "/"), ("-2", "\u22122"), ("7+5=", "7+5=")],
)  # fmt: skip
def test_symbols_match_themselves_and_their_usual_ocr_readings(target: str, screen: str) -> None:
    match = best_match(_line(screen), target)
    assert match is not None and match.line == screen


def test_symbol_keys_are_told_apart_on_a_keypad() -> None:
    keypad = [OcrLine(t, (40 * i, 0, 40 * i + 20, 20)) for i, t in enumerate("789+-*/=")]
    for key in "+-*/=":
        match = best_match(keypad, key)
        assert match is not None and match.line == key


def test_words_keep_their_old_leniency() -> None:
    assert best_match(_line("Sign-out"), "Sign out", strictness="strict") is not None
    assert best_match(_line("Name:"), "Name", strictness="strict") is not None
    assert normalize("3.5") == "3.5" and normalize("-2") == "-2"


def test_a_target_ocr_cannot_read_is_refused_up_front(screen) -> None:
    from agent.models.ocr import OcrModel, check_target

    image, _ = screen
    for target in ("...", '"!!"', " ; "):
        with pytest.raises(InputError, match="no letters, digits or signs"):
            check_target(target)
    with pytest.raises(InputError, match="no letters, digits or signs"):
        OcrModel().answer([ModelRequest(kind="ground", image=image, instruction='click "?!"')])


def test_a_miss_says_what_is_not_on_screen_and_the_closest_text(screen) -> None:
    from agent.models.ocr import OcrModel, miss_message

    image, _ = screen
    reply = OcrModel().answer([ModelRequest(kind="ground", image=image, instruction='"Submitted"')])
    assert miss_message(reply[0].raw) == 'no text reads "Submitted"; closest text: "Submit"'


# -- frame size (issue 24.5) -------------------------------------------------------------
def test_large_screens_are_read_in_overlapping_tiles() -> None:
    from agent.models.ocr import TILE, tiles

    assert tiles((1280, 800)) == [(0, 0, 1280, 800)]
    for size in ((1920, 1080), (2560, 1440), (3840, 2160)):
        pieces = tiles(size)
        assert all(r - x <= TILE[0] and b - y <= TILE[1] for x, y, r, b in pieces)
        covered = {(x, y) for x in range(0, size[0], 40) for y in range(0, size[1], 40)}
        assert all(any(p[0] <= x < p[2] and p[1] <= y < p[3] for p in pieces) for x, y in covered)


def test_a_line_read_in_two_tiles_is_kept_once() -> None:
    from agent.models.ocr import _merged

    whole = OcrLine("File Edit View", (600, 10, 760, 30), 0.99)
    cut = OcrLine("File Ed", (600, 10, 680, 30), 0.97)
    again = OcrLine("File Edit View", (601, 11, 760, 30), 0.98)
    assert _merged([cut, again, whole]) == [whole]  # the largest box, then the best score


def test_a_screen_with_pixels_but_no_text_read_is_warned_about(caplog) -> None:
    pytest.importorskip("rapidocr")
    from agent.models.ocr import read_text

    shapes = Image.new("RGB", (640, 400), "white")
    draw = ImageDraw.Draw(shapes)
    for i in range(6):  # boxes and lines, no letters
        draw.rectangle((20 + 100 * i, 40, 90 + 100 * i, 120), outline="black", width=3)
    with caplog.at_level("WARNING", logger="agent.models.ocr"):
        assert read_text(shapes) == []
        assert read_text(Image.new("RGB", (640, 400), "grey")) == []  # blank: nothing to say
    # ours only: RapidOCR's own logger may also say its detection came back empty
    warnings = [r.getMessage() for r in caplog.records if r.name == "agent.models.ocr"]
    assert warnings == ["OCR read no text on a 640x400 screen that is not blank"]
