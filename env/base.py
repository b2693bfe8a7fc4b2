"""The environment contract shared by desktops and phones.

Modelled on Gymnasium's `Env` (observe, act, close, context manager) with one
difference that matters: a GUI is asynchronous. The screen keeps changing while
the model thinks, so an observation is a snapshot with a timestamp, and `act`
returns as soon as the input was sent; `settle` waits until the screen stops
changing (bounded) when the caller wants that.

Actions arrive in screenshot pixels of the latest observation's geometry. The
base class validates them (bounds, supported keys) *before* anything is sent,
maps them to input coordinates with the recorded scale and offset, and hands
them to the adapter's `_perform`. With ``dry_run=True`` nothing is ever sent.
The geometry is read again by the next `observe` when the adapter reports a
layout change (monitors rearranged, another primary) or the frame size changes;
`act` keeps mapping with the geometry the latest screenshot was taken with.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from PIL import Image, ImageChops
from pydantic import BaseModel, ConfigDict, Field

from actions.frames import CoordinateFrame, ModelFamily
from actions.project_errors import InputError, ScreenpilotError
from actions.types import Action, Scroll
from actions.vocabulary import Platform, spec_of

__all__ = ["Platform"]

log = logging.getLogger(__name__)

PIL_CACHED_BLOCKS = 4
"""Freed 16 MB image blocks Pillow keeps for reuse (its default is 0: every block goes back
to the OS, and each new 1080p frame then costs ~2000 page faults; measured: `observe()`
10.9 ms -> 2.9 ms). Holds at most 64 MB."""


def _keep_image_memory() -> None:
    if Image.core.get_blocks_max() < PIL_CACHED_BLOCKS:
        Image.core.set_blocks_max(PIL_CACHED_BLOCKS)


class FailSafeError(ScreenpilotError):
    """The user's emergency stop (a desktop pointer resting in a screen corner): the one
    fail-safe error of every environment, caught by type. Nothing was sent."""

    exit_code = 1


class ScreenGeometry(BaseModel):
    """Where the captured pixels sit in the input coordinate space.

    input = offset + pixel / scale. `scale` is 2.0 on a Retina screen whose
    screenshots are twice the size of the pointer's coordinate space.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    width: int = Field(gt=0, description="capture width in pixels")
    height: int = Field(gt=0, description="capture height in pixels")
    scale: float = Field(1.0, gt=0)
    offset: tuple[float, float] = (0.0, 0.0)
    rotation: int = Field(0, description="0-3, quarter turns (phones)")
    display: int | str = Field(0, description="monitor index or display id")

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    def to_input(self, x: float, y: float) -> tuple[float, float]:
        """Screenshot pixels to input coordinates."""
        return self.offset[0] + x / self.scale, self.offset[1] + y / self.scale

    def frame(
        self,
        family: ModelFamily | str = ModelFamily.QWEN2_5_VL,
        *,
        min_pixels: int | None = None,
        max_pixels: int | None = None,
    ) -> CoordinateFrame:
        """The coordinate frame of a screenshot of this geometry fed to a model."""
        return CoordinateFrame.for_image(
            self.size,
            family,
            min_pixels=min_pixels,
            max_pixels=max_pixels,
            scale=self.scale,
            offset=self.offset,
        )


class Observation(BaseModel):
    """One screenshot (RGB) and the geometry it was captured with."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    image: Image.Image
    geometry: ScreenGeometry
    platform: Platform
    timestamp: float = Field(description="time.time() at capture")
    capture_seconds: float = 0.0


class ScrollSent(BaseModel):
    """How a scroll was carried out: what was asked for and what was sent."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    requested_pixels: int | None = Field(None, description="distance asked for, screenshot px")
    requested_notches: int | None = Field(None, description="wheel notches asked for")
    notches: int | None = Field(None, description="wheel notches sent (desktop)")
    swipe_pixels: int | None = Field(None, description="swipe length sent, input px (phone)")
    capped: bool = Field(False, description="the request was more than one scroll may move")


class ActResult(BaseModel):
    """What `Env.act` did: the action, where its points went, and how long it took."""

    model_config = ConfigDict(frozen=True)

    action: Action
    input_points: list[tuple[float, float]]
    sent: bool = Field(description="False in a dry run")
    seconds: float
    settle_seconds: float = 0.0
    scroll: ScrollSent | None = None


