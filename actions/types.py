"""The action space: one pydantic discriminated union for desktops and phones.

Coordinates are pixels of the screenshot the action refers to (the
observation image), never model space and never input coordinates: the model
frame maps model answers into this space, and an environment maps this space
to its own input coordinates. Every other module (tool descriptions for the
model, CLI verbs, task-file steps, trajectories) is derived from these types.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

from actions.keys import KeyNameError, parse_combo

Pixel = Annotated[float, Field(ge=0, le=100_000, description="screenshot pixels")]
Seconds = Annotated[float, Field(ge=0, le=3600)]
MouseButton = Literal["left", "right", "middle"]
PointMap = Callable[[float, float], tuple[float, float]]


class _Action(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def points(self) -> list[tuple[float, float]]:
        """Every screen point this action touches, in order."""
        return []

    def map_points(self, fn: PointMap) -> _Action:
        """A copy with every point passed through `fn` (e.g. into another frame)."""
        return self

    def describe(self) -> str:
        """A short human-readable form, used in logs, dry runs and reports."""
        fields = ", ".join(f"{k}={v!r}" for k, v in self.model_dump(exclude={"type"}).items())
        return f"{self.type}({fields})"  # type: ignore[attr-defined]


class _PointAction(_Action):
    x: Pixel
    y: Pixel

    def points(self) -> list[tuple[float, float]]:
        return [(self.x, self.y)]

    def map_points(self, fn: PointMap) -> _PointAction:
        x, y = fn(self.x, self.y)
        return self.model_copy(update={"x": x, "y": y})


class Click(_PointAction):
    """Click a mouse button (or tap) `count` times at (x, y)."""

    type: Literal["click"] = "click"
    button: MouseButton = "left"
    count: Annotated[int, Field(ge=1, le=3)] = 1


class Move(_PointAction):
    """Move the pointer to (x, y) without clicking."""

    type: Literal["move"] = "move"


class Drag(_Action):
    """Press at (x, y), move to (to_x, to_y), release. No start = the pointer's position."""

    type: Literal["drag"] = "drag"
    x: Pixel | None = None
    y: Pixel | None = None
    to_x: Pixel
    to_y: Pixel
    button: MouseButton = "left"
    duration: Annotated[float, Field(ge=0, le=60)] = 0.3

    @model_validator(mode="after")
    def _start_together(self) -> Drag:
        if (self.x is None) != (self.y is None):
            raise ValueError("give both x and y of the drag start, or neither")
        return self

    def points(self) -> list[tuple[float, float]]:
        start = [] if self.x is None or self.y is None else [(self.x, self.y)]
        return [*start, (self.to_x, self.to_y)]

    def map_points(self, fn: PointMap) -> Drag:
        to_x, to_y = fn(self.to_x, self.to_y)
        update: dict[str, Any] = {"to_x": to_x, "to_y": to_y}
        if self.x is not None and self.y is not None:
            update["x"], update["y"] = fn(self.x, self.y)
        return self.model_copy(update=update)


class Scroll(_Action):
    """Scroll at (x, y): `amount` wheel notches, or a distance of `pixels` screenshot pixels.

    Positive = up (or right when horizontal). Give exactly one of the two: `amount` is sent
    as is (a task's ``scroll: 3``); `pixels` (what Qwen's computer_use tool asks for) is
    turned into wheel notches or a swipe length by the environment, which states its scale
    (env/desktop_wheel.py, env/android.py) and records both numbers.
    """

    type: Literal["scroll"] = "scroll"
    x: Pixel | None = None
    y: Pixel | None = None
    amount: Annotated[int, Field(ge=-200, le=200, description="wheel notches")] | None = None
    pixels: Annotated[int, Field(ge=-100_000, le=100_000, description="distance")] | None = None
    axis: Literal["vertical", "horizontal"] = "vertical"

    @model_validator(mode="after")
    def _point_together(self) -> Scroll:
        if (self.x is None) != (self.y is None):
            raise ValueError("give both x and y of the scroll position, or neither")
        if (self.amount is None) == (self.pixels is None):
            raise ValueError("give the scroll as amount (wheel notches) or pixels, not both")
        if self.amount == 0 or self.pixels == 0:
            raise ValueError("scroll amount must not be 0")
        return self

    def points(self) -> list[tuple[float, float]]:
        return [] if self.x is None or self.y is None else [(self.x, self.y)]

    def map_points(self, fn: PointMap) -> Scroll:
        if self.x is None or self.y is None:
            return self
        x, y = fn(self.x, self.y)
        return self.model_copy(update={"x": x, "y": y})


