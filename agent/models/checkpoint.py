"""Where a local model's files are, and which architecture they hold.

`locate` turns what the user gave (``--model``: a folder, or a hub id such as
``Qwen/Qwen3-VL-2B-Instruct``) into a local folder and its architecture:

* a folder is read as it is;
* a hub id already in the Hugging Face cache is used from there, with no
  network access at all;
* otherwise it is downloaded once, first asking the hub for the repository's
  file list (one request, a few seconds at most: an unreachable hub is a
  one-line error at once, not half a minute of retries), announcing the size to
  expect, then fetching with the hub's own progress bars.

The architecture comes from config.json's ``model_type`` through
`ARCHITECTURES`, the one table the local backend reads for the transformers
classes: adding a Qwen-VL generation is one entry there, never a branch on a
model's name. Everything about prompts, pixels and coordinates is the model's
profile (`agent.models.profiles`), chosen from the same model_type and the name.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import sys
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict

from actions.project_errors import InputError, MissingDependency, first_line, require
from agent.models.chat_templates import QWEN3_VL_CHAT_TEMPLATE
from agent.models.prompts import QWEN2_5_VL_CHAT_TEMPLATE
from agent.models.transformers_import import require_transformers

log = logging.getLogger(__name__)

# What a snapshot needs: configs (model, generation, processor, tokenizer, chat template),
# safetensors weights and their index, BPE merges. READMEs, images and .bin/.pth copies of
# the weights are left on the hub.
SNAPSHOT_PATTERNS = ["*.json", "*.safetensors", "merges.txt", "*.jinja"]
# One metadata request decides whether the hub is reachable; longer only on a slow link.
HUB_TIMEOUT_S = 4.0


class Architecture(NamedTuple):
    """How transformers runs one model_type, and what it falls back on."""

    label: str
    model_class: str  # in the transformers namespace
    processor_class: str  # its processor; built image-only (qwen_processor)
    chat_template: str  # used when a checkpoint ships none


ARCHITECTURES: dict[str, Architecture] = {
    "qwen2_5_vl": Architecture(
        "Qwen2.5-VL",
        "Qwen2_5_VLForConditionalGeneration",
        "Qwen2_5_VLProcessor",
        QWEN2_5_VL_CHAT_TEMPLATE,
    ),
    "qwen3_vl": Architecture(
        "Qwen3-VL",
        "Qwen3VLForConditionalGeneration",
        "Qwen3VLProcessor",
        QWEN3_VL_CHAT_TEMPLATE,
    ),
    # Qwen3-VL-30B-A3B and the grounders built on it (Holo2-30B-A3B).
    "qwen3_vl_moe": Architecture(
        "Qwen3-VL-MoE",
        "Qwen3VLMoeForConditionalGeneration",
        "Qwen3VLProcessor",
        QWEN3_VL_CHAT_TEMPLATE,
    ),
}


def supported_model_types() -> list[str]:
    """The model_types of the table that this installation's transformers knows.

    Answered without importing transformers (which imports torch: ~30 s on a small
    machine), so that a run the locate cache serves never pays that: each model_type
    transformers runs has its own package, ``transformers/models/<model_type>``.
    """
    if "transformers" in sys.modules:  # already paid for: ask its registry
        from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

        return [t for t in ARCHITECTURES if t in CONFIG_MAPPING_NAMES]
    found = importlib.util.find_spec("transformers")
    if found is None or not found.submodule_search_locations:
        raise MissingDependency(
            "transformers is not installed; install it with: pip install 'screenpilot[model]'"
        )
    roots = [Path(p) / "models" for p in found.submodule_search_locations]
    return [t for t in ARCHITECTURES if any((r / t / "__init__.py").is_file() for r in roots)]


class Checkpoint(BaseModel):
    """A local folder with a loadable checkpoint, and what it is."""

    model_config = ConfigDict(frozen=True)

    name: str  # as the user gave it (folder or hub id)
    folder: Path
    model_type: str
    config: dict[str, Any]

    @property
    def architecture(self) -> Architecture:
        return ARCHITECTURES[self.model_type]

    def model_class(self) -> type:
        """The transformers class that loads this checkpoint."""
        transformers = require_transformers()
        return getattr(transformers, self.architecture.model_class)


def locate(model: str) -> Checkpoint:
    """The checkpoint `model` names (folder or hub id), downloading it on first use.

    Raises:
        InputError: not a folder or hub id, no config.json, an architecture the
            local backend does not run, or a hub id that is neither cached nor
            downloadable (one line, at once).
    """
    path = Path(model).expanduser()
    if path.exists() and not path.is_dir():
        raise InputError(f"{model}: a model must be a hub id or a checkpoint folder, not a file")
    folder = path if path.is_dir() else _hub_snapshot(model)
    config = _read_config(model, folder)
    model_type = config.get("model_type")
    usable = supported_model_types()
    if model_type not in usable:
        known = "" if model_type not in ARCHITECTURES else " (too new for this transformers)"
        raise InputError(
            f"{model}: a {model_type!r} checkpoint{known}; the local backend runs "
            f"{', '.join(usable)} (Qwen2.5-VL, Qwen3-VL); serve other models with --backend openai"
        )
    return Checkpoint(name=model, folder=folder, model_type=model_type, config=config)


# The files transformers reads weights from, in the order it prefers them.
WEIGHT_INDEXES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def weight_files(checkpoint: Checkpoint) -> list[Path]:
    """The weight files a checkpoint's index names (or its single file), without opening any.

    Raises:
        InputError: no weights at all, an unreadable index, or a shard it names is missing
            or empty: one line, before any event is sent and before torch is imported.
    """
    folder = checkpoint.folder
    for index_name in WEIGHT_INDEXES:
        index = folder / index_name
        if not index.is_file():
            continue
        try:
            data = json.loads(index.read_text(encoding="utf-8"))
            shards = sorted(set(data["weight_map"].values()))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError,
                AttributeError) as exc:  # fmt: skip
            raise InputError(f"{index}: not a readable weight index ({first_line(exc)})") from None
        paths = []
        for shard in shards:
            path = folder / str(shard)
            if path.parent != folder or not path.is_file() or path.stat().st_size < 8:
                raise InputError(f"{checkpoint.name}: {index_name} names {shard}, which is missing")
            paths.append(path)
        if not paths:
            raise InputError(f"{index}: the weight index names no files")
        return paths
    for name in WEIGHT_FILES:
        path = folder / name
        if path.is_file():
            if path.stat().st_size < 8:
                raise InputError(f"{path}: an empty weight file")
            return [path]
    raise InputError(
        f"{checkpoint.name}: no weights in {folder} (no {' / '.join(WEIGHT_FILES)} "
        f"and no {WEIGHT_INDEXES[0]})"
    )


def check_weight_files(checkpoint: Checkpoint) -> None:
    """Fail now, in one line, if the weights a later step would read are not there."""
    files = weight_files(checkpoint)
    log.debug("%s: %d weight file(s), read at the first model step", checkpoint.name, len(files))


# The tokens every Qwen-VL prompt is built from; a tokenizer without them is not Qwen's.
SPECIAL_TOKENS = (
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|endoftext|>",
)
# Read as JSON objects when present; the processor is built from them at the first model step.
PROCESSOR_JSON = (
    "tokenizer.json",
    "tokenizer_config.json",
    "preprocessor_config.json",
    "special_tokens_map.json",
    "chat_template.json",
    "processor_config.json",
)


def check_processor_files(checkpoint: Checkpoint) -> None:
    """Fail now, in one line, if the tokenizer or image processor files are missing or broken.

    Plain JSON, no transformers: the processor itself is built at the first step
    that needs the model, so these are the checks that can fail before any event.
    """
    folder = checkpoint.folder
    if not (folder / "preprocessor_config.json").is_file():
        raise InputError(f"{checkpoint.name}: no preprocessor_config.json in {folder}")
    has_vocab = (folder / "vocab.json").is_file() and (folder / "merges.txt").is_file()
    if not (folder / "tokenizer.json").is_file() and not has_vocab:
        raise InputError(
            f"{checkpoint.name}: no tokenizer in {folder} (no tokenizer.json, "
            "nor vocab.json with merges.txt)"
        )
    parsed: dict[str, Any] = {}
    for name in PROCESSOR_JSON:
        path = folder / name
        if not path.is_file():
            continue
        try:
            parsed[name] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"{path}: not readable JSON ({first_line(exc)})") from None
        if not isinstance(parsed[name], dict):
            raise InputError(f"{path}: must hold a JSON object")
    tokenizer = parsed.get("tokenizer.json")
    if tokenizer is not None:
        known = {str(t.get("content")) for t in tokenizer.get("added_tokens") or []
                 if isinstance(t, dict)}  # fmt: skip
        vocab = (tokenizer.get("model") or {}).get("vocab")
        if isinstance(vocab, dict):
            known.update(t for t in SPECIAL_TOKENS if t in vocab)
        missing = [t for t in SPECIAL_TOKENS if t not in known]
        if missing:
            raise InputError(
                f"the tokenizer of {checkpoint.name} does not know Qwen's special tokens "
                f"{sorted(missing)}: not a {checkpoint.architecture.label} tokenizer"
            )


def _read_config(model: str, folder: Path) -> dict[str, Any]:
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise InputError(f"{model}: not a model checkpoint (no config.json in {folder})")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{config_path}: not a readable config.json ({exc})") from None
    if not isinstance(config, dict):
        raise InputError(f"{config_path}: config.json must hold a JSON object")
    return config


def _hub_snapshot(repo_id: str) -> Path:
    """The local snapshot folder of hub repository `repo_id`: cached, or downloaded now."""
    require("huggingface_hub", "model")
    from huggingface_hub import snapshot_download
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError:
        raise InputError(f"{repo_id}: no such folder, and not a hub id (org/name)") from None
    try:
        return Path(
            snapshot_download(repo_id, allow_patterns=SNAPSHOT_PATTERNS, local_files_only=True)
        )
    except Exception as exc:  # not cached, or an incomplete snapshot: fetch it
        log.debug("%s is not (completely) in the local cache: %s", repo_id, exc)
    files = _hub_files(repo_id)
    total = sum(size for _, size in files)
    log.warning(
        "downloading %s from %s: %d files, %s, into the Hugging Face cache",
        repo_id,
        _endpoint(),
        len(files),
        _human_size(total),
    )
    try:
        return Path(snapshot_download(repo_id, allow_patterns=SNAPSHOT_PATTERNS))
    except Exception as exc:  # network, disk, permissions: the hub's errors share no base
        raise InputError(f"cannot download {repo_id}: {first_line(exc)}") from None


def _hub_files(repo_id: str) -> list[tuple[str, int]]:
    """(name, size) of the files a snapshot of `repo_id` takes, asked of the hub once."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import (
        GatedRepoError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
    )
    from huggingface_hub.utils import filter_repo_objects

    where = f"{repo_id} is not in the local Hugging Face cache"
    try:
        info = HfApi().model_info(repo_id, files_metadata=True, timeout=HUB_TIMEOUT_S)
    except GatedRepoError:
        raise InputError(
            f"{where}, and it is gated: accept its terms on the hub, then `hf auth login`"
        ) from None
    except RepositoryNotFoundError:
        raise InputError(f"{where}, and the hub ({_endpoint()}) has no such model") from None
    except OfflineModeIsEnabled:
        raise InputError(f"{where}, and HF_HUB_OFFLINE is set: give a local folder") from None
    except Exception as exc:  # httpx connection and timeout errors, HTTP errors
        raise InputError(
            f"{where}, and the hub ({_endpoint()}) cannot be reached ({first_line(exc)}); "
            f"fetch it where there is a network (`hf download {repo_id}`) or give a local folder"
        ) from None
    siblings = [(s.rfilename, int(s.size or 0)) for s in info.siblings or []]
    return list(filter_repo_objects(siblings, allow_patterns=SNAPSHOT_PATTERNS, key=lambda s: s[0]))


def _endpoint() -> str:
    from huggingface_hub import constants

    return constants.ENDPOINT


def _human_size(size: int) -> str:
    """Bytes in decimal units, as the hub's pages and progress bars show them."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"
