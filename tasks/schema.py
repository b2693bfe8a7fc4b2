"""The task-file schema: what ``agent run TASK.yaml`` accepts, as pydantic models.

A task names one environment, a model, and either a goal (the model plans
every action), a list of scripted steps, or both (steps first, then the goal).
Each step is a mapping with exactly one verb::

    - click: "the Save button"      # grounded by the model
    - click: {x: 320, y: 40}        # screenshot pixels
    - type: "Groceries ${NOTE}"     # ${VAR}: from the environment, a secret
    - key: ctrl+s
    - wait_for: "Saved"             # text search (OCR), with a timeout

Shorthands (a bare string for a target, a number for a scroll amount) are
widened to their full form before validation, so an error always names a real
field. Checks that span several fields and would otherwise be found only while
running (a goal for the ocr backend, a phone-only verb on a desktop) live in
`semantic_errors`, which the loader reports with file and line like any other.
"""

from __future__ import annotations

import shlex
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator, model_validator

from actions.keys import KeyNameError, parse_combo
from actions.project_errors import InputError
from actions.types import Action
from actions.verb_args import widen
from actions.vocabulary import (
    PLATFORMS,
    Platform,
    simple_specs,
    task_verbs,
    task_verbs_only_on,
)
from agent.cache.policy import CacheMode
from agent.models.spec import ModelSpec
from agent.provenance import Provenance
from env.a11y import LOCATORS
from env.desktop_monitors import parse_monitor
from env.factory import AndroidOptions, DesktopOptions
from env.virtual_display import parse_size

Coordinate = Annotated[float, Field(ge=0, le=100_000)]
Loc = tuple[str | int, ...]

VERBS = ("launch", *task_verbs(), "wait_for", "assert", "goal")
"""Every step verb: those that perform one action come from `actions.vocabulary`."""
MODEL_TEXT_VERBS = ("click", "double_click", "right_click", "long_press", "scroll", "goal")
"""Steps whose target or goal text is sent to the model as its prompt."""
DESKTOP_ONLY = task_verbs_only_on("desktop")
ANDROID_ONLY = task_verbs_only_on("android")
SIMPLE_VERBS = {verb.name: spec for spec in simple_specs() for verb in spec.task_verbs}
"""Verbs whose argument is the action itself (`actions.verb_args`): ``hold_key: shift``."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# -- environment and model -------------------------------------------------------------
def _value_error(fn: Any, value: Any) -> Any:
    # the env's own parsers raise InputError, which pydantic would not locate in the file
    try:
        return fn(value)
    except InputError as exc:
        raise ValueError(str(exc)) from None


class DesktopSection(DesktopOptions):
    """`env.factory.DesktopOptions`, with errors that carry the field's location."""

    @field_validator("monitor", mode="before")
    @classmethod
    def _monitor(cls, value: Any) -> Any:
        return _value_error(parse_monitor, value)

    @field_validator("virtual_display")
    @classmethod
    def _size(cls, value: str | None) -> str | None:
        if value is None:
            return None
        width, height = _value_error(parse_size, str(value))
        return f"{width}x{height}"


class EnvSection(_Strict):
    """Exactly one of desktop / android (the options of `env.factory.open_env`).

    desktop: ``monitor`` (primary, all, or an index), ``virtual_display`` (WxH:
    run on a fresh Xvfb), ``failsafe`` (pointer in a corner stops the run).
    android: ``serial``, ``adb_host``, ``adb_port`` (default: adb's own settings).
    """

    desktop: DesktopSection | None = None
    android: AndroidOptions | None = None

    @model_validator(mode="before")
    @classmethod
    def _empty_means_defaults(cls, data: Any) -> Any:
        # `desktop:` with nothing after it is YAML null: it still selects the desktop
        if isinstance(data, dict):
            return {k: ({} if v is None and k in PLATFORMS else v) for k, v in data.items()}
        if isinstance(data, str) and data in PLATFORMS:
            return {data: {}}
        return data

    @model_validator(mode="after")
    def _exactly_one(self) -> EnvSection:
        if (self.desktop is None) == (self.android is None):
            raise ValueError("give exactly one of desktop or android")
        return self

    @property
    def platform(self) -> Platform:
        return "desktop" if self.desktop is not None else "android"

    @property
    def options(self) -> DesktopOptions | AndroidOptions:
        """What `env.factory.open_env` takes."""
        chosen = self.desktop if self.desktop is not None else self.android
        assert chosen is not None
        return chosen


