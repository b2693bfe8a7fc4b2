"""The batched window attention of Qwen2.5-VL's vision tower (agent.models.fast_vision)."""

from __future__ import annotations

import copy

import pytest

from agent.models import fast_vision
from agent.models.base import ModelRequest
from agent.models.load import load_model
from agent.models.spec import ModelSpec
from bench.qwen_sizes import CONFIGS
from tests.fixtures.tiny_qwen_build import FIXED_ANSWER
from tests.test_models_qwen import screenshot

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

# 26 x 30 patches: full 8x8-patch windows, right (8x6), bottom (2x8) and corner (2x6) edges.
GRID = (1, 26, 30)


@pytest.fixture(scope="module")
def vision_tower():
    """The 3B's vision tower (its widths, heads, window size), two blocks: window, full."""
    from transformers.models.qwen2_5_vl import modeling_qwen2_5_vl as qwen25

    data = copy.deepcopy(CONFIGS["3b"]["vision_config"])
    data.update(depth=2, fullatt_block_indexes=[1])
    config = qwen25.Qwen2_5_VLVisionConfig(**data)
    config._attn_implementation = "sdpa"
    torch.manual_seed(0)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        tower = qwen25.Qwen2_5_VisionTransformerPretrainedModel(config).eval()
    finally:
        torch.set_default_dtype(previous)
    return tower


def _sdpa_calls(tower, pixels, grid, monkeypatch) -> tuple[object, int]:
    calls = []
    real = torch.nn.functional.scaled_dot_product_attention

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", counted)
    with torch.inference_mode():
        out = tower(pixels, grid_thw=grid).pooler_output
    monkeypatch.undo()
    return out, len(calls)


def test_batched_windows_give_transformers_output_in_few_attention_calls(vision_tower, monkeypatch):
    grid = torch.tensor([GRID])
    torch.manual_seed(1)
    pixels = torch.randn(int(grid.prod()), 3 * 2 * 14 * 14).to(torch.bfloat16)
    expected, plain_calls = _sdpa_calls(vision_tower, pixels, grid, monkeypatch)
    assert fast_vision.install(vision_tower) == 2
    try:
        got, batched_calls = _sdpa_calls(vision_tower, pixels, grid, monkeypatch)
    finally:
        for module in vision_tower.modules():
            module.__dict__.pop("forward", None)
    # 4 x 4 windows; batched: one call per window length; + 1 full-attention call.
    assert plain_calls == 16 + 1
    assert batched_calls == 4 + 1
    assert got.shape == expected.shape
    # The same per-window computation, batched: equal within bfloat16's resolution.
    torch.testing.assert_close(got.float(), expected.float(), atol=1e-2, rtol=1e-2)


def test_trained_qwen25_answers_exactly_with_and_without_it(trained_qwen_dir, monkeypatch):
    requests = [
        ModelRequest(kind="ground", image=screenshot(size), instruction="the Save button")
        for size in [(1920, 1080), (1366, 768), (1080, 2400)]
    ]
    with load_model(ModelSpec(model=str(trained_qwen_dir))) as model:
        fast = [reply.raw for reply in model.answer(requests)]
        assert model.fast_vision_blocks > 0
    monkeypatch.setenv(fast_vision.ENV, "off")
    with load_model(ModelSpec(model=str(trained_qwen_dir))) as model:
        plain = [reply.raw for reply in model.answer(requests)]
        assert model.fast_vision_blocks == 0
    assert fast == plain == [FIXED_ANSWER] * 3


def test_trained_qwen3_keeps_its_answer(trained_qwen3_dir):
    from tests.fixtures.tiny_qwen3_build import FIXED3_ANSWER

    with load_model(ModelSpec(model=str(trained_qwen3_dir))) as model:
        reply = model.answer(
            [ModelRequest(kind="ground", image=screenshot((1920, 1080)), instruction="Save")]
        )[0]
        assert model.fast_vision_blocks == 0  # no window attention to batch
    assert reply.raw == FIXED3_ANSWER
