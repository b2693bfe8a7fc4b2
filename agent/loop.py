"""Goal mode: observe -> decide -> act -> settle, until the model terminates or a budget ends.

Each turn sends the model the goal, the screenshot and the step history (the
earlier actions as the model itself would write them, in its profile's format:
tool calls for the Qwen-style profiles, ``Action: ...`` lines for UI-TARS).
An answer that cannot be read is asked again, at most `Session.retries` times,
with a short correction; after that the step fails with every raw answer kept in the trajectory. A
``terminate`` action ends the goal: success returns, failure fails the task.
In a dry run the model plans one step (shown in the report, not sent), since
the unchanged screen would only make it plan the same step again.
Settling after each action is the environment's (``settle`` in the task).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from actions.project_errors import InputError, ModelOutputError
from agent.errors import BudgetExhausted, StepFailed
from agent.models.act_formats import correction_text, history_text
from agent.provenance import Provenance
from agent.safety import action_texts
from agent.trajectory import ModelCall, StepRecord, total_seconds

if TYPE_CHECKING:
    from agent.session import Session

log = logging.getLogger(__name__)


class GoalOutcome(BaseModel):
    """How a goal ended."""

    goal: str
    status: Literal["success"]
    answer: str | None = None
    steps: int


def _decide(session: Session, rec: StepRecord, image: Any, goal: str, history: list[str]) -> Any:
    """Ask for the next action; retry unreadable answers with a correction."""
    from agent.grounding import next_action

    model = session._need_model(f"the goal {goal!r}")
    attempts: list[str] = []
    correction: str | None = None
    for _ in range(session.retries + 1):
        decision = next_action(
            model, image, goal, history, mobile=session.mobile, correction=correction
        )
        session.model_calls += 1
        rec.timings.model += total_seconds(decision.seconds)
        frame = decision.frame
        rec.model = ModelCall(
            instruction=goal,
            raw=decision.raw,
            attempts=list(attempts),
            image_size=getattr(frame, "image_size", None),
            model_size=getattr(frame, "model_size", None),
            family=getattr(getattr(frame, "family", None), "value", None),
            profile=getattr(getattr(model, "profile", None), "name", None),
            model_xy=decision.model_xy[0] if decision.model_xy else None,
            visual_tokens=decision.visual_tokens,
            error=decision.error,
        )
        if decision.error is None and (decision.actions or decision.action is not None):
            return decision
        attempts.append(decision.raw)
        profile = getattr(model, "profile", None)
        correction = correction_text(profile, decision.error or "no action")
        log.info("unusable answer (%s); asking again", decision.error)
    raise ModelOutputError(
        f"no usable action after {len(attempts)} answers: {decision.error}", raw=decision.raw
    )


def run_goal(
    session: Session, goal: str, *, max_steps: int | None = None, line: int | None = None
) -> GoalOutcome:
    """Let the model work towards `goal`; raises `StepFailed` when it fails or runs out.

    A model whose profile has no goal mode is an `InputError` before anything is sent.
    """
    from agent.models.profiles import planning_error

    profile = getattr(session.model, "profile", None)
    problem = planning_error(profile, mobile=session.mobile) if profile is not None else None
    if problem:
        raise InputError(problem)
    history: list[str] = []
    turns = 0
    while True:
        if max_steps is not None and turns >= max_steps:
            raise BudgetExhausted(f"goal {goal!r}: not done within {max_steps} steps")
        with session.recording("goal", instruction=goal, line=line, source="goal") as rec:
            obs = session.observe_into(rec)
            decision = _decide(session, rec, obs.image, goal, history)
            actions = list(decision.actions) or [decision.action]
            first = actions[0]
            rec.verb = first.type
            terminate = next((a for a in actions if a.type == "terminate"), None)
            # each action is judged on its own words and its own point, not the whole answer's
            texts = action_texts(decision.raw, len(actions))
            # every action of the answer is recorded, in order, so a replay can send them all
            rec.actions = [] if len(actions) > 1 else None
            for action, text in zip(actions, texts, strict=True):
                if action.type == "terminate":
                    if rec.action is None:  # `action` keeps the last one sent, for old readers
                        rec.action = action.model_dump(mode="json")
                    if rec.actions is not None:
                        rec.actions.append(action.model_dump(mode="json"))
                    break
                session.act_into(rec, action, provenance=Provenance.MODEL, context=text)
                if rec.actions is not None:
                    rec.actions.append(dict(rec.action or {}))
                history.append(history_text(profile, action, decision.frame, mobile=session.mobile))
            if len(actions) > 1:
                rec.note = f"the answer held {len(actions)} actions; all were performed in order"
            if terminate is not None:
                frame = decision.frame
                history.append(history_text(profile, terminate, frame, mobile=session.mobile))
                if terminate.status == "failure":
                    reason = f": {terminate.answer}" if terminate.answer else ""
                    raise StepFailed(f"the model gave up on {goal!r}{reason}")
                rec.note = "goal reached" + (f": {terminate.answer}" if terminate.answer else "")
        turns += 1
        if terminate is not None:
            return GoalOutcome(goal=goal, status="success", answer=terminate.answer, steps=turns)
        if session.dry_run:
            # the screen of a dry run never changes: later answers would only repeat this one
            return GoalOutcome(goal=goal, status="success", answer="dry run: first step planned",
                               steps=turns)  # fmt: skip
