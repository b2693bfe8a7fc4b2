"""Environments: where screenshots come from and where actions go.

Adapters are imported lazily so that `import env` never needs a display or
an adb server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from env.base import ActResult, Env, Observation, ScreenGeometry

if TYPE_CHECKING:
    from env.android import AndroidEnv
    from env.desktop import DesktopEnv

__all__ = ["ActResult", "AndroidEnv", "DesktopEnv", "Env", "Observation", "ScreenGeometry"]


def __getattr__(name: str) -> Any:
    if name == "DesktopEnv":
        from env.desktop import DesktopEnv

        return DesktopEnv
    if name == "AndroidEnv":
        from env.android import AndroidEnv

        return AndroidEnv
    raise AttributeError(name)
