"""ModelSpec: the one place a model is chosen (CLI, task files, Python API), and the prompts."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from actions.frames import ModelFamily
from actions.tool_prompt import system_prompt
from agent.models import prompts
from agent.models.load import load_model
from agent.models.openai_compat import check_prompt_tokens
from agent.models.spec import AGENT_MAX_PIXELS, ModelSpec


def test_defaults_and_pixel_limits():
    spec = ModelSpec()
    assert (spec.backend, spec.model) == ("qwen", "Qwen/Qwen2.5-VL-3B-Instruct")
    assert spec.pixel_limits() == (3136, AGENT_MAX_PIXELS) == (3136, 1003520)
    assert ModelSpec(family="ui-tars").pixel_limits() == (100 * 28 * 28, AGENT_MAX_PIXELS)
    # Qwen3-VL's 32 px patches: the same 1280-token budget.
    assert ModelSpec(family="qwen3-vl").pixel_limits() == (64 * 32 * 32, 1280 * 32 * 32)
    assert ModelSpec(max_pixels=12845056).pixel_limits()[1] == 12845056
    assert ModelSpec(family="Qwen2_VL").family is ModelFamily.QWEN2_VL


def test_bad_fields_are_validation_errors():
    with pytest.raises(ValidationError, match="min_pixels .* is larger than max_pixels"):
        ModelSpec(min_pixels=2_000_000)
    with pytest.raises(ValidationError, match="backend"):
        ModelSpec(backend="llama")
    with pytest.raises(ValidationError, match="Extra inputs"):
        ModelSpec(temperature=0.5)
    with pytest.raises(ValidationError, match="batch_size"):
        ModelSpec(batch_size=0)
    with pytest.raises(Exception, match="unknown model family"):
        ModelSpec(family="gpt-4o")


def test_prefill_default_depends_on_the_backend():
    assert ModelSpec().use_prefill() is True
    assert ModelSpec(backend="openai").use_prefill() is False
    assert ModelSpec(backend="openai", prefill=True).use_prefill() is True


def test_api_key_from_the_spec_then_the_environment(monkeypatch):
    monkeypatch.delenv("MY_KEY", raising=False)
    assert ModelSpec(api_key_env="MY_KEY").resolved_api_key() == "EMPTY"
    monkeypatch.setenv("MY_KEY", "sk-env")
    assert ModelSpec(api_key_env="MY_KEY").resolved_api_key() == "sk-env"
    spec = ModelSpec(api_key_env="MY_KEY", api_key="sk-direct")
    assert spec.resolved_api_key() == "sk-direct"
    assert "sk-direct" not in repr(spec) and "sk-direct" not in spec.describe()


def test_the_ocr_backend_is_built_lazily_from_its_module():
    model = load_model(ModelSpec(backend="ocr"))
    assert type(model).__module__ == "agent.models.ocr"


def test_ground_prompt_is_the_tool_prompt_and_the_instruction():
    messages = prompts.ground_messages((1316, 728), "  the Save button ")
    # The ScreenSpot-Pro harness' text (three newlines, raw newlines inside the tool JSON),
    # not the cookbook's agent-mode system prompt.
    harness = system_prompt((1316, 728)).replace("\\n", "\n")
    harness = harness.replace("\n\n# Tools", "\n\n\n# Tools")
    assert messages[0] == {"role": "system", "content": harness}
    assert messages[1]["content"] == [
        {"type": "image"},
        {"type": "text", "text": "the Save button"},
    ]
    text = prompts.render_chat(messages, prompts.ground_prefill())
    assert text.startswith("<|im_start|>system\nYou are a helpful assistant.\n\n\n# Tools\n")
    assert text.endswith(
        "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>the Save button<|im_end|>\n"
        '<|im_start|>assistant\n<tool_call>\n{"name": "computer_use", "arguments": '
        '{"action": "left_click", "coordinate": ['
    )
    assert prompts.ground_prefill(mobile=True).endswith(
        '{"name": "mobile_use", "arguments": {"action": "click", "coordinate": ['
    )


def test_act_prompt_follows_the_cookbook_history_format():
    history = [
        '<tool_call>\n{"name": "mobile_use", "arguments": {"action": "open", "text": "Files"}}\n'
        "</tool_call>",
        '{"name": "mobile_use", "arguments": {"action": "click", "coordinate": [10, 20]}}',
    ]
    text = prompts.act_user_text("Open the file", history, correction="Answer with a tool call.")
    assert text == (
        "The user query:  Open the file\n"
        "Task progress (You have done the following operation on the current device): "
        'Step 1: {"name": "mobile_use", "arguments": {"action": "open", "text": "Files"}}; '
        'Step 2: {"name": "mobile_use", "arguments": {"action": "click", "coordinate": [10, 20]}}; '
        "\nAnswer with a tool call."
    )
    messages = prompts.act_messages((1092, 2408), "Open the file", [], mobile=True)
    assert "The screen's resolution is 1092x2408." in messages[0]["content"]
    assert [p["type"] for p in messages[1]["content"]] == ["text", "image"]


def test_prompt_token_check_tolerates_estimates_but_not_a_resized_image():
    # Exact count: a few tokens of slack only.
    assert check_prompt_tokens(2100, 2100, True, 1222) is None
    assert check_prompt_tokens(2100 - 300, 2100, True, 1222) is not None
    # Estimated text tokens (no tokenizer on disk): a quarter of the text count of slack,
    # far less than what a server-side resize changes.
    assert check_prompt_tokens(2100 + 150, 2100, False, 1222) is None
    assert "may resize images" in check_prompt_tokens(2100 - 916, 2100, False, 1222)
    assert check_prompt_tokens(None, 2100, False, 1222) is None
