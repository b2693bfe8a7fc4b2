"""The project's error types, shared by every layer, and the lazy-import helper.

It sits in `actions` only because that is the bottom layer every package may import.

`InputError` means the user gave something unusable (exit code 2, nothing was
sent to a screen); `ModelOutputError` means the model answered nothing usable
(exit code 1). Both carry a one-line message meant to be shown as is.
"""

from __future__ import annotations

import importlib
import re
from types import ModuleType
from typing import Any

from pydantic import ValidationError


class ScreenpilotError(Exception):
    """Base class of every error the toolkit reports to a user."""

    exit_code = 1


class InputError(ScreenpilotError):
    """Bad input from the user: a file, an argument, a device that is not there."""

    exit_code = 2


class MissingDependency(InputError):
    """An optional extra is not installed."""


class ModelOutputError(ScreenpilotError):
    """The model answered, but nothing usable could be read from the answer."""

    exit_code = 1

    def __init__(self, message: str, raw: str = "") -> None:
        super().__init__(message)
        self.raw = raw


def require(module: str, extra: str, *, package: str | None = None) -> ModuleType:
    """Import `module` or raise a one-line error naming the extra that provides it.

    Args:
        module: the module to import, e.g. ``"mss"``.
        extra: the screenpilot extra that installs it, e.g. ``"desktop"``.
        package: the PyPI name when it differs from the module name.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        name = package or module.split(".")[0]
        raise MissingDependency(
            f"{name} is not installed ({exc}); install it with: pip install 'screenpilot[{extra}]'"
        ) from exc


_PYDANTIC_PREFIX = re.compile(r"^(Value error|Assertion failed), ")


def format_validation_error(exc: ValidationError, where: str = "") -> str:
    """One line naming the first failing field of a pydantic error."""
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err.get("loc", ()) if not str(p).startswith("function-"))
    prefix = f"{where}: " if where else ""
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{prefix}{loc + ': ' if loc else ''}{_message(err)}{more}"


def _message(err: Any) -> str:
    """The error's own words: our validators' messages without pydantic's "Value error, "."""
    cause = (err.get("ctx") or {}).get("error")
    if err.get("type") in ("value_error", "assertion_error") and cause is not None:
        text = str(cause)
        if text:
            return text
    return _PYDANTIC_PREFIX.sub("", str(err.get("msg", "invalid value")))


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type's name when it has none)."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
