"""The action vocabulary: each action type declared once, with what every layer needs of it.

An entry (`ActionSpec`) says, for one type of `actions.types`:

* the platforms that perform it, and the one-line refusal on the others (each env's
  `validate` reads it: nothing is sent when it refuses);
* the task-file verbs that produce it (with their own platforms: ``long_press`` is a
  phone verb in task files) and its `agent do` verb;
* the model verbs that produce it (Qwen computer_use / mobile_use tool calls, UI-TARS
  calls translated to them) and how it is written back in each model's words (the
  readers and writers themselves are in `actions.model_verbs`);
* its risk hook (`keystrokes`: it sends keys to the focused window), what it does to
  the keyboard focus (`keeps_typed`, `moves_focus`) and its caption in reports;
* for a simple action (nothing to locate), `simple`: its arguments are the class's own
  fields, so the task-file step, the `agent do` verb, `Agent.do` and the MCP tool are
  generated from the entry (`actions.verb_args`).

Layers derive from the table and never branch over the union themselves
(tests/test_layers.py forbids an isinstance chain over it outside this module). A new
action is its class in `actions.types`, one entry here, and each env's handler
(``_do_<type>`` on the env, ``_check_<type>`` for what that env refuses of it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from actions.call_args import (
    model_point,
    uitars_escape,
    uitars_point,
)
from actions.frames import CoordinateFrame
from actions.model_verbs import (
    CLICK_NAMES,
    CLICK_VERBS,
    Reader,
    UitarsWriter,
    Writer,
    computer_scroll,
    mobile_system_button,
    point_args,
    read_click,
    read_drag,
    read_hold_key,
    read_key,
    read_long_press,
    read_move,
    read_scroll,
    read_swipe,
    read_terminate,
    short,
    uitars_click,
    uitars_drag,
    uitars_scroll,
    uitars_system_button,
)
from actions.types import (
    ACTION_TYPES,
    Action,
    Click,
    Drag,
    HoldKey,
    Key,
    LongPress,
    Move,
    OpenApp,
    Scroll,
    Swipe,
    SystemButton,
    Terminate,
    Type,
    Wait,
)
from actions.verb_args import SimpleArgs

Platform = Literal["desktop", "android"]
"""The platforms an environment runs on: the one list (`PLATFORMS`)."""
PLATFORMS: tuple[Platform, ...] = get_args(Platform)
BOTH: frozenset[Platform] = frozenset(PLATFORMS)
DESKTOP: frozenset[Platform] = frozenset({"desktop"})
ANDROID: frozenset[Platform] = frozenset({"android"})


@dataclass(frozen=True)
class TaskVerb:
    """A task-file step verb that performs this action (``double_click`` -> a Click)."""

    name: str
    platforms: frozenset[Platform] = BOTH


@dataclass(frozen=True)
class ActionSpec:
    """Everything the layers need to know about one action type."""

    cls: type
    platforms: frozenset[Platform]
    refusals: Mapping[str, str] = field(default_factory=dict)
    """Per platform it is not performed on: the error, formatted with ``action=``."""
    task_verbs: tuple[TaskVerb, ...] = ()
    do_verb: str | None = None
    model_verbs: Mapping[str, Reader] = field(default_factory=dict)
    computer_call: Writer | None = None
    mobile_call: Writer | None = None
    uitars_call: UitarsWriter | None = None
    caption: Callable[[Any], str] | None = None
    keystrokes: bool = False
    compile_step: Callable[[Any], dict[str, Any]] | None = None
    """The task-file step that performs the action again (`agent compile`), where it is
    that simple; types whose step needs the run (grounded clicks, secrets) are compiled there."""
    simple: SimpleArgs | None = None
    keeps_typed: bool = False
    """The focus stays where text was typed: an Enter after it still submits that text."""
    moves_focus: bool = False
    """The keyboard focus may move (Tab): where the next typing lands is unknown."""
    instruction: Callable[[Any], str] | None = None
    """A step's recorded words for the action when it is performed as given (the combo)."""

    @property
    def type(self) -> str:
        return self.cls.model_fields["type"].default  # type: ignore[attr-defined, no-any-return]

    def refusal(self, platform: str, action: Action) -> str:
        """The one-line error for performing this action on `platform`."""
        template = self.refusals.get(platform, f"{self.type} is not available on {platform}")
        return template.format(action=action)


_PHONE_POINTER = "a phone has no pointer to move; tap, long_press or swipe instead"