class Type(_Action):
    """Type text exactly as written (newlines become Enter)."""

    type: Literal["type"] = "type"
    text: Annotated[str, Field(min_length=1, max_length=20_000)]


class KeyCombo(_Action):
    """What every key-combo action shares: the keys, pressed in order, released in reverse."""

    keys: Annotated[
        list[str],
        Field(
            min_length=1,
            max_length=8,
            description="a key or combo joined by +: shift, ctrl+a, right",
        ),
    ]

    @field_validator("keys", mode="before")
    @classmethod
    def _normalize(cls, value: Any) -> list[str]:
        if not isinstance(value, (str, list, tuple)):
            raise ValueError("keys must be a combo string such as 'ctrl+s' or a list of names")
        try:
            return parse_combo(value)
        except KeyNameError as exc:
            raise ValueError(str(exc)) from None

    @property
    def combo(self) -> str:
        return "+".join(self.keys)


class Key(KeyCombo):
    """Press a key or a combo: modifiers held in order, released in reverse."""

    type: Literal["key"] = "key"

    def describe(self) -> str:
        return f"key({self.combo})"


class HoldKey(KeyCombo):
    """Press a key or a combo and hold it down for `seconds`, then release in reverse."""

    type: Literal["hold_key"] = "hold_key"
    seconds: Annotated[float, Field(gt=0, le=60, description="seconds to hold it down")] = 1.0

    def describe(self) -> str:
        return f"hold_key({self.combo}, {self.seconds:g} s)"


class Wait(_Action):
    """Do nothing for `seconds` (the screen keeps changing meanwhile)."""

    type: Literal["wait"] = "wait"
    seconds: Seconds = 1.0


class Terminate(_Action):
    """End the task, reporting success or failure and an optional answer."""

    type: Literal["terminate"] = "terminate"
    status: Literal["success", "failure"] = "success"
    answer: Annotated[str, Field(max_length=20_000)] | None = None


class Swipe(_Action):
    """Touch at (x, y), slide to (to_x, to_y) over `duration` seconds, lift."""

    type: Literal["swipe"] = "swipe"
    x: Pixel
    y: Pixel
    to_x: Pixel
    to_y: Pixel
    duration: Annotated[float, Field(ge=0.01, le=60)] = 0.3

    def points(self) -> list[tuple[float, float]]:
        return [(self.x, self.y), (self.to_x, self.to_y)]

    def map_points(self, fn: PointMap) -> Swipe:
        x, y = fn(self.x, self.y)
        to_x, to_y = fn(self.to_x, self.to_y)
        return self.model_copy(update={"x": x, "y": y, "to_x": to_x, "to_y": to_y})


class LongPress(_PointAction):
    """Touch and hold at (x, y) for `duration` seconds."""

    type: Literal["long_press"] = "long_press"
    duration: Annotated[float, Field(ge=0.05, le=60)] = 1.0


class SystemButton(_Action):
    """Press a phone's system button."""

    type: Literal["system_button"] = "system_button"
    button: Literal["back", "home", "menu", "enter", "app_switch"]

    @field_validator("button", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower().replace(" ", "_") if isinstance(value, str) else value


class OpenApp(_Action):
    """Open an app by its label (``Settings``) or package (``com.android.settings``)."""

    type: Literal["open_app"] = "open_app"
    app: Annotated[str, Field(min_length=1, max_length=256)]


ACTION_TYPES: tuple[type[_Action], ...] = (
    Click,
    Move,
    Drag,
    Scroll,
    Type,
    Key,
    HoldKey,
    Wait,
    Terminate,
    Swipe,
    LongPress,
    SystemButton,
    OpenApp,
)
"""Every action type, the one hand-kept list: the union below and `actions.vocabulary`
(what each layer knows of a type) are built from it."""

Action = Annotated[Union[ACTION_TYPES], Field(discriminator="type")]  # noqa: UP007
"""Any action; pydantic picks the class by its ``type`` tag."""

_ADAPTER: TypeAdapter[Action] = TypeAdapter(Action)


def parse_action(data: dict[str, Any]) -> Action:
    """Validate a dict such as ``{"type": "click", "x": 10, "y": 20}`` into an action."""
    return _ADAPTER.validate_python(data)


def action_json_schema() -> dict[str, Any]:
    """The JSON schema of the whole action union."""
    return _ADAPTER.json_schema()
