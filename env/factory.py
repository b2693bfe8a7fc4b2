"""One door to every environment, for the CLI and scripts: `open_env(options) -> Env`.

The options are validated pydantic models, so a bad monitor, screen size or
port is a one-line error before any display, Xvfb or adb server is touched.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from actions.project_errors import InputError
from env.base import Env
from env.desktop_monitors import MonitorChoice, parse_monitor
from env.display_services import DEFAULT_WINDOW_MANAGER, WindowManagerName, parse_window_manager
from env.virtual_display import parse_size


class DesktopOptions(BaseModel):
    """Where desktop actions go: a monitor of $DISPLAY, or of a fresh Xvfb."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    monitor: MonitorChoice = "primary"
    virtual_display: str | None = Field(None, description="WxH: start an Xvfb of this size")
    window_manager: WindowManagerName = Field(
        DEFAULT_WINDOW_MANAGER, description="on a virtual display: openbox, or none"
    )
    failsafe: bool = True
    xwayland: bool = Field(False, description="in a Wayland session, drive X11 apps (XWayland)")

    @field_validator("monitor", mode="before")
    @classmethod
    def _monitor(cls, value: object) -> MonitorChoice:
        return parse_monitor(value)  # type: ignore[arg-type]

    @field_validator("window_manager", mode="before")
    @classmethod
    def _window_manager(cls, value: object) -> WindowManagerName:
        try:
            return parse_window_manager(value)
        except InputError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("virtual_display")
    @classmethod
    def _size(cls, value: str | None) -> str | None:
        if value is None:
            return None
        width, height = parse_size(value)
        return f"{width}x{height}"


class AndroidOptions(BaseModel):
    """Which phone: a serial (default: $ANDROID_SERIAL or the only one) on an adb server."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    serial: str | None = None
    adb_host: str | None = None
    adb_port: Annotated[int, Field(ge=1, le=65535)] | None = None


EnvOptions = DesktopOptions | AndroidOptions


def open_env(options: EnvOptions, *, dry_run: bool = False, settle: float = 0.0) -> Env:
    """Open the environment the options describe (close it, or use it as a context manager)."""
    if isinstance(options, AndroidOptions):
        try:
            from env.android import AndroidEnv
        except ModuleNotFoundError as exc:
            if exc.name == "env.android":
                raise InputError("android support is not available yet") from None
            raise
        return AndroidEnv(
            options.serial or None,
            host=options.adb_host,
            port=options.adb_port,
            dry_run=dry_run,
            settle=settle,
        )
    from env.desktop import DesktopEnv

    return DesktopEnv(
        monitor=options.monitor,
        virtual_display=options.virtual_display,
        window_manager=options.window_manager,
        failsafe=options.failsafe,
        xwayland=options.xwayland,
        dry_run=dry_run,
        settle=settle,
    )
