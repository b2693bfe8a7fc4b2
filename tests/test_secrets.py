"""Secrets never leave in any encoding: run folders, log lines, tracebacks, error messages.

The forms searched for are computed here with the standard library (shell
quoting, JSON, Python escapes, URL and HTML encodings, base64 decoding of
every base64-looking run of text) and from what the phone really received
(the exact ``input text`` arguments and ADBKeyBoard broadcasts), never with
the redactor under test.
"""

from __future__ import annotations

import base64
import binascii
import html
import io
import json
import logging
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from PIL import Image, ImageStat

from actions.project_errors import InputError
from agent.secrets import MASK, Redactor, SecretFilter, redacted_logging

ROOT = Path(__file__).resolve().parents[1]
SPACED = "correct horse b@tt'ry\\9"  # spaces, a quote, a backslash, an @
UNICODE = "пароль 密码 ünï"  # non-ASCII: typed through ADBKeyBoard on a phone


def forms(secret: str) -> set[str]:
    """The ways `secret` could be written (besides base64, see `base64_leaks`)."""
    out = {
        secret,
        secret.replace(" ", "%s"),  # Android `input text`
        shlex.quote(secret),
        shlex.quote(secret.replace(" ", "%s")),
        secret.replace("'", "'\"'\"'"),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret)[1:-1],
        ascii(secret)[1:-1],
        secret.encode("unicode_escape").decode("ascii"),
        quote(secret, safe=""),
        quote_plus(secret),
        html.escape(secret),
    }
    out |= {repr(f)[1:-1] for f in list(out)} | {json.dumps(f)[1:-1] for f in list(out)}
    return {f for f in out if len(f) >= 4}


