"""Answer readers for judging: the official harness's, checked on hand-made and real answers."""

from __future__ import annotations

import json
import re

import pytest

from actions.frames import CoordinateFrame, ModelFamily
from actions.project_errors import InputError
from agent.eval.harness_readers import (
    read_qwen2_5_vl,
    read_qwen2_vl,
    read_qwen3_vl,
    read_robust,
    to_pixels,
)
from agent.eval.metrics import judge_fraction, judge_point, rescore
from agent.eval.protocol import answer_parser
from agent.models.profiles import get_profile
from tests.conftest import REAL_RESULTS

# A 1280x800 screenshot is fed to Qwen2.5-VL at 1288x812 (REFERENCE 1).
FRAME = CoordinateFrame(
    family=ModelFamily.QWEN2_5_VL, image_size=(1288, 812), model_size=(1288, 812)
)
PREFILL = (
    '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": ['
)


def call(arguments: str) -> str:
    return f'<tool_call>\n{{"name": "computer_use", "arguments": {arguments}}}\n</tool_call>'


def test_qwen2_5_point_is_divided_by_the_resized_size() -> None:
    reading = read_qwen2_5_vl(call('{"action": "left_click", "coordinate": [644, 203]}'), FRAME)
    assert reading.point == (0.5, 0.25) and reading.error is None
    assert to_pixels(reading.point, (1280, 800)) == [640.0, 200.0]


def test_qwen2_5_four_numbers_are_a_box_whose_centre_counts() -> None:
    reading = read_qwen2_5_vl(
        call('{"action": "left_click", "coordinate": [600, 100, 688, 306]}'), FRAME
    )
    assert reading.point == (644 / 1288, 203 / 812)


def test_qwen2_5_prefilled_reply_with_end_token_reads() -> None:
    raw = PREFILL + "966, 609]}}\n</tool_call><|im_end|>"
    assert read_qwen2_5_vl(raw, FRAME).point == (0.75, 0.75)


def test_qwen2_5_point_off_the_image_stays_off_it() -> None:
    reading = read_qwen2_5_vl(call('{"action": "left_click", "coordinate": [1932, -203]}'), FRAME)
    assert reading.point == (1.5, -0.25)
    assert to_pixels(reading.point, (1280, 800)) == [1920.0, -200.0]
    assert judge_fraction(reading.point, (0, 0, 1280, 800), (1280, 800)) == "wrong"


@pytest.mark.parametrize(
    "raw",
    [
        # a brace missing: json.loads fails, nothing is repaired
        '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", '
        '"coordinate": [644, 203]}\n</tool_call>',
        # an extra brace (seen in real runs): extra data after the object
        call('{"action": "left_click", "coordinate": [644, 203]}}'),
        # "arguments": [x, y] (seen in real runs)
        call("[644, 203]"),
        call('{"action": "left_click", "coordinate": [644, 203, 9]}'),
        call('{"action": "left_click", "coordinate": ["644", "203"]}'),
        call('{"action": "left_click"}'),
        '{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [1, 2]}}',
        PREFILL + "644, 2",  # cut off
        '```json\n[{"bbox_2d": [600, 100, 688, 306]}]\n```',
    ],
)
def test_qwen2_5_unreadable_answers_have_no_point(raw: str) -> None:
    reading = read_qwen2_5_vl(raw, FRAME)
    assert reading.point is None and reading.error
    assert judge_fraction(reading.point, (0, 0, 10, 10), (1280, 800)) == "wrong_format"


def test_the_lenient_parser_repairs_what_the_official_reader_rejects() -> None:
    missing = (
        '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", '
        '"coordinate": [644, 203]}\n</tool_call>'
    )
    assert read_qwen2_5_vl(missing, FRAME).point is None
    robust = read_robust(missing, FRAME)
    assert robust.point == (0.5, 0.25)
    off = read_robust(call('{"action": "left_click", "coordinate": [1932, 406]}'), FRAME)
    assert off.point == (1.5, 0.5)  # not clamped either


def test_qwen3_reads_the_last_closed_tool_call_in_thousandths() -> None:
    frame = CoordinateFrame(
        family=ModelFamily.QWEN3_VL, image_size=(640, 640), model_size=(640, 640)
    )
    first = call('{"action": "left_click", "coordinate": [1, 1]}')
    last = call('{"action": "left_click", "coordinate": [250, 500]}')
    assert read_qwen3_vl(f"{first}\n{last}<|im_end|>", frame).point == (0.25, 0.5)
    box = call('{"action": "left_click", "coordinate": [100, 200, 300, 400]}')
    assert read_qwen3_vl(box, frame).point == (0.2, 0.3)
    unclosed = call('{"action": "left_click", "coordinate": [250, 500]}').replace("\n</", "</")
    assert read_qwen3_vl(unclosed, frame).point is None


