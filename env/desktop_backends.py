"""What `DesktopEnv` asks of its input backends: the pointer and keyboard interfaces.

Two implementations of each exist: XTest on the env's X connection
(`env.desktop_pointer.X11Pointer`, `env.desktop_keyboard.X11Keyboard`) and pyautogui
where there is no X server (`env.desktop_input`). Coordinates are input coordinates
(the env mapped screenshot pixels already); every method sends at once or raises.
"""

from __future__ import annotations

from typing import Literal, Protocol

Button = Literal["left", "right", "middle"]


class Pointer(Protocol):
    """The mouse: each method checks the fail-safe first (`FailSafeError`, nothing sent)."""

    failsafe: bool

    @property
    def position(self) -> tuple[int, int]: ...

    def check_failsafe(self) -> None: ...

    def move(self, x: float, y: float) -> None: ...

    def click(self, x: float, y: float, *, button: Button = "left", count: int = 1) -> None: ...

    def drag(
        self,
        start: tuple[float, float] | None,
        end: tuple[float, float],
        *,
        button: Button = "left",
        duration: float = 0.3,
    ) -> None: ...

    def scroll(
        self, notches: int, x: float | None, y: float | None, *, horizontal: bool
    ) -> None: ...

    def long_press(
        self, x: float, y: float, *, duration: float, button: Button = "left"
    ) -> None: ...


class Keyboard(Protocol):
    """Key combos and text; `check_*` raise `InputError` and send nothing."""

    def check_combo(self, keys: list[str]) -> None: ...

    def check_text(self, text: str) -> None: ...

    def press_combo(self, keys: list[str], *, hold: float = 0.0) -> None: ...

    def type_text(self, text: str) -> None: ...

    def close(self) -> None: ...