def base64_leaks(text: str, secret: str) -> list[str]:
    """Base64 runs in `text` that decode to 6 or more consecutive bytes of `secret`."""
    data = secret.encode("utf-8")
    windows = {data[i : i + 6] for i in range(len(data) - 5)}
    leaks = []
    for token in re.findall(r"[A-Za-z0-9+/_-]{8,}={0,2}", text):
        for start in range(4):
            chunk = token[start:]
            chunk = chunk[: len(chunk) // 4 * 4]
            for decode in (base64.b64decode, base64.urlsafe_b64decode):
                try:
                    decoded = decode(chunk)
                except (binascii.Error, ValueError):
                    continue
                if any(w in decoded for w in windows):
                    leaks.append(token[:40])
    return leaks


def assert_no_leak(text: str, where: str, secrets: dict[str, set[str]]) -> None:
    for secret, extra in secrets.items():
        for form in forms(secret) | extra:
            assert form not in text, f"{where} holds {form!r}"
        assert not base64_leaks(text, secret), f"{where} holds base64 of {secret!r}"


# -- the redactor ----------------------------------------------------------------------
def test_the_redactor_masks_every_encoding() -> None:
    redactor = Redactor([SPACED, UNICODE])
    for secret in (SPACED, UNICODE):
        for form in forms(secret):
            masked = redactor.text(f"before {form} after")
            assert MASK in masked and masked.startswith("before "), form
            assert_no_leak(masked, repr(form), {secret: set()})
        for prefix in ("", "x", "xy"):  # base64 of a longer message, at each alignment
            message = base64.b64encode(f"{prefix}{secret} tail".encode()).decode()
            assert not base64_leaks(redactor.text(message), secret), prefix


def test_secrets_shorter_than_four_characters_are_refused() -> None:
    with pytest.raises(InputError, match="at least 4"):
        Redactor(["abc"])
    redactor = Redactor(["abcd"])
    with pytest.raises(InputError, match="at least 4"):
        redactor.add("xy")
    assert redactor.secrets == ["abcd"]


def test_tracebacks_in_logs_are_masked_like_messages() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("tests.secrets.traceback")
    logger.addHandler(handler)
    logger.propagate = False
    handler.addFilter(SecretFilter(Redactor([SPACED])))
    try:
        try:
            raise RuntimeError(f"device refused {shlex.quote(SPACED.replace(' ', '%s'))}")
        except RuntimeError:
            logger.exception("typing failed for %s", SPACED)
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert "Traceback" in text and "RuntimeError: device refused '***'" in text
    assert_no_leak(text, "log", {SPACED: set()})


# -- an Android task typing two secrets, one failing on the phone -------------------------
def _fail_when(device, program: str) -> None:
    """Make the phone refuse the typing that starts with "again" (as a secure window does)."""
    original = getattr(device, f"_p_{program}")

    def refusing(args: list[str]) -> tuple:
        text = args[-1] if args else ""
        if program == "am" and args[:1] == ["broadcast"]:
            text = base64.b64decode(args[-1]).decode("utf-8")
        if text.startswith("again"):
            refusal = "java.lang.SecurityException: Injecting input events requires INJECT_EVENTS"
            return "", refusal + "\n", 255
        return original(args)

    setattr(device, f"_p_{program}", refusing)


@pytest.mark.parametrize(
    ("failing", "last"),
    [("input", "again ${SP_SPACED}"), ("am", "again ${SP_SPACED} ${SP_UNICODE}")],
)
def test_android_task_typing_two_secrets_writes_no_form_of_them(
    adb_server, tmp_path: Path, failing: str, last: str
) -> None:
    pytest.importorskip("rapidocr")
    device = adb_server.device()
    _fail_when(device, failing)
    task = tmp_path / "secrets.yaml"
    task.write_text(
        "name: secrets\n"
        f"env: {{android: {{serial: emulator-5554, adb_host: 127.0.0.1, "
        f"adb_port: {adb_server.port}}}}}\n"
        "steps:\n"
        '  - type: "${SP_SPACED}"\n'
        '  - type: "${SP_UNICODE}"\n'
        f'  - type: "{last}"\n'
        "settle: 0\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    env.update(SP_SPACED=SPACED, SP_UNICODE=UNICODE)
    run_dir = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "agent.cli.main", "-vv", "run", str(task), "--out", str(run_dir)],
        capture_output=True, text=True, timeout=600, env=env, cwd=ROOT,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "typing" in output and "exited 255" in output  # the failure is reported
    assert device.typed.startswith(SPACED + UNICODE)  # both really reached the phone
    assert "DEBUG" in result.stderr  # every layer logged at its most verbose
    # what the phone was sent for each secret, exactly
    sent = [c[-1] for c in device.calls if c[:2] in (["input", "text"], ["am", "broadcast"])]
    carried = {
        SPACED: {a for a in sent if SPACED.replace(" ", "%s") in a or SPACED in _decoded(a)},
        UNICODE: {a for a in sent if UNICODE in _decoded(a)},
    }
    assert carried[SPACED] and carried[UNICODE]
    assert_no_leak(output, "the output", carried)
    files = [p for p in run_dir.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"run.json", "steps.jsonl", "report.html"}
    for path in files:
        text = path.read_bytes().decode("utf-8", errors="replace")
        assert_no_leak(text, str(path.relative_to(run_dir)), carried)
    typed = [json.loads(x) for x in (run_dir / "steps.jsonl").read_text().splitlines()]
    masked_last = "again " + " ".join([MASK] * last.count("${"))
    assert [s["action"]["text"] for s in typed] == [MASK, MASK, masked_last]


def _decoded(arg: str) -> str:
    try:
        return base64.b64decode(arg, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return ""


# -- screenshots without OCR ----------------------------------------------------------
def test_without_ocr_screenshots_after_a_typed_secret_are_withheld(
    adb_server, tmp_path: Path, monkeypatch
) -> None:
    import collections

    import agent.models.ocr as ocr
    from agent import Agent

    monkeypatch.setitem(sys.modules, "rapidocr", None)  # as if the ocr extra were missing
    monkeypatch.setattr(ocr, "_engine", None)
    monkeypatch.setattr(ocr, "_cache", collections.OrderedDict())
    with Agent.android(adb_port=adb_server.port, settle=0, out=tmp_path / "run") as agent:
        agent.key("home")
        agent.type(SPACED, secret=True)
        agent.key("back")
    steps = [json.loads(x) for x in (tmp_path / "run" / "steps.jsonl").read_text().splitlines()]
    shots = [Image.open(tmp_path / "run" / s["screenshot"]).convert("RGB") for s in steps]
    phone = adb_server.device().screen.convert("RGB")
    assert shots[0].tobytes() == phone.tobytes()  # before the secret: kept as it was
    for withheld in shots[1:]:  # from the typing step on: a grey frame
        assert withheld.size == phone.size
        assert ImageStat.Stat(withheld).extrema[0][0] >= 40  # no black, no phone screen left
        assert withheld.getpixel((phone.width - 1, phone.height - 1)) == (48, 48, 48)


# -- the Python API --------------------------------------------------------------------
class DebugLog:
    """Everything logged at DEBUG and above to the root logger while the block runs."""

    def __enter__(self) -> io.StringIO:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.root = logging.getLogger()
        self.previous = self.root.level
        self.root.addHandler(self.handler)
        self.root.setLevel(logging.DEBUG)
        return self.stream

    def __exit__(self, *exc: object) -> None:
        self.root.removeHandler(self.handler)
        self.root.setLevel(self.previous)


def test_api_secret_is_never_logged_in_clear_at_any_level(adb_server, tmp_path: Path) -> None:
    from agent import Agent

    with DebugLog() as log:
        with Agent.android(adb_port=adb_server.port, settle=0, out=tmp_path / "run") as agent:
            agent.type(SPACED, secret=True)
            agent.type(UNICODE, secret=True)
            agent.type("not secret at all")
    text = log.getvalue()
    assert "DEBUG env.base: perform type(text='not secret at all')" in text  # logging was on
    assert text.count("DEBUG env.base: perform type(text=") == 3 and MASK in text
    assert adb_server.device().typed == SPACED + UNICODE + "not secret at all"
    assert_no_leak(text, "the log", {SPACED: set(), UNICODE: set()})


def test_api_secret_on_the_desktop_keyboard_is_never_logged(event_app, tmp_path: Path) -> None:
    from agent import Agent

    with DebugLog() as log:
        with Agent.desktop(settle=0, out=tmp_path / "run") as agent:
            x, y = event_app.center("entry")
            agent.click(x=x, y=y)
            agent.type(SPACED + UNICODE, secret=True)
    event_app.wait_for(lambda e: e["event"] == "text" and e["value"] == SPACED + UNICODE)
    text = log.getvalue()
    assert "DEBUG env.base: perform type(text=" in text
    assert_no_leak(text, "the log", {SPACED: set(), UNICODE: set(), SPACED + UNICODE: set()})


def test_api_refuses_a_secret_shorter_than_four_characters(adb_server, tmp_path) -> None:
    from agent import Agent

    with Agent.android(adb_port=adb_server.port, settle=0) as agent:
        with pytest.raises(InputError, match="at least 4"):
            agent.type("pin", secret=True)
    assert adb_server.device().typed == ""


def test_redacted_logging_masks_handlers_and_comes_off(tmp_path: Path) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with redacted_logging(Redactor([SPACED])):
            logging.getLogger("tests.secrets").warning("typed %r", SPACED)
        assert handler.filters == []
    finally:
        root.removeHandler(handler)
    assert stream.getvalue() == 'typed "***"\n'
