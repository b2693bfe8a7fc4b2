"""Keep secrets (values that came from ``${VAR}`` in a task file) out of everything written.

A `Redactor` replaces each secret with ``***`` in strings and, recursively, in
the string values of dicts and lists (keys and numbers are left alone so that a
trajectory keeps its structure). `SecretFilter` does the same for log records,
and is installed on the root logger's handlers for the duration of a run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

MASK = "***"


class Redactor:
    """Replaces every secret with ``***``; the longest first, so overlaps are covered."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def add(self, secret: str) -> None:
        """Mask `secret` from now on (everything sharing this redactor sees it)."""
        if secret and secret not in self.secrets:
            self.secrets = sorted({*self.secrets, secret}, key=len, reverse=True)

    def __bool__(self) -> bool:
        return bool(self.secrets)

    def text(self, value: str) -> str:
        for secret in self.secrets:
            value = value.replace(secret, MASK)
        return value

    def contains(self, value: str) -> bool:
        return any(secret in value for secret in self.secrets)

    def __call__(self, value: Any) -> Any:
        """A copy of `value` with secrets masked in every string inside it."""
        if not self.secrets:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self(v) for v in value)
        return value


class SecretFilter(logging.Filter):
    """A logging filter that masks secrets in the formatted message."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        if self.redactor:
            message = record.getMessage()
            if self.redactor.contains(message):
                record.msg, record.args = self.redactor.text(message), None
        return True


@contextmanager
def redacted_logging(redactor: Redactor) -> Iterator[None]:
    """Mask secrets in every log line written while the block runs."""
    handlers = list(logging.getLogger().handlers)
    filt = SecretFilter(redactor)
    for handler in handlers:
        handler.addFilter(filt)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(filt)
