"""The local backend on tiny Qwen3-VL checkpoints (real architecture, real vocabulary, hub layout).

A Qwen3-VL checkpoint takes the path a user's does: `load_model` with a folder,
the architecture read from config.json's model_type, the transformers class
from the table, the image-only Qwen3-VL processor, 32-px frames.
"""

from __future__ import annotations

import json
import shutil

import pytest
from PIL import Image, ImageDraw

from actions.frames import ModelFamily
from actions.project_errors import InputError
from agent.models.base import ModelRequest
from agent.models.load import load_model
from agent.models.spec import ModelSpec

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

IMAGE_PAD_ID = 151655
QWEN3_AGENT_MAX = 1280 * 32 * 32  # the agent budget of 1280 tokens, in 32x32-px tokens
QWEN3_MODEL_MAX = 16384 * 32 * 32  # preprocessor_config's longest_edge (16777216)


@pytest.fixture(scope="module")
def random_model(tiny_qwen3_dir):
    spec = ModelSpec(model=str(tiny_qwen3_dir), dtype="float32", max_new_tokens=6)
    with load_model(spec) as model:
        yield model


def screenshot(size: tuple[int, int], seed: int = 0) -> Image.Image:
    image = Image.new("RGB", size, (236, 236, 236))
    draw = ImageDraw.Draw(image)
    for i in range(6):
        x = (40 + 150 * i + 31 * seed) % max(1, size[0] - 100)
        draw.rectangle((x, 30 + 9 * i, x + 90, 70 + 9 * i), fill=(30 * i, 90, 200 - 20 * i))
    return image


def test_checkpoint_has_the_hub_layout_and_loads_with_every_weight(tiny_qwen3_dir):
    from transformers import Qwen3VLForConditionalGeneration

    config = json.loads((tiny_qwen3_dir / "config.json").read_text())
    assert config["model_type"] == "qwen3_vl"
    assert config["vision_config"]["patch_size"] == 16
    assert config["vision_config"]["out_hidden_size"] == config["text_config"]["hidden_size"]
    assert config["tie_word_embeddings"] is True
    pre = json.loads((tiny_qwen3_dir / "preprocessor_config.json").read_text())
    assert "min_pixels" not in pre and pre["size"]["shortest_edge"] == 65536
    model, info = Qwen3VLForConditionalGeneration.from_pretrained(
        tiny_qwen3_dir, output_loading_info=True
    )
    assert not info["missing_keys"] and not info["unexpected_keys"], info
    assert model.dtype == torch.bfloat16
    assert model.model.visual.patch_embed.patch_size == 16
    assert list(model.model.visual.deepstack_visual_indexes) == [0, 1]


def test_load_model_picks_the_architecture_from_config(random_model):
    from transformers import Qwen3VLForConditionalGeneration, Qwen3VLProcessor

    assert type(random_model.model) is Qwen3VLForConditionalGeneration
    assert random_model.checkpoint.model_type == "qwen3_vl"
    processor = random_model.processor
    assert isinstance(processor, Qwen3VLProcessor)
    assert processor.get_attributes() == ["image_processor", "tokenizer"]  # no video part
    image_processor = processor.image_processor
    assert (image_processor.patch_size, image_processor.merge_size) == (16, 2)
    assert tuple(image_processor.image_mean) == (0.5, 0.5, 0.5)
    # No family was given: the checkpoint's architecture decides the frame (32-px units).
    assert random_model.family == ModelFamily.QWEN3_VL
    assert (random_model.min_pixels, random_model.max_pixels) == (65536, QWEN3_AGENT_MAX)


# Expected sizes by hand, factor 32: round each side to a multiple of 32; above max_pixels
# scale by beta = sqrt(w*h/max) and floor, below min_pixels scale up and ceil.
@pytest.mark.parametrize(
    ("screen", "max_pixels", "expected_size", "expected_tokens"),
    [
        # 1920/32 = 60, 1080/32 = 33.75 -> 34: 1920x1088, 60*34 tokens
        ((1920, 1080), QWEN3_MODEL_MAX, (1920, 1088), 2040),
        # 80 x 45 exactly
        ((2560, 1440), QWEN3_MODEL_MAX, (2560, 1440), 3600),
        # 2160/32 = 67.5 -> 68 (round half to even): 3840x2176 = 8.36 MP < 16.8 MP
        ((3840, 2160), QWEN3_MODEL_MAX, (3840, 2176), 8160),
        # 1080/32 = 33.75 -> 34, 2400/32 = 75
        ((1080, 2400), QWEN3_MODEL_MAX, (1088, 2400), 2550),
        # 1920x1088 > 1310720: beta = sqrt(1920*1080/1310720) = 1.2578;
        # 1920/beta = 1526.5 -> 47*32 = 1504, 1080/beta = 858.6 -> 26*32 = 832
        ((1920, 1080), QWEN3_AGENT_MAX, (1504, 832), 47 * 26),
        # beta = sqrt(2560*1440/1310720) = 1.6771: 1526.5 -> 1504, 858.6 -> 832
        ((2560, 1440), QWEN3_AGENT_MAX, (1504, 832), 47 * 26),
        # beta = sqrt(1080*2400/1310720) = 1.40625: 768 -> 768, 1706.7 -> 53*32 = 1696
        ((1080, 2400), QWEN3_AGENT_MAX, (768, 1696), 24 * 53),
        # 288x192 < 65536: beta = sqrt(65536/60000) = 1.0451; 313.5 -> ceil 10 -> 320,
        # 209.0 -> ceil 7 -> 224
        ((300, 200), QWEN3_AGENT_MAX, (320, 224), 10 * 7),
    ],
)
def test_frames_and_visual_tokens_match_hand_computed_values(
    tiny_qwen3_dir, screen, max_pixels, expected_size, expected_tokens
):
    spec = ModelSpec(model=str(tiny_qwen3_dir), max_pixels=max_pixels, max_new_tokens=1)
    model = load_model(spec)
    request = ModelRequest(kind="ground", image=screenshot(screen), instruction="x")
    batch = model.prepare([request])
    grid = batch.inputs["image_grid_thw"][0].tolist()
    # The processor saw the client's size unchanged: 16-px patches, 2x2 merged per token.
    assert (grid[2] * 16, grid[1] * 16) == expected_size
    assert int((batch.inputs["input_ids"] == IMAGE_PAD_ID).sum()) == expected_tokens
    assert batch.visual_tokens == [expected_tokens]
    frame = batch.frames[0]  # what the reply carries and maps the answer with
    assert (frame.model_size, frame.image_size) == (expected_size, screen)
    if expected_tokens <= 1300:  # the agent budget: run the model on it too
        reply = model.answer([request])[0]
        assert (reply.frame, reply.visual_tokens) == (frame, expected_tokens)


