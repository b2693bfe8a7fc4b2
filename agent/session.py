"""The engine under task files, the goal loop and the Python API: one step at a time.

A `Session` owns an environment, a model, the budgets, the confirmation policy
and (optionally) a run folder. Each public method is one step: it observes the
screen, grounds a target if it has one, asks for confirmation when the policy
says so, acts, and writes one `StepRecord` whatever happened, failure
included. A failed step raises `StepFailed` (exit code 1) after it was
recorded; bad input raises `InputError` (exit code 2) before anything is sent.

In a dry run nothing is sent and nothing is launched; targets are still
grounded on the current screen and text is still searched, so the report shows
what a real run would have done; a miss is noted rather than failing the run,
because the screen of a dry run never changes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from actions.project_errors import InputError, ScreenpilotError
from actions.types import Action, Click, Key, LongPress, Scroll, Swipe, Type, Wait
from agent.cache.policy import LocateCache
from agent.errors import ActionDenied, BudgetExhausted, RunStopped, StepFailed
from agent.locate_order import locate
from agent.models.ocr_match import TextMatch
from agent.provenance import Provenance, trust
from agent.safety import ConfirmPolicy, Typed, launch_reason, look_around, risk_of
from agent.screen_mask import RunScreens
from agent.secrets import Redactor
from agent.trajectory import ModelCall, RunWriter, StepRecord
from env.a11y import LOCATORS
from env.base import Env, FailSafeError, Observation

POLL_INTERVAL = 0.25
MAX_MODEL_WAIT = 30.0
"""Longest wait a model may ask for in one action (seconds); the time budget caps it too."""


class Session:
    """Runs steps on one environment with one model; see the module docstring."""

    def __init__(
        self,
        env: Env,
        model: Any = None,
        *,
        writer: RunWriter | None = None,
        redactor: Redactor | None = None,
        policy: ConfirmPolicy | None = None,
        max_steps: int | None = None,
        timeout: float | None = None,
        retries: int = 2,
        on_step: Callable[[StepRecord], None] | None = None,
        locate: LocateCache | None = None,
        provenance: Provenance = Provenance.USER,
        locate_order: tuple[str, ...] = LOCATORS,
    ) -> None:
        self.env = env
        self.provenance = provenance  # of steps that name none: who wrote this session's input
        self.model = model
        self.writer = writer
        if redactor is None:
            redactor = writer.redactor if writer is not None else Redactor()
        self.redactor = redactor  # shared: secrets added later (Agent.type) reach the writer
        # the writer runs no model: screenshots are made safe here first (OCR masking)
        self.screens = RunScreens(redactor)
        self.policy = policy or ConfirmPolicy("risky")
        self.max_steps = max_steps
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout if timeout else None
        self.retries = retries
        self.on_step = on_step
        self.locate = locate or LocateCache.disabled()  # scripted targets: agent.cache
        self.typed = Typed()  # what an Enter would submit: judged with it (agent.safety)
        self.locate_order = locate_order  # scripted targets: a11y tree, cache, model
        self.model_calls = 0
        self.steps_done = 0
        self.last_observation: Observation | None = None
        self._screens: dict[int, Observation] = {}
        self._pointer: tuple[float, float] | None = None  # last point acted on, screenshot px

    # -- basics --------------------------------------------------------------------------
    @property
    def dry_run(self) -> bool:
        return self.env.dry_run

    @property
    def mobile(self) -> bool:
        return self.env.platform == "android"

    def check_budget(self) -> None:
        """Raise `BudgetExhausted` when no further step may start."""
        if self.max_steps is not None and self.steps_done >= self.max_steps:
            raise BudgetExhausted(f"step budget exhausted ({self.max_steps} steps)")
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise BudgetExhausted(f"time budget exhausted ({self.timeout:g} s)")

    def seconds_left(self) -> float | None:
        return None if self.deadline is None else max(0.0, self.deadline - time.monotonic())

    def observe_into(self, rec: StepRecord) -> Observation:
        """Capture the screen and note its geometry and capture time in the record."""
        obs = self.env.observe()
        self.last_observation = obs
        rec.geometry = obs.geometry.model_dump(mode="json")
        rec.timings.capture += obs.capture_seconds
        self._screens[rec.index] = obs  # saved when the record is written
        return obs

    @contextmanager
    def recording(
        self,
        verb: str,
        *,
        instruction: str | None = None,
        line: int | None = None,
        source: str = "script",
        template: str | None = None,
    ) -> Iterator[StepRecord]:
        """One recorded step: the record is written however the block ends."""
        self.check_budget()
        index = self.steps_done + 1
        rec = StepRecord(
            index=index, verb=verb, source=source, line=line, instruction=instruction,
            template=template,
        )  # fmt: skip
        start = time.perf_counter()
        try:
            yield rec
        except KeyboardInterrupt:
            rec.status, rec.error = "stopped", "interrupted (Ctrl-C)"
            raise
        except FailSafeError as exc:  # the user's emergency stop: nothing was sent
            rec.status, rec.error = "stopped", str(exc)
            raise RunStopped(str(exc)) from exc
        except ScreenpilotError as exc:
            if rec.status == "ok":
                rec.status = "denied" if isinstance(exc, ActionDenied) else "failed"
            rec.error = str(exc)
            raise
        except Exception as exc:
            rec.status, rec.error = "failed", f"{type(exc).__name__}: {exc}"
            raise
        finally:
            rec.timings.total = time.perf_counter() - start
            self.steps_done += 1
            self.locate.finish(rec)  # learns the step's target if it succeeded
            self._write(rec)

    def _write(self, rec: StepRecord) -> None:
        obs = self._screens.pop(rec.index, None)
        if self.writer is not None:
            if obs is not None:
                name = f"step-{rec.index:03d}"
                image = self.screens.safe(obs.image, name)
                rec.screenshot = self.writer.save_screenshot(image, name)
                # blacking out secrets is part of the step's cost: shown, and in the total
                rec.timings.mask = self.screens.seconds
                rec.timings.total += self.screens.seconds
            rec = self.writer.write_step(rec)
        else:
            rec = StepRecord.model_validate(self.redactor(rec.model_dump(mode="json")))
        if self.on_step is not None:
            self.on_step(rec)

    # -- grounding and acting ------------------------------------------------------------
    def _need_model(self, what: str) -> Any:
        if self.model is None:
            raise InputError(f"{what} needs a model; pass model=... (e.g. backend 'ocr')")
        return self.model

    def ground_into(self, rec: StepRecord, obs: Observation, target: str) -> tuple[float, float]:
        """Where `target` is, in screenshot pixels: tree, cache, then model for scripted
        steps, the model alone for goal-mode ones (`agent.locate_order.locate`)."""
        return locate(self, rec, obs, target)

    def _missed_in_dry_run(self, rec: StepRecord) -> bool:
        """A dry run's target was not found: no action is shown at a made-up point."""
        return self.dry_run and rec.status == "dry_run"  # set by ground_into's misses only

    def act_into(
        self,
        rec: StepRecord,
        action: Action,
        *,
        provenance: Provenance | None = None,
        context: str = "",
    ) -> None:
        """Validate, confirm and send one action; its points and timings go into `rec`.

        Args:
            provenance: where the action came from (default: the session's); the
                confirm policy and the wait cap follow it (`agent.provenance`).
        """
        provenance = provenance or self.provenance
        rec.provenance = provenance
        if isinstance(action, Wait):
            action = self._bounded_wait(rec, action, provenance)
        rec.action = action.model_dump(mode="json")
        self.env.validate(action)
        description = self.redactor.text(action.describe())
        seen = None
        if self.policy.judges(provenance):  # reading the screen costs; only when it counts
            image = self.last_observation.image if self.last_observation is not None else None
            seen = look_around(self.env, image, action)
        reason = risk_of(action, context=context, seen=seen, typed=self.typed.text)
        decision = self.policy.check(description, reason, provenance)
        if not decision.allowed:
            rec.status = "denied"
            raise ActionDenied(decision.reason or f"not allowed: {description}")
        self.typed.note(action)
        if (
            isinstance(action, Type)
            and self.writer is not None
            and self.redactor.contains(action.text)
        ):
            # screenshots from now on may show it, around the field last clicked
            width = self.last_observation.geometry.size[0] if self.last_observation else 0
            self.screens.secret_typed(self._pointer, width)
        result = self.env.act(action)
        if getattr(action, "x", None) is not None and getattr(action, "y", None) is not None:
            self._pointer = (float(action.x), float(action.y))  # type: ignore[attr-defined]
        elif isinstance(action, Key):
            self._pointer = None  # Tab may have moved the focus: the field is unknown now
        secret = isinstance(action, Type) and self.redactor.contains(action.text)
        rec.secret = bool(rec.secret) or secret  # tells a literal "***" from a masked secret
        self.locate.note_action(action, secret, rec.geometry["scale"] if rec.geometry else 1.0)
        rec.screen_points = [tuple(p) for p in result.input_points]  # type: ignore[misc]
        if result.scroll is not None:
            rec.scroll = result.scroll.model_dump()
        rec.sent = result.sent
        rec.timings.act += result.seconds
        rec.timings.settle += result.settle_seconds
        if not result.sent:
            rec.status = "dry_run"

    def _bounded_wait(self, rec: StepRecord, action: Wait, provenance: Provenance) -> Wait:
        """A wait not the user's cut to `MAX_MODEL_WAIT`, and any wait to the time budget left."""
        capped = not trust(provenance).unbounded_waits
        seconds = min(action.seconds, MAX_MODEL_WAIT) if capped else action.seconds
        left = self.seconds_left()
        if left is not None:
            seconds = min(seconds, left)
        if seconds >= action.seconds:
            return action
        why = "the time budget left" if left is not None and seconds == left else (
            f"at most {MAX_MODEL_WAIT:g} s per wait the user did not write"
        )  # fmt: skip
        rec.note = f"wait of {action.seconds:g} s cut to {seconds:.1f} s ({why})"
        return Wait(seconds=seconds)

    # -- steps ---------------------------------------------------------------------------
    def point_step(
        self,
        verb: str,
        target: str | None = None,
        *,
        x: float | None = None,
        y: float | None = None,
        line: int | None = None,
    ) -> tuple[float, float]:
        """click / double_click / right_click / long_press at a target or at (x, y)."""
        shown = target if target is not None else f"({x:g}, {y:g})"
        with self.recording(verb, instruction=shown, line=line) as rec:
            obs = self.observe_into(rec)
            if target is not None:
                x, y = self.ground_into(rec, obs, target)
                if self._missed_in_dry_run(rec):
                    return x, y
            assert x is not None and y is not None
            action: Action
            if verb == "long_press":
                action = LongPress(x=x, y=y)
            else:
                button = "right" if verb == "right_click" else "left"
                action = Click(x=x, y=y, button=button, count=2 if verb == "double_click" else 1)
            # a tree answer carries the app's own name and role for the confirm policy
            context = target or ""
            if rec.located is not None and rec.located.by == "a11y":
                found = rec.located
                context = f"{context}; {found.role} {found.name}; {found.description}"
            self.act_into(rec, action, context=context)
            return x, y

    def perform(
        self, action: Action, *, verb: str | None = None, instruction: str | None = None,
        line: int | None = None, template: str | None = None,
        provenance: Provenance | None = None, context: str = "",
    ) -> None:  # fmt: skip
        """One step that sends a ready-made action (screenshot pixels): replays, the API.

        Args:
            provenance: where the action came from (default: the session's), e.g.
                `Provenance.FOLDER` for a replayed run folder someone else may have written.
            context: the words recorded for the action (a replayed step's instruction),
                judged with it as a model's words are (`agent.safety.risk_of`).
        """
        with self.recording(
            verb or action.type, instruction=instruction, line=line, template=template
        ) as rec:
            self.observe_into(rec)
            self.act_into(rec, action, provenance=provenance, context=context)

    def type_text(self, text: str, *, line: int | None = None, template: str | None = None) -> None:
        """Type `text` into whatever has the keyboard focus."""
        with self.recording("type", instruction=text, line=line, template=template) as rec:
            self.observe_into(rec)
            self.act_into(rec, Type(text=text))

    def key(self, keys: str | list[str], *, line: int | None = None) -> None:
        """Press a key or combo such as ``ctrl+s``."""
        action = Key(keys=keys)  # type: ignore[arg-type]
        with self.recording("key", instruction=action.combo, line=line) as rec:
            self.observe_into(rec)
            self.act_into(rec, action)

    def scroll(
        self,
        amount: int,
        target: str | None = None,
        *,
        x: float | None = None,
        y: float | None = None,
        axis: str = "vertical",
        line: int | None = None,
    ) -> None:
        """Scroll `amount` wheel clicks (positive = up) over a target, at (x, y), or in place."""
        shown = target or (f"({x:g}, {y:g})" if x is not None else None)
        with self.recording("scroll", instruction=shown, line=line) as rec:
            obs = self.observe_into(rec)
            if target is not None:
                x, y = self.ground_into(rec, obs, target)
                if self._missed_in_dry_run(rec):
                    return
            self.act_into(rec, Scroll(x=x, y=y, amount=amount, axis=axis))  # type: ignore[arg-type]

    def swipe(self, x: float, y: float, to_x: float, to_y: float, *, duration: float = 0.3,
              line: int | None = None) -> None:  # fmt: skip
        """Slide from (x, y) to (to_x, to_y) (phones)."""
        with self.recording("swipe", line=line) as rec:
            self.observe_into(rec)
            self.act_into(rec, Swipe(x=x, y=y, to_x=to_x, to_y=to_y, duration=duration))

    def wait(self, seconds: float, *, line: int | None = None) -> None:
        """Let the screen work for `seconds` (not in a dry run)."""
        with self.recording("wait", instruction=f"{seconds:g} s", line=line) as rec:
            self.observe_into(rec)
            rec.action = {"type": "wait", "seconds": seconds}
            if self.dry_run:
                rec.status = "dry_run"
                return
            left = self.seconds_left()
            time.sleep(seconds if left is None else min(seconds, left))
            rec.timings.act = seconds

    def launch(
        self, target: str | list[str], *, line: int | None = None,
        provenance: Provenance | None = None,
    ) -> None:  # fmt: skip
        """Start an app: a command line (desktop) or a package / label (phone).

        Only the user's own launches go unasked under ``--confirm risky``; a launch
        from a model, an MCP client or a folder is confirmed (`agent.provenance`).
        """
        provenance = provenance or self.provenance
        shown = target if isinstance(target, str) else " ".join(target)
        with self.recording("launch", instruction=shown, line=line) as rec:
            self.observe_into(rec)  # the screen before the app appears
            rec.action = {"type": "launch", "target": target}
            rec.provenance = provenance
            decision = self.policy.check(f"launch {shown}", launch_reason(target), provenance)
            if not decision.allowed:
                rec.status = "denied"
                raise ActionDenied(decision.reason or f"not allowed: launch {shown}")
            if self.dry_run:
                rec.status = "dry_run"
                return
            start = time.perf_counter()
            self.env.launch(target)
            rec.sent = True
            rec.timings.act = time.perf_counter() - start

    def find_text_step(
        self, verb: str, text: str, *, timeout: float, line: int | None = None
    ) -> TextMatch | None:
        """wait_for / assert: search the screen's text until found or `timeout`.

        Each poll asks the accessibility tree first when the locate order has
        "a11y" (`agent.a11y_text`); found there, no OCR runs and `rec.located`
        names the element. Otherwise OCR reads the screenshot.

        A text OCR can never read (no letter, digit or sign) is refused before
        the step starts; signs and, for these checks, digits must match exactly
        (`agent.models.ocr_match.exact_part`), so ``-2`` never passes on ``2``.
        """
        from agent.a11y_text import text_in_tree
        from agent.models.ocr import blank, check_target, find_text, read_text

        check_target(text)
        tree = "a11y" in self.locate_order
        with self.recording(verb, instruction=text, line=line) as rec:
            rec.timeout = timeout  # kept by `agent compile`
            start = time.monotonic()
            left = self.seconds_left()
            until = start + (timeout if left is None else min(timeout, left))
            while True:
                obs = self.observe_into(rec)
                t0 = time.perf_counter()
                match, rec.located, _ = (
                    text_in_tree(self.env, obs, text) if tree else (None, None, "")
                )  # the tree first (exact, no OCR pass); a miss there proves nothing
                if match is None:
                    match = find_text(obs.image, text)
                    if match is not None:
                        rec.model = ModelCall(
                            instruction=text, raw=f"text on screen: {match.line!r}",
                            image_size=obs.geometry.size, box=match.box,
                        )  # fmt: skip
                rec.timings.model += time.perf_counter() - t0
                if match is not None:
                    found = rec.located
                    how = f" by a11y ({found.role} {found.name!r})" if found is not None else ""
                    rec.note = f"found{how} after {time.monotonic() - start:.1f} s"
                    return match
                if self.dry_run:
                    rec.status = "dry_run"
                    rec.note = f"dry run: {text!r} is not on the current screen"
                    return None
                if time.monotonic() >= until:
                    what = "did not appear" if verb == "wait_for" else "is not on screen"
                    after = f" within {timeout:g} s" if timeout else ""
                    hint = ""
                    if not read_text(obs.image) and not blank(obs.image):
                        # the detector's blind spot, or a screen with no text at all
                        hint = "; OCR read no text at all on this screen"
                        rec.note = "OCR read no text on a screen that is not blank"
                    raise StepFailed(f"{verb}: {text!r} {what}{after}{hint}")
                time.sleep(POLL_INTERVAL)
