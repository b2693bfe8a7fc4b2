"""Each profile's official reader on the answer shapes its model writes (REFERENCE 8).

Expected fractions are worked out by hand in each case (the value as the authors' code
computes it), never with the reader under test. Frames: an absolute-pixel profile answers
in the resized image (1000x500 here, so x/1000 and y/500 are easy to check), a 0-1000
profile in thousandths of each side.
"""

from __future__ import annotations

import numpy as np
import pytest

from actions.frames import CoordinateFrame, CoordinateSpace
from agent.eval import author_readers as authors
from agent.eval.harness_readers import read_holo1_5, to_pixels
from agent.eval.metrics import judge_fraction
from agent.models.profiles import PROFILES

PIXELS = CoordinateFrame(
    image_size=(1000, 500), model_size=(1000, 500), space=CoordinateSpace.PIXELS, factor=28
)
REL1000 = CoordinateFrame(
    image_size=(1280, 800), model_size=(1280, 800), space=CoordinateSpace.REL1000, factor=32
)


def point(reader, raw: str, frame: CoordinateFrame) -> tuple[float, float] | None:
    return reader(raw, frame).point


def test_every_profile_has_an_official_reader_citing_a_commit() -> None:
    readers = {name: profile.reader for name, profile in PROFILES.items()}
    assert None not in readers.values()
    for name, entry in readers.items():
        assert " @ " in entry.source and entry.source.split(" @ ")[1][:7].isalnum(), name
    # one reader per distinct extraction: no two profiles share a function here
    assert len({id(e.read) for e in readers.values()}) == len(PROFILES)


# -- UI-TARS-1.5: its action parser, absolute pixels of the resized image --------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Action: click(point='<point>250 100</point>')", (0.25, 0.2)),
        ("Thought: the gear icon.\nAction: click(start_box='(250,100)')", (0.25, 0.2)),
        ("Action: click(point='<point>250 100</point>')[EOS]", (0.25, 0.2)),
        # a 4-number box: the centre of (200/1000, 100/500) and (300/1000, 200/500)
        ("Action: click(start_box='(200,100,300,200)')", ((0.2 + 0.3) / 2, (0.2 + 0.4) / 2)),
        # several actions: the first one's box
        ("Action: click(start_box='(250,100)')\n\nclick(start_box='(1,1)')", (0.25, 0.2)),
        ("Action: left_double(start_box='(1500,-50)')", (1.5, -0.1)),  # off the image, kept
    ],
)
def test_ui_tars_reads_points_and_boxes(raw: str, expected: tuple[float, float]) -> None:
    assert point(authors.read_ui_tars, raw, PIXELS) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "click(point='<point>250 100</point>')",  # no "Action:"
        "Action: click(point='<point>250.5 100</point>')",  # <point> takes integers only
        "Action: click(start_box=(250,100))",  # a tuple, not the string the parser reads
        "Action: hotkey(key='ctrl c')",  # no start_box
        "Action: click(start_box='(250,100,7)')",  # 3 numbers
        "Action: type(content=oops)",  # a type action without content='...'
        "Action: click(start_box='(1,2)') and more",
    ],
)
def test_ui_tars_unreadable_answers_have_no_point(raw: str) -> None:
    reading = authors.read_ui_tars(raw, PIXELS)
    assert reading.point is None and reading.error


# -- GTA1: the first (x,y) of integers, resized pixels -----------------------------------------
def test_gta1_reads_the_first_integer_pair() -> None:
    assert point(authors.read_gta1, "(250,100)", PIXELS) == (0.25, 0.2)
    assert point(authors.read_gta1, "(250, 100)", PIXELS) == (0.25, 0.2)
    assert point(authors.read_gta1, "It is at (250,100), not (1,1).", PIXELS) == (0.25, 0.2)
    assert point(authors.read_gta1, "(-10,100)", PIXELS) == (-0.01, 0.2)
    for raw in ("(250.5,100)", "[250,100]", "x=250, y=100", ""):
        assert authors.read_gta1(raw, PIXELS).point is None, raw


# -- UI-Venus-Ground: the whole answer is a box; float32 quotients -----------------------------
def test_ui_venus_ground_reads_the_box_centre() -> None:
    frame = CoordinateFrame(image_size=(1024, 512), model_size=(1024, 512))
    # 256/1024, 128/512, 512/1024, 256/512 are exact in float32: centre (0.375, 0.375)
    for raw in ("[256, 128, 512, 256]", "(256, 128, 512, 256)", "[256.0,128,512,256.0]\n"):
        assert point(authors.read_ui_venus_ground, raw, frame) == (0.375, 0.375), raw
    for raw in ("```\n[1,2,3,4]\n```", "[1, 2, 3]", "[x1,y1,x2,y2]", "[1, 2, 'a', 4]", ""):
        reading = authors.read_ui_venus_ground(raw, frame)
        assert reading.point is None and reading.error, raw  # their script would click (0, 0)


