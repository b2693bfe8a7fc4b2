"""The text of a task file compiled from a run folder (`tasks.compile`): every field escaped.

A run folder may come from anyone, so nothing it holds reaches the task file
unescaped: every string is written with ``$`` as ``$$`` (the task language's
literal dollar, so ``${HOME}`` in a recorded target stays text), values with a
line break or any other non-printable character as JSON strings, and comments
(the folder's path and name) on one line whatever they hold. The env section
is the user's defaults, and the model section never carries a base URL or key
variable from the folder (`agent.provenance`: a folder chooses neither).
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from actions.project_errors import InputError
from agent.models.spec import ModelSpec
from agent.provenance import Provenance
from agent.trajectory import RunFolder
from env.virtual_display import parse_size


class CompiledStep(BaseModel):
    """One step of the compiled task, the run step it came from, and its cache seed."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    step: dict[str, Any] = Field(description="verb and value, text as typed (unescaped)")
    source: int = Field(description="index of the run step")
    comment: str = ""
    seed: tuple[str, tuple[float, float], tuple[float, float, float, float] | None] | None = None
    template: bool = Field(False, description="the value is a ${VAR} template, written as is")
    provenance: Provenance | None = Field(None, description="kept judged: not the user's step")
    disabled: bool = Field(False, description="written commented out (a launch not allowed)")


def literal(text: str) -> str:
    """Text for a task file: a ``$`` would start a ${VAR}, so it is written ``$$``."""
    return text.replace("$", "$$")


def _env(run: RunFolder, virtual_display: str | None) -> dict[str, Any]:
    """The env section: the user's options and defaults, never the folder's settings.

    Only the size of a private virtual display is kept from the run (checked as
    a size), so the cached points fit; ``--virtual-display`` replaces it.
    """
    if run.info.platform == "android":
        return {"android": {}}
    if run.info.platform != "desktop":
        raise InputError(f"{run.path}/run.json: unknown platform {run.info.platform!r}")
    size = virtual_display or run.info.env.get("virtual_display")
    if size is None or str(size).lower() in ("off", "no", "none"):
        return {"desktop": {}}
    try:
        width, height = parse_size(str(size))
    except InputError as exc:
        raise InputError(f"{run.path}/run.json: env.virtual_display: {exc}") from None
    return {"desktop": {"virtual_display": f"{width}x{height}"}}


def _model_section(spec: ModelSpec) -> dict[str, Any]:
    if spec.backend == "ocr":
        return {"backend": "ocr"}
    section = spec.model_dump(mode="json", exclude_defaults=True, exclude={"api_key"})
    profile = spec.resolve().profile
    low, high = spec.pixel_limits(profile)
    # written out, so the task keeps the identity its cache was seeded under
    return {"backend": spec.backend, **section, "profile": profile.name, "min_pixels": low,
            "max_pixels": high}  # fmt: skip


def escaped(value: Any) -> Any:
    """Every string of `value` as task-file text: ``$`` is written ``$$`` (never a ${VAR})."""
    if isinstance(value, str):
        return literal(value)
    if isinstance(value, list):
        return [escaped(v) for v in value]
    if isinstance(value, dict):
        return {k: escaped(v) for k, v in value.items()}
    return value


def _yaml(value: Any, *, flow: bool | None = None) -> str:
    """One value as YAML on one line: flow style, or a JSON string (ASCII, escaped) for text
    that holds a line break or any other character YAML might read as one."""
    if isinstance(value, str) and not value.isprintable():
        return json.dumps(value)  # a JSON string is a YAML scalar; \n, \u2028 stay escaped
    if isinstance(value, list) and any(isinstance(v, str) and not v.isprintable() for v in value):
        return json.dumps(value)
    text = yaml.safe_dump(value, sort_keys=False, default_flow_style=flow, allow_unicode=True,
                          width=1_000_000)  # fmt: skip
    return text.strip().removesuffix("...").strip()


def comment_text(text: str) -> str:
    """`text` for a ``#`` comment: one line, whatever it holds (a folder name with line breaks
    must not end the comment and start task content)."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def render_task(
    run: RunFolder,
    name: str,
    spec: ModelSpec,
    steps: list[CompiledStep],
    *,
    virtual_display: str | None = None,
) -> str:
    """The task file's text: header comments, then name, env, model, budgets, steps."""
    head: dict[str, Any] = {
        "name": name,
        "env": _env(run, virtual_display),
        "model": escaped(_model_section(spec)),
    }
    for key in ("timeout", "settle"):  # the run's budgets, checked by the task schema
        value = getattr(run.info, key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            head[key] = value
    lines = [
        f"# Compiled by `agent compile` from the run folder {comment_text(str(run.path))}",
        f"# (run {comment_text(repr(run.info.name))}, {run.info.status}). Clicks the model chose "
        "are named after",
        "# the text at their point; the locate cache beside this file holds where each one",
        "# was, so this task replays without model calls while the screen looks the same.",
        "# Steps marked `provenance: model` were not the user's in the run: risky ones are",
        "# still confirmed. Lines starting `# -` are recorded launches: check, then un-comment.",
        _yaml(head),
        "steps:",
    ]
    for item in steps:
        ((verb, value),) = item.step.items()
        # flow style: a nested value (``{keys: [shift], seconds: 2}``) stays on the step's line
        body = f"{verb}: {_yaml(value if item.template else escaped(value), flow=True)}"
        note = f"  # run step {item.source}" + (f": {item.comment}" if item.comment else "")
        lines.append(("  # - " if item.disabled else "  - ") + body + comment_text(note))
        if item.provenance is not None and not item.disabled:
            lines.append(f"    provenance: {item.provenance.value}")
    lines.append(f"max_steps: {max(30, len(steps) + 10)}")
    return "\n".join(lines) + "\n"


def task_name(run: RunFolder) -> str:
    name = re.sub(r"[^\w .,@+-]+", "-", run.info.name).strip() or "compiled"
    return name[:200]
