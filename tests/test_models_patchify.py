"""The torch patchify path of the image processor gives the model exactly the library's inputs."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import (  # noqa: E402
    Qwen2VLImageProcessorPil,
)

from agent.models import qwen_processor  # noqa: E402
from agent.models.qwen_processor import pil_image_processor_class  # noqa: E402

LIMITS = {"min_pixels": 3136, "max_pixels": 16384 * 28 * 28}


def noisy(size: tuple[int, int], seed: int) -> Image.Image:
    """Every uint8 value in every channel, in random places."""
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


@pytest.fixture(scope="module")
def processors():
    fast = pil_image_processor_class()(**LIMITS)
    assert type(fast) is not Qwen2VLImageProcessorPil  # the torch path is in use
    return fast, Qwen2VLImageProcessorPil(**LIMITS)


@pytest.mark.parametrize("sizes", [[(1316, 728)], [(672, 1484)], [(56, 56), (1932, 1092)]])
def test_unresized_images_give_bit_identical_pixel_values(processors, sizes, monkeypatch):
    fast, library = processors
    calls = []
    real = qwen_processor.patchify_uint8
    monkeypatch.setattr(
        qwen_processor, "patchify_uint8", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    images = [noisy(size, seed) for seed, size in enumerate(sizes)]
    ours = fast(images=images, do_resize=False, return_tensors="pt")
    assert calls == [1]  # the torch path answered, not the library's fallback
    theirs = library(images=images, do_resize=False, return_tensors="pt")
    assert ours["pixel_values"].dtype == theirs["pixel_values"].dtype == torch.float32
    assert ours["pixel_values"].shape == theirs["pixel_values"].shape
    assert torch.equal(ours["pixel_values"], theirs["pixel_values"])
    assert torch.equal(ours["image_grid_thw"], theirs["image_grid_thw"])
    expected_rows = sum((w // 14) * (h // 14) for w, h in sizes)
    assert ours["pixel_values"].shape == (expected_rows, 3 * 2 * 14 * 14)


def test_numpy_output_and_other_normalisation_match_too():
    mean, std = [0.5, 0.25, 0.125], [0.2, 0.4, 0.8]
    fast = pil_image_processor_class()(**LIMITS, image_mean=mean, image_std=std)
    library = Qwen2VLImageProcessorPil(**LIMITS, image_mean=mean, image_std=std)
    image = noisy((280, 112), 3)
    ours = fast(images=[image], do_resize=False)
    theirs = library(images=[image], do_resize=False)
    assert isinstance(ours["pixel_values"], np.ndarray)
    np.testing.assert_array_equal(ours["pixel_values"], theirs["pixel_values"])


def test_resizing_and_odd_sizes_are_left_to_the_library(processors):
    fast, library = processors
    image = noisy((1000, 601), 4)  # not a multiple of 28: the processor must resize it
    ours = fast(images=[image], return_tensors="pt")
    theirs = library(images=[image], return_tensors="pt")
    assert torch.equal(ours["pixel_values"], theirs["pixel_values"])
    assert ours["image_grid_thw"].tolist() == [[1, 588 // 14, 1008 // 14]]
    with pytest.raises(ValueError):  # unresized and not patch-aligned: the library's error
        fast(images=[image], do_resize=False, return_tensors="pt")


QWEN3_LIMITS = {"min_pixels": 65536, "max_pixels": 16384 * 32 * 32}
QWEN3_SETTINGS = {"patch_size": 16, "image_mean": [0.5] * 3, "image_std": [0.5] * 3}


@pytest.mark.parametrize("sizes", [[(1504, 832)], [(768, 1696)], [(256, 256), (1920, 1088)]])
def test_qwen3_settings_give_bit_identical_pixel_values(sizes, monkeypatch):
    """Qwen3-VL's preprocessor: 16-px patches (32-px tokens), mean and std 0.5."""
    fast = pil_image_processor_class()(**QWEN3_LIMITS, **QWEN3_SETTINGS)
    library = Qwen2VLImageProcessorPil(**QWEN3_LIMITS, **QWEN3_SETTINGS)
    calls = []
    real = qwen_processor.patchify_uint8
    monkeypatch.setattr(
        qwen_processor, "patchify_uint8", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    images = [noisy(size, 10 + seed) for seed, size in enumerate(sizes)]
    ours = fast(images=images, do_resize=False, return_tensors="pt")
    assert calls == [1]
    theirs = library(images=images, do_resize=False, return_tensors="pt")
    assert torch.equal(ours["pixel_values"], theirs["pixel_values"])
    assert torch.equal(ours["image_grid_thw"], theirs["image_grid_thw"])
    expected_rows = sum((w // 16) * (h // 16) for w, h in sizes)
    assert ours["pixel_values"].shape == (expected_rows, 3 * 2 * 16 * 16)
