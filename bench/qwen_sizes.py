"""Real-size Qwen2.5-VL and Qwen3-VL configurations and random-weight checkpoints, for bench/.

No weights can be downloaded here, so the timing benches build the published
architectures with random weights: config.json of Qwen/Qwen2.5-VL-3B-Instruct and
-7B-Instruct (the hub's flat layout; sizes "3b", "7b") and of
Qwen/Qwen3-VL-2B-Instruct, -4B-Instruct and -8B-Instruct (nested text/vision
configs; sizes "qwen3-2b", "qwen3-4b", "qwen3-8b"). Speed and memory depend only
on the shapes, not on the values.

* `build_model(name, dtype, device)`: the model in memory, built straight in
  `dtype` on `device` (no float32 detour: the 3B would need 15 GB for that).
* `write_checkpoint(model, name, folder)`: a folder in the hub's layout
  (sharded safetensors under the names the hub uses - Qwen2.5-VL's legacy ones,
  Qwen3-VL's own -, config, tokenizer, processor and chat template), which
  `QwenModel` and `from_pretrained` load like the real one.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

_COMMON: dict[str, Any] = {
    "architectures": ["Qwen2_5_VLForConditionalGeneration"],
    "attention_dropout": 0.0,
    "bos_token_id": 151643,
    "eos_token_id": 151645,
    "vision_start_token_id": 151652,
    "vision_end_token_id": 151653,
    "vision_token_id": 151654,
    "image_token_id": 151655,
    "video_token_id": 151656,
    "hidden_act": "silu",
    "initializer_range": 0.02,
    "max_position_embeddings": 128000,
    "model_type": "qwen2_5_vl",
    "rms_norm_eps": 1e-06,
    "rope_theta": 1000000.0,
    "sliding_window": 32768,
    "torch_dtype": "bfloat16",
    "use_cache": True,
    "use_sliding_window": False,
    "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24]},
}

_VISION: dict[str, Any] = {
    "depth": 32,
    "hidden_act": "silu",
    "hidden_size": 1280,
    "intermediate_size": 3420,
    "num_heads": 16,
    "in_chans": 3,
    "patch_size": 14,
    "spatial_merge_size": 2,
    "spatial_patch_size": 14,
    "window_size": 112,
    "fullatt_block_indexes": [7, 15, 23, 31],
    "tokens_per_second": 2,
    "temporal_patch_size": 2,
}

# config.json of Qwen/Qwen2.5-VL-3B-Instruct and Qwen/Qwen2.5-VL-7B-Instruct (REFERENCE 3).
CONFIGS: dict[str, dict[str, Any]] = {
    "3b": {
        **_COMMON,
        "hidden_size": 2048,
        "intermediate_size": 11008,
        "num_attention_heads": 16,
        "num_hidden_layers": 36,
        "num_key_value_heads": 2,
        "max_window_layers": 70,
        "tie_word_embeddings": True,
        "vocab_size": 151936,
        "vision_config": {**_VISION, "out_hidden_size": 2048},
    },
    "7b": {
        **_COMMON,
        "hidden_size": 3584,
        "intermediate_size": 18944,
        "num_attention_heads": 28,
        "num_hidden_layers": 28,
        "num_key_value_heads": 4,
        "max_window_layers": 28,
        "tie_word_embeddings": False,
        "vocab_size": 152064,
        "vision_config": {**_VISION, "out_hidden_size": 3584},
    },
}


def _qwen3(text: dict[str, Any], vision: dict[str, Any], tied: bool) -> dict[str, Any]:
    """A Qwen3-VL config.json: the parts every size shares, then the size's own."""
    return {
        "architectures": ["Qwen3VLForConditionalGeneration"],
        "image_token_id": 151655,
        "model_type": "qwen3_vl",
        "text_config": {
            "attention_bias": False,
            "attention_dropout": 0.0,
            "bos_token_id": 151643,
            "dtype": "bfloat16",
            "eos_token_id": 151645,
            "head_dim": 128,
            "hidden_act": "silu",
            "initializer_range": 0.02,
            "max_position_embeddings": 262144,
            "model_type": "qwen3_vl_text",
            "num_key_value_heads": 8,
            "rms_norm_eps": 1e-06,
            "rope_scaling": {
                "mrope_interleaved": True,
                "mrope_section": [24, 20, 20],
                "rope_type": "default",
            },
            "rope_theta": 5000000,
            "tie_word_embeddings": tied,
            "use_cache": True,
            "vocab_size": 151936,
            **text,
        },
        "tie_word_embeddings": tied,
        "video_token_id": 151656,
        "vision_config": {
            "hidden_act": "gelu_pytorch_tanh",
            "in_channels": 3,
            "initializer_range": 0.02,
            "model_type": "qwen3_vl",
            "num_heads": 16,
            "num_position_embeddings": 2304,
            "out_hidden_size": text["hidden_size"],
            "patch_size": 16,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            **vision,
        },
        "vision_end_token_id": 151653,
        "vision_start_token_id": 151652,
    }