# -- steps -----------------------------------------------------------------------------
def _target_shorthand(value: Any) -> Any:
    if isinstance(value, str):
        return {"target": value}
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return {"x": value[0], "y": value[1]}
    return value


class PointTarget(_Strict):
    """Where to act: a description the model grounds, or absolute screenshot pixels."""

    target: Annotated[str, Field(min_length=1, max_length=2000)] | None = None
    x: Coordinate | None = None
    y: Coordinate | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return _target_shorthand(value)

    @model_validator(mode="after")
    def _one_way(self) -> PointTarget:
        has_xy = self.x is not None or self.y is not None
        if self.target is not None and has_xy:
            raise ValueError("give either a target description or x and y, not both")
        if self.target is None and (self.x is None or self.y is None):
            raise ValueError("give a target description, or both x and y")
        return self

    def describe(self) -> str:
        return repr(self.target) if self.target is not None else f"({self.x:g}, {self.y:g})"


class ScrollArgs(_Strict):
    """Turn the wheel `amount` clicks (positive = up), over a target or at x, y."""

    target: Annotated[str, Field(min_length=1)] | None = None
    x: Coordinate | None = None
    y: Coordinate | None = None
    amount: Annotated[int, Field(ge=-200, le=200)]
    axis: Literal["vertical", "horizontal"] = "vertical"

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return (
            {"amount": value} if isinstance(value, int) and not isinstance(value, bool) else value
        )

    @model_validator(mode="after")
    def _check(self) -> ScrollArgs:
        if self.amount == 0:
            raise ValueError("scroll amount must not be 0")
        if (self.x is None) != (self.y is None):
            raise ValueError("give both x and y, or neither")
        if self.target is not None and self.x is not None:
            raise ValueError("give either a target or x and y, not both")
        return self


class SwipeArgs(_Strict):
    """Slide a finger from (x, y) to (to_x, to_y), in screenshot pixels."""

    x: Coordinate
    y: Coordinate
    to_x: Coordinate
    to_y: Coordinate
    duration: Annotated[float, Field(ge=0.01, le=60)] = 0.3


class TextArgs(_Strict):
    """Text to look for on screen (OCR), and how long to wait for it."""

    text: Annotated[str, Field(min_length=1, max_length=2000)]
    timeout: Annotated[float, Field(ge=0, le=3600)] | None = Field(
        None, description="seconds; default 10 for wait_for, 0 (look once) for assert"
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"text": value} if isinstance(value, str) else value


class GoalArgs(_Strict):
    """A sub-goal handed to the model loop, with its own step budget."""

    goal: Annotated[str, Field(min_length=1, max_length=20_000)]
    max_steps: Annotated[int, Field(ge=1, le=1000)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"goal": value} if isinstance(value, str) else value


