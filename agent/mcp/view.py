"""What an MCP client's coordinates refer to: the latest screenshot it was returned, maybe shrunk.

Callers give pixels of that image (a `View`: the full capture, or a smaller
copy when they asked for ``max_side``); `agent.mcp.host` maps them to capture
pixels with it, one view per client.
"""

from __future__ import annotations

from dataclasses import dataclass

from actions.project_errors import InputError
from agent.mcp import tool_models as tm


@dataclass(frozen=True)
class View:
    """The image a caller's coordinates refer to: a screenshot, possibly shrunk."""

    width: int
    height: int
    sx: float = 1.0  # view pixels per capture pixel, horizontally
    sy: float = 1.0
    capture: tuple[int, int] = (0, 0)  # the capture size it was made from

    @classmethod
    def fit(cls, size: tuple[int, int], max_side: int | None) -> View:
        """The view of a `size` capture whose longer side is at most `max_side`."""
        width, height = size
        if not max_side or max(width, height) <= max_side:
            return cls(width, height, capture=size)
        factor = max_side / max(width, height)
        w, h = max(1, round(width * factor)), max(1, round(height * factor))
        return cls(w, h, w / width, h / height, capture=size)

    @property
    def scaled(self) -> bool:
        return (self.sx, self.sy) != (1.0, 1.0)

    def to_capture(self, x: float, y: float) -> tuple[float, float]:
        return x / self.sx, y / self.sy

    def from_capture(self, x: float, y: float) -> tuple[float, float]:
        return round(x * self.sx, 2), round(y * self.sy, 2)

    def box(self, box: tuple[float, float, float, float] | None) -> tm.Box | None:
        if box is None:
            return None
        x1, y1 = self.from_capture(box[0], box[1])
        x2, y2 = self.from_capture(box[2], box[3])
        return x1, y1, x2, y2

    def check(self, kind: str, points: list[tuple[float, float]]) -> None:
        """Refuse points off this image, worded as the environment words it for the screen."""
        for x, y in points:
            if not (0 <= x < self.width and 0 <= y < self.height):
                raise InputError(
                    f"{kind} point ({x:g}, {y:g}) is outside the screen "
                    f"(0..{self.width - 1}, 0..{self.height - 1})"
                )
