"""What an entry of the locate cache is valid for: the model that found it, and the screen.

An entry is reused only when the instruction, the model identity and the
screen identity are all equal: a different checkpoint, prompt profile or pixel
budget can put a target elsewhere, and a different screen size or scale puts
every pixel elsewhere. Visual checks come on top of this; they never replace it.

An instruction holding a secret (``click: 'the "Open" button of ${ACCOUNT}'``
with the ocr backend, or ``send_secrets_to_model: true``) is never stored in
clear: its identity is a keyed hash (`instruction_identity`).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from actions.vocabulary import Platform
from agent.models.spec import ModelSpec

log = logging.getLogger(__name__)

OCR_MODEL = "rapidocr"


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelIdentity(_Frozen):
    """The model fields that decide where a target is found."""

    backend: Annotated[str, Field(min_length=1, max_length=100)]
    model: Annotated[str, Field(max_length=2000)] | None = None
    profile: Annotated[str, Field(max_length=100)] | None = None
    min_pixels: Annotated[int, Field(gt=0)] | None = None
    max_pixels: Annotated[int, Field(gt=0)] | None = None


class ScreenIdentity(_Frozen):
    """The screenshot's size and HiDPI scale."""

    width: Annotated[int, Field(gt=0, le=100_000)]
    height: Annotated[int, Field(gt=0, le=100_000)]
    scale: Annotated[float, Field(gt=0, le=16)] = 1.0


class LocateKey(_Frozen):
    """Everything an entry must share with a step to be considered for it."""

    instruction: str
    model: ModelIdentity
    platform: Platform
    screen: ScreenIdentity


def profile_name(spec: ModelSpec) -> str:
    """The resolved model profile (agent.models.profiles), with any coordinate override."""
    name = spec.resolve().profile.name
    override = spec.coordinate_override()
    return f"{name}+{override.value}" if override is not None else name


def model_identity(spec: ModelSpec) -> ModelIdentity:
    """The identity of the model a `ModelSpec` loads (profile and pixel limits resolved)."""
    if spec.backend == "ocr":
        return ModelIdentity(backend="ocr", model=OCR_MODEL)
    low, high = spec.pixel_limits(spec.resolve().profile)
    return ModelIdentity(
        backend=spec.backend,
        model=spec.model,
        profile=profile_name(spec),
        min_pixels=low,
        max_pixels=high,
    )


def identity_of(model: Any) -> ModelIdentity:
    """The identity of a loaded model: from its spec when it has one (every backend here does)."""
    spec = getattr(model, "spec", None)
    if isinstance(spec, ModelSpec):
        return model_identity(spec)
    if type(model).__name__ == "OcrModel":
        return ModelIdentity(backend="ocr", model=OCR_MODEL)
    family = getattr(getattr(model, "family", None), "value", None)
    return ModelIdentity(backend=type(model).__name__, profile=family)


def screen_identity(geometry: Any) -> ScreenIdentity:
    """The screen part of a key, from an observation's `ScreenGeometry`."""
    return ScreenIdentity(width=geometry.width, height=geometry.height, scale=geometry.scale)


# -- instructions that hold a secret --------------------------------------------------------
SECRET_PREFIX = "secret:"
KEY_FILE = "locate-cache.key"


def key_file() -> Path:
    """Where this user's key for hashing secret-bearing instructions lives."""
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "screenpilot" / KEY_FILE


def secret_key() -> bytes | None:
    """This user's random key (created on first use, mode 0600); None when it cannot be had.

    Kept outside every cache folder: a committed cache.yaml holds only a keyed hash, which
    nobody without the key can test guesses of the secret against.
    """
    path = key_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(path, flags, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32) + "\n")
        if path.is_symlink() or not path.is_file():
            raise OSError(f"{path} is not a plain file")
        key = path.read_text(encoding="ascii").strip()
        if not re.fullmatch(r"[0-9a-f]{64}", key):
            raise OSError(f"{path} does not hold a key")
        return bytes.fromhex(key)
    except (OSError, UnicodeDecodeError) as exc:
        log.warning("no key to hash instructions holding a secret (%s): they are not cached", exc)
        return None


def instruction_identity(instruction: str, secret_values: Iterable[str] = ()) -> str | None:
    """What a cache entry stores for `instruction`: the text itself, or, when it holds a
    secret (in any encoding the redactor knows), ``secret:`` and an HMAC-SHA256 of it under
    this user's key. None when it holds a secret and there is no key (then: no caching)."""
    from agent.secrets import Redactor

    text = instruction.strip()
    values = [s for s in secret_values if s]
    if not values or not Redactor(values).contains(text):
        return text
    key = secret_key()
    if key is None:
        return None
    return SECRET_PREFIX + hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()