def test_prompt_uses_the_checkpoints_qwen3_template(random_model, tiny_qwen3_dir):
    from agent.models.chat_templates import QWEN3_VL_CHAT_TEMPLATE

    shipped = json.loads((tiny_qwen3_dir / "chat_template.json").read_text())["chat_template"]
    assert random_model.processor.chat_template == shipped == QWEN3_VL_CHAT_TEMPLATE
    # Qwen3-VL's template adds no system turn of its own (Qwen2.5-VL's adds one).
    text = random_model.processor.apply_chat_template(
        [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Save"}]}],
        tokenize=False,
        add_generation_prompt=True,
    )
    assert text == (
        "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Save<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_a_checkpoint_without_a_template_gets_its_architectures(tiny_qwen3_dir, tmp_path):
    from agent.models.qwen_processor import load_processor

    bare = tmp_path / "Qwen3-VL-bare"
    shutil.copytree(tiny_qwen3_dir, bare)
    (bare / "chat_template.json").unlink()
    config = json.loads((bare / "tokenizer_config.json").read_text())
    del config["chat_template"]
    (bare / "tokenizer_config.json").write_text(json.dumps(config))
    processor = load_processor(bare, min_pixels=65536, max_pixels=QWEN3_AGENT_MAX)
    text = processor.apply_chat_template(
        [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
        tokenize=False,
        add_generation_prompt=True,
    )
    assert text == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"


def test_batched_generation_with_left_padding_equals_one_by_one(tiny_qwen3_dir):
    spec = ModelSpec(model=str(tiny_qwen3_dir), dtype="float32", max_new_tokens=6, batch_size=3)
    with load_model(spec) as model:
        requests = [
            ModelRequest(kind="ground", image=screenshot((1920, 1080)), instruction="OK"),
            ModelRequest(kind="ground", image=screenshot((640, 480), 7), instruction="a b c d"),
            ModelRequest(
                kind="act", image=screenshot((1080, 2400), 3), instruction="open mail", mobile=True
            ),
        ]
        batch = model.prepare(requests)
        assert not bool(batch.inputs["attention_mask"].all())  # rows differ: padded
        assert bool((batch.inputs["attention_mask"][:, -1] == 1).all())  # on the left
        batched = model.answer(requests)
        model.prefix_cache.size = 0  # one by one, not even a shared cache between them
        single = [model.answer([r])[0] for r in requests]
    assert [r.raw for r in batched] == [r.raw for r in single]
    assert len({r.raw for r in single}) > 1  # the answers depend on the request
    assert [r.frame.model_size for r in batched] == [(1504, 832), (640, 480), (768, 1696)]


def test_moe_checkpoint_loads_through_the_same_path(tmp_path):
    from transformers import Qwen3VLMoeForConditionalGeneration

    from tests.fixtures.tiny_qwen import _need_model_stack
    from tests.fixtures.tiny_qwen3_build import TinyQwen3Settings, tiny_qwen3_checkpoint

    _need_model_stack()
    folder = tiny_qwen3_checkpoint(TinyQwen3Settings(experts=4))
    assert json.loads((folder / "config.json").read_text())["model_type"] == "qwen3_vl_moe"
    spec = ModelSpec(model=str(folder), dtype="float32", max_new_tokens=3)
    with load_model(spec) as model:
        assert type(model.model) is Qwen3VLMoeForConditionalGeneration
        assert model.family == ModelFamily.QWEN3_VL
        reply = model.answer(
            [ModelRequest(kind="ground", image=screenshot((1280, 800)), instruction="x")]
        )[0]
    assert reply.frame.model_size == (1280, 800)  # 40 x 25 tokens of 32 px: already aligned
    assert reply.visual_tokens == 1000


def test_an_unknown_architecture_names_the_ones_that_load(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llava"}))
    with pytest.raises(InputError, match="'llava' checkpoint; the local backend runs qwen2_5_vl"):
        load_model(ModelSpec(model=str(tmp_path)))
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(InputError, match="config.json: not a readable config.json"):
        load_model(ModelSpec(model=str(tmp_path)))