def test_ui_venus_ground_divides_in_float32_as_its_script_does() -> None:
    """The script divides by torch int64 sizes: `x / size` is `size.reciprocal() * x` in
    float32. On a 1280x800 shot seen at 1288x812, the box from x = 3 to x = 158 has its
    centre at exactly 80/1280 in float64 - on the left edge of a target starting at x = 80 -
    but just left of it in float32: the authors' code scores this answer wrong."""
    frame = CoordinateFrame(image_size=(1288, 812), model_size=(1288, 812))
    reading = authors.read_ui_venus_ground("[3, 100, 158, 200]", frame)
    inverse = np.float32(1) / np.float32(1288)
    x1, x2 = float(np.float32(3) * inverse), float(np.float32(158) * inverse)
    assert reading.point[0] == (x1 + x2) / 2 < 80 / 1280 == (3 / 1288 + 158 / 1288) / 2
    assert judge_fraction(reading.point, (80, 0, 200, 800), (1280, 800)) == "wrong"
    # From x = 2 to 159 the reciprocal's product lands just right of the edge (a plain
    # float32 quotient, 2 / 1288 in float32, would land left of it).
    other = authors.read_ui_venus_ground("[2, 100, 159, 200]", frame)
    x1, x2 = float(np.float32(2) * inverse), float(np.float32(159) * inverse)
    assert other.point[0] == (x1 + x2) / 2 > 80 / 1280
    assert judge_fraction(other.point, (80, 0, 200, 800), (1280, 800)) == "correct"


# -- UI-Venus-1.5: [x,y] in 0-1000; [-1,-1] refuses --------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("[500,300]", (0.5, 0.3)),
        (" [ 500 , 300 ] \n", (0.5, 0.3)),
        ("[100,200,300,400]", (0.2, 0.3)),  # a box: its centre (200, 300)
        ("[100,200],[300,400]", (0.2, 0.3)),  # two corners: their centre
        ("The point is [120, 340].", (0.12, 0.34)),  # the first [...] of the text
        ("[1,2,3]", (0.001, 0.002)),  # the first two numbers of the first [...]
    ],
)
def test_ui_venus_1_5_reads_its_shapes(raw: str, expected: tuple[float, float]) -> None:
    assert point(authors.read_ui_venus_1_5, raw, REL1000) == expected


def test_ui_venus_1_5_refusal_is_wrong_on_a_positive_sample_not_wrong_format() -> None:
    """Its script keeps [-1,-1] as the point (not divided) and judges it against the box."""
    reading = authors.read_ui_venus_1_5("[-1,-1]", REL1000)
    assert reading.refused and reading.point == (-1.0, -1.0) and reading.error is None
    assert to_pixels(reading.point, (1280, 800)) == [-1280.0, -800.0]
    assert judge_fraction(reading.point, (0, 0, 1280, 800), (1280, 800)) == "wrong"
    # a box whose centre is (-1, -1) is the same refusal in their code
    assert authors.read_ui_venus_1_5("[-2,-2,0,0]", REL1000).refused


@pytest.mark.parametrize("raw", ["[12.5, 30]", "[01,2]", "no point", "[5]", ""])
def test_ui_venus_1_5_unreadable_answers_have_no_point(raw: str) -> None:
    reading = authors.read_ui_venus_1_5(raw, REL1000)
    assert reading.point is None and reading.error and not reading.refused


# -- GUI-Owl-1.5: the last (x, y), else the last [x, y]; 0-1000 --------------------------------
def _owl_call(x: int, y: int, action: str = "left_click") -> str:
    args = f'{{"action": "{action}", "coordinate": [{x}, {y}]}}'
    return f'<tool_call>\n{{"name": "computer_use", "arguments": {args}}}\n</tool_call>'


def test_gui_owl_reads_the_last_point() -> None:
    assert point(authors.read_gui_owl_1_5, _owl_call(500, 300), REL1000) == (0.5, 0.3)
    moved = _owl_call(100, 200, "mouse_move") + "\n" + _owl_call(500, 300)
    assert point(authors.read_gui_owl_1_5, moved, REL1000) == (0.5, 0.3)
    assert point(authors.read_gui_owl_1_5, "(120, 340) then (560, 780)", REL1000) == (
        0.56,
        0.78,
    )
    # a parenthesised pair anywhere wins over every bracketed one
    mixed = "the icon (1, 2)\n" + _owl_call(500, 300)
    assert point(authors.read_gui_owl_1_5, mixed, REL1000) == (0.001, 0.002)
    for raw in ("[500,300]", "[-1, -1]", "terminate: not found"):
        assert authors.read_gui_owl_1_5(raw, REL1000).point is None, raw


