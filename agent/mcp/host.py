"""The screen the MCP tools act on: one environment, one model, one recorded session.

`ScreenHost` opens what `agent mcp` was asked for (a desktop monitor, a fresh
Xvfb or a phone; a grounding model) and performs each tool call as one step of
a `Session`: observe, ground a target if there is one, confirm under the
policy, act, record. Every call has the client's provenance (`agent.provenance`:
judged as a model's choice), so ``--confirm risky`` asks about risky ones. Bad input raises
`InputError` before anything is sent; a target the model cannot find raises
`StepFailed`; both become error results in the server.

Coordinates: each client gives pixels of the latest screenshot it was returned
(a `View`: the full capture, or a smaller copy when they asked for
``max_side``). The host maps them to capture pixels; the environment maps
those to input coordinates (monitor offset, HiDPI scale), exactly as
``agent do`` does.

It is synchronous and not thread-safe: the server calls it from one worker
thread, one call at a time (X connections belong to the thread that opened
them, and a screen has one pointer).
"""

from __future__ import annotations

import io
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from actions.types import (
    Action,
    Click,
    Drag,
    Key,
    LongPress,
    OpenApp,
    Scroll,
    Swipe,
    SystemButton,
    Type,
)
from actions.vocabulary import Platform, instruction
from agent.engine import LiveRun
from agent.errors import StepFailed
from agent.mcp import tool_models as tm
from agent.mcp.view import View
from agent.models.load import load_model
from agent.models.spec import ModelSpec
from agent.provenance import Provenance
from agent.safety import Ask, ConfirmMode, ConfirmPolicy
from agent.screen_mask import mask_text_regions
from agent.secrets import Redactor
from agent.session import Session
from agent.trajectory import (
    RunInfo,
    RunWriter,
    StepRecord,
    default_run_dir,
)
from env.base import Env, Observation
from env.factory import AndroidOptions, DesktopOptions, open_env

log = logging.getLogger(__name__)

PNG_COMPRESS_LEVEL = 1
"""Screenshots go to the client at once: zlib level 1 encodes a 1080p desktop ~5x faster than
PIL's default 6 for a few percent more bytes."""
BUTTONS = {"back": "back", "home": "home", "recents": "app_switch"}
ANYONE = ""
"""The client of calls without an HTTP session id (stdio's one client, Python callers)."""
MAX_VIEWS = 1024
"""Views kept, one per client; the least recently used goes first."""


class HostOptions(BaseModel):
    """What `agent mcp` was started with."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target: DesktopOptions | AndroidOptions = Field(default_factory=DesktopOptions)
    model: ModelSpec | None = Field(None, description="grounding for targets; None: x, y only")
    confirm: ConfirmMode = "risky"
    dry_run: bool = False
    settle: float = Field(0.0, ge=0, le=60)
    out: Path | None = None
    max_side: int | None = Field(None, ge=64, le=16384)
    allow_run_task: bool = Field(False, description="offer run_task (agent mcp --allow-run-task)")
    confirm_timeout: float = Field(
        60.0, gt=0, le=3600, description="seconds a confirmation waits for the user's answer"
    )

    @property
    def opted_in(self) -> frozenset[str]:
        """The opt-in flags given (`agent.mcp.tools.ToolSpec.opt_in`)."""
        return frozenset({"--allow-run-task"} if self.allow_run_task else ())


@dataclass
class Outcome:
    """A tool's answer before it is put on the wire."""

    text: str
    data: BaseModel | None = None
    image: bytes | None = None
    mime: str | None = None
    error: bool = False


