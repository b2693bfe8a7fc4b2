"""What `agent devices` lists: one section per platform, contributed by its module.

A section provider is a function ``() -> DeviceSection`` named in `PROVIDERS`
as ``"module:function"``; it is imported only when the listing runs, so a
platform whose module or library is missing (no adbutils, no env/android.py
yet) simply shows as unavailable instead of breaking the others. Modules may
also call `register_section` at import time.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable

from pydantic import BaseModel, Field

from actions.project_errors import ScreenpilotError

log = logging.getLogger(__name__)


class DeviceSection(BaseModel):
    """A titled table; `note` explains an empty or unavailable section."""

    title: str
    columns: list[str]
    rows: list[list[str]] = Field(default_factory=list)
    note: str | None = None


SectionProvider = Callable[[], DeviceSection]

PROVIDERS: dict[str, str | SectionProvider] = {
    "monitors": "env.desktop:desktop_devices",
    "android": "env.android:android_devices",
}
"""Section name -> provider (a function, or "module:function" imported on use)."""


def register_section(name: str, provider: str | SectionProvider) -> None:
    """Add (or replace) the provider of section `name`."""
    PROVIDERS[name] = provider


def _resolve(provider: str | SectionProvider) -> SectionProvider | None:
    if callable(provider):
        return provider
    module_name, _, function = provider.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return None  # that platform is not part of this installation
        raise
    return getattr(module, function, None)


def device_sections(names: list[str] | None = None) -> list[DeviceSection]:
    """Every section (or the named ones), in `PROVIDERS` order; never raises for one platform."""
    sections = []
    for name, provider in PROVIDERS.items():
        if names is not None and name not in names:
            continue
        try:
            function = _resolve(provider)
            if function is None:
                continue
            sections.append(function())
        except ScreenpilotError as exc:
            sections.append(DeviceSection(title=name, columns=[], note=f"unavailable: {exc}"))
        except Exception as exc:  # one broken platform must not hide the others
            log.debug("device section %s failed", name, exc_info=True)
            note = f"unavailable: {type(exc).__name__}: {exc}"
            sections.append(DeviceSection(title=name, columns=[], note=note))
    return sections
