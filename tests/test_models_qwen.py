"""The local Qwen2.5-VL backend on tiny checkpoints with the real architecture and vocabulary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from actions.frames import CoordinateFrame, smart_resize, visual_tokens
from actions.project_errors import InputError, MissingDependency
from agent.grounding import ground
from agent.models import prompts
from agent.models.base import ModelRequest
from agent.models.load import load_model
from agent.models.spec import AGENT_MAX_PIXELS, MODEL_MAX_PIXELS, ModelSpec
from tests.fixtures.tiny_qwen_build import FIXED_ANSWER

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

TOOL_CALL_END_ID = 151658


@pytest.fixture(scope="module")
def random_model(tiny_qwen_dir):
    spec = ModelSpec(model=str(tiny_qwen_dir), dtype="float32", max_new_tokens=4)
    with load_model(spec) as model:
        yield model


@pytest.fixture(scope="module")
def trained_model(trained_qwen_dir):
    with load_model(ModelSpec(model=str(trained_qwen_dir))) as model:
        yield model


def screenshot(size: tuple[int, int], seed: int = 0) -> Image.Image:
    """A screen-like image: bands of colour and a few 'buttons'."""
    image = Image.new("RGB", size, (240, 240, 240))
    for i in range(6):
        box = (40 + 150 * i + seed, 30, 130 + 150 * i + seed, 70)
        image.paste((30 * i, 90, 200 - 20 * i), box)
    return image


def test_checkpoint_loads_through_the_hub_path_with_every_weight(tiny_qwen_dir):
    from transformers import Qwen2_5_VLForConditionalGeneration

    config = json.loads((tiny_qwen_dir / "config.json").read_text())
    # Built like the 3B: flat hub config, tied embeddings, the 3B's vocabulary.
    assert config["model_type"] == "qwen2_5_vl"
    assert config["vocab_size"] == 151936 and config["tie_word_embeddings"] is True
    assert config["vision_config"]["out_hidden_size"] == config["hidden_size"]
    head_dim = config["hidden_size"] // config["num_attention_heads"]
    assert sum(config["rope_scaling"]["mrope_section"]) * 2 == head_dim
    model, info = Qwen2_5_VLForConditionalGeneration.from_pretrained(
        tiny_qwen_dir, output_loading_info=True
    )
    assert not info["missing_keys"] and not info["unexpected_keys"], info
    visual = model.model.visual
    assert list(visual.fullatt_block_indexes) == [1, 3]
    assert len(visual.blocks) == 4 and visual.spatial_merge_size == 2
    assert model.dtype == torch.bfloat16


@pytest.mark.parametrize(
    ("screen", "max_pixels", "expected_size", "expected_tokens"),
    [
        ((1920, 1080), MODEL_MAX_PIXELS, (1932, 1092), 2691),
        ((2560, 1440), MODEL_MAX_PIXELS, (2548, 1428), 4641),
        ((1080, 2400), MODEL_MAX_PIXELS, (1092, 2408), 3354),
        ((1920, 1080), AGENT_MAX_PIXELS, (1316, 728), 1222),
        ((2560, 1440), AGENT_MAX_PIXELS, (1316, 728), 1222),
        ((1080, 2400), AGENT_MAX_PIXELS, (672, 1484), 1272),
    ],
)
def test_resized_size_and_visual_tokens_match_reference(
    tiny_qwen_dir, screen, max_pixels, expected_size, expected_tokens
):
    spec = ModelSpec(model=str(tiny_qwen_dir), max_pixels=max_pixels, max_new_tokens=1)
    model = load_model(spec)
    image = screenshot(screen)
    frame = model.frame_for(image)
    text = model.prompt_text(ModelRequest(kind="ground", image=image, instruction="x"), frame)
    from agent.models.qwen_processor import preprocess
    from agent.models.resize import to_model_image

    resized = to_model_image(image, frame.model_size)
    inputs = preprocess(model.processor, [text], [resized])
    # The processor saw the client's size unchanged: one token per 28x28 patch pair.
    assert tuple(int(v) * 14 for v in inputs["image_grid_thw"][0][1:]) == expected_size[::-1]
    assert int((inputs["input_ids"] == 151655).sum()) == expected_tokens
    reply = model.answer([ModelRequest(kind="ground", image=image, instruction="x")])[0]
    assert reply.frame.model_size == expected_size
    assert reply.frame.image_size == screen
    assert reply.visual_tokens == expected_tokens


def test_prompt_is_the_checkpoints_chat_template_with_the_prefill(random_model):
    image = screenshot((1280, 800))
    request = ModelRequest(kind="ground", image=image, instruction="the Save button")
    frame = random_model.frame_for(image)
    assert frame.model_size == (1260, 784)  # 1288x812 is above the agent's 1280 tokens
    text = random_model.prompt_text(request, frame)
    messages = prompts.ground_messages((1260, 784), "the Save button")
    assert text == prompts.render_chat(messages, prompts.ground_prefill())
    assert "The screen's resolution is 1260x784." in text
    assert text.endswith('"action": "left_click", "coordinate": [')
    # Tokenizing prompt + answer splits exactly at the prefill: the digits start a new token.
    tokenizer = random_model.processor.tokenizer
    prompt_ids = tokenizer(text)["input_ids"]
    full_ids = tokenizer(text + "364, 217]}}\n</tool_call>")["input_ids"]
    assert full_ids[: len(prompt_ids)] == prompt_ids


def test_act_prompt_has_goal_history_then_image(random_model):
    image = screenshot((1920, 1080))
    call = '{"name": "computer_use", "arguments": {"action": "key", "keys": ["ctrl", "s"]}}'
    history = [f"<tool_call>\n{call}\n</tool_call>"]
    request = ModelRequest(kind="act", image=image, instruction="Save it", history=history)
    text = random_model.prompt_text(request, random_model.frame_for(image))
    assert (
        "<|im_start|>user\nThe user query:  Save it\nTask progress (You have done the following "
        'operation on the current device): Step 1: {"name": "computer_use", "arguments": '
        '{"action": "key", "keys": ["ctrl", "s"]}}; <|vision_start|><|image_pad|><|vision_end|>'
        "<|im_end|>\n<|im_start|>assistant\n"
    ) in text
    assert text.endswith("<|im_start|>assistant\n")


def test_batched_generation_with_left_padding_equals_one_by_one(tiny_qwen_dir):
    spec = ModelSpec(model=str(tiny_qwen_dir), dtype="float32", max_new_tokens=6, batch_size=3)
    model = load_model(spec)
    assert model.processor.tokenizer.padding_side == "left"
    requests = [
        ModelRequest(kind="ground", image=screenshot((1920, 1080)), instruction="the OK button"),
        ModelRequest(kind="ground", image=screenshot((640, 480), 7), instruction="a"),
        ModelRequest(
            kind="act", image=screenshot((1080, 2400)), instruction="open mail", mobile=True
        ),
    ]
    batched = model.answer(requests)
    single = [model.answer([r])[0] for r in requests]
    assert [r.raw for r in batched] == [r.raw for r in single]
    assert [r.frame.model_size for r in batched] == [(1316, 728), (644, 476), (672, 1484)]


def test_trained_model_grounds_to_the_mapped_screen_point(trained_model):
    for screen in [(1920, 1080), (1280, 800), (2560, 1440), (1080, 2400)]:
        reply = trained_model.answer(
            [ModelRequest(kind="ground", image=screenshot(screen), instruction="the Save button")]
        )[0]
        assert reply.raw == FIXED_ANSWER
        frame = CoordinateFrame.for_image(screen, max_pixels=AGENT_MAX_PIXELS)
        assert reply.frame == frame


def test_generation_stops_at_the_end_of_the_tool_call(trained_model):
    from agent.models.qwen_processor import preprocess
    from agent.models.resize import to_model_image

    image = screenshot((800, 600))
    frame = trained_model.frame_for(image)
    request = ModelRequest(kind="act", image=image, instruction="do it")
    inputs = preprocess(
        trained_model.processor,
        [trained_model.prompt_text(request, frame)],
        [to_model_image(image, frame.model_size)],
    )
    config, extra = trained_model.generation_config_for(*trained_model.decoding_for(request))
    with torch.inference_mode():
        out = trained_model.model.generate(**inputs, generation_config=config, **extra)
    generated = out[0, inputs["input_ids"].shape[1] :].tolist()
    # Trained to write "...</tool_call><|im_end|>": the stop comes before the end of turn.
    assert generated[-1] == TOOL_CALL_END_ID
    assert 151645 not in generated


def test_without_prefill_the_model_writes_the_whole_call(trained_qwen_dir):
    model = load_model(ModelSpec(model=str(trained_qwen_dir), prefill=False))
    image = screenshot((1366, 768))
    reply = model.answer([ModelRequest(kind="ground", image=image, instruction="x")])[0]
    assert reply.raw == FIXED_ANSWER
    assert not model.prompt_text(
        ModelRequest(kind="ground", image=image, instruction="x"), reply.frame
    ).endswith("[")


def test_visual_tokens_helper_agrees_with_the_backend(random_model):
    image = screenshot((1000, 700))
    reply = random_model.answer([ModelRequest(kind="ground", image=image, instruction="x")])[0]
    size = smart_resize(1000, 700, min_pixels=3136, max_pixels=AGENT_MAX_PIXELS)
    assert reply.visual_tokens == visual_tokens(size) == 36 * 25


def test_a_folder_that_is_not_a_checkpoint_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no config.json"):
        load_model(ModelSpec(model=str(tmp_path)))
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(InputError, match="'bert' checkpoint; the local backend runs qwen2_5_vl"):
        load_model(ModelSpec(model=str(tmp_path)))
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"x")
    with pytest.raises(InputError, match="not a file"):
        load_model(ModelSpec(model=str(weights)))


def test_a_checkpoint_with_broken_weights_is_an_input_error(tiny_qwen_dir, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    for item in Path(tiny_qwen_dir).iterdir():
        if item.suffix == ".json" or item.name == "merges.txt":
            (broken / item.name).write_bytes(item.read_bytes())
    (broken / "model.safetensors").write_bytes(b"\x00" * 64)
    # The weights are read at the first step that needs them (a cached run reads none):
    # a corrupt file is a one-line error there, and again at every later step.
    with load_model(ModelSpec(model=str(broken))) as model:
        for _ in range(2):
            with pytest.raises(InputError, match="cannot load the weights"):
                ground(model, Image.new("RGB", (64, 64)), "the Save button")


def test_device_dtype_and_attention_selection():
    from agent.models.qwen import cpu_has_native_bf16, pick_attention, pick_device, pick_dtype

    device = pick_device("auto")
    assert device == ("cuda" if torch.cuda.is_available() else device)
    assert pick_dtype("float32", "cpu") is torch.float32
    expected_cpu = torch.bfloat16 if cpu_has_native_bf16() else torch.float32
    assert pick_dtype("auto", "cpu") is expected_cpu
    assert pick_attention("auto", "cpu", torch.bfloat16) == "sdpa"
    assert pick_attention("eager", "cpu", torch.float32) == "eager"
    with pytest.raises(InputError, match="flash"):
        pick_attention("flash_attention_2", "cpu", torch.float32)
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="no CUDA GPU"):
            pick_device("cuda")
    with pytest.raises(InputError, match="unknown device"):
        pick_device("gpu0")


def test_processor_is_image_only_and_names_the_install_for_torchvision(tiny_qwen_dir):
    from agent.models.qwen_processor import load_processor, torchvision_available

    processor = load_processor(tiny_qwen_dir, min_pixels=3136, max_pixels=AGENT_MAX_PIXELS)
    assert processor.get_attributes() == ["image_processor", "tokenizer"]
    assert processor.image_processor.size["longest_edge"] == AGENT_MAX_PIXELS
    # Both cases run in CI: torchvision is installed there, and its absence is run in a
    # subprocess by tests/test_models_image_backends.py.
    if torchvision_available():
        from transformers.models.qwen2_vl.image_processing_qwen2_vl import Qwen2VLImageProcessor

        assert type(processor.image_processor) is Qwen2VLImageProcessor
        return
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import (
        Qwen2VLImageProcessorPil,
    )

    assert isinstance(processor.image_processor, Qwen2VLImageProcessorPil)
    with pytest.raises(MissingDependency, match="pip install torch==.* torchvision=="):
        load_processor(tiny_qwen_dir, min_pixels=3136, max_pixels=1, backend="torchvision")