_Q3_SMALL_VISION = {"depth": 24, "hidden_size": 1024, "intermediate_size": 4096,
                    "deepstack_visual_indexes": [5, 11, 17]}  # fmt: skip
# config.json of Qwen/Qwen3-VL-2B-Instruct, -4B-Instruct and -8B-Instruct.
CONFIGS["qwen3-2b"] = _qwen3(
    {"hidden_size": 2048, "intermediate_size": 6144, "num_hidden_layers": 28,
     "num_attention_heads": 16},
    _Q3_SMALL_VISION,
    tied=True,
)  # fmt: skip
CONFIGS["qwen3-4b"] = _qwen3(
    {"hidden_size": 2560, "intermediate_size": 9728, "num_hidden_layers": 36,
     "num_attention_heads": 32},
    _Q3_SMALL_VISION,
    tied=True,
)  # fmt: skip
CONFIGS["qwen3-8b"] = _qwen3(
    {"hidden_size": 4096, "intermediate_size": 12288, "num_hidden_layers": 36,
     "num_attention_heads": 32},
    {"depth": 27, "hidden_size": 1152, "intermediate_size": 4304,
     "deepstack_visual_indexes": [8, 16, 24]},
    tied=False,
)  # fmt: skip


def model_type(name: str | dict[str, Any]) -> str:
    """The config's model_type (qwen2_5_vl, qwen3_vl)."""
    return (CONFIGS[name] if isinstance(name, str) else name)["model_type"]


def build_model(name: str | dict[str, Any], dtype: Any, device: str = "cpu") -> Any:
    """A random-weight Qwen2.5-VL or Qwen3-VL built directly in `dtype` on `device`.

    Args:
        name: a key of `CONFIGS`, or a config.json dict (e.g. the tiny test model's).
    """
    import torch
    import transformers

    from agent.models.checkpoint import ARCHITECTURES

    data = CONFIGS[name] if isinstance(name, str) else name
    model_class = getattr(transformers, ARCHITECTURES[data["model_type"]].model_class)
    config = model_class.config_class(**data)
    torch.manual_seed(0)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = model_class(config)
    finally:
        torch.set_default_dtype(previous)
    return model.eval()


def write_checkpoint(model: Any, name: str, folder: Path, shard_bytes: int = 2 << 30) -> Path:
    """`model` as a hub-layout checkpoint folder: what `from_pretrained` reads for the real one."""
    from safetensors.torch import save_file

    from agent.models.checkpoint import ARCHITECTURES
    from tests.fixtures import tiny_qwen3_build, tiny_qwen_build
    from tests.fixtures.tiny_qwen_build import TOKENIZER_FILES, _legacy_name, tokenizer_source

    qwen3 = model_type(name) != "qwen2_5_vl"
    files = tiny_qwen3_build if qwen3 else tiny_qwen_build
    template = ARCHITECTURES[model_type(name)].chat_template
    rename = (lambda key: key) if qwen3 else _legacy_name  # the hub's Qwen3-VL files: own names
    folder.mkdir(parents=True, exist_ok=True)
    shards: list[dict[str, Any]] = [{}]
    size = 0
    for key, tensor in model.state_dict().items():
        if key == "lm_head.weight" and CONFIGS[name]["tie_word_embeddings"]:
            continue
        nbytes = tensor.numel() * tensor.element_size()
        if size and size + nbytes > shard_bytes:
            shards.append({})
            size = 0
        shards[-1][rename(key)] = tensor.detach().contiguous()
        size += nbytes
    weight_map = {}
    total = 0
    for i, shard in enumerate(shards, start=1):
        file = f"model-{i:05d}-of-{len(shards):05d}.safetensors"
        save_file(shard, str(folder / file), metadata={"format": "pt"})
        for key, tensor in shard.items():
            weight_map[key] = file
            total += tensor.numel() * tensor.element_size()
    _write_json(
        folder / "model.safetensors.index.json",
        {"metadata": {"total_size": total}, "weight_map": weight_map},
    )
    _write_json(folder / "config.json", CONFIGS[name])
    _write_json(folder / "generation_config.json", files.GENERATION_CONFIG)
    _write_json(folder / "preprocessor_config.json", files.PREPROCESSOR_CONFIG)
    _write_json(folder / "chat_template.json", {"chat_template": template})
    source = tokenizer_source()
    for file in TOKENIZER_FILES:
        shutil.copyfile(source / file, folder / file)
    tok_config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    tok_config["chat_template"] = template
    tok_config["model_max_length"] = 262144 if qwen3 else 131072
    _write_json(folder / "tokenizer_config.json", tok_config)
    return folder


def build_checkpoint(name: str, folder: Path) -> dict[str, Any]:
    """Build the random model in bfloat16 (the hub's dtype) and write it to `folder`."""
    import torch

    started = time.perf_counter()
    model = build_model(name, torch.bfloat16)
    built = time.perf_counter()
    write_checkpoint(model, name, folder)
    return {
        "build_s": round(built - started, 1),
        "write_s": round(time.perf_counter() - built, 1),
        "parameters": sum(p.numel() for p in model.parameters()),
    }


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
