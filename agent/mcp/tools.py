"""The tools `agent mcp` offers, as data: name, description, argument and result models, action.

Adding a tool is one entry here (and its host method); the server builds the
MCP registration, the JSON schemas and the error handling from the entry.
Descriptions are written for the client's model: what the tool does, which
space the coordinates are in, and what comes back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from actions.verb_args import args_model, build
from actions.vocabulary import PLATFORMS, ActionSpec, simple_specs
from agent.mcp import tool_models as tm
from agent.mcp.host import Outcome, ScreenHost

BOTH = PLATFORMS
PHONE = ("android",)

SERVER_INSTRUCTIONS = (
    "screenpilot sees and drives one screen (a desktop monitor or an Android phone). "
    "Start with `screenshot`; every x, y you pass afterwards is in pixels of the latest "
    "screenshot it returned. Act with click / type_text / press_key / scroll / drag (and on "
    "phones swipe / long_press / open_app / press_button), then take a new screenshot to see "
    "the result. `click` and `locate` also take a `target` description that the server's "
    "grounding model finds on screen. Bad input and missed targets come back as error results "
    "that say what was wrong; nothing is sent in that case."
)


@dataclass(frozen=True)
class ToolSpec:
    """One tool: how the client sees it and which host method performs it."""

    name: str
    title: str
    description: str
    args: type[BaseModel]
    result: type[BaseModel]
    call: Callable[[ScreenHost, Any], Outcome]
    platforms: tuple[str, ...] = BOTH
    read_only: bool = False
    verb: str = ""  # the step's verb in run folders, when it differs from the name
    opt_in: str | None = None  # the `agent mcp` flag without which the tool is not offered

    @property
    def step_verb(self) -> str:
        return self.verb or self.name


def _run_task(host: ScreenHost, args: tm.RunTaskArgs) -> Outcome:
    from agent.mcp.task_tool import run_task

    return run_task(host, args)


TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        "screenshot",
        "Take a screenshot",
        "See the screen now: returns the screenshot (PNG, or JPEG with `quality`) and its "
        "geometry. Every x, y the other tools take is in pixels of the latest image this tool "
        "returned; with `max_side` the image is shrunk (fewer tokens) and coordinates then refer "
        "to the smaller image. Take a new screenshot after acting to see what changed.",
        tm.ScreenshotArgs,
        tm.ScreenshotResult,
        ScreenHost.screenshot,
        read_only=True,
    ),
    ToolSpec(
        "click",
        "Click",
        "Click (on a phone: tap) at x, y in pixels of the latest screenshot, or on `target`: a "
        "short description of what to click ('the Save button', 'the Email field') that the "
        "server's grounding model finds on the current screen. `button` left, right or middle; "
        "`count` 2 double-clicks, 3 triple-clicks (selects a line). Returns where it clicked.",
        tm.ClickArgs,
        tm.ActionResult,
        ScreenHost.click,
    ),
    ToolSpec(
        "drag",
        "Drag",
        "Press at a start point (x, y, or `target`), move to an end point (to_x, to_y, or "
        "`to_target`) over `duration` seconds and release: sliders, selections, moving items. "
        "Points are pixels of the latest screenshot.",
        tm.DragArgs,
        tm.ActionResult,
        ScreenHost.drag,
    ),
    ToolSpec(
        "scroll",
        "Scroll",
        "Turn the mouse wheel `amount` clicks at x, y or over `target` (default: where the "
        "pointer is). A positive amount scrolls up (shows what is above), a negative one down; "
        "`horizontal` turns the horizontal wheel (positive = right). On a phone it swipes.",
        tm.ScrollArgs,
        tm.ActionResult,
        ScreenHost.scroll,
    ),
    ToolSpec(
        "type_text",
        "Type text",
        "Type `text` exactly (any Unicode: accents, CJK, emoji) into whatever has the keyboard "
        "focus; click the field first. A newline presses Enter. Set `secret` for passwords and "
        "other secrets: the text is then never shown in results, logs or recordings.",
        tm.TypeTextArgs,
        tm.ActionResult,
        ScreenHost.type_text,
        verb="type",
    ),
    ToolSpec(
        "press_key",
        "Press a key",
        "Press a key or a key combination: 'enter', 'escape', 'tab', 'ctrl+s', 'ctrl+shift+t', "
        "'alt+tab', 'f5'; on phones also 'back' and 'home'. Modifiers are held in order and "
        "released in reverse.",
        tm.PressKeyArgs,
        tm.ActionResult,
        ScreenHost.press_key,
        verb="key",
    ),
    ToolSpec(
        "locate",
        "Locate",
        "Find `target` ('the Save button') on the current screen without acting: returns its "
        "point and box in pixels of the latest screenshot, or an error result when the "
        "grounding model cannot find it.",
        tm.LocateArgs,
        tm.LocateResult,
        ScreenHost.locate,
        read_only=True,
    ),
    ToolSpec(
        "elements",
        "List elements",
        "The elements on screen as the apps themselves describe them (the accessibility tree: "
        "AT-SPI on Linux desktops, the view hierarchy on phones): role, name, states and box in "
        "pixels of the latest screenshot. Exact where an app publishes them; `click` with a "
        "`target` tries these names first, then the locate cache, then the grounding model.",
        tm.ElementsArgs,
        tm.ElementsResult,
        ScreenHost.elements,
        read_only=True,
    ),
    ToolSpec(
        "wait_for_text",
        "Wait for text",
        "Wait until `text` is visible on the screen (read by OCR), for up to `timeout` seconds; "
        "returns where it was found, or an error result when it did not appear in time.",
        tm.WaitForTextArgs,
        tm.WaitForTextResult,
        ScreenHost.wait_for_text,
        read_only=True,
        verb="wait_for",
    ),
    ToolSpec(
        "run_task",
        "Run a task file",
        "Run a screenpilot task file on this screen: its path (`file`) or its YAML text "
        "(`yaml`), with `name`, `env` (desktop or android) and `steps` (launch, click, type, "
        "key, scroll, wait_for, assert, goal, ...). Returns the status, one line per step and "
        "the path of the step-by-step report.html. Its steps are judged as yours: risky ones "
        "and every launch are confirmed; no ${VAR}, no `model` section, and `env` only names "
        "the platform (the server's model and screen are used).",
        tm.RunTaskArgs,
        tm.TaskResult,
        _run_task,
        opt_in="--allow-run-task",
    ),
    ToolSpec(
        "swipe",
        "Swipe",
        "Slide a finger from (x, y) to (to_x, to_y) over `duration_ms` milliseconds: scroll "
        "lists, turn pages, pull down the notification shade. Pixels of the latest screenshot.",
        tm.SwipeArgs,
        tm.ActionResult,
        ScreenHost.swipe,
        platforms=PHONE,
    ),
    ToolSpec(
        "long_press",
        "Long press",
        "Touch and hold at x, y (pixels of the latest screenshot) or on `target` for "
        "`duration_ms` milliseconds: context menus, selecting text, moving icons.",
        tm.LongPressArgs,
        tm.ActionResult,
        ScreenHost.long_press,
        platforms=PHONE,
    ),
    ToolSpec(
        "open_app",
        "Open an app",
        "Open an app by package (com.android.settings) or by its common label (Settings, "
        "Chrome, Maps).",
        tm.OpenAppArgs,
        tm.ActionResult,
        ScreenHost.open_app,
        platforms=PHONE,
    ),
    ToolSpec(
        "press_button",
        "Press a system button",
        "Press one of the phone's system buttons: back, home, or recents (the app switcher).",
        tm.PressButtonArgs,
        tm.ActionResult,
        ScreenHost.press_button,
        platforms=PHONE,
        verb="button",
    ),
)


def _simple_tool(spec: ActionSpec) -> ToolSpec:
    """The tool of a simple action (`actions.verb_args`): its class's fields are the schema."""
    assert spec.do_verb is not None
    cls, verb = spec.cls, spec.do_verb
    summary = " ".join((cls.__doc__ or verb).split())
    return ToolSpec(
        verb,
        verb.replace("_", " ").capitalize(),
        f"{summary} Returns what was sent.",
        args_model(cls, tm._Args),
        tm.ActionResult,
        lambda host, args: host.perform(build(cls, args.model_dump(), where=verb)),
        platforms=tuple(p for p in PLATFORMS if p in spec.platforms),
    )


_HAND_WRITTEN = {spec.name for spec in TOOLS}
TOOLS += tuple(
    _simple_tool(spec)
    for spec in simple_specs()
    if spec.do_verb is not None and spec.do_verb not in _HAND_WRITTEN
)
"""The hand-written tools, then one per simple action of the vocabulary."""
BY_NAME = {spec.name: spec for spec in TOOLS}


def tools_for(platform: str, opted_in: frozenset[str] = frozenset()) -> list[ToolSpec]:
    """The tools a server on `platform` offers (an opt-in tool only when its flag was given)."""
    return [
        spec
        for spec in TOOLS
        if platform in spec.platforms and (spec.opt_in is None or spec.opt_in in opted_in)
    ]


def not_offered(name: str, platform: str, opted_in: frozenset[str]) -> str | None:
    """Why a known tool is not offered here (one line), or None when it is or is unknown."""
    spec = BY_NAME.get(name)
    if spec is None or spec in tools_for(platform, opted_in):
        return None
    if platform not in spec.platforms:
        return f"{name} is not offered on {platform}"
    return f"{name} is off: the server must be started with `agent mcp {spec.opt_in}` to offer it"