# -- the table ---------------------------------------------------------------------------
SPECS: tuple[ActionSpec, ...] = (
    ActionSpec(
        Click,
        BOTH,
        task_verbs=(
            TaskVerb("click"),
            TaskVerb("double_click", DESKTOP),
            TaskVerb("right_click", DESKTOP),
        ),
        do_verb="click",
        model_verbs=dict.fromkeys(CLICK_VERBS, read_click),
        computer_call=lambda a, f: {
            "action": CLICK_NAMES.get((a.button, a.count), f"{a.button}_click"),
            "coordinate": model_point(f, a.x, a.y),
        },
        mobile_call=point_args("click"),
        uitars_call=uitars_click,
    ),
    ActionSpec(
        Move,
        DESKTOP,
        refusals={"android": _PHONE_POINTER},
        do_verb="move",
        keeps_typed=True,
        model_verbs=dict.fromkeys(("mouse_move", "move", "hover"), read_move),
        computer_call=point_args("mouse_move"),
        uitars_call=lambda a, f: f"hover(point='{uitars_point(f, a.x, a.y)}')",
    ),
    ActionSpec(
        Drag,
        BOTH,
        do_verb="drag",
        model_verbs=dict.fromkeys(("left_click_drag", "drag"), read_drag),
        computer_call=lambda a, f: {
            "action": "left_click_drag",
            "coordinate": model_point(f, a.to_x, a.to_y),
        },
        uitars_call=uitars_drag,
    ),
    ActionSpec(
        Scroll,
        BOTH,
        task_verbs=(TaskVerb("scroll"),),
        do_verb="scroll",
        keeps_typed=True,
        model_verbs=dict.fromkeys(("scroll", "hscroll"), read_scroll),
        computer_call=computer_scroll,
        uitars_call=uitars_scroll,
    ),
    ActionSpec(
        Type,
        BOTH,
        task_verbs=(TaskVerb("type"),),
        do_verb="type",
        model_verbs={"type": lambda c: Type(text=str(c.get("text", "")))},
        computer_call=lambda a, f: {"action": "type", "text": a.text},
        mobile_call=lambda a, f: {"action": "type", "text": a.text},
        uitars_call=lambda a, f: f"type(content='{uitars_escape(a.text)}')",
        caption=lambda a: f"type {short(a.text)}",
        keystrokes=True,
    ),
    ActionSpec(
        Key,
        BOTH,
        task_verbs=(TaskVerb("key"),),
        do_verb="key",
        model_verbs=dict.fromkeys(("key", "hotkey", "keypress"), read_key),
        computer_call=lambda a, f: {"action": "key", "keys": list(a.keys)},
        mobile_call=lambda a, f: {"action": "key", "text": a.combo},
        uitars_call=lambda a, f: f"hotkey(key='{' '.join(k.lower() for k in a.keys)}')",
        caption=lambda a: f"key {a.combo}",
        keystrokes=True,
        moves_focus=True,
        compile_step=lambda a: {"key": a.combo},
    ),
    ActionSpec(
        HoldKey,
        DESKTOP,
        refusals={
            "android": "hold_key is not available on a phone (adb's `input` cannot hold a key "
            "down); use key or long_press instead"
        },
        task_verbs=(TaskVerb("hold_key", DESKTOP),),
        do_verb="hold_key",
        model_verbs={"hold_key": read_hold_key},
        computer_call=lambda a, f: {"action": "hold_key", "keys": list(a.keys), "time": a.seconds},
        caption=lambda a: f"hold {a.combo} {a.seconds:g} s",
        keystrokes=True,
        keeps_typed=True,
        moves_focus=True,
        simple=SimpleArgs(bare="keys", positional=("keys", "seconds")),
        instruction=lambda a: a.combo,
    ),
    ActionSpec(
        Wait,
        BOTH,
        task_verbs=(TaskVerb("wait"),),
        do_verb="wait",
        model_verbs={"wait": lambda c: Wait(seconds=min(c.number("time", 1.0), 3600))},
        computer_call=lambda a, f: {"action": "wait", "time": a.seconds},
        mobile_call=lambda a, f: {"action": "wait", "time": a.seconds},
        uitars_call=lambda a, f: "wait()",
        caption=lambda a: f"wait {a.seconds:g} s",
        keeps_typed=True,
        compile_step=lambda a: {"wait": a.seconds},
    ),
    ActionSpec(
        Terminate,
        BOTH,
        model_verbs=dict.fromkeys(("terminate", "answer", "finished"), read_terminate),
        computer_call=lambda a, f: {"action": "terminate", "status": a.status},
        mobile_call=lambda a, f: {"action": "terminate", "status": a.status},
        uitars_call=lambda a, f: f"finished(content='{uitars_escape(a.answer or '')}')",
        caption=lambda a: f"terminate: {a.status}",
    ),
    ActionSpec(
        Swipe,
        BOTH,
        task_verbs=(TaskVerb("swipe", ANDROID),),
        do_verb="swipe",
        model_verbs={"swipe": read_swipe},
        mobile_call=lambda a, f: {
            "action": "swipe",
            "coordinate": model_point(f, a.x, a.y),
            "coordinate2": model_point(f, a.to_x, a.to_y),
        },
        uitars_call=uitars_drag,
        compile_step=lambda a: {"swipe": a.model_dump(mode="json", exclude={"type"})},
    ),
    ActionSpec(
        LongPress,
        BOTH,
        task_verbs=(TaskVerb("long_press", ANDROID),),
        do_verb="long_press",
        model_verbs={"long_press": read_long_press},
        mobile_call=lambda a, f: {
            "action": "long_press",
            "coordinate": model_point(f, a.x, a.y),
            "time": a.duration,
        },
        uitars_call=lambda a, f: f"long_press(point='{uitars_point(f, a.x, a.y)}')",
    ),
    ActionSpec(
        SystemButton,
        ANDROID,
        refusals={"desktop": "system_button {action.button!r} is a phone button; use key instead"},
        do_verb="system_button",
        moves_focus=True,
        model_verbs={"system_button": lambda c: SystemButton(button=str(c.get("button", "")))},
        mobile_call=mobile_system_button,
        uitars_call=uitars_system_button,
        compile_step=lambda a: {"key": a.button},
    ),
    ActionSpec(
        OpenApp,
        ANDROID,
        refusals={"desktop": "open_app is for phones; start desktop apps with launch"},
        do_verb="open_app",
        model_verbs=dict.fromkeys(
            ("open", "open_app"),
            lambda c: OpenApp(app=str(c.get("text", c.get("app", c.get("app_name", ""))))),
        ),
        mobile_call=lambda a, f: {"action": "open", "text": a.app},
        uitars_call=lambda a, f: f"open_app(app_name='{uitars_escape(a.app)}')",
    ),
)

