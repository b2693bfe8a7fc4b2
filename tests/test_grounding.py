"""ground / ground_batch / next_action end to end on the trained tiny Qwen2.5-VL.

The trained checkpoint always writes a left_click at FIXED_POINT in the pixel
space of the image it was fed; the screen point returned must be exactly that
point mapped back to the screenshot, whatever the screenshot's size. That only
holds if prompt, processor, generation, parsing and mapping agree.
"""

from __future__ import annotations

import pytest
from PIL import Image

from actions.frames import CoordinateFrame
from actions.project_errors import InputError
from actions.tool_prompt import to_tool_call
from actions.types import Click
from agent.grounding import ground, ground_batch, load_image, next_action
from agent.models.load import load_model
from agent.models.spec import AGENT_MAX_PIXELS, MODEL_MAX_PIXELS, ModelSpec
from tests.fixtures.tiny_qwen_build import FIXED_ANSWER, FIXED_POINT

pytest.importorskip("torch")
pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def trained(trained_qwen_dir):
    with load_model(ModelSpec(model=str(trained_qwen_dir))) as model:
        yield model


def shot(size: tuple[int, int]) -> Image.Image:
    image = Image.new("RGB", size, (235, 235, 240))
    image.paste((40, 90, 200), (size[0] // 4, size[1] // 4, size[0] // 4 + 120, size[1] // 4 + 40))
    return image


@pytest.mark.parametrize("size", [(1920, 1080), (1280, 800), (2560, 1440), (1080, 2400)])
def test_ground_returns_the_fixed_point_mapped_to_the_screenshot(trained, size):
    result = ground(trained, shot(size), "the Save button")
    frame = CoordinateFrame.for_image(size, max_pixels=AGENT_MAX_PIXELS)
    assert result.ok, result.error
    assert result.raw == FIXED_ANSWER
    assert result.model_xy == FIXED_POINT
    assert result.point == pytest.approx(frame.model_to_image(*FIXED_POINT))
    assert result.bbox is None
    assert result.model_size == frame.model_size and result.image_size == size
    assert result.visual_tokens == (frame.model_size[0] // 28) * (frame.model_size[1] // 28)
    assert {"preprocess", "model", "parse", "total"} <= set(result.seconds)


def test_the_model_default_resolution_maps_differently(trained_qwen_dir):
    model = load_model(ModelSpec(model=str(trained_qwen_dir), max_pixels=MODEL_MAX_PIXELS))
    result = ground(model, shot((1920, 1080)), "the Save button")
    assert result.model_size == (1932, 1092) and result.visual_tokens == 2691
    assert result.point == pytest.approx((364 * 1920 / 1932, 217 * 1080 / 1092))


def test_next_action_returns_the_click_in_screen_pixels(trained):
    image = shot((1920, 1080))
    frame = CoordinateFrame.for_image((1920, 1080), max_pixels=AGENT_MAX_PIXELS)
    earlier = to_tool_call(Click(x=100, y=200), frame)
    step = next_action(trained, image, "Save the document", [earlier])
    assert step.ok, step.error
    assert step.raw == FIXED_ANSWER
    assert isinstance(step.action, Click)
    assert (step.action.button, step.action.count) == ("left", 1)
    # 364 * 1920 / 1316, 217 * 1080 / 728
    assert (step.action.x, step.action.y) == pytest.approx((531.06, 321.92), abs=0.01)
    assert (step.action.x, step.action.y) == pytest.approx(frame.model_to_image(*FIXED_POINT))
    assert step.actions == [step.action]
    assert step.model_xy == [FIXED_POINT]
    assert step.frame == frame and step.visual_tokens == 1222


def test_ground_batch_keeps_order_and_each_images_frame(trained_qwen_dir):
    model = load_model(ModelSpec(model=str(trained_qwen_dir), batch_size=2))
    sizes = [(1920, 1080), (1080, 2400), (800, 600)]
    results = ground_batch(model, [shot(s) for s in sizes], ["a", "b", "c"])
    for size, result in zip(sizes, results, strict=True):
        frame = CoordinateFrame.for_image(size, max_pixels=AGENT_MAX_PIXELS)
        assert result.image_size == size and result.model_size == frame.model_size
        assert result.point == pytest.approx(frame.model_to_image(*FIXED_POINT))


def test_an_answer_without_a_coordinate_is_an_error_value_not_a_crash(tiny_qwen_dir):
    # Random weights answer gibberish after the prefill.
    model = load_model(ModelSpec(model=str(tiny_qwen_dir), max_new_tokens=8))
    result = ground(model, shot((640, 480)), "the OK button")
    assert not result.ok
    assert result.point is None and result.error
    assert result.raw.startswith('<tool_call>\n{"name": "computer_use"')
    step = next_action(model, shot((640, 480)), "do something", [])
    assert not step.ok and step.action is None and step.error


def test_files_are_loaded_and_bad_input_is_refused(trained, tmp_path):
    path = tmp_path / "shot.png"
    shot((1366, 768)).convert("RGBA").save(path)
    result = ground(trained, path, "x")
    assert result.image_size == (1366, 768) and result.ok
    assert load_image(path).mode == "RGB"
    with pytest.raises(InputError, match="no such image file"):
        ground(trained, tmp_path / "missing.png", "x")
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    with pytest.raises(InputError, match="not a readable image"):
        ground(trained, corrupt, "x")
    with pytest.raises(InputError, match="2 images but 1 instructions"):
        ground_batch(trained, [path, path], ["x"])
    with pytest.raises(InputError, match="instruction 1 is empty"):
        ground(trained, path, "  ")
    with pytest.raises(InputError, match="goal is empty"):
        next_action(trained, path, "", [])
