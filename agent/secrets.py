"""Keep secrets (values that came from ``${VAR}`` in a task file) out of everything written.

A `Redactor` replaces each secret with ``***`` in strings and, recursively, in
the string values of dicts and lists (keys and numbers are left alone so that a
trajectory keeps its structure). It masks the secret in every form the
toolkit or a library may write it in (`encodings`), not only as typed: the
``%s`` form of Android's ``input text``, the base64 of ADBKeyBoard broadcasts,
shell quoting, JSON and Python escapes, URL and HTML encodings, and those
nested two deep (a shell-quoted command inside a ``repr`` inside a message).

`SecretFilter` does the same for log records, tracebacks included, and
`redacted_logging` installs it on the root logger's handlers while a run (or
an `Agent`) is alive. A secret shorter than `MIN_SECRET_LENGTH` characters is
refused: masking it would also mask every unrelated occurrence of those
characters (in a model's raw answer, a coordinate, a path).
"""

from __future__ import annotations

import base64
import difflib
import html
import json
import logging
import re
import shlex
import traceback
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote, quote_plus

from actions.project_errors import InputError

MASK = "***"
MIN_SECRET_LENGTH = 4


def check_secret(value: str, what: str = "a secret") -> None:
    """Raise `InputError` for a secret too short to mask safely."""
    if len(value) < MIN_SECRET_LENGTH:
        raise InputError(
            f"{what} has {len(value)} character{'s' if len(value) != 1 else ''}; secrets need "
            f"at least {MIN_SECRET_LENGTH} (masking a shorter one would hide every occurrence "
            "of those characters in answers, coordinates and paths)"
        )


# -- encodings -------------------------------------------------------------------------
def _shell_single(s: str) -> str:
    # inside '...': a quote is written '"'"' (what shlex.quote does)
    return s.replace("'", "'\"'\"'")


def _shell_double(s: str) -> str:
    return re.sub(r'([\\"$`])', r"\\\1", s)


def _json(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)[1:-1]


def _json_ascii(s: str) -> str:
    return json.dumps(s)[1:-1]


def _python_escapes(s: str) -> set[str]:
    """What repr(), ascii() and unicode_escape make of `s` inside a larger string."""
    controls = s.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
    controls = controls.replace("\t", "\\t")
    ascii_form = ascii(s)[1:-1].replace("\\'", "'").replace('\\"', '"')
    out = set()
    for form in (controls, ascii_form, s.encode("unicode_escape").decode("ascii")):
        out |= {form, form.replace("'", "\\'"), form.replace('"', '\\"')}
    return out


def _url(s: str) -> set[str]:
    forms = {quote(s, safe=""), quote(s), quote_plus(s)}
    return forms | {re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), f) for f in forms}


def _html(s: str) -> set[str]:
    from markupsafe import escape  # jinja2's own escaping, as report.html is written

    return {html.escape(s), html.escape(s, quote=False), str(escape(s))}


def _quotings(s: str) -> set[str]:
    return {
        s,
        _shell_single(s),
        _shell_double(s),
        _json(s),
        _json_ascii(s),
        *_python_escapes(s),
        *_url(s),
        *_html(s),
    }


def base64_cores(secret: str) -> set[str]:
    """The base64 text that the secret's bytes produce wherever they sit in a longer message.

    Base64 works on 3-byte groups, so what a secret becomes depends on its offset
    in the encoded message; for each of the three alignments, the groups made of
    the secret's bytes alone are encoded the same way every time.
    """
    data = secret.encode("utf-8")
    cores: set[str] = set()
    for skip in range(3):
        body = data[skip:]
        body = body[: len(body) - len(body) % 3]
        if len(body) >= 3:
            cores.add(base64.b64encode(body).decode("ascii"))
            cores.add(base64.urlsafe_b64encode(body).decode("ascii"))
    return cores


def encodings(secret: str) -> set[str]:
    """Every form of `secret` the redactor masks (see the module docstring)."""
    # what devices are sent: the text itself, Android `input text` (%s for a space), base64
    sent = {secret, secret.replace(" ", "%s"), *base64_cores(secret)}
    forms: set[str] = set()
    for form in sent:
        for once in _quotings(form):
            forms.add(once)
            forms |= _quotings(once)
    forms.add(shlex.quote(secret))
    return {f for f in forms if len(f) >= MIN_SECRET_LENGTH}


class Redactor:
    """Replaces every secret, in every encoding, with ``***``; the longest form first."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets: list[str] = []
        self._forms: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        """Mask `secret` from now on (everything sharing this redactor sees it).

        Raises:
            InputError: the secret is shorter than `MIN_SECRET_LENGTH`.
        """
        if not secret or secret in self.secrets:
            return
        check_secret(secret)
        self.secrets = sorted({*self.secrets, secret}, key=len, reverse=True)
        self._forms |= encodings(secret)
        ordered = sorted(self._forms, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(f) for f in ordered))

    def __bool__(self) -> bool:
        return bool(self.secrets)

    def text(self, value: str) -> str:
        return self._pattern.sub(MASK, value) if self._pattern is not None else value

    def contains(self, value: str) -> bool:
        return self._pattern is not None and self._pattern.search(value) is not None

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


PARTIAL = 5
"""Characters of a secret that, read in a row on a screen, count as showing it."""


def _fold(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).casefold().split())


def shows_secret(text: str, redactor: Redactor) -> bool:
    """Whether text read off a screen (OCR) may show a secret, in any word, even inside one.

    True for any encoding the redactor masks, for a secret inside a longer
    word (``adminhunter22`` typed after ``admin``), for `PARTIAL` of its
    characters in a row (a field scrolled or cut off), and for a misread copy
    (one edit per five characters: OCR reads 0 for O). Leaning towards yes is
    the safe side: the caller blacks the text out.
    """
    if redactor.contains(text):
        return True
    folded = _fold(text)
    for secret in redactor.secrets:
        wanted = _fold(secret)
        if not wanted:
            continue
        run = min(len(wanted), PARTIAL)
        if any(wanted[i : i + run] in folded for i in range(len(wanted) - run + 1)):
            return True
        if _misread_in(wanted, folded):
            return True
    return False


def _misread_in(wanted: str, text: str) -> bool:
    """`wanted` inside `text` with at most one edit per five characters."""
    allowed = len(wanted) // 5
    if allowed == 0:
        return False  # exact runs were checked already
    for width in (len(wanted) - 1, len(wanted), len(wanted) + 1):
        for start in range(0, max(len(text) - width, 0) + 1):
            window = text[start : start + width]
            matcher = difflib.SequenceMatcher(None, wanted, window, autojunk=False)
            matched = sum(block.size for block in matcher.get_matching_blocks())
            if max(len(wanted), len(window)) - matched <= allowed:
                return True
    return False


class SecretFilter(logging.Filter):
    """A logging filter that masks secrets in the formatted message and its traceback."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.redactor:
            return True
        redact: Callable[[str], str] = self.redactor.text
        message = record.getMessage()
        if self.redactor.contains(message):
            record.msg, record.args = redact(message), None
        if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
            # formatted here, masked, and cached where every Formatter looks first
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
            record.exc_info = None
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


@contextmanager
def redacted_logging(redactor: Redactor) -> Iterator[None]:
    """Mask secrets in every log line (and traceback) written while the block runs.

    The filter goes on the root logger's handlers present when the block starts
    (every logger propagates to them); configure logging before entering it.
    """
    handlers = list(logging.getLogger().handlers)
    filt = SecretFilter(redactor)
    for handler in handlers:
        handler.addFilter(filt)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(filt)
