"""The Qwen2.5-VL / Qwen3-VL processor, built image-only so that torchvision is optional.

transformers' `AutoProcessor` for Qwen2.5-VL and Qwen3-VL eagerly builds a *video*
processor, which imports torchvision; without it (or with a torchvision that
does not match the installed torch) loading fails. screenpilot never sends
video, so the processor is built from its two real parts - the Qwen2-VL image
processor (PIL backend, or the torchvision backend when it imports) and the
checkpoint's tokenizer - plus the checkpoint's chat template.

Images are resized on the client to their exact `smart_resize` size before
they reach the processor, so the processor is called with ``do_resize=False``:
its own resize would be the identity, and skipping it avoids a numpy -> PIL ->
numpy round trip per image.

The PIL image processor then rescales, normalises and patchifies in numpy
float64/float32 passes over the whole image (~25 ms for 1316x728, ~55 ms for
1932x1092 on 2 cores). `image_processor_class` gives a subclass that, for
unresized uint8 images, does the same in torch: the patch permutation on the
uint8 pixels, then one lookup per channel in a 256-entry table computed with
the library's own float operations, written straight into the output. The
pixel values are bit-identical to the library's (tests/test_models_patchify.py)
and 2-3x faster; anything else (resizing, other dtypes) goes to the library.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image

from actions.project_errors import InputError, MissingDependency, first_line
from agent.models.checkpoint import ARCHITECTURES, SPECIAL_TOKENS, Architecture, locate
from agent.models.transformers_import import require_transformers, torchvision_available

log = logging.getLogger(__name__)

ImageBackend = Literal["auto", "pil", "torchvision"]


def image_processor_class(backend: ImageBackend = "auto") -> type:
    """The Qwen2-VL image processor class for `backend` (auto: torchvision when it imports)."""
    require_transformers()
    if backend == "torchvision" or (backend == "auto" and torchvision_available()):
        check_torchvision_backend()
        from transformers.models.qwen2_vl.image_processing_qwen2_vl import Qwen2VLImageProcessor

        return Qwen2VLImageProcessor
    if backend not in ("auto", "pil"):
        raise InputError(f"unknown image backend {backend!r} (choose auto, pil or torchvision)")
    return pil_image_processor_class()


def check_torchvision_backend() -> None:
    """Fail in one line if the torchvision image backend cannot run (imports torch, not
    transformers: a model that asks for this backend checks it before the first event)."""
    if not torchvision_available():
        raise MissingDependency(
            "the torchvision image backend needs a torchvision built for the installed torch "
            "(e.g. pip install torch==2.14.1 torchvision==0.29.1), "
            'or image_backend="pil" in the model settings, which needs nothing extra'
        )


@functools.cache
def pil_image_processor_class() -> type:
    """`Qwen2VLImageProcessorPil`, with unresized uint8 images patchified in torch when installed.

    See the module docstring; the output equals the library's bit for bit.
    """
    require_transformers()
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import (
        Qwen2VLImageProcessorPil,
    )

    if importlib.util.find_spec("torch") is None:
        return Qwen2VLImageProcessorPil
    from transformers.image_processing_utils import BatchFeature

    class TorchPatchQwen2VLImageProcessor(Qwen2VLImageProcessorPil):
        """Qwen2-VL's PIL image processor; unresized uint8 images are patchified in torch."""

        def _preprocess(self, images, do_resize, size, resample, do_rescale, rescale_factor,
                        do_normalize, image_mean, image_std, patch_size, temporal_patch_size,
                        merge_size, return_tensors, **kwargs):  # fmt: skip
            factor = patch_size * merge_size
            fast = (
                not do_resize
                and do_rescale
                and do_normalize
                and len(images) > 0
                and all(
                    isinstance(img, np.ndarray)
                    and img.dtype == np.uint8
                    and img.ndim == 3
                    and img.shape[0] == images[0].shape[0]
                    and img.shape[1] % factor == 0
                    and img.shape[2] % factor == 0
                    for img in images
                )
            )
            if not fast:
                return super()._preprocess(images, do_resize, size, resample, do_rescale,
                                           rescale_factor, do_normalize, image_mean, image_std,
                                           patch_size, temporal_patch_size, merge_size,
                                           return_tensors, **kwargs)  # fmt: skip
            channels = images[0].shape[0]
            mean = np.broadcast_to(np.ravel(image_mean), (channels,))
            std = np.broadcast_to(np.ravel(image_std), (channels,))
            table = normalisation_table(rescale_factor, tuple(mean), tuple(std))
            pixel_values, grids = patchify_uint8(
                images, table, patch_size, merge_size, temporal_patch_size
            )
            return BatchFeature(
                data={"pixel_values": pixel_values, "image_grid_thw": grids},
                tensor_type=return_tensors,
            )

    return TorchPatchQwen2VLImageProcessor