class _StepFields(_Strict):
    """One scripted step: a mapping with exactly one verb (`Step` adds the simple ones)."""

    launch: Annotated[list[str], Field(min_length=1)] | None = None
    click: PointTarget | None = None
    double_click: PointTarget | None = None
    right_click: PointTarget | None = None
    long_press: PointTarget | None = None
    type: Annotated[str, Field(min_length=1, max_length=20_000)] | None = None
    key: Annotated[list[str], Field(min_length=1, max_length=8)] | None = None
    scroll: ScrollArgs | None = None
    swipe: SwipeArgs | None = None
    wait: Annotated[float, Field(ge=0, le=3600)] | None = None
    wait_for: TextArgs | None = None
    assert_: TextArgs | None = Field(None, alias="assert")
    goal: GoalArgs | None = None
    provenance: Provenance | None = Field(
        None,
        description="where the step came from when it was not the task author's (agent compile "
        "writes `model` for a model's or a folder's action): it is judged as such under "
        "confirm: risky. It can only add confirmation, never remove it.",
    )

    @model_validator(mode="before")
    @classmethod
    def _one_verb(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise ValueError(f"a step is a mapping such as {{click: 'Save'}}, got {data!r}")
        unknown = [k for k in data if k not in VERBS and k != "provenance"]
        if unknown:
            raise ValueError(f"unknown step {unknown[0]!r} (steps: {', '.join(VERBS)})")
        verbs = [k for k in data if k != "provenance"]
        if len(verbs) != 1:
            verbs = " and ".join(repr(k) for k in verbs) or "nothing"
            raise ValueError(f"a step has exactly one verb, got {verbs}")
        simple = SIMPLE_VERBS.get(verbs[0])
        if simple is not None and simple.simple is not None:  # a bare value fills one field
            return {**data, verbs[0]: widen(simple.simple, data[verbs[0]])}
        return data

    @field_validator("launch", mode="before")
    @classmethod
    def _argv(cls, value: Any) -> Any:
        # a string stays whole here: on a phone it is an app label, which may have spaces
        return [value] if isinstance(value, str) else value

    def launch_argv(self) -> list[str]:
        """A desktop launch as argv: a string is split as a shell would (no shell runs)."""
        if self.launch is None:
            return []
        return shlex.split(self.launch[0]) if len(self.launch) == 1 else list(self.launch)

    @field_validator("key", mode="before")
    @classmethod
    def _combo(cls, value: Any) -> Any:
        if not isinstance(value, (str, list)):
            raise ValueError("key is a combo such as ctrl+s or a list of key names")
        try:
            return parse_combo(value)
        except KeyNameError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("click", "double_click", "right_click", "long_press", mode="before")
    @classmethod
    def _widen(cls, value: Any) -> Any:
        return _target_shorthand(value)

    @property
    def verb(self) -> str:
        """The step's verb as written in the file (``assert``, not ``assert_``)."""
        for name in VERBS:
            if getattr(self, "assert_" if name == "assert" else name) is not None:
                return name
        raise AssertionError("validated steps always have a verb")  # pragma: no cover

    @property
    def argument(self) -> Any:
        return getattr(self, "assert_" if self.verb == "assert" else self.verb)

    def action(self) -> Action | None:
        """The action of a simple step (its argument is the action itself), else None."""
        return self.argument if self.verb in SIMPLE_VERBS else None


Step = create_model(
    "Step",
    __base__=_StepFields,
    __module__=__name__,
    __doc__=_StepFields.__doc__,
    **{verb: (spec.cls | None, None) for verb, spec in SIMPLE_VERBS.items()},  # type: ignore[call-overload]
)
"""A step model with a field per simple verb, each typed by its Action class."""


class CacheSettings(_Strict):
    """The locate cache (agent.cache): ``cache: off`` / ``read`` / ``write`` / ``read-write``,
    or a mapping with ``mode`` and ``path`` (a folder, relative to the task file)."""

    mode: CacheMode = "read-write"
    path: Annotated[str, Field(min_length=1, max_length=4096)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, bool):  # YAML reads a bare `off` / `on` as a boolean
            return {"mode": "read-write" if value else "off"}
        return {"mode": value} if isinstance(value, str) else value


Locators = Annotated[list[Literal["a11y", "cache", "model"]], Field(min_length=1, max_length=3)]


def check_locators(order: list[str]) -> tuple[str, ...]:
    """The locate order as a tuple; each locator at most once."""
    if len(set(order)) != len(order):
        raise ValueError(f"locate: each of a11y, cache, model at most once (got {order})")
    return tuple(order)


# -- the task --------------------------------------------------------------------------
class Task(_Strict):
    """A whole task file."""

    name: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[\w .,@+-]+$")]
    description: str | None = None
    env: EnvSection
    model: ModelSpec = Field(
        default_factory=lambda: ModelSpec(backend="ocr"),
        description="agent.models.spec.ModelSpec; backend defaults to ocr in task files",
    )
    goal: Annotated[str, Field(min_length=1, max_length=20_000)] | None = None
    steps: list[Step] = Field(default_factory=list)
    max_steps: Annotated[int, Field(ge=1, le=1000)] = 30
    timeout: Annotated[float, Field(gt=0, le=86_400)] = 300.0
    confirm: Literal["never", "risky", "always"] = "risky"
    send_secrets_to_model: bool = Field(
        False,
        description="allow ${VAR} values in goals and targets, which are sent to the model "
        "(possibly a hosted endpoint); by default such a task is refused",
    )
    settle: Annotated[float, Field(ge=0, le=60)] = Field(
        1.0, description="after each action, wait up to this long for the screen to settle"
    )
    cache: CacheSettings = Field(
        default_factory=CacheSettings, description="the locate cache of scripted targets"
    )
    locate: Locators = Field(
        default=list(LOCATORS),
        description="where scripted targets are looked for, in order: a11y (the app's "
        "accessibility tree), cache (the locate cache), model",
    )

    @model_validator(mode="before")
    @classmethod
    def _ocr_by_default(cls, data: Any) -> Any:
        # a task file that names no backend runs offline; ModelSpec alone defaults to qwen
        if isinstance(data, dict) and isinstance(data.get("model"), dict):
            if "backend" not in data["model"]:
                data = {**data, "model": {"backend": "ocr", **data["model"]}}
        return data

    @field_validator("locate")
    @classmethod
    def _once_each(cls, value: list[str]) -> list[str]:
        check_locators(value)
        return value

    @model_validator(mode="after")
    def _something_to_do(self) -> Task:
        if self.goal is None and not self.steps:
            raise ValueError("give a goal, steps, or both")
        return self

    @property
    def platform(self) -> Platform:
        return self.env.platform

    @property
    def needs_planner(self) -> bool:
        """Whether the model must plan actions (a goal, or a goal step)."""
        return self.goal is not None or any(s.goal is not None for s in self.steps)


def semantic_errors(task: Task) -> list[tuple[Loc, str]]:
    """Problems that pass the field types but could only fail later, at run time."""
    errors: list[tuple[Loc, str]] = []
    if task.model.backend == "ocr":
        if task.goal is not None:
            errors.append((("goal",), _OCR_PLAN))
        for i, step in enumerate(task.steps):
            if step.goal is not None:
                errors.append((("steps", i, "goal"), _OCR_PLAN))
    errors.extend(_profile_errors(task))
    if task.model.backend == "openai" and not task.model.base_url:
        errors.append((("model", "base_url"), "the openai backend needs a base_url"))
    if len(task.steps) > task.max_steps:
        errors.append(
            (("max_steps",), f"{task.max_steps} is fewer than the {len(task.steps)} scripted steps")
        )
    wrong = ANDROID_ONLY if task.platform == "desktop" else DESKTOP_ONLY
    for i, step in enumerate(task.steps):
        if step.verb in wrong:
            errors.append(
                ((("steps", i, step.verb)), f"{step.verb} is not available on {task.platform}")
            )
    return errors


def _profile_errors(task: Task) -> list[tuple[Loc, str]]:
    """A profile that contradicts the checkpoint, or cannot plan the task's goal."""
    if task.model.backend == "ocr":
        return []
    from agent.models.profiles import planning_error

    where: Loc = ("model", "profile") if task.model.profile else ("model", "model")
    try:
        profile = task.model.resolve().profile
    except InputError as exc:
        return [(where, str(exc))]
    problem = planning_error(profile, mobile=task.platform == "android")
    if problem is None or not task.needs_planner:
        return []
    if task.goal is not None:
        return [(("goal",), problem)]
    goals = [i for i, step in enumerate(task.steps) if step.goal is not None]
    return [(("steps", i, "goal"), problem) for i in goals]


_OCR_PLAN = (
    "the ocr backend cannot plan towards a goal (it only finds text): "
    "use model.backend qwen or openai, or scripted steps"
)
