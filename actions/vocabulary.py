"""The action vocabulary: each action type declared once, with what every layer needs of it.

An entry (`ActionSpec`) says, for one type of `actions.types`:

* the platforms that perform it, and the one-line refusal on the others (each env's
  `validate` reads it: nothing is sent when it refuses);
* the task-file verbs that produce it (with their own platforms: ``long_press`` is a
  phone verb in task files) and its `agent do` verb;
* the model verbs that produce it (Qwen computer_use / mobile_use tool calls, UI-TARS
  calls translated to them) and how it is written back in each model's words;
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
    MAX_SCROLL,
    MAX_SCROLL_PIXELS,
    CallArgs,
    model_point,
    nonzero,
    uitars_escape,
    uitars_point,
)
from actions.frames import CoordinateFrame
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

Reader = Callable[[CallArgs], Action]
"""Builds the action from one tool call's arguments (the verb is `CallArgs.verb`)."""
Writer = Callable[[Any, CoordinateFrame], dict[str, Any]]
"""The tool-call arguments that describe an action, in the model's space."""
UitarsWriter = Callable[[Any, CoordinateFrame], str]
"""The action as a UI-TARS-1.5 call (``click(point='<point>x y</point>')``)."""


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


# -- per type: how each is read from and written in the models' words -----------------
CLICK_VERBS: dict[str, tuple[str, int]] = {
    "left_click": ("left", 1),
    "click": ("left", 1),
    "tap": ("left", 1),
    "right_click": ("right", 1),
    "middle_click": ("middle", 1),
    "double_click": ("left", 2),
    "double_tap": ("left", 2),
    "triple_click": ("left", 3),
}
_CLICK_NAMES = {
    ("left", 1): "left_click",
    ("left", 2): "double_click",
    ("left", 3): "triple_click",
    ("right", 1): "right_click",
    ("middle", 1): "middle_click",
}
_PHONE_BUTTONS = {"back": "Back", "home": "Home", "menu": "Menu", "enter": "Enter"}


def _read_click(c: CallArgs) -> Click:
    button, count = CLICK_VERBS[c.verb]
    x, y = c.at()
    return Click(x=x, y=y, button=button, count=count)  # type: ignore[arg-type]


def _uitars_click(a: Click, f: CoordinateFrame) -> str:
    verb = "right_single" if a.button == "right" else {2: "left_double"}.get(a.count, "click")
    return f"{verb}(point='{uitars_point(f, a.x, a.y)}')"


def _read_move(c: CallArgs) -> Move:
    x, y = c.at()
    return Move(x=x, y=y)


def _read_drag(c: CallArgs) -> Drag:
    if c.has("start_coordinate") or c.has("coordinate2"):
        start_key = "start_coordinate" if c.has("start_coordinate") else "coordinate"
        end_key = "coordinate" if start_key == "start_coordinate" else "coordinate2"
        sx, sy = c.at(start_key)
        ex, ey = c.at(end_key)
        return Drag(x=sx, y=sy, to_x=ex, to_y=ey)
    ex, ey = c.at()
    return Drag(to_x=ex, to_y=ey)


def _uitars_drag(a: Drag | Swipe, f: CoordinateFrame) -> str:
    if a.x is None or a.y is None:
        raise ValueError("UI-TARS has no drag without a start point")
    start, end = uitars_point(f, a.x, a.y), uitars_point(f, a.to_x, a.to_y)
    return f"drag(start_point='{start}', end_point='{end}')"


def _read_swipe(c: CallArgs) -> Swipe:
    sx, sy = c.at()
    ex, ey = c.at("coordinate2")
    seconds = min(max(c.number("time", 0.3), 0.05), 60)
    return Swipe(x=sx, y=sy, to_x=ex, to_y=ey, duration=seconds)


def _read_long_press(c: CallArgs) -> LongPress:
    x, y = c.at()
    return LongPress(x=x, y=y, duration=min(max(c.number("time", 1.0), 0.05), 60))


def _read_scroll(c: CallArgs) -> Scroll:
    axis = "horizontal" if c.verb == "hscroll" else "vertical"
    side = 0 if axis == "horizontal" else 1
    if c.has("pixels"):
        # computer_use asks for a distance in pixels of the image the model saw: the
        # action holds it in screenshot pixels, the env turns it into wheel notches.
        pixels = c.number("pixels") * c.frame.image_size[side] / c.frame.model_size[side]
        size: dict[str, int] = {"pixels": nonzero(pixels, MAX_SCROLL_PIXELS)}
    else:  # UI-TARS' scroll(direction) and plain "amount": wheel notches
        size = {"amount": nonzero(c.number("amount"), MAX_SCROLL)}
    if c.has("coordinate"):
        x, y = c.at()
        return Scroll(x=x, y=y, axis=axis, **size)
    return Scroll(axis=axis, **size)


