"""The reused system-turn cache changes nothing in the answers, only what is recomputed."""

from __future__ import annotations

import pytest
from PIL import Image, ImageDraw

from agent.models.base import ModelRequest
from agent.models.load import load_model
from agent.models.spec import ModelSpec
from tests.fixtures.tiny_qwen_build import FIXED_ANSWER

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")


def screen(size: tuple[int, int], seed: int) -> Image.Image:
    image = Image.new("RGB", size, (230, 230, 230))
    draw = ImageDraw.Draw(image)
    for i in range(8):
        x = (seed * 37 + i * 151) % (size[0] - 120)
        draw.rectangle((x, 20 + 60 * i, x + 110, 60 + 60 * i), fill=(20 * i, 90, 200 - seed))
    return image


SPEC = {"dtype": "float32", "max_new_tokens": 12}


@pytest.fixture(scope="module")
def random_model(tiny_qwen_dir, tmp_path_factory):
    # float32 and a random model: its answers are arbitrary token strings, so any change in
    # the numbers feeding the logits shows up as a different answer.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SCREENPILOT_PREFIX_CACHE", str(tmp_path_factory.mktemp("kv")))
        with load_model(ModelSpec(model=str(tiny_qwen_dir), **SPEC)) as model:
            yield model


def answers(model, requests, *, cached: bool) -> list[str]:
    model.prefix_cache.size = 4 if cached else 0
    model.prefix_cache.clear()
    try:
        return [reply.raw for reply in model.answer(requests)]
    finally:
        model.prefix_cache.size = 4


REQUESTS = [
    ModelRequest(kind="ground", image=screen((1920, 1080), 1), instruction="the Save button"),
    ModelRequest(kind="ground", image=screen((1920, 1080), 2), instruction="the blue icon"),
    ModelRequest(kind="ground", image=screen((1080, 2400), 3), instruction="Back", mobile=True),
    ModelRequest(
        kind="act",
        image=screen((1280, 800), 4),
        instruction="open the settings",
        history=['<tool_call>\n{"name": "computer_use", "arguments": {"action": "wait"}}'],
    ),
]


def test_answers_with_and_without_the_cache_are_identical(random_model):
    one_by_one = [answers(random_model, [r], cached=False)[0] for r in REQUESTS]
    random_model.prefix_cache.clear()
    random_model.prefix_cache.hits = random_model.prefix_cache.misses = 0
    for _ in range(2):  # a miss then a hit for each system turn
        assert [random_model.answer([r])[0].raw for r in REQUESTS] == one_by_one
    cache = random_model.prefix_cache
    # Three distinct system turns: 1920x1080 desktop, 1080x2400 phone, 1280x800 desktop.
    assert (cache.misses, cache.hits) == (3, 5)
    assert len(set(one_by_one)) > 1  # the answers do depend on the request


def test_batches_reuse_it_without_padding_and_skip_it_with(random_model):
    same_length = [
        ModelRequest(kind="ground", image=screen((1920, 1080), s), instruction="the Save button")
        for s in (5, 6, 7)
    ]
    padded = [*same_length[:2], REQUESTS[1].model_copy(update={"instruction": "a long one " * 5})]
    for batch in (same_length, padded):
        expected = answers(random_model, batch, cached=False)
        random_model.prefix_cache.clear()
        before = random_model.prefix_cache.misses + random_model.prefix_cache.hits
        assert [reply.raw for reply in random_model.answer(batch)] == expected
        used = random_model.prefix_cache.misses + random_model.prefix_cache.hits - before
        assert used == (1 if batch is same_length else 0)


def test_trained_model_keeps_its_answer_on_cached_calls(trained_qwen_dir):
    with load_model(ModelSpec(model=str(trained_qwen_dir))) as model:
        for seed in range(3):
            reply = model.answer(
                [ModelRequest(kind="ground", image=screen((1920, 1080), seed), instruction="Save")]
            )[0]
            assert reply.raw == FIXED_ANSWER
        assert (model.prefix_cache.misses, model.prefix_cache.hits) == (1, 2)


def test_prefix_is_the_system_turn_only(random_model):
    model = random_model
    request = REQUESTS[3]
    batch = model.prepare([request])
    ids = batch.inputs["input_ids"]
    length = model.prefix_cache.prefix_length(ids, batch.inputs["attention_mask"])
    text = model.processor.tokenizer.decode(ids[0, :length])
    assert text.startswith("<|im_start|>system\nYou are a helpful assistant.")
    assert text.endswith("<|im_end|>\n")
    assert "open the settings" not in text and "<|vision_start|>" not in text


