"""The Python API: scripted automation on the same engine as task files (`agent.engine`).

    from agent import Agent

    with Agent.desktop(model="ocr", virtual_display="1280x800", out="auto", name="form") as a:
        a.launch(["python3", "tasks/examples/demo_form.py"])
        a.wait_for("Contact form", timeout=20)
        a.click("the Name field")       # grounded by the model (here: OCR)
        a.type("Ada Lovelace")
        a.click("the Note field")       # typing goes to the focused field: click it first
        a.type("s3cret", secret=True)   # *** in every record, blacked out in screenshots
        a.click("the Submit button")
        a.assert_visible("Saved: Ada Lovelace", timeout=5)
        # a.run("close the dialog")    # a goal for the model loop (qwen / openai backends)

Every call is one step of a `Session` (observe, ground, confirm, act, record);
with ``out=`` every step goes to a run folder and report.html is written when
the agent closes (``out="auto"``: a new ``runs/<time>-<name>`` each time; ``name``
also keys the locate cache, so give each script its own). Failed steps raise
`StepFailed`; bad arguments raise `InputError` before anything is sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from PIL import Image
from pydantic import BaseModel

from actions.project_errors import InputError
from actions.types import Action
from actions.verb_args import build
from actions.vocabulary import instruction, simple_specs
from agent.cache import LocateCache
from agent.engine import LiveRun
from agent.loop import GoalOutcome, run_goal
from agent.models.ocr_match import TextMatch
from agent.safety import Ask, ConfirmMode, ConfirmPolicy
from agent.secrets import Redactor, redacted_logging
from agent.session import Session
from agent.trajectory import RunInfo, RunWriter, default_run_dir
from env.base import Env

log = logging.getLogger(__name__)


def resolve_model(model: Any, profile: str | None = None) -> Any:
    """A `Model` from a Model, a ModelSpec, a dict of spec fields, or a string.

    Strings: ``"ocr"`` (the offline grounder), an ``http(s)://`` URL (an
    OpenAI-compatible server: the one model it lists; one that lists several
    or none is an InputError naming them), or a checkpoint id / folder for the
    local backend. `profile` names the model profile (see `agent models`);
    without it the profile is detected from the checkpoint and its name.
    """
    from agent.models.base import Model

    if model is None or isinstance(model, Model):
        if profile is not None:
            raise InputError("profile= applies to a model given by name, dict or ModelSpec")
        return model
    from agent.models.load import load_model
    from agent.models.spec import ModelSpec

    extra = {"profile": profile} if profile is not None else {}
    if isinstance(model, ModelSpec):
        return load_model(ModelSpec(**{**model.model_dump(), **extra}) if extra else model)
    if isinstance(model, dict):
        return load_model(ModelSpec(**{**model, **extra}))
    if isinstance(model, str):
        if model == "ocr":
            return load_model(ModelSpec(backend="ocr"))
        if model.startswith(("http://", "https://")):
            from agent.models.openai_compat import the_served_model

            served = the_served_model(model, ModelSpec().resolved_api_key())
            return load_model(ModelSpec(backend="openai", base_url=model, model=served, **extra))
        return load_model(ModelSpec(backend="qwen", model=model, **extra))
    raise InputError(
        f"model must be a Model, ModelSpec, dict or string, got {type(model).__name__}"
    )


class Agent:
    """Drive one screen with one model. Build it with `Agent.desktop` or `Agent.android`."""

    def __init__(
        self,
        env: Env,
        model: Any = None,
        *,
        out: str | Path | None = None,
        name: str = "api",
        confirm: ConfirmMode = "risky",
        ask: Ask | None = None,
        max_steps: int | None = None,
        timeout: float | None = None,
        secrets: tuple[str, ...] | list[str] = (),
        on_close: Callable[[], None] | None = None,
        cache: str | Path | None = "auto",
        cache_mode: str = "read-write",
        profile: str | None = None,
    ) -> None:
        """
        Args:
            env: an opened environment (closed with the agent).
            model: see `resolve_model`; None for coordinate-only scripts.
            out: write a run folder (steps, screenshots, report.html) here;
                ``"auto"`` means a new runs/<time>-<name> for every run (a fixed
                folder that already exists is refused).
            confirm, ask: the confirmation policy and who answers its questions
                (``ask(question) -> bool``; without one, risky actions are refused).
            max_steps, timeout: budgets over the agent's whole life.
            secrets: strings to mask as ``***`` in everything written.
            on_close: called last, after the environment is closed (e.g. stop Xvfb).
            cache: the locate cache folder for targets (`agent.cache`): ``"auto"``
                = ``~/.cache/screenpilot/locate/<name>``; None or ``"off"``: none.
            cache_mode: read-write, read, write or off.
            profile: the model profile (see `agent models`); default: detected.
        """
        self.redactor = Redactor(secrets)  # refuses a secret too short to mask, before anything
        self._stack = ExitStack()
        # secrets are masked in log lines and tracebacks for the agent's whole life
        self._stack.enter_context(redacted_logging(self.redactor))
        if on_close is not None:
            self._stack.callback(on_close)
        self._stack.callback(env.close)
        self.env = env
        try:
            self.model = resolve_model(model, profile)
            if self.model is not None:
                self._stack.callback(self.model.close)
            # a corrupt cache file is bad input: fail before the run folder exists
            locate = self._open_cache(cache, cache_mode, name, dry_run=env.dry_run)
            folder = None
            if out is not None:
                folder = default_run_dir(name) if str(out) == "auto" else Path(out)
            self._run = LiveRun(
                env,
                self.model,
                out=folder,
                info=RunInfo(name=name, platform=env.platform, dry_run=env.dry_run),
                redactor=self.redactor,
                policy=ConfirmPolicy(confirm, ask),
                max_steps=max_steps,
                timeout=timeout,
                locate=locate,
            )
        except BaseException:
            self._stack.close()
            raise
        self.writer: RunWriter | None = self._run.writer
        self.session: Session = self._run.session
        self.report: Path | None = None

    def _open_cache(
        self, cache: str | Path | None, mode: str, name: str, *, dry_run: bool
    ) -> LocateCache:
        from agent.cache import LocateStore, api_folder, identity_of, parse_mode

        chosen = parse_mode(mode)
        if self.model is None or cache is None or str(cache) == "off" or chosen == "off":
            return LocateCache.disabled()
        folder = api_folder(name) if str(cache) == "auto" else Path(cache)
        if folder is None:
            return LocateCache.disabled()
        return LocateCache(LocateStore(folder), identity_of(self.model), chosen, dry_run=dry_run)

    @property
    def model_calls(self) -> int:
        """Requests the model has answered so far (grounding and planning)."""
        return self.session.model_calls

    # -- constructors --------------------------------------------------------------------
    @classmethod
    def desktop(
        cls,
        model: Any = None,
        *,
        monitor: str | int = "primary",
        virtual_display: str | tuple[int, int] | None = None,
        failsafe: bool = True,
        xwayland: bool = False,
        dry_run: bool = False,
        settle: float = 1.0,
        **kwargs: Any,
    ) -> Agent:
        """An agent on this machine's screen, or on a fresh Xvfb of `virtual_display` size.

        Args:
            failsafe: a pointer resting in a screen corner stops the next action (`FailSafeError`).
            xwayland: in a Wayland session, drive X11 apps under XWayland (else refused).
        """
        from env.desktop import DesktopEnv

        env = DesktopEnv(
            monitor=monitor,
            virtual_display=virtual_display,
            failsafe=failsafe,
            xwayland=xwayland,
            dry_run=dry_run,
            settle=settle,
        )
        try:
            return cls(env, model, **kwargs)
        except BaseException:
            env.close()
            raise

    @classmethod
    def android(
        cls,
        serial: str | None = None,
        *,
        model: Any = None,
        adb_host: str | None = None,
        adb_port: int | None = None,
        dry_run: bool = False,
        settle: float = 1.0,
        **kwargs: Any,
    ) -> Agent:
        """An agent on a phone or emulator reached through an adb server."""
        from env.android import AndroidEnv

        env = AndroidEnv(serial, host=adb_host, port=adb_port, dry_run=dry_run, settle=settle)
        try:
            return cls(env, model, **kwargs)
        except BaseException:
            env.close()
            raise

    # -- steps ---------------------------------------------------------------------------
    def click(self, target: str | None = None, *, x: float | None = None,
              y: float | None = None) -> tuple[float, float]:  # fmt: skip
        """Click a described target (grounded by the model) or screenshot pixel (x, y)."""
        return self.session.point_step("click", **self._where(target, x, y))

    def double_click(self, target: str | None = None, *, x: float | None = None,
                     y: float | None = None) -> tuple[float, float]:  # fmt: skip
        return self.session.point_step("double_click", **self._where(target, x, y))

    def right_click(self, target: str | None = None, *, x: float | None = None,
                    y: float | None = None) -> tuple[float, float]:  # fmt: skip
        return self.session.point_step("right_click", **self._where(target, x, y))

    def long_press(self, target: str | None = None, *, x: float | None = None,
                   y: float | None = None) -> tuple[float, float]:  # fmt: skip
        return self.session.point_step("long_press", **self._where(target, x, y))

    def type(self, text: str, *, secret: bool = False) -> None:
        """Type text into the focused field; ``secret=True`` keeps it out of every record.

        A secret is masked as ``***`` in the run folder, in log lines at every
        level and in tracebacks, in every encoding (see `agent.secrets`); one
        shorter than 4 characters is refused with `InputError`, nothing typed.
        """
        if secret:
            self.redactor.add(text)
        self.session.type_text(text)

    def key(self, combo: str | list[str]) -> None:
        """Press a key or combo, e.g. ``"ctrl+s"``."""
        self.session.key(combo)

    def hold_key(self, combo: str | list[str], seconds: float = 1.0) -> None:
        """Hold a key or combo down for `seconds`, e.g. ``("shift", 2)`` (desktops only)."""
        self.do("hold_key", combo, seconds)

    def do(self, verb: str | Action, *args: Any, **kwargs: Any) -> None:
        """Perform one action: an `Action`, or a simple verb of the vocabulary with its
        arguments in `agent do` order, e.g. ``do("hold_key", "shift", seconds=2)``.

        Every simple action (`actions.vocabulary.simple_specs`) is reachable here without
        a method of its own. Bad arguments raise `InputError` before anything is sent.
        """
        if not isinstance(verb, str):
            if args or kwargs:
                raise InputError("do(action) takes no further arguments")
            self.perform(verb)
            return
        spec = next((s for s in simple_specs() if s.do_verb == verb), None)
        if spec is None or spec.simple is None:
            known = ", ".join(s.do_verb for s in simple_specs() if s.do_verb)
            raise InputError(f"do: {verb!r} is not a simple verb (simple verbs: {known}; "
                             "the others are methods: click, type, scroll ...)")  # fmt: skip
        order = spec.simple.positional
        if len(args) > len(order):
            raise InputError(f"{verb}: takes at most {len(order)} positional arguments")
        named = dict(zip(order, args, strict=False))
        twice = sorted(named.keys() & kwargs.keys())
        if twice:
            raise InputError(f"{verb}: {twice[0]} given twice")
        self.perform(build(spec.cls, {**named, **kwargs}, where=verb))

    def perform(self, action: Action) -> None:
        """Perform a ready-made action (screenshot pixels) as one step, judged as the user's."""
        if not isinstance(action, BaseModel):
            raise InputError(f"perform takes an Action, got {type(action).__name__}")
        self.session.perform(action, instruction=instruction(action))

    def scroll(self, amount: int, target: str | None = None, *, x: float | None = None,
               y: float | None = None) -> None:  # fmt: skip
        """Scroll `amount` clicks (positive = up), over a target or at (x, y)."""
        self.session.scroll(amount, target, x=x, y=y)

    def swipe(self, x: float, y: float, to_x: float, to_y: float, duration: float = 0.3) -> None:
        self.session.swipe(x, y, to_x, to_y, duration=duration)

    def wait(self, seconds: float) -> None:
        self.session.wait(seconds)

    def launch(self, target: str | list[str]) -> None:
        """Start an app: argv (or a command line) on desktops, a package or label on phones."""
        self.session.launch(target)

    def wait_for(self, text: str, timeout: float = 10.0) -> TextMatch | None:
        """Wait until `text` is on screen (OCR); raises `StepFailed` after `timeout` s."""
        return self.session.find_text_step("wait_for", text, timeout=timeout)

    def assert_visible(self, text: str, timeout: float = 0.0) -> TextMatch | None:
        """Raise `StepFailed` unless `text` is on screen (within `timeout` s)."""
        return self.session.find_text_step("assert", text, timeout=timeout)

    def run(self, goal: str, *, max_steps: int = 30) -> GoalOutcome:
        """Let the model plan actions towards `goal` until it terminates."""
        return run_goal(self.session, goal, max_steps=max_steps)

    def screenshot(self) -> Image.Image:
        """The screen now."""
        return self.env.observe().image

    # -- lifetime ------------------------------------------------------------------------
    def close(self) -> None:
        """Close the environment and model; write report.html when there is a run folder."""
        if self._run.running:
            self.report = self._run.finish("success", "closed", 0)
        self._stack.close()

    def __enter__(self) -> Agent:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self._run.running and exc is not None:
            status = "interrupted" if exc_type is KeyboardInterrupt else "failed"
            self.report = self._run.finish(status, str(exc), 130 if status == "interrupted" else 1)
        self.close()

    @staticmethod
    def _where(target: str | None, x: float | None, y: float | None) -> dict[str, Any]:
        if (target is None) == (x is None or y is None):
            raise InputError("give a target description, or both x and y")
        return {"target": target, "x": x, "y": y}
