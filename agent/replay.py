"""Replay a run folder: perform its recorded actions again, at the recorded coordinates.

No model is asked: clicks go where the recorded run clicked, keys and text are
sent again, launches start the same command, and ``wait_for`` / ``assert``
steps wait for the same text again (OCR), which keeps a replay in step with
an app that starts slower this time. Steps that failed or were refused are
skipped.

A run folder is untrusted input (it may come from someone else):

* ``${VAR}`` in a recorded template is never expanded on its own: typed
  secrets were recorded as ``***``, and only the variables the user names
  (``agent replay --secret VAR``) are read from the environment again; a step
  that typed any other variable refuses the replay.
* A recorded launch (or a phone's open_app) runs only with the user's yes or
  ``--allow-launch`` (`launches` lists them for the question).
* Files are read only inside the folder (`agent.trajectory.read_run`).

Everything is checked before the first action: the records, the variables,
and that the screen has the size the run was recorded at.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from actions.errors import InputError
from actions.types import Action, OpenApp, Type, parse_action
from agent.provenance import Provenance
from agent.secrets import MASK
from agent.trajectory import RunFolder, StepRecord

_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
TEXT_VERBS = ("wait_for", "assert")
REPLAYED_STATUS = ("ok", "dry_run")


class ReplayStep(BaseModel):
    """One thing to do again."""

    index: int = 0
    kind: str  # action | launch | wait | text
    action: Action | None = None
    target: str | list[str] | None = None
    seconds: float = 0.0
    text: str | None = None
    verb: str = ""
    template: str | None = None


def _expand(template: str, index: int, allowed: Collection[str]) -> tuple[str, set[str]]:
    secrets: set[str] = set()

    def sub(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        if name not in allowed:
            raise InputError(
                f"step {index} typed ${{{name}}}, recorded as {MASK}: pass --secret {name} "
                "to type it again from the environment"
            )
        if name not in os.environ:
            raise InputError(f"step {index}: environment variable {name} is not set")
        secrets.add(os.environ[name])
        return os.environ[name]

    return _VAR.sub(sub, template), secrets


def plan_replay(
    run: RunFolder, secrets_from_env: Collection[str] = ()
) -> tuple[list[ReplayStep], set[str]]:
    """The steps to perform and the secrets they use; `InputError` if one cannot be replayed.

    Args:
        secrets_from_env: names of the variables whose recorded ``${NAME}`` may be
            read from the environment again (``--secret NAME``); no other is.
    """
    plan: list[ReplayStep] = []
    secrets: set[str] = set()
    for step in run.steps:
        if step.status not in REPLAYED_STATUS:
            continue
        if step.model is not None and step.model.error is not None:
            continue  # a dry run's miss: its point is only a stand-in
        item = _plan_step(step, secrets, secrets_from_env)
        if item is not None:
            plan.append(item)
    if not plan:
        raise InputError(f"{run.path}: nothing to replay (no recorded step succeeded)")
    return plan, secrets


def launches(plan: list[ReplayStep]) -> list[str]:
    """What the plan would start (commands, apps), shown to the user before it may."""
    started: list[str] = []
    for item in plan:
        if item.kind == "launch":
            target = item.target
            started.append(target if isinstance(target, str) else " ".join(target or []))
        elif isinstance(item.action, OpenApp):
            started.append(f"open_app {item.action.app}")
    return started


def _plan_step(step: StepRecord, secrets: set[str], allowed: Collection[str]) -> ReplayStep | None:
    data: dict[str, Any] = dict(step.action or {})
    kind = data.get("type")
    if step.verb in TEXT_VERBS and step.instruction:
        return ReplayStep(index=step.index, kind="text", verb=step.verb, text=step.instruction)
    if kind is None or kind == "terminate":
        return None
    if kind == "launch":
        target = data.get("target")
        if not (isinstance(target, str) or (
            isinstance(target, list) and target and all(isinstance(a, str) for a in target)
        )):  # fmt: skip
            raise InputError(f"step {step.index}: unreadable launch target {target!r}")
        return ReplayStep(index=step.index, kind="launch", target=target)
    if kind == "wait" and step.verb == "wait":
        return ReplayStep(index=step.index, kind="wait", seconds=float(data.get("seconds", 0)))
    if kind == "type" and MASK in str(data.get("text", "")):
        if not step.template:
            raise InputError(
                f"step {step.index} typed a secret that was not recorded; it cannot be replayed"
            )
        data["text"], found = _expand(step.template, step.index, allowed)
        secrets |= found
    try:
        action = parse_action(data)
    except ValidationError as exc:
        raise InputError(
            f"step {step.index}: unreadable action: {exc.errors()[0]['msg']}"
        ) from None
    return ReplayStep(
        index=step.index,
        kind="action",
        action=action,
        verb=step.verb,
        template=step.template if isinstance(action, Type) else None,
    )


def recorded_size(run: RunFolder) -> tuple[int, int] | None:
    """The screen size the run's actions were recorded at (first step with a screenshot)."""
    for step in run.steps:
        if step.geometry:
            return int(step.geometry["width"]), int(step.geometry["height"])
    return None


def replay_steps(session: Any, plan: list[ReplayStep], *, wait_timeout: float = 20.0) -> None:
    """Perform a replay plan through a `Session` (budgets, records, dry run all apply)."""
    for item in plan:
        shown = f"replay of step {item.index}"
        if item.kind == "launch":
            assert item.target is not None
            # approved by the user before the replay began (--allow-launch or its question)
            session.launch(item.target, provenance=Provenance.USER)
        elif item.kind == "wait":
            session.wait(item.seconds)
        elif item.kind == "text":
            assert item.text is not None
            timeout = wait_timeout if item.verb == "wait_for" else 2.0
            session.find_text_step(item.verb, item.text, timeout=timeout)
        else:
            assert item.action is not None
            session.perform(
                item.action,
                verb=item.verb,
                instruction=shown,
                template=item.template,
                provenance=Provenance.FOLDER,
            )


def default_replay_dir(run_dir: Path) -> Path:
    from agent.trajectory import default_run_dir

    return default_run_dir(f"replay-{Path(run_dir).name}")