def test_a_new_process_reads_the_turn_from_disk(
    tiny_qwen_dir, trained_qwen_dir, tmp_path, monkeypatch
):
    monkeypatch.setenv("SCREENPILOT_PREFIX_CACHE", str(tmp_path))
    request = REQUESTS[0]
    with load_model(ModelSpec(model=str(tiny_qwen_dir), **SPEC)) as first:
        first.prefix_cache.size = 0
        expected = first.answer([request])[0].raw  # no cache at all
        first.prefix_cache.size = 4
        assert first.answer([request])[0].raw == expected
        assert first.prefix_cache.disk_hits == 0
    files = list(tmp_path.glob("*.safetensors"))
    assert len(files) == 1
    with load_model(ModelSpec(model=str(tiny_qwen_dir), **SPEC)) as second:
        assert second.answer([request])[0].raw == expected
        assert second.prefix_cache.disk_hits == 1
    # Same architecture and prompt, other weights: never served the first model's entry.
    with load_model(ModelSpec(model=str(trained_qwen_dir), **SPEC)) as other:
        assert other.answer([request])[0].raw == FIXED_ANSWER
        assert other.prefix_cache.disk_hits == 0
    assert len(list(tmp_path.glob("*.safetensors"))) == 2
    # A torn file is a miss, not an error.
    files[0].write_bytes(files[0].read_bytes()[:100])
    with load_model(ModelSpec(model=str(tiny_qwen_dir), **SPEC)) as third:
        assert third.answer([request])[0].raw == expected
        assert third.prefix_cache.disk_hits == 0


def test_disk_store_can_be_switched_off(tiny_qwen_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("SCREENPILOT_PREFIX_CACHE", "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with load_model(ModelSpec(model=str(tiny_qwen_dir), **SPEC)) as model:
        assert model.prefix_cache.disk is None
        model.answer([REQUESTS[0]])
    assert not list(tmp_path.rglob("*.safetensors"))


# Qwen3-VL: interleaved M-RoPE, DeepStack, and a template without a default system turn.


@pytest.fixture(scope="module")
def random_qwen3(tiny_qwen3_dir, tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SCREENPILOT_PREFIX_CACHE", str(tmp_path_factory.mktemp("kv3")))
        with load_model(ModelSpec(model=str(tiny_qwen3_dir), **SPEC)) as model:
            yield model


def test_qwen3_answers_with_and_without_the_cache_are_identical(random_qwen3):
    one_by_one = [answers(random_qwen3, [r], cached=False)[0] for r in REQUESTS]
    random_qwen3.prefix_cache.clear()
    random_qwen3.prefix_cache.hits = random_qwen3.prefix_cache.misses = 0
    for _ in range(2):
        assert [random_qwen3.answer([r])[0].raw for r in REQUESTS] == one_by_one
    cache = random_qwen3.prefix_cache
    # The qwen3-vl profile announces a 1000x1000 screen whatever the screenshot: one system
    # turn serves every grounding request (desktop and phone), one every next-action request.
    assert (cache.misses, cache.hits) == (2, 6)
    assert len(set(one_by_one)) > 1


def test_qwen3_batches_reuse_the_cache_with_the_same_answers(random_qwen3):
    batch = [
        ModelRequest(kind="ground", image=screen((1920, 1080), s), instruction="the Save button")
        for s in (5, 6, 7)
    ]
    expected = answers(random_qwen3, batch, cached=False)
    random_qwen3.prefix_cache.clear()
    hits_before = random_qwen3.prefix_cache.misses + random_qwen3.prefix_cache.hits
    assert [reply.raw for reply in random_qwen3.answer(batch)] == expected
    assert random_qwen3.prefix_cache.misses + random_qwen3.prefix_cache.hits == hits_before + 1


def test_a_prompt_without_a_system_turn_caches_nothing(random_qwen3):
    """Qwen3-VL's template adds no system turn: the first turn then holds the screenshot."""
    from agent.models.qwen_processor import preprocess
    from agent.models.resize import to_model_image

    model = random_qwen3
    image = screen((1920, 1080), 8)
    frame = model.frame_for(image)
    long_instruction = "find the blue icon in the top left corner of the window " * 12
    messages = [
        {
            "role": "user",
            "content": [{"type": "image"}, {"type": "text", "text": long_instruction}],
        }
    ]
    text = model.processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert text.startswith("<|im_start|>user\n<|vision_start|>")
    inputs = preprocess(model.processor, [text], [to_model_image(image, frame.model_size)])
    ids, mask = inputs["input_ids"], inputs["attention_mask"]
    # The user turn alone is far above the minimum length, yet holds the image: not reusable.
    first_turn = int((ids[0, 1:] == ids[0, 0]).nonzero()[0]) + 1
    assert first_turn > model.prefix_cache.min_tokens
    assert model.prefix_cache.prefix_length(ids, mask) == 0
    before = (model.prefix_cache.misses, model.prefix_cache.hits)
    assert model.prefix_cache.cache_for(ids, mask) is None
    assert (model.prefix_cache.misses, model.prefix_cache.hits) == before