def test_qwen2_vl_box_tokens_and_bare_numbers() -> None:
    frame = CoordinateFrame(
        family=ModelFamily.QWEN2_VL, image_size=(100, 100), model_size=(100, 100)
    )
    boxes = "<|box_start|>(1,2),(3,4)<|box_end|> then <|box_start|>(100,200),(300,400)<|box_end|>"
    # the last box; divided, then averaged, as the harness does: (0.2 + 0.4) / 2 is not 0.3
    assert read_qwen2_vl(boxes, frame).point == (0.2, 0.30000000000000004)
    assert read_qwen2_vl("<|box_start|>(51,895,101,935)<|box_end|>", frame).point is None
    assert read_qwen2_vl("<|box_start|>(1, 2),(3, 4)<|box_end|>", frame).point is None  # spaces
    assert read_qwen2_vl("click (250, 750)", frame).point == (0.25, 0.75)
    assert read_qwen2_vl("1 2 3", frame).point is None


def test_official_qwen2_vl_reader_reproduces_every_pred_of_the_real_run() -> None:
    """1581 real Qwen2-VL answers judged by the harness: the reader finds a point exactly where
    the harness did, and that point times the image size is the stored pred, bit for bit."""
    frame = CoordinateFrame(
        family=ModelFamily.QWEN2_VL, image_size=(1000, 1000), model_size=(1000, 1000)
    )
    rows = json.loads(REAL_RESULTS.read_text())["details"]
    sizes: dict[str, set[tuple[int, int]]] = {}
    for row in rows:
        reading = read_qwen2_vl(row["raw_response"], frame)
        assert (reading.point is None) == (row["correctness"] == "wrong_format"), row[
            "raw_response"
        ]
        if reading.point is None:
            assert row["pred"] is None
            continue
        # The image size is not in the rows: it is the integer that makes pred = fraction * size.
        size = tuple(round(p / f) for p, f in zip(row["pred"], reading.point, strict=True) if f)
        assert to_pixels(reading.point, size)[: len(size)] == row["pred"][: len(size)]
        sizes.setdefault(row["img_path"], set()).add(size)
    assert all(len(found) == 1 for found in sizes.values())  # one size per screenshot
    assert {(3840, 2160), (2560, 1440)} <= {s for found in sizes.values() for s in found}


def test_a_point_on_the_edge_is_judged_on_fractions_as_the_harness_does() -> None:
    # Qwen2-VL answers 175/1000 on a 2880-wide screenshot whose box starts at x = 504:
    # 504 / 2880 == 0.175 exactly as the harness compares them, but 0.175 * 2880 is
    # 503.99999999999994 in floating point, just left of the box.
    bbox, size = (504, 10, 600, 50), (2880, 1800)
    point = (175 / 1000, 20 / 1800)
    assert judge_fraction(point, bbox, size) == "correct"
    pred = to_pixels(point, size)
    assert pred[0] == 503.99999999999994 and judge_point(pred, bbox) == "wrong"
    row = {"pred": pred, "bbox": list(bbox), "correctness": "correct", "gt_type": "positive"}
    assert rescore(row, fraction=point, img_size=size) == "correct"  # our own files keep it


def test_no_official_reader_is_a_one_line_error_naming_the_way_out() -> None:
    qwen25 = get_profile("qwen2.5-vl")
    # the OCR backend answers with a point: nothing for a reader to judge, whatever was asked
    ocr = answer_parser("official", None, backend="ocr")
    assert ocr.reader == "ocr-point" and not ocr.official
    # --family normalized changes only the coordinates, and no official code reads 0-1 floats.
    with pytest.raises(InputError, match=r"--family normalized.*--parser robust"):
        answer_parser("official", qwen25, backend="qwen", family=ModelFamily.NORMALIZED)
    robust = answer_parser("robust", get_profile("ui-tars-1.5"), backend="qwen")
    assert robust.describe()["parser"] == "robust" and not robust.official
    official = answer_parser("official", get_profile("qwen3-vl"), backend="openai")
    assert official.official and re.search("qwen3vl.py", official.source)
    qwen2 = answer_parser("official", qwen25, backend="qwen", family=ModelFamily.QWEN2_VL)
    assert qwen2.reader == "ssp-qwen2-vl" and qwen2.source.endswith("models/qwen2vl.py")
