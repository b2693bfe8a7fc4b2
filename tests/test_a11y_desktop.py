"""Accessibility-first locate on the desktop: Debian's galculator (GTK 3) under Xvfb.

A private D-Bus session (its own XDG_RUNTIME_DIR, so the at-spi bus launcher it
activates is ours alone) is started for the module; galculator runs on the test
display inside it and registers on the accessibility bus. What the app really
did is read back from the app itself (its display's text over AT-SPI), never
from what the agent says it sent.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import need
from tests.fixtures.button_board import clicked, start_board
from tests.fixtures.display import TkApp, find_window, start_app, start_event_app
from tests.fixtures.run_logs import steps_of

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def session_bus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A D-Bus session bus of our own (its accessibility bus is activated on first use)."""
    need(shutil.which("dbus-daemon") is not None, "dbus-daemon is missing (apt-get install dbus)")
    need(os.path.exists("/usr/libexec/at-spi-bus-launcher"), "apt-get install at-spi2-core")
    pytest.importorskip("jeepney")
    runtime = tmp_path_factory.mktemp("xdg-runtime")
    runtime.chmod(0o700)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime)}
    out = subprocess.run(
        ["dbus-daemon", "--session", "--fork", "--print-address=1", "--print-pid=1"],
        capture_output=True, text=True, timeout=10, check=True, env=env,
    ).stdout.split()  # fmt: skip
    address, pid = out[0], int(out[1])
    yield address
    os.kill(pid, signal.SIGTERM)


def on_our_bus(monkeypatch: pytest.MonkeyPatch, bus: str, home: Path) -> None:
    """GTK apps started from here register on `bus`; their saved settings stay in `home`."""
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", bus)
    monkeypatch.setenv("GTK_A11Y", "atspi")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("NO_AT_BRIDGE", raising=False)


@pytest.fixture
def galculator(
    xvfb: object, session_bus: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TkApp]:
    """galculator on the test display, registered on our accessibility bus."""
    need(shutil.which("galculator") is not None, "apt-get install galculator")
    on_our_bus(monkeypatch, session_bus, tmp_path)
    app = start_app(["galculator"], title="galculator", display=os.environ["DISPLAY"])
    try:
        _wait_registered(session_bus)
        yield app
    finally:
        app.stop()


def _wait_registered(bus: str, timeout: float = 15.0, name: str = "=") -> None:
    from env.a11y_atspi import AtspiReader

    reader = AtspiReader(bus)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found, _ = reader.elements(2.0, extents=False)
        if any(e.name == name for e in found):
            reader.close()
            return
        time.sleep(0.2)
    raise AssertionError(f"no element {name!r} appeared on the accessibility bus")


def display_text(bus: str) -> str:
    """galculator's display, read from the app over AT-SPI (Text interface)."""
    from jeepney import DBusAddress, new_method_call

    from env.a11y_atspi import AtspiReader

    reader = AtspiReader(bus)
    found, why = reader.elements(2.0, extents=False)
    assert not why, why
    (display,) = [e for e in found if e.role == "text"]
    dest, path = display.ref.split("\n")
    msg = new_method_call(DBusAddress(path, dest, "org.a11y.atspi.Text"), "GetText", "ii", (0, -1))
    reply = reader._conn.send_and_get_reply(msg, timeout=2)
    reader.close()
    return reply.body[0].strip()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def agent(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agent.cli.main", *args],
        capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=dict(os.environ),
    )  # fmt: skip


# -- the reader ---------------------------------------------------------------------------
def test_reader_gives_symbol_buttons_with_boxes_inside_the_window(galculator: TkApp) -> None:
    from env.a11y import pick
    from env.a11y_atspi import AtspiReader

    window = find_window("galculator", galculator.display)
    assert window is not None
    found, why = AtspiReader().elements(2.0)
    assert why == ""
    for name in ("+", "=", "7", "sqrt"):
        element, reason = pick(found, name, (1920, 1080))
        assert element is not None, reason
        assert element.role == "toggle button"
        x, y = element.center
        assert window.x <= x < window.x + window.w and window.y <= y < window.y + window.h
    # MR is greyed out until something is stored: the tree says so, and it is not picked
    element, reason = pick(found, "MR", (1920, 1080))
    assert element is None and "none usable" in reason


def test_apps_of_another_display_on_the_same_bus_are_left_out(galculator: TkApp) -> None:
    """One session bus, two displays: boxes of the other display's apps are not ours."""
    from env.a11y_atspi import AtspiReader

    here, _ = AtspiReader(display=galculator.display).elements(2.0)
    assert any(e.name == "+" for e in here)
    there, why = AtspiReader(display=":999").elements(2.0)
    assert why == "" and not any(e.app == "galculator" for e in there)