BY_TYPE: dict[str, ActionSpec] = {spec.type: spec for spec in SPECS}
MODEL_VERBS: dict[str, Reader] = {v: r for spec in SPECS for v, r in spec.model_verbs.items()}
"""Every tool-call verb a model may write, to the reader of the action it produces."""


def _check_complete() -> None:
    declared = [spec.cls for spec in SPECS]
    if sorted(c.__name__ for c in declared) != sorted(c.__name__ for c in ACTION_TYPES):
        raise RuntimeError(
            "actions.vocabulary must declare each of actions.types.ACTION_TYPES once"
        )


_check_complete()


def spec_of(action: Action | str) -> ActionSpec:
    """The declaration of an action (or of an action type's name)."""
    kind = action if isinstance(action, str) else action.type
    try:
        return BY_TYPE[kind]
    except KeyError:
        raise ValueError(f"unknown action type {kind!r}") from None


def supported_on(platform: str) -> tuple[str, ...]:
    """The action types an environment of `platform` performs."""
    return tuple(spec.type for spec in SPECS if platform in spec.platforms)


def task_verbs() -> tuple[str, ...]:
    """The task-file verbs that perform an action, in declaration order."""
    return tuple(verb.name for spec in SPECS for verb in spec.task_verbs)


def task_verbs_only_on(platform: str) -> tuple[str, ...]:
    """The task-file verbs that exist on `platform` alone."""
    return tuple(
        verb.name
        for spec in SPECS
        for verb in spec.task_verbs
        if verb.platforms == frozenset({platform})
    )


def tool_call_args(action: Action, frame: CoordinateFrame, *, mobile: bool) -> dict[str, Any]:
    """The computer_use / mobile_use arguments that describe `action` (model space)."""
    spec = spec_of(action)
    writer = spec.mobile_call if mobile else spec.computer_call
    if writer is None:
        tool = "mobile_use" if mobile else "computer_use"
        raise ValueError(f"{action.type} is not part of the {tool} tool")
    return writer(action, frame)


def uitars_text(action: Action, frame: CoordinateFrame) -> str:
    """`action` in UI-TARS-1.5's action space; an action it has no verb for is an error."""
    writer = spec_of(action).uitars_call
    if writer is None:
        raise ValueError(f"UI-TARS-1.5 has no action for {action.type}")
    return writer(action, frame)


def compiled_step(action: Action) -> dict[str, Any] | None:
    """The task-file step for `action` its declaration gives (None: it declares none); a
    simple action's is its own fields under its task verb."""
    spec = spec_of(action)
    if spec.compile_step is not None:
        return spec.compile_step(action)
    if spec.simple is not None and spec.task_verbs:
        return {spec.task_verbs[0].name: action.model_dump(mode="json", exclude={"type"})}
    return None


def simple_specs() -> tuple[ActionSpec, ...]:
    """The entries whose verbs are generated from the class's fields (`actions.verb_args`)."""
    return tuple(spec for spec in SPECS if spec.simple is not None)


def instruction(action: Action) -> str:
    """The words a step records for `action` performed as given."""
    spec = spec_of(action)
    return spec.instruction(action) if spec.instruction is not None else action.describe()


def caption(action: Action) -> str:
    """A report banner for an action that has no point (typed, pressed, waited)."""
    spec = spec_of(action)
    return spec.caption(action) if spec.caption is not None else spec.type