# -- MAI-UI: the first [x,y] without spaces, 0-1000 --------------------------------------------
def test_mai_ui_reads_the_first_compact_pair() -> None:
    # a real answer (Tongyi-MAI/MAI-UI evaluation/grounding/output_server/SSPro.jsonl)
    real = (
        "<grounding_think>\nThought: The instruction asks to collapse all items in the TODO "
        "list within Android Studio.\n</grounding_think>\n<answer>\n"
        '{"coordinate":[109,608]}\n</answer>'
    )
    assert point(authors.read_mai_ui, real, REL1000) == (0.109, 0.608)
    assert point(authors.read_mai_ui, '{"coordinate":[109,608]}}', REL1000) == (0.109, 0.608)
    in_think = "<grounding_think>near [10,20]</grounding_think><answer>[500,500]</answer>"
    assert point(authors.read_mai_ui, in_think, REL1000) == (0.01, 0.02)
    for raw in ('<answer>\n{"coordinate": [109, 608]}\n</answer>', "[-1,-1]", "(109,608)"):
        assert authors.read_mai_ui(raw, REL1000).point is None, raw


# -- Holo1.5 (SSP models/holo1_5.py) and Holo2 (cookbook): JSON objects ------------------------
def test_holo1_5_reads_its_click_absolute_json() -> None:
    assert point(read_holo1_5, '{"action": "click_absolute", "x": 250, "y": 100}', PIXELS) == (
        0.25,
        0.2,
    )
    assert point(read_holo1_5, ' {"x": 500, "y": 250, "note": "ok"}\n', PIXELS) == (0.5, 0.5)
    assert point(read_holo1_5, '{"x": 1500, "y": -50}', PIXELS) == (1.5, -0.1)
    for raw in (
        "Click(250, 100)",  # the prompt's own words; the harness decodes JSON (guided)
        '```json\n{"x": 250, "y": 100}\n```',
        '{"action": "click", "x": 250, "y": 100}',
        '{"x": 250.5, "y": 100}',
        '{"x": 250}',
    ):
        assert read_holo1_5(raw, PIXELS).point is None, raw


def test_holo2_reads_thousandths_in_its_schema() -> None:
    # the cookbook's own printed answer
    assert point(authors.read_holo2, '{"x":552,"y":404}', REL1000) == (0.552, 0.404)
    assert point(authors.read_holo2, '\n{"x": 1000, "y": 0}\n', REL1000) == (1.0, 0.0)
    for raw in (
        '{"x": 1001, "y": 5}',  # above the schema's maximum
        '{"x": -1, "y": -1}',  # no refusal in the schema
        '```json\n{"x": 5, "y": 6}\n```',
        # thinking is off: the template's empty think block ends the prompt, so an answer
        # that opens its own is not the JSON the cookbook validates
        '<think>\nthe gear\n</think>\n{"x": 1, "y": 2}',
    ):
        assert authors.read_holo2(raw, REL1000).point is None, raw


# -- InfiGUI-G1: the JSON list after </think>, the first point_2d, resized pixels --------------
def test_infigui_reads_the_first_point_after_thinking() -> None:
    thought = '<think>the button left of "[1, 2]"</think>\n[{"point_2d": [250, 100]}]'
    assert point(authors.read_infigui_g1, thought, PIXELS) == (0.25, 0.2)
    fenced = '```json\n[{"point_2d": [250, 100]}, {"point_2d": [900, 400]}]\n```'
    assert point(authors.read_infigui_g1, fenced, PIXELS) == (0.25, 0.2)
    floats = '[{"point_2d": [250.5, 100.25]}]'
    assert point(authors.read_infigui_g1, floats, PIXELS) == (0.2505, 0.2005)
    empty = authors.read_infigui_g1("<think>not here</think>[]", PIXELS)
    assert empty.point is None and empty.refused
    for raw in (
        "<think>still looking at [1, 2",
        '[{"point": [1, 2]}]',
        '[{"point_2d": [250]}]',
        '[{"point_2d": ["250", 100]}]',
        '[{"point_2d": [250, 100]}',  # the list is not closed
    ):
        assert authors.read_infigui_g1(raw, PIXELS).point is None, raw