class Env(ABC):
    """A screen the agent can look at and act on."""

    platform: ClassVar[Platform]
    display_name: str | None = None
    """The display this env drives (an X display such as ``:99``), None where there is none."""
    settle_timeout: float
    """After each action, wait up to this many seconds for the screen to settle (0 = not);
    change it for a while with `settling`."""

    def __init__(self, *, dry_run: bool = False, settle: float = 0.0) -> None:
        """
        Args:
            dry_run: validate and log every action, send nothing.
            settle: after each action, wait up to this many seconds for the
                screen to stop changing (0 = return at once).
        """
        self.dry_run = dry_run
        self.settle_timeout = settle
        _keep_image_memory()
        self._geometry: ScreenGeometry | None = None
        self._closed = False

    # -- adapter hooks -------------------------------------------------------------------
    @abstractmethod
    def _read_geometry(self) -> ScreenGeometry:
        """Ask the platform for the current capture geometry."""

    @abstractmethod
    def _capture(self) -> Image.Image:
        """Grab the screen as an RGB image of the geometry's size."""

    def _perform(self, action: Action) -> None:
        """Send one action whose points are already in input coordinates.

        Each adapter has one handler per action type it performs, ``_do_<type>``.
        """
        handler = getattr(self, f"_do_{action.type}", None)
        if handler is None:  # validate refused it already (`actions.vocabulary`)
            raise InputError(f"the {self.platform} environment cannot perform {action.type}")
        handler(action)

    def _check_supported(self, action: Action) -> None:
        """Raise `InputError` when this platform cannot perform `action`.

        Whether the platform performs the type at all is declared in `actions.vocabulary`;
        what an adapter refuses of a type it performs is its ``_check_<type>``.
        """
        spec = spec_of(action)
        if self.platform not in spec.platforms:
            raise InputError(spec.refusal(self.platform, action))
        check = getattr(self, f"_check_{action.type}", None)
        if check is not None:
            check(action)

    def _plan_scroll(self, action: Scroll) -> ScrollSent:
        """What a scroll sends here: wheel notches or a swipe length (platform units)."""
        raise InputError(f"{self.platform} environment cannot scroll")

    def _layout_changed(self) -> bool:
        """True when the screen layout may have changed since the geometry was read
        (monitors moved, primary changed): `observe` then reads it again."""
        return False

    def _close(self) -> None:
        """Release platform resources."""

    # -- public contract -----------------------------------------------------------------
    @property
    def geometry(self) -> ScreenGeometry:
        """Geometry of the latest observation (read from the platform if none yet)."""
        if self._geometry is None:
            self._geometry = self._read_geometry()
        return self._geometry

    @property
    def size(self) -> tuple[int, int]:
        """Screenshot size in pixels: the space actions are given in."""
        return self.geometry.size

    def observe(self) -> Observation:
        """Capture the screen now."""
        self._ensure_open()
        start = time.perf_counter()
        if self._geometry is None or self._layout_changed():
            self._geometry = self._read_geometry()
        image = self._capture()
        if image.size != self._geometry.size:
            # The screen changed size (rotation, resolution switch): re-read once.
            self._geometry = self._read_geometry()
        return Observation(
            image=image,
            geometry=self._geometry,
            platform=self.platform,
            timestamp=time.time(),
            capture_seconds=time.perf_counter() - start,
        )

    def validate(self, action: Action) -> None:
        """Raise `InputError` unless `action` can be performed on this screen as given."""
        width, height = self.size
        for x, y in action.points():
            if not (0 <= x < width and 0 <= y < height):
                raise InputError(
                    f"{action.type} point ({x:g}, {y:g}) is outside the screen "
                    f"(0..{width - 1}, 0..{height - 1})"
                )
        self._check_supported(action)

    def act(self, action: Action) -> ActResult:
        """Validate, map to input coordinates, and perform one action.

        Nothing is sent when validation fails or in a dry run.
        """
        self._ensure_open()
        self.validate(action)
        geometry = self.geometry
        mapped = action.map_points(geometry.to_input)
        scroll = self._plan_scroll(action) if isinstance(action, Scroll) else None
        start = time.perf_counter()
        if self.dry_run:
            log.info("dry run: would %s", action.describe())
        else:
            log.debug("perform %s", mapped.describe())
            self._perform(mapped)
        seconds = time.perf_counter() - start
        settled = 0.0
        if self.settle_timeout > 0 and not self.dry_run and action.type != "wait":
            settled = self.settle(self.settle_timeout)
        return ActResult(
            action=action,
            input_points=mapped.points(),
            sent=not self.dry_run,
            seconds=seconds,
            settle_seconds=settled,
            scroll=scroll,
        )

    def settle(self, timeout: float, *, interval: float = 0.03, stable_frames: int = 2) -> float:
        """Wait until `stable_frames` consecutive captures are identical, at most `timeout` s.

        Returns:
            The seconds spent waiting.
        """
        start = time.perf_counter()
        previous: Any = None
        stable = 0
        while time.perf_counter() - start < timeout:
            frame = self._capture().reduce(4)
            if previous is not None and ImageChops.difference(frame, previous).getbbox() is None:
                stable += 1
                if stable >= stable_frames:
                    break
            else:
                stable = 0
            previous = frame
            time.sleep(interval)
        return time.perf_counter() - start

    @contextmanager
    def settling(self, seconds: float) -> Iterator[None]:
        """Settle up to `seconds` after each action inside the block (a task's own setting)."""
        before, self.settle_timeout = self.settle_timeout, seconds
        try:
            yield
        finally:
            self.settle_timeout = before

    def focused_window_class(self) -> tuple[str, ...] | None:
        """The class names (WM_CLASS) of the window that has the keyboard: who receives
        typed text. None where the platform has no such windows (a phone).

        Raises:
            Exception: the window system could not be asked (callers say so, not guess).
        """
        return None

    def launch(self, target: str | list[str]) -> None:
        """Start an app: a command line on desktops, a package or label on phones."""
        raise InputError(f"{self.platform} environment cannot launch apps")

    def close(self) -> None:
        """Release the screen and input devices; safe to call twice."""
        if not self._closed:
            self._closed = True
            self._close()

    def _ensure_open(self) -> None:
        if self._closed:
            raise InputError("the environment is closed")

    def __enter__(self) -> Env:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
