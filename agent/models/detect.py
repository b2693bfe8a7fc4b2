"""Which profile a model gets: the one asked for, else detected from the checkpoint and its name.

Detection reads the checkpoint's config.json model_type (a local folder, or a
hub id already in the local cache: no download) and the name: the hub id,
the folder's name, or the model name a server lists. A profile's name
patterns are tried in table order; a match whose architecture contradicts a
known model_type is skipped. Failing all, the model_type picks the family's
plain profile (qwen2_5_vl -> qwen2.5-vl, qwen3_vl -> qwen3-vl), and with
nothing known at all the default is qwen2.5-vl. An explicit profile whose
architecture contradicts the checkpoint is an `InputError`, never a silent
wrong click.

Models known to answer in a space no profile reads (`ZERO_TO_1000`: Qwen2-VL
and UI-TARS v1, 0-1000; any qwen2_vl checkpoint) are refused with an
`InputError` saying what to pass, rather than read as qwen2.5-vl's pixels.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from actions.project_errors import InputError
from agent.models.profile import Profile
from agent.models.profiles import DEFAULT_PROFILE, PROFILES, get_profile

log = logging.getLogger(__name__)

# The plain profile of each architecture, when no name pattern matches.
BY_ARCHITECTURE = {
    "qwen2_5_vl": "qwen2.5-vl",
    "qwen3_vl": "qwen3-vl",
    "qwen3_vl_moe": "qwen3-vl",
}

# Names of models that answer in 0-1000 units, which no profile reads by default. Qwen2-VL:
# REFERENCE.md section 1 ("Qwen2-VL answered in 0-1000 normalized units"). UI-TARS v1
# (bytedance-research/UI-TARS-2B-SFT, -7B-SFT, -7B-DPO, -72B-*; Qwen2-VL fine-tunes): the v1
# README of bytedance/UI-TARS, "Coordinate Mapping": "divide each component by 1000".
# UI-TARS-1.5 answers in resized pixels and has its own profile (matched before this).
ZERO_TO_1000 = {
    r"qwen2-?vl": "Qwen2-VL",
    r"ui-?tars(?!-?1\.5)": "UI-TARS v1",
}
UNREAD_ARCHITECTURES = {"qwen2_vl": "a qwen2_vl (Qwen2-VL) checkpoint"}


class Resolved(BaseModel):
    """The profile chosen for a model, and why (one line for the log)."""

    model_config = ConfigDict(frozen=True)

    profile: Profile
    reason: str
    model_type: str | None = None

    def describe(self) -> str:
        return f"profile {self.profile.name} ({self.reason})"


def checkpoint_model_type(model: str) -> str | None:
    """config.json's model_type of a local folder or a cached hub id; None if not on disk."""
    path = Path(model).expanduser()
    config: Path | None = path / "config.json" if path.is_dir() else None
    if config is None and "/" in model and not path.exists():
        try:
            from huggingface_hub import try_to_load_from_cache

            cached = try_to_load_from_cache(model, "config.json")
            config = Path(cached) if isinstance(cached, str) else None
        except Exception as exc:  # not a valid repo id, no hub library: name only
            log.debug("no cached config for %s: %s", model, exc)
    if config is None or not config.is_file():
        return None
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{config}: not a readable config.json ({exc})") from None
    value = data.get("model_type") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def _names(model: str) -> list[str]:
    """The strings a model is known by: the id as given and, for a folder, its own name."""
    names = [model]
    path = Path(model).expanduser()
    if path.name and path.name != model:
        names.append(path.name)
    return names


def name_match(model: str) -> list[tuple[Profile, str]]:
    """Every profile whose pattern matches one of `model`'s names: fine-tunes first
    (a "MAI-UI-8B-Qwen3-VL" folder is MAI-UI), then the plain families."""
    plain = set(BY_ARCHITECTURE.values())
    ordered = sorted(PROFILES.values(), key=lambda p: p.name in plain)
    found: list[tuple[Profile, str]] = []
    for profile in ordered:
        for name in _names(model):
            key = name.lower().replace("_", "-")
            hit = next((p for p in profile.patterns if re.search(p, key)), None)
            if hit is not None:
                found.append((profile, name))
                break
    return found


def check_architecture(profile: Profile, model_type: str | None, model: str) -> None:
    """An InputError if the checkpoint's model_type is not one the profile is for."""
    if model_type is None or model_type in profile.architectures:
        return
    fitting = [p.name for p in PROFILES.values() if model_type in p.architectures]
    hint = f" (profiles for {model_type}: {', '.join(fitting)})" if fitting else ""
    raise InputError(
        f"profile {profile.name} is for {'/'.join(profile.architectures)} checkpoints, but "
        f"{model} is a {model_type!r} checkpoint{hint}"
    )


def refuse_unread_space(model: str, model_type: str | None) -> None:
    """An InputError when `model` is known to answer in a space no profile reads by default."""
    what = UNREAD_ARCHITECTURES.get(model_type or "")
    for name in _names(model):
        key = name.lower().replace("_", "-")
        found = next((label for p, label in ZERO_TO_1000.items() if re.search(p, key)), None)
        what = what or (f"a {found} model" if found else None)
    if what is None:
        return
    raise InputError(
        f"{model} looks like {what}, which answers in 0-1000 units, not the pixels "
        "every matching profile reads: pass --family qwen2-vl (0-1000 on the qwen2.5-vl "
        "prompt) or --profile NAME if you know better (see `agent models`)"
    )


def resolve_profile(
    model: str,
    profile: str | None = None,
    *,
    model_type: str | None = None,
    read_config: bool = True,
    space_given: bool = False,
) -> Resolved:
    """The profile for `model` (hub id, folder, or served name).

    Args:
        profile: an explicit profile name (checked against the checkpoint).
        model_type: the checkpoint's model_type when the caller already knows it.
        read_config: look for config.json (local folder or hub cache) when
            `model_type` is not given; False for served models.
        space_given: the caller imposes the coordinate space (``--family qwen2-vl``):
            a 0-1000 model is then not refused.

    Raises:
        InputError: an explicit profile contradicts the checkpoint, or nothing was
            chosen for a model known to answer in 0-1000 (`refuse_unread_space`).
    """
    if model_type is None and read_config:
        model_type = checkpoint_model_type(model)
    arch = f"; model_type {model_type}" if model_type else ""
    if profile is not None:
        chosen = get_profile(profile)
        check_architecture(chosen, model_type, model)
        return Resolved(profile=chosen, reason=f"asked for{arch}", model_type=model_type)
    for candidate, name in name_match(model):
        if model_type is not None and model_type not in candidate.architectures:
            log.debug("%s matches %s by name but is %s", model, candidate.name, model_type)
            continue
        why = f"name {name!r} matches {candidate.name}{arch}"
        return Resolved(profile=candidate, reason=why, model_type=model_type)
    if not space_given:
        refuse_unread_space(model, model_type)
    if model_type in BY_ARCHITECTURE:
        chosen = get_profile(BY_ARCHITECTURE[model_type])
        why = f"a plain {model_type} checkpoint"
        return Resolved(profile=chosen, reason=why, model_type=model_type)
    why = "nothing in the name or config says otherwise: the default"
    if model_type:
        why = f"model_type {model_type} is none of the profiles' architectures: the default"
    return Resolved(profile=get_profile(DEFAULT_PROFILE), reason=why, model_type=model_type)