class ScreenHost:
    """See the module docstring. Close it to finish the run folder and release the screen."""

    def __init__(self, options: HostOptions) -> None:
        self.options = options
        self.redactor = Redactor()
        self.model: Any = None
        self.env: Env = open_env(options.target, dry_run=options.dry_run, settle=options.settle)
        try:
            # bad model options fail at start-up, not at the first click by target
            if options.model is not None:
                self.model = load_model(options.model)
            folder = None
            if options.out is not None:  # a folder of its own per start: --out may be reused
                folder = new_run_folder(options.out, "mcp")
            self._run = LiveRun(
                self.env,
                self.model,
                out=folder,
                info=self._run_info(),
                redactor=self.redactor,
                policy=ConfirmPolicy(options.confirm),
                provenance=Provenance.CLIENT,  # every call is the client's, judged as a model's
            )
        except BaseException:
            self.env.close()
            if self.model is not None:
                self.model.close()
            raise
        self.writer: RunWriter | None = self._run.writer
        self.session: Session = self._run.session
        self._views: OrderedDict[str, View] = OrderedDict()  # per client (`set_client`)
        self._client = ANYONE
        self.task_runs: Path | None = None  # run_task's folders without --out (agent.mcp.task_tool)

    @property
    def platform(self) -> Platform:
        return self.env.platform

    def set_ask(self, ask: Ask | None) -> None:
        """Who answers the confirmation policy's questions during the next call."""
        self.session.policy = ConfirmPolicy(self.options.confirm, ask)

    def set_client(self, client: str | None) -> None:
        """Whose view the next call's coordinates refer to (an HTTP session id; None: anyone)."""
        self._client = client or ANYONE

    def _keep_view(self, view: View) -> None:
        self._views[self._client] = view
        self._views.move_to_end(self._client)
        while len(self._views) > MAX_VIEWS:
            self._views.popitem(last=False)

    @property
    def view(self) -> View:
        """What the current client's coordinates refer to: the latest screenshot it was returned.

        Each client has its own (one client's ``max_side`` must not change what
        another's x, y mean); before its first screenshot it is what
        `screenshot` would return by default.
        """
        size = self.env.size
        view = self._views.get(self._client)
        if view is None or view.capture != size:  # none yet, or the screen turned
            view = View.fit(size, self.options.max_side)
            self._keep_view(view)
        return view

    # -- reading the screen ----------------------------------------------------------------
    def screenshot(self, args: tm.ScreenshotArgs) -> Outcome:
        with self.session.recording("screenshot") as rec:
            obs = self.session.observe_into(rec)
        view = View.fit(obs.image.size, args.max_side or self.options.max_side)
        image = obs.image
        if self.redactor:  # a secret typed into a plain field is visible: black it out
            image = mask_text_regions(image, self.redactor)
        if view.scaled:
            image = image.resize((view.width, view.height), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        if args.format == "png":
            image.save(buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
        else:
            image.save(buffer, format="JPEG", quality=args.quality)
        data = buffer.getvalue()
        geometry = obs.geometry
        info = tm.ScreenshotResult(
            platform=self.platform,
            width=view.width,
            height=view.height,
            screen_width=geometry.width,
            screen_height=geometry.height,
            view_scale=round(view.sx, 6),
            scale=geometry.scale,
            offset=geometry.offset,
            format=args.format,
            bytes=len(data),
        )
        shrunk = f", shrunk from {geometry.width}x{geometry.height}" if view.scaled else ""
        text = (
            f"{view.width}x{view.height} screenshot of the {self.platform} screen{shrunk} "
            f"(HiDPI scale {geometry.scale:g}, offset {geometry.offset[0]:g},"
            f"{geometry.offset[1]:g}). x, y for the other tools are pixels of this image."
        )
        self._keep_view(view)
        return Outcome(text, info, data, f"image/{args.format}")

    def locate(self, args: tm.LocateArgs) -> Outcome:
        view = self.view
        with self.session.recording("locate", instruction=args.target) as rec:
            obs = self.session.observe_into(rec)
            point = self.session.ground_into(rec, obs, args.target)
            if rec.model is not None and rec.model.error:  # a dry run notes misses instead
                raise StepFailed(f"could not find {args.target!r} on screen: {rec.model.error}")
        answer = rec.model.raw if rec.model is not None else ""
        result = tm.LocateResult(
            target=args.target,
            point=view.from_capture(*point),
            box=view.box(located_box(rec)),
            answer=answer,
        )
        x, y = result.point
        return Outcome(f"{args.target!r} is at ({x:g}, {y:g})", result)

    def elements(self, args: tm.ElementsArgs) -> Outcome:
        """What the accessibility tree (AT-SPI, Android's hierarchy) says is on screen."""
        from env.a11y_read import read_elements

        view = self.view
        with self.session.recording("elements") as rec:
            obs = self.session.observe_into(rec)
            found, why = read_elements(self.env, obs.geometry)
        size = obs.geometry.size
        shown = found if args.include_hidden else [e for e in found if e.usable(size)]
        text = self.redactor.text  # a field's name may hold what was typed into it
        rows = [
            tm.ElementRow(
                role=e.role, name=text(e.name), description=text(e.description),
                states=list(e.states), box=view.box(e.box), app=e.app,
            )
            for e in shown
        ]  # fmt: skip
        result = tm.ElementsResult(elements=rows, note=why or None)
        line = f"{len(rows)} elements" + (f" ({why})" if why else "")
        return Outcome(line, result)

    def wait_for_text(self, args: tm.WaitForTextArgs) -> Outcome:
        view = self.view
        start = time.monotonic()
        match = self.session.find_text_step("wait_for", args.text, timeout=args.timeout)
        seconds = round(time.monotonic() - start, 3)
        if match is None:  # only in a dry run: the screen of a dry run never changes
            result = tm.WaitForTextResult(text=args.text, found=False, seconds=seconds)
            return Outcome(f"dry run: {args.text!r} is not on the current screen", result)
        result = tm.WaitForTextResult(
            text=args.text, found=True, line=match.line, box=view.box(match.box), seconds=seconds
        )
        return Outcome(f"found {args.text!r} in {match.line!r} after {seconds:.1f} s", result)

    # -- acting ----------------------------------------------------------------------------
    def click(self, args: tm.ClickArgs) -> Outcome:
        view = self.view
        with self.session.recording("click", instruction=_shown(args)) as rec:
            obs = self.session.observe_into(rec)
            (x, y), box = self._where(rec, obs, view, "click", args.target, args.x, args.y)
            action = Click(x=x, y=y, button=args.button, count=args.count)
            self.session.act_into(rec, action, context=args.target or "")
        return self._acted(rec, action, view, box)

    def long_press(self, args: tm.LongPressArgs) -> Outcome:
        view = self.view
        with self.session.recording("long_press", instruction=_shown(args)) as rec:
            obs = self.session.observe_into(rec)
            (x, y), box = self._where(rec, obs, view, "long_press", args.target, args.x, args.y)
            action = LongPress(x=x, y=y, duration=args.duration_ms / 1000)
            self.session.act_into(rec, action, context=args.target or "")
        return self._acted(rec, action, view, box)

    def drag(self, args: tm.DragArgs) -> Outcome:
        view = self.view
        shown = f"{_shown(args)} -> {_shown_end(args)}"
        with self.session.recording("drag", instruction=shown) as rec:
            obs = self.session.observe_into(rec)
            (x, y), box = self._where(rec, obs, view, "drag", args.target, args.x, args.y)
            (to_x, to_y), _ = self._where(
                rec, obs, view, "drag", args.to_target, args.to_x, args.to_y
            )
            action = Drag(
                x=x, y=y, to_x=to_x, to_y=to_y, button=args.button, duration=args.duration
            )
            self.session.act_into(rec, action, context=args.target or "")
        return self._acted(rec, action, view, box)

    def swipe(self, args: tm.SwipeArgs) -> Outcome:
        view = self.view
        shown = f"({args.x:g}, {args.y:g}) -> ({args.to_x:g}, {args.to_y:g})"
        with self.session.recording("swipe", instruction=shown) as rec:
            self.session.observe_into(rec)
            view.check("swipe", [(args.x, args.y), (args.to_x, args.to_y)])
            (x, y), (to_x, to_y) = (
                view.to_capture(args.x, args.y),
                view.to_capture(args.to_x, args.to_y),
            )
            action = Swipe(x=x, y=y, to_x=to_x, to_y=to_y, duration=args.duration_ms / 1000)
            self.session.act_into(rec, action)
        return self._acted(rec, action, view, None)

    def scroll(self, args: tm.ScrollArgs) -> Outcome:
        view = self.view
        shown = _shown(args) if args.target is not None or args.x is not None else None
        with self.session.recording("scroll", instruction=shown) as rec:
            obs = self.session.observe_into(rec)
            x = y = None
            box = None
            if args.target is not None or args.x is not None:
                (x, y), box = self._where(rec, obs, view, "scroll", args.target, args.x, args.y)
            axis = "horizontal" if args.horizontal else "vertical"
            action = Scroll(x=x, y=y, amount=args.amount, axis=axis)
            self.session.act_into(rec, action, context=args.target or "")
        return self._acted(rec, action, view, box)

    def type_text(self, args: tm.TypeTextArgs) -> Outcome:
        view = self.view
        if args.secret:
            self.redactor.add(args.text)  # masks every encoding of it too (agent/secrets.py)
        action = Type(text=args.text)
        with self.session.recording("type", instruction=args.text) as rec:
            self.session.observe_into(rec)
            # the caller says this is a secret: the policy treats it as typing a password
            self.session.act_into(rec, action, context="secret" if args.secret else "")
        shown = f"type *** ({len(args.text)} characters)" if args.secret else None
        return self._acted(rec, action, view, None, shown=shown)

    def press_key(self, args: tm.PressKeyArgs) -> Outcome:
        view = self.view
        action = Key(keys=args.keys)  # type: ignore[arg-type]  # a combo string is parsed
        with self.session.recording("key", instruction=action.combo) as rec:
            self.session.observe_into(rec)
            self.session.act_into(rec, action)
        return self._acted(rec, action, view, None)

    def press_button(self, args: tm.PressButtonArgs) -> Outcome:
        view = self.view
        action = SystemButton(button=BUTTONS[args.button])  # type: ignore[arg-type]
        with self.session.recording("button", instruction=args.button) as rec:
            self.session.observe_into(rec)
            self.session.act_into(rec, action)
        return self._acted(rec, action, view, None)

    def open_app(self, args: tm.OpenAppArgs) -> Outcome:
        view = self.view
        action = OpenApp(app=args.app)
        with self.session.recording("open_app", instruction=args.app) as rec:
            self.session.observe_into(rec)
            self.session.act_into(rec, action)
        return self._acted(rec, action, view, None)

    def perform(self, action: Action) -> Outcome:
        """A simple action of the vocabulary (no point, no target): a generated tool's call."""
        view = self.view
        with self.session.recording(action.type, instruction=instruction(action)) as rec:
            self.session.observe_into(rec)
            self.session.act_into(rec, action)
        return self._acted(rec, action, view, None)

    def record_refusal(self, tool: str, message: str) -> None:
        """Record a call refused before it became a step (its arguments were bad)."""
        if self.writer is None:
            return
        with self.session.recording(tool) as rec:
            rec.status, rec.error = "failed", message

    # -- helpers ---------------------------------------------------------------------------
    def _where(
        self,
        rec: StepRecord,
        obs: Observation,
        view: View,
        kind: str,
        target: str | None,
        x: float | None,
        y: float | None,
    ) -> tuple[tuple[float, float], tuple[float, float, float, float] | None]:
        """A point in capture pixels (and the target's box): grounded, or the caller's x, y."""
        if target is not None:
            point = self.session.ground_into(rec, obs, target)  # tree, cache, then model
            return point, located_box(rec)
        assert x is not None and y is not None  # the argument models make sure
        view.check(kind, [(x, y)])
        return view.to_capture(x, y), None

    def _acted(
        self,
        rec: StepRecord,
        action: Action,
        view: View,
        box: tuple[float, float, float, float] | None,
        *,
        shown: str | None = None,
    ) -> Outcome:
        points = action.points()
        described = shown or self.redactor.text(action.describe())
        line = f"{'sent' if rec.sent else 'dry run: would send'} {described}"
        if rec.screen_points:
            line += " -> input " + ", ".join(f"({x:g}, {y:g})" for x, y in rec.screen_points)
        if view.scaled and points:
            line += (
                " [screenshot "
                + ", ".join("({:g}, {:g})".format(*view.from_capture(x, y)) for x, y in points)
                + "]"
            )
        if rec.note:
            line += f" ({self.redactor.text(rec.note)})"
        result = tm.ActionResult(
            action=described,
            sent=rec.sent,
            point=view.from_capture(*points[0]) if points else None,
            end=view.from_capture(*points[1]) if len(points) > 1 else None,
            box=view.box(box),
            input_points=list(rec.screen_points),
            step=rec.index if self.writer is not None else None,
            note=self.redactor.text(rec.note) if rec.note else None,
        )
        return Outcome(line, result)

    def _run_info(self) -> RunInfo:
        from agent import __version__

        spec = self.options.model
        model: dict[str, str | None] = {"backend": spec.backend if spec else None}
        if spec is not None and spec.backend != "ocr":
            model.update(model=spec.model, base_url=spec.base_url, profile=spec.profile)
        return RunInfo(
            name="mcp",
            platform=self.platform,
            env=self.options.target.model_dump(mode="json", exclude_none=True),
            model=model,
            dry_run=self.options.dry_run,
            version=__version__,
        )

    # -- lifetime --------------------------------------------------------------------------
    def close(self) -> Path | None:
        """Finish the run folder (report.html) and release the screen and model; the report."""
        report = None
        try:
            report = self._run.finish("success", "server stopped", 0)
        finally:
            try:
                self.env.close()
            finally:
                if self.model is not None:
                    self.model.close()
        return report


def new_run_folder(root: Path, name: str) -> Path:
    """A run folder under `root` that does not exist yet (``<root>/<time>-<name>[-N]``)."""
    folder = default_run_dir(name, root=root)
    number = 1
    while folder.exists():  # two starts within a second
        number += 1
        folder = default_run_dir(f"{name}-{number}", root=root)
    return folder


def _shown(args: tm.ClickArgs | tm.LongPressArgs | tm.DragArgs | tm.ScrollArgs) -> str:
    if args.target is not None:
        return args.target
    return f"({args.x:g}, {args.y:g})"


def _shown_end(args: tm.DragArgs) -> str:
    return args.to_target if args.to_target is not None else f"({args.to_x:g}, {args.to_y:g})"


def located_box(rec: StepRecord) -> tuple[float, float, float, float] | None:
    """The located target's box: the tree's element, else the grounding model's."""
    if rec.located is not None and rec.located.box is not None:
        return rec.located.box
    return rec.model.box if rec.model is not None else None