@functools.lru_cache(maxsize=8)
def normalisation_table(
    scale: float, mean: tuple[float, ...], std: tuple[float, ...]
) -> np.ndarray:
    """(256, channels) float32: what the library's rescale + normalize make of each uint8 value.

    Same operations in the same precisions as transformers' numpy path
    (value * scale in float64, cast to float32, (x - mean) / std in float32).
    """
    values = (np.arange(256, dtype=np.float64) * scale).astype(np.float32)
    mean_arr, std_arr = np.array(mean, np.float32), np.array(std, np.float32)
    return ((values[:, None] - mean_arr[None, :]) / std_arr[None, :]).astype(np.float32)


def patchify_uint8(
    images: list[np.ndarray],
    table: np.ndarray,
    patch_size: int,
    merge_size: int,
    temporal_patch_size: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Channels-first uint8 images -> (pixel_values, image_grid_thw) in Qwen2-VL's layout.

    Rows are patches in merge-window order; each row is (channel, temporal copy,
    patch row, patch column), the still image repeated `temporal_patch_size` times.
    """
    import torch

    p, m, t = patch_size, merge_size, temporal_patch_size
    grids = [(img.shape[1] // p, img.shape[2] // p) for img in images]
    channels = table.shape[1]
    rows = sum(gh * gw for gh, gw in grids)
    out = torch.empty(rows, channels, t, p, p, dtype=torch.float32)
    lookup = torch.from_numpy(np.ascontiguousarray(table.T))  # (channels, 256)
    start = 0
    for img, (gh, gw) in zip(images, grids, strict=True):
        pixels = torch.from_numpy(img)
        n = gh * gw
        for c in range(channels):
            # The permutation moves bytes, the table lookup writes floats once per copy.
            patches = (
                pixels[c]
                .reshape(gh // m, m, p, gw // m, m, p)
                .permute(0, 3, 1, 4, 2, 5)
                .reshape(n, p, p)
            )
            values = lookup[c][patches.int()]
            for k in range(t):
                out[start : start + n, c, k] = values
        start += n
    grid_thw = np.array([[1, gh, gw] for gh, gw in grids], dtype=np.int64)
    return out.view(rows, -1).numpy(), grid_thw


@functools.cache
def image_only_processor_class(base_name: str = "Qwen2_5_VLProcessor") -> type:
    """transformers' processor `base_name` (Qwen2.5-VL's or Qwen3-VL's) without its video part.

    `ProcessorMixin` derives a processor's parts from its ``__init__``
    signature, so a subclass whose ``__init__`` takes no video processor is a
    complete processor that never touches torchvision. The base's own
    ``__init__`` still runs (its token attributes differ per generation): it
    hands (image, tokenizer, video=None) on, and the mixin pairs them with this
    class's two parts, leaving the absent video processor out.
    """
    transformers = require_transformers()
    base = getattr(transformers, base_name)

    def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
        base.__init__(self, image_processor, tokenizer, chat_template=chat_template)

    return type(
        f"ImageOnly{base_name}",
        (base,),
        {"__init__": __init__, "__doc__": f"{base_name} for images and text only."},
    )


def build_processor(
    image_processor: Any,
    tokenizer: Any,
    chat_template: str | None = None,
    *,
    architecture: Architecture | None = None,
) -> Any:
    """An image-only processor of `architecture` (default Qwen2.5-VL) from its parts.

    The tokenizer is set to pad on the left; a missing template is the architecture's.
    """
    arch = architecture or ARCHITECTURES["qwen2_5_vl"]
    missing = [t for t in SPECIAL_TOKENS if tokenizer.convert_tokens_to_ids(t) in (None, -1)]
    unk = getattr(tokenizer, "unk_token_id", None)
    missing += [
        t for t in SPECIAL_TOKENS if unk is not None and tokenizer.convert_tokens_to_ids(t) == unk
    ]
    if missing:
        raise InputError(
            f"the tokenizer does not know Qwen's special tokens {sorted(set(missing))}: "
            f"not a {arch.label} tokenizer"
        )
    # Batched generation appends new tokens on the right, so prompts are padded on the left.
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = "<|endoftext|>"
    return image_only_processor_class(arch.processor_class)(
        image_processor=image_processor,
        tokenizer=tokenizer,
        chat_template=chat_template or arch.chat_template,
    )


def load_processor(
    path: str | Path,
    *,
    min_pixels: int,
    max_pixels: int,
    backend: ImageBackend = "auto",
    architecture: Architecture | None = None,
) -> Any:
    """Load the processor of the checkpoint folder `path`, image-only.

    The pixel limits are set explicitly: the image processor's defaults
    (56*56 .. 28*28*1280) are not the model's (Qwen2.5-VL: 4*28*28 ..
    16384*28*28). Patch size, merge size and normalisation come from the
    checkpoint's preprocessor_config.json (14 px and CLIP's mean for
    Qwen2.5-VL, 16 px and 0.5 for Qwen3-VL).

    Args:
        architecture: the checkpoint's; default read from its config.json.
    """
    require_transformers()
    from transformers import AutoTokenizer

    source = str(path)
    arch = architecture or locate(source).architecture
    ip_class = image_processor_class(backend)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        # min_pixels/max_pixels (not size=): Qwen2.5-VL's preprocessor_config carries both keys,
        # and they would override a size given here; Qwen3-VL's carries only size, which these
        # override in turn.
        image_processor = ip_class.from_pretrained(
            source, min_pixels=min_pixels, max_pixels=max_pixels
        )
    except (OSError, ValueError) as exc:
        raise InputError(
            f"cannot load a {arch.label} processor from {source}: {first_line(exc)}"
        ) from None
    template = _chat_template(source, tokenizer, arch)
    return build_processor(image_processor, tokenizer, template, architecture=arch)


def _chat_template(source: str, tokenizer: Any, arch: Architecture) -> str | None:
    """The checkpoint's own chat template, if it ships one that knows images."""
    try:
        processor_dict, _ = image_only_processor_class(arch.processor_class).get_processor_dict(
            source
        )
        template = processor_dict.get("chat_template")
    except (OSError, ValueError) as exc:
        log.debug("no processor chat template in %s: %s", source, exc)
        template = None
    if isinstance(template, dict):  # several named templates: take the default one
        template = template.get("default")
    if not template:
        candidate = getattr(tokenizer, "chat_template", None)
        template = candidate if isinstance(candidate, str) else None
    if template and "<|vision_start|>" not in template:
        log.warning("the chat template of %s knows no images; using %s's", source, arch.label)
        template = None
    if not template:
        log.info("using the built-in %s chat template for %s", arch.label, source)
    return template


def preprocess(processor: Any, texts: list[str], images: list[Image.Image]) -> Any:
    """Tokenize prompts and patchify images (already at their smart_resize size), left-padded."""
    return processor(
        text=texts,
        images=images,
        padding=True,
        return_tensors="pt",
        images_kwargs={"do_resize": False},
    )
