"""QwenModel around a model already in memory answers like one loaded from its folder."""

from __future__ import annotations

import pytest
from PIL import Image

from actions.frames import CoordinateFrame
from agent.grounding import ground
from agent.models.spec import AGENT_MAX_PIXELS, ModelSpec
from tests.fixtures.tiny_qwen_build import FIXED_ANSWER, FIXED_POINT

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")


def test_in_memory_model_grounds_through_the_same_path(trained_qwen_dir):
    from transformers import Qwen2_5_VLForConditionalGeneration

    from agent.models.qwen import QwenModel
    from agent.models.qwen_processor import load_processor

    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(
        trained_qwen_dir, dtype=torch.float32, attn_implementation="eager"
    )
    # The processor's own limits differ from the spec's on purpose: the spec decides.
    processor = load_processor(trained_qwen_dir, min_pixels=3136, max_pixels=16384 * 28 * 28)
    spec = ModelSpec(model=str(trained_qwen_dir), max_new_tokens=32)
    with QwenModel.from_loaded(spec, model, processor) as qwen:
        assert (qwen.device, qwen.dtype, qwen.attn) == ("cpu", torch.float32, "eager")
        screen = Image.new("RGB", (1920, 1080), (200, 200, 200))
        result = ground(qwen, screen, "the Save button")
    frame = CoordinateFrame.for_image((1920, 1080), max_pixels=AGENT_MAX_PIXELS)
    assert result.raw == FIXED_ANSWER
    assert result.model_size == frame.model_size == (1316, 728)
    assert result.visual_tokens == 1222
    assert result.point == pytest.approx(frame.model_to_image(*FIXED_POINT))