def test_the_level_walk_finds_what_the_bulk_read_finds(galculator: TkApp) -> None:
    """Apps without Cache or Collection are walked; the answer is the same."""
    from env.a11y_atspi import AtspiReader

    bulk, why = AtspiReader().elements(2.0)
    walked, why_walk = AtspiReader(bulk=False).elements(4.0)
    assert why == why_walk == ""

    def named(found: list) -> dict:
        return {(e.role, e.name): e.box for e in found if e.name and "showing" in e.states}

    assert named(bulk) == named(walked)
    assert ("toggle button", "+") in named(bulk)


def test_a_private_displays_own_bus_is_read_not_the_users(
    galculator: TkApp, session_bus: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Apps launched on a private display get its bus (child_env); the reader follows them."""
    from env.a11y_read import read_elements
    from env.base import ScreenGeometry

    class PrivateDisplay:
        def child_env(self) -> dict[str, str]:
            return {"DISPLAY": galculator.display, "DBUS_SESSION_BUS_ADDRESS": session_bus}

    class Screen:
        platform = "desktop"
        display_name = galculator.display
        virtual_display = PrivateDisplay()

    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/user-bus")
    geometry = ScreenGeometry(width=1920, height=1080)
    found, why = read_elements(Screen(), geometry, budget=2.0)
    assert why == "" and any(e.name == "+" for e in found)
    Screen.virtual_display = None  # type: ignore[assignment]
    found, why = read_elements(Screen(), geometry, budget=2.0)
    assert found == [] and "accessibility bus unavailable" in why


def test_a_tk_app_publishes_nothing_and_falls_through_at_once(
    xvfb: object, session_bus: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from env.a11y_atspi import AtspiReader

    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", session_bus)
    app = start_event_app(tmp_path / "log.jsonl", display=os.environ["DISPLAY"],
                          extra=("--button", "Delete"))  # fmt: skip
    try:
        found, why = AtspiReader().elements(2.0)
        assert why == ""
        assert not [e for e in found if e.name == "Delete"]
    finally:
        app.stop()


def test_an_exhausted_budget_falls_through_with_the_reason(galculator: TkApp) -> None:
    from env.a11y_atspi import AtspiReader

    reader = AtspiReader()
    reader.elements(2.0)  # connected; the next read has no time at all
    found, why = reader.elements(0.0)
    assert found == [] and "not read within" in why


# -- agent run ------------------------------------------------------------------------------
TASK = """\
name: a11y calc
env: {{desktop: {{}}}}
model:
  backend: openai
  base_url: 'http://127.0.0.1:{port}/v1'
  model: Qwen/Qwen2.5-VL-7B-Instruct
  timeout: 5
cache: off
settle: 0.2
steps:
  - click: "7"
  - click: "+"
  - click: "5"
  - click: "the = button"
"""


def test_named_clicks_with_symbols_succeed_without_a_reachable_model(
    galculator: TkApp, session_bus: str, tmp_path: Path
) -> None:
    task = tmp_path / "calc.yaml"
    task.write_text(TASK.format(port=closed_port()))
    result = agent("run", str(task), "--out", str(tmp_path / "run"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert display_text(session_bus) == "12"
    steps = steps_of(tmp_path / "run")
    assert [s["located"]["by"] for s in steps] == ["a11y"] * 4
    assert [s["located"]["name"] for s in steps] == ["7", "+", "5", "="]
    assert all(s["model"] is None for s in steps)
    assert "a11y toggle button '+'" in result.stdout
    report = (tmp_path / "run" / "report.html").read_text()
    x1, y1, x2, y2 = steps[1]["located"]["box"]
    box = f'<rect x="{x1:.1f}" y="{y1:.1f}" width="{x2 - x1:.1f}" height="{y2 - y1:.1f}"'
    assert box in report  # the element's box drawn over the step's screenshot
    assert "located by:</b> a11y" in report


def test_locate_model_only_skips_the_tree(galculator: TkApp, tmp_path: Path) -> None:
    task = tmp_path / "calc.yaml"
    task.write_text(TASK.format(port=closed_port()))
    result = agent("run", str(task), "--out", str(tmp_path / "run"), "--locate", "model")
    assert result.returncode == 2, result.stdout + result.stderr  # the model is unreachable
    assert "cannot reach the model server" in result.stdout
    (step,) = steps_of(tmp_path / "run")
    assert step["located"] == {"by": "model", "role": None, "name": None, "description": None,
                               "box": None, "seconds": 0.0, "fell_through": []}  # fmt: skip


def test_bad_locate_option_is_exit_2(tmp_path: Path) -> None:
    task = tmp_path / "calc.yaml"
    task.write_text(TASK.format(port=closed_port()))
    result = agent("run", str(task), "--locate", "a11y,tree")
    assert result.returncode == 2
    assert "--locate" in result.stderr and "Traceback" not in result.stderr


def test_a_tk_button_falls_back_to_the_model(
    xvfb: object, session_bus: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    grounding_server: object,
) -> None:  # fmt: skip
    """Tk publishes nothing on the bus: the same step goes to the model, and says why."""
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", session_bus)
    app = start_board(tmp_path / "log.jsonl", os.environ["DISPLAY"])
    try:
        task = tmp_path / "tk.yaml"
        url = grounding_server.base_url  # type: ignore[attr-defined]
        head = TASK.format(port=1).replace("http://127.0.0.1:1/v1", url).split("steps:")[0]
        head = head.replace("timeout: 5", "timeout: 120")  # the stand-in model OCRs the screen
        task.write_text(head + "steps:\n  - click: the Save button\n")
        result = agent("run", str(task), "--out", str(tmp_path / "run"))
        assert result.returncode == 0, result.stdout + result.stderr
        (step,) = steps_of(tmp_path / "run")
        assert step["located"]["by"] == "model"
        assert any("no element named 'save'" in r for r in step["located"]["fell_through"])
        assert grounding_server.calls >= 1  # type: ignore[attr-defined]
        assert step["model"]["instruction"] == "the Save button"
        assert clicked(app) == ["save"]
    finally:
        app.stop()


def test_elements_command_lists_galculator_buttons(galculator: TkApp, tmp_path: Path) -> None:
    result = agent("elements", "--json")
    assert result.returncode == 0, result.stderr
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert rows["+"]["role"] == "toggle button" and "showing" in rows["+"]["states"]
    x1, y1, x2, y2 = rows["+"]["box"]
    assert x2 - x1 > 20 and y2 - y1 > 20
    assert "MR" not in rows  # insensitive until a value is stored
    table = agent("elements").stdout
    assert "toggle button" in table and " = " in table


def test_a_label_stands_for_the_field_it_names(
    xvfb: object, session_bus: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """zenity's entry: `click: "New file name:"` lands in the field the label names (LABEL_FOR)."""
    need(shutil.which("zenity") is not None, "apt-get install zenity")
    on_our_bus(monkeypatch, session_bus, tmp_path)
    app = start_app(["zenity", "--entry", "--title", "Rename", "--text", "New file name:"],
                    title="Rename", display=os.environ["DISPLAY"])  # fmt: skip
    try:
        _wait_registered(session_bus, name="OK")
        task = tmp_path / "rename.yaml"
        head = TASK.format(port=closed_port()).split("steps:")[0]
        task.write_text(head + 'steps:\n  - click: "New file name:"\n  - type: report.txt\n'
                        '  - click: the OK button\n')  # fmt: skip
        result = agent("run", str(task), "--out", str(tmp_path / "run"))
        assert result.returncode == 0, result.stdout + result.stderr
        out, _ = app.process.communicate(timeout=10)
        assert out.decode().strip() == "report.txt"  # zenity prints what was typed, on OK
        steps = steps_of(tmp_path / "run")
        assert steps[0]["located"]["role"] == "text"  # the field, not the label above it
        assert steps[2]["located"]["role"] == "push button"
    finally:
        app.stop()


def test_mcp_lists_elements_and_clicks_by_their_names_without_a_model(
    galculator: TkApp, session_bus: str
) -> None:
    """MCP `elements` lists what the tree says; `click(target=...)` asks the tree first."""
    from tests.fixtures.mcp_client import ok, run, server_env, stdio_session

    url = f"http://127.0.0.1:{closed_port()}/v1"
    args = ["mcp", "--base-url", url, "--model", "Qwen/Qwen2.5-VL-7B-Instruct",
            "--confirm", "never"]  # fmt: skip
    env = server_env(galculator.display, DBUS_SESSION_BUS_ADDRESS=session_bus, GTK_A11Y="atspi")

    async def body() -> None:
        async with stdio_session(args, env=env) as s:
            listed = ok(await s.call_tool("elements", {})).structured_content["elements"]
            plus = [e for e in listed if e["name"] == "+" and e["role"] == "toggle button"]
            assert len(plus) == 1 and plus[0]["box"] is not None
            for name in ("7", "+", "5", "="):
                clicked = ok(await s.call_tool("click", {"target": name}))
                x1, y1, x2, y2 = clicked.structured_content["box"]
                assert x2 > x1 and y2 > y1  # the element's own box, not a model's guess

    run(body)
    assert display_text(session_bus) == "12"


# -- wait_for / assert from the tree ---------------------------------------------------------
@pytest.fixture
def ocr_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every OCR search a wait_for / assert makes (the real OCR still answers)."""
    import agent.models.ocr as ocr

    calls: list[str] = []
    real = ocr.find_text

    def counted(image: object, text: str, **kwargs: object) -> object:
        calls.append(text)
        return real(image, text, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ocr, "find_text", counted)
    return calls


def test_wait_for_a_text_the_tree_names_runs_no_ocr(galculator: TkApp, ocr_calls: list) -> None:
    from agent.session import Session
    from env.desktop import DesktopEnv

    window = find_window("galculator", galculator.display)
    assert window is not None
    records: list = []
    with DesktopEnv() as env:
        match = Session(env, None, on_step=records.append).find_text_step(
            "wait_for", "galculator", timeout=10
        )
    assert ocr_calls == []
    (rec,) = records
    assert rec.status == "ok" and rec.model is None
    assert rec.located is not None and rec.located.by == "a11y"
    assert rec.located.name == "galculator" and rec.located.box is not None
    assert "found by a11y" in (rec.note or "")
    assert match is not None
    x, y = match.center
    assert window.x <= x < window.x + window.w and window.y <= y < window.y + window.h


def test_a_text_only_the_screen_shows_still_passes_through_ocr(
    galculator: TkApp, session_bus: str, ocr_calls: list
) -> None:
    """The display's "12" is drawn text, named by no element: OCR finds it, as before."""
    from agent.session import Session
    from env.desktop import DesktopEnv

    records: list = []
    with DesktopEnv(settle=0.3) as env:
        session = Session(env, None, on_step=records.append)
        for name in ("7", "+", "5", "="):
            session.point_step("click", name)
        assert display_text(session_bus) == "12"
        session.find_text_step("assert", "12", timeout=5)
    rec = records[-1]
    assert ocr_calls and ocr_calls[-1] == "12"
    assert rec.status == "ok" and rec.located is None
    assert rec.model is not None and rec.model.raw.startswith("text on screen")


def test_a_sign_dropped_text_does_not_pass_from_the_tree(
    galculator: TkApp, ocr_calls: list
) -> None:
    """A button is named "7" and another "-": `assert: "-7"` is not answered by either."""
    from agent.errors import StepFailed
    from agent.session import Session
    from env.desktop import DesktopEnv

    records: list = []
    with DesktopEnv() as env:
        session = Session(env, None, on_step=records.append)
        session.find_text_step("assert", "7", timeout=0)  # the tree has the button
        with pytest.raises(StepFailed, match="'-7' is not on screen"):
            session.find_text_step("assert", "-7", timeout=0)
    assert [r.located.by if r.located else None for r in records] == ["a11y", None]
    assert ocr_calls == ["-7"]  # the tree said no; OCR was asked, and said no too


def test_a_task_waits_for_a_dialogs_text_from_the_tree(
    xvfb: object, session_bus: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`agent run`: zenity's message is found by the tree; the run folder says so."""
    need(shutil.which("zenity") is not None, "apt-get install zenity")
    on_our_bus(monkeypatch, session_bus, tmp_path)
    app = start_app(["zenity", "--info", "--title", "Backup", "--text", "Backup finished: 3 files"],
                    title="Backup", display=os.environ["DISPLAY"])  # fmt: skip
    try:
        _wait_registered(session_bus, name="OK")
        task = tmp_path / "backup.yaml"
        head = TASK.format(port=closed_port()).split("steps:")[0]
        task.write_text(head + 'steps:\n  - wait_for: "finished: 3 files"\n'
                        '  - click: the OK button\n')  # fmt: skip
        result = agent("run", str(task), "--out", str(tmp_path / "run"))
        assert result.returncode == 0, result.stdout + result.stderr
        assert app.process.wait(timeout=10) == 0  # OK closed the dialog
        wait = steps_of(tmp_path / "run")[0]
        assert wait["located"]["by"] == "a11y" and wait["model"] is None
        assert wait["located"]["name"] == "Backup finished: 3 files"
        assert "a11y label 'Backup finished: 3 files'" in result.stdout
        assert "located by:</b> a11y" in (tmp_path / "run" / "report.html").read_text()
    finally:
        app.stop()
