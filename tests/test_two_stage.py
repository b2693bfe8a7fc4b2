"""Two-stage grounding (agent.two_stage) with the tiny Qwen2.5-VL trained to one answer.

The trained model answers FIXED_POINT (model pixels) to any image, so where each
pass lands is known exactly: pass 1 at FIXED_POINT of the downscaled screen, pass 2
at FIXED_POINT of the native-resolution crop around pass 1's point.
"""

from __future__ import annotations

import math

import pytest
from PIL import Image

from agent.grounding import ground
from agent.models.load import load_model
from agent.models.spec import ModelSpec
from tests.fixtures.tiny_qwen_build import FIXED_POINT

SCREEN = (1920, 1080)
# At most 256 visual tokens: 1920x1080 -> 588x336 (smart_resize, 28-px units: 252 tokens).
FIRST = 256 * 28 * 28
SMALL = (588, 336)
CROP_AREA = 560 * 308  # -> a 532x308 crop (the screen's aspect, 28-px multiples)


def expected() -> tuple[tuple[float, float], tuple[float, float], tuple[int, int, int, int]]:
    """(pass 1's point, pass 2's point, the crop) in screen pixels, worked out by hand."""
    p1 = (FIXED_POINT[0] * SCREEN[0] / SMALL[0], FIXED_POINT[1] * SCREEN[1] / SMALL[1])
    left, top = round(p1[0] - 532 / 2), round(p1[1] - 308 / 2)
    crop = (left, top, left + 532, top + 308)
    return p1, (left + FIXED_POINT[0], top + FIXED_POINT[1]), crop


@pytest.fixture(scope="module")
def screen() -> Image.Image:
    return Image.new("RGB", SCREEN, (236, 236, 236))


def spec(trained_qwen_dir, **two_stage) -> ModelSpec:
    settings = {"first_max_pixels": FIRST, "crop_pixels": CROP_AREA, **two_stage}
    return ModelSpec(model=str(trained_qwen_dir), two_stage=settings)


def test_the_second_pass_is_remapped_to_the_exact_screen_pixel(trained_qwen_dir, screen) -> None:
    p1, p2, crop = expected()
    with load_model(spec(trained_qwen_dir)) as model:
        result = ground(model, screen, "the Save button")
    assert result.ok, result.error
    assert p2 == (1287, 761) and crop == (923, 544, 1455, 852)  # the arithmetic above
    assert result.point == pytest.approx(p2, abs=1e-6)
    assert result.image_size == SCREEN
    record = result.two_stage
    assert record is not None and "not an official protocol" in record["protocol"]
    assert tuple(record["first_size"]) == SMALL
    assert tuple(record["first_point"]) == pytest.approx(p1)
    assert tuple(record["crop"]) == crop
    distance = math.dist(p1, p2)
    assert record["distance_px"] == pytest.approx(distance, abs=0.01)
    assert result.confidence == pytest.approx(1 - distance / 154, abs=1e-3)
    assert record["visual_tokens"] == [588 * 336 // 784, 532 * 308 // 784]
    assert result.visual_tokens == sum(record["visual_tokens"])


def test_a_low_confidence_point_is_refused_with_the_reason(trained_qwen_dir, screen) -> None:
    with load_model(spec(trained_qwen_dir, min_confidence=0.5)) as model:
        result = ground(model, screen, "the Save button")
    assert not result.ok and result.point is None
    assert result.error is not None and result.error.startswith("low confidence 0.24 < 0.5")
    assert result.two_stage is not None and result.confidence == pytest.approx(0.2394, abs=1e-3)


def test_one_pass_unless_asked(trained_qwen_dir, screen) -> None:
    with load_model(ModelSpec(model=str(trained_qwen_dir))) as model:
        result = ground(model, screen, "the Save button")
    assert result.two_stage is None and result.confidence is None
    assert result.ok


def test_a_task_step_records_both_passes_and_the_confidence(trained_qwen_dir, xvfb) -> None:
    from agent.session import Session
    from env.desktop import DesktopEnv

    records: list = []
    with DesktopEnv(dry_run=True) as env, load_model(spec(trained_qwen_dir)) as model:
        Session(env, model, on_step=records.append).point_step("click", "the Save button")
    (rec,) = records
    assert rec.model is not None and rec.model.two_stage is not None
    assert rec.model.two_stage["confidence"] == pytest.approx(0.2394, abs=1e-3)
    assert "not an official protocol" in rec.model.two_stage["protocol"]
    assert rec.action is not None and (rec.action["x"], rec.action["y"]) == (1287, 761)