def _computer_scroll(a: Scroll, f: CoordinateFrame) -> dict[str, Any]:
    if a.pixels is not None:  # back into pixels of the image the model saw
        side = 0 if a.axis == "horizontal" else 1
        pixels = round(a.pixels * f.model_size[side] / f.image_size[side])
    else:
        pixels = a.amount
    args: dict[str, Any] = {"action": "scroll", "pixels": pixels}
    if a.x is not None and a.y is not None:
        args["coordinate"] = model_point(f, a.x, a.y)
    return args


def _uitars_scroll(a: Scroll, f: CoordinateFrame) -> str:
    # UI-TARS scrolls by direction: a distance in pixels keeps only its sign
    positive = (a.amount if a.amount is not None else a.pixels or 0) > 0
    if a.axis == "horizontal":
        direction = "right" if positive else "left"
    else:
        direction = "up" if positive else "down"
    where = f"point='{uitars_point(f, a.x, a.y)}', " if a.x is not None and a.y is not None else ""
    return f"scroll({where}direction='{direction}')"


def _read_key(c: CallArgs) -> Key:
    return Key(keys=c.get("keys", c.get("text", c.get("key"))))


def _read_hold_key(c: CallArgs) -> HoldKey:
    keys = c.get("keys", c.get("text", c.get("key")))
    return HoldKey(keys=keys, seconds=min(max(c.number("time", 1.0), 0.05), 60))


def _read_terminate(c: CallArgs) -> Terminate:
    status = str(c.get("status", "success")).lower()
    answer = c.get("answer", c.get("text"))
    return Terminate(
        status="failure" if status == "failure" else "success",
        answer=None if answer is None else str(answer),
    )


def _mobile_system_button(a: SystemButton, f: CoordinateFrame) -> dict[str, Any]:
    if a.button not in _PHONE_BUTTONS:
        return {"action": "key", "text": a.button}
    return {"action": "system_button", "button": _PHONE_BUTTONS[a.button]}


def _uitars_system_button(a: SystemButton, f: CoordinateFrame) -> str:
    return {"home": "press_home()", "back": "press_back()"}.get(
        a.button, f"hotkey(key='{a.button}')"
    )


def _short(text: str) -> str:
    return f"{text[:60]!r}" + ("..." if len(text) > 60 else "")


def _point_args(verb: str) -> Writer:
    return lambda a, f: {"action": verb, "coordinate": model_point(f, a.x, a.y)}


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
        model_verbs=dict.fromkeys(CLICK_VERBS, _read_click),
        computer_call=lambda a, f: {
            "action": _CLICK_NAMES.get((a.button, a.count), f"{a.button}_click"),
            "coordinate": model_point(f, a.x, a.y),
        },
        mobile_call=_point_args("click"),
        uitars_call=_uitars_click,
    ),
    ActionSpec(
        Move,
        DESKTOP,
        refusals={"android": _PHONE_POINTER},
        do_verb="move",
        keeps_typed=True,
        model_verbs=dict.fromkeys(("mouse_move", "move", "hover"), _read_move),
        computer_call=_point_args("mouse_move"),
        uitars_call=lambda a, f: f"hover(point='{uitars_point(f, a.x, a.y)}')",
    ),
    ActionSpec(
        Drag,
        BOTH,
        do_verb="drag",
        model_verbs=dict.fromkeys(("left_click_drag", "drag"), _read_drag),
        computer_call=lambda a, f: {
            "action": "left_click_drag",
            "coordinate": model_point(f, a.to_x, a.to_y),
        },
        uitars_call=_uitars_drag,
    ),
    ActionSpec(
        Scroll,
        BOTH,
        task_verbs=(TaskVerb("scroll"),),
        do_verb="scroll",
        keeps_typed=True,
        model_verbs=dict.fromkeys(("scroll", "hscroll"), _read_scroll),
        computer_call=_computer_scroll,
        uitars_call=_uitars_scroll,
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
        caption=lambda a: f"type {_short(a.text)}",
        keystrokes=True,
    ),
    ActionSpec(
        Key,
        BOTH,
        task_verbs=(TaskVerb("key"),),
        do_verb="key",
        model_verbs=dict.fromkeys(("key", "hotkey", "keypress"), _read_key),
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
        model_verbs={"hold_key": _read_hold_key},
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
        model_verbs=dict.fromkeys(("terminate", "answer", "finished"), _read_terminate),
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
        model_verbs={"swipe": _read_swipe},
        mobile_call=lambda a, f: {
            "action": "swipe",
            "coordinate": model_point(f, a.x, a.y),
            "coordinate2": model_point(f, a.to_x, a.to_y),
        },
        uitars_call=_uitars_drag,
        compile_step=lambda a: {"swipe": a.model_dump(mode="json", exclude={"type"})},
    ),
    ActionSpec(
        LongPress,
        BOTH,
        task_verbs=(TaskVerb("long_press", ANDROID),),
        do_verb="long_press",
        model_verbs={"long_press": _read_long_press},
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
        mobile_call=_mobile_system_button,
        uitars_call=_uitars_system_button,
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
