"""Where a step's target is: the locate order (accessibility tree, locate cache, then model).

A scripted step (a task file, ``agent do``, an MCP act call) tries the session's
`locate_order` in turn: the accessibility tree answers only when exactly one
usable element is named (`env.a11y_read.locate`); the locate cache when it holds
the target (`agent.cache`); else the model grounds it (`agent.grounding.ground`).
Each locator that gives no answer adds its reason to the record's ``located``.
Goal-mode steps never act from the tree or the cache: the model alone.

In a dry run a miss does not fail: the record says "not found" and the step
shows no point (the screen's centre is returned only for callers that need a
number; `point_step` and `scroll` send and show nothing).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from agent.errors import StepFailed
from agent.secrets import shows_secret
from agent.trajectory import ModelCall, StepRecord, total_seconds
from env.a11y import Located
from env.base import Observation

if TYPE_CHECKING:
    from agent.session import Session

log = logging.getLogger(__name__)

Point = tuple[float, float]


def locate(session: Session, rec: StepRecord, obs: Observation, target: str) -> Point:
    """Where `target` is, in screenshot pixels, tried in the session's locate order."""
    scripted = rec.source == "script"  # goal-mode steps never act from the tree or cache
    fell: list[str] = []
    for locator in session.locate_order if scripted else ("model",):
        if locator == "a11y":
            point = from_tree(session, rec, obs, target, fell)
            if point is not None:
                return point
        elif locator == "cache":
            cached = session.locate.lookup(rec, obs, target, session.redactor.secrets)
            if cached is not None:
                box = rec.cache.box if rec.cache is not None else None
                rec.located = Located(by="cache", box=box, fell_through=fell)
                return cached
            fell.append(f"cache: {rec.cache.describe()}" if rec.cache else "cache: off")
        elif locator == "model":
            break
    else:
        why = "; ".join(fell) or "no locator"
        if session.dry_run:  # the caller sends nothing and shows no point
            return _not_found(rec, obs, f"{target!r} was not located ({why})")
        raise StepFailed(f"could not find {target!r} without a model: {why}")
    rec.located = Located(by="model", fell_through=fell)
    return from_model(session, rec, obs, target, scripted=scripted)


def from_tree(
    session: Session, rec: StepRecord, obs: Observation, target: str, fell: list[str]
) -> Point | None:
    """The centre of the one element the accessibility tree names `target`, or None."""
    from env.a11y_read import locate as read_tree

    element, why, seconds = read_tree(session.env, obs.geometry, target)
    rec.timings.model += seconds
    if element is None or element.box is None:
        fell.append(why)
        log.info("%s", why)
        return None
    rec.located = Located(by="a11y", role=element.role, name=element.name,
                          description=element.description, box=element.box,
                          seconds=seconds, fell_through=fell)  # fmt: skip
    return element.center


def from_model(
    session: Session, rec: StepRecord, obs: Observation, target: str, *, scripted: bool
) -> Point:
    """The model's point for `target` (recorded in ``rec.model``); a miss fails the step."""
    from agent.grounding import ground
    from agent.models.ocr import ambiguity, miss_message

    model = session._need_model(f"finding {target!r}")
    result = ground(model, obs.image, target)
    session.model_calls += 1
    rec.model = ModelCall(
        instruction=target,
        raw=result.raw,
        image_size=result.image_size,
        model_size=result.model_size,
        family=str(getattr(getattr(model, "family", None), "value", "") or "") or None,
        profile=getattr(getattr(model, "profile", None), "name", None),
        model_xy=result.model_xy,
        box=result.bbox,
        visual_tokens=result.visual_tokens,
        error=result.error,
        two_stage=result.two_stage,
    )
    rec.timings.model += total_seconds(result.seconds)
    if result.error is None and result.point is not None:
        candidates = ambiguity(result.raw)
        if candidates:  # recorded (an extra field of the record) and said in the note
            rec.candidates = candidates  # type: ignore[attr-defined]
            rec.note = (
                f"ambiguous: {target!r} is on screen {len(candidates)} times; took the most "
                f"button-like at ({result.point[0]:.0f}, {result.point[1]:.0f})"
            )
        if scripted:
            session.locate.propose(rec, obs, target, result.point, result.bbox,
                                   session.redactor.secrets)  # fmt: skip
        return result.point

    # the OCR grounder's own words ('no text reads "Save"; closest text: "Saved"')
    # say more than the parser's, which speaks of coordinates
    error = miss_message(result.raw) or result.error or "no point in the answer"
    if miss_message(result.raw) is not None and shows_secret(error, session.redactor):
        # the closest text may be a misread secret, which the redactor would miss
        error = "no text reads it (the closest text is withheld: it may show a secret)"
        rec.model.raw = error
    rec.model.error = error
    if session.dry_run:
        return _not_found(rec, obs, error)
    raise StepFailed(f"could not find {target!r} on screen: {error}")


def _not_found(rec: StepRecord, obs: Observation, why: str) -> Point:
    """A dry run's miss: recorded, and the caller sends nothing and shows no point
    (`Session._missed_in_dry_run`); the screen's centre only for callers needing a number."""
    rec.status = "dry_run"
    rec.note = f"dry run: not found: {why}"
    width, height = obs.geometry.size
    return width / 2, height / 2
