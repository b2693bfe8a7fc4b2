"""hold_key: a key or combo held down for N seconds, added through the action vocabulary.

The desktop sends it through XTest: the real Tk event logger (tests/apps/event_logger.py)
records each KeyPress and KeyRelease with the X server's own timestamp, so the hold is
read from the app's side. A phone refuses it in one line and sends nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from actions.frames import CoordinateFrame
from actions.parse import parse_answer
from actions.project_errors import InputError
from actions.tool_prompt import to_tool_call
from actions.types import HoldKey, Key, parse_action
from env.android import AndroidEnv
from tasks.schema import Step
from tests.fixtures.display import TkApp

AGENT = Path(sys.executable).with_name("agent")


def _held(app: TkApp, keysym: str, since: int) -> tuple[int, int]:
    """Server times (ms) of the first press and the last release of `keysym`."""
    app.wait_for(lambda e: e["event"] == "key_release" and e["keysym"] == keysym, since=since)
    pressed = [e["server_ms"] for e in app.events("key", since) if e["keysym"] == keysym]
    released = [e["server_ms"] for e in app.events("key_release", since) if e["keysym"] == keysym]
    return pressed[0], released[-1]


def test_a_held_combo_stays_down_for_its_seconds_then_releases_in_reverse(
    event_app: TkApp,
) -> None:
    from env.desktop import DesktopEnv

    app = event_app
    with DesktopEnv() as env:
        x, y = app.center("entry")
        env.act(parse_action({"type": "click", "x": x, "y": y}))
        mark = app.mark()
        result = env.act(HoldKey(keys="ctrl+shift", seconds=0.8))
        assert result.sent
        down, up = _held(app, "Shift_L", mark)
        ctrl_down, ctrl_up = _held(app, "Control_L", mark)
    # held for the whole time by the server's clock, modifiers pressed in order and
    # released in reverse
    assert up - down >= 800 and ctrl_up - ctrl_down >= 800
    assert ctrl_down <= down and up <= ctrl_up
    order = [(e["event"], e["keysym"]) for e in app.events(since=mark) if "keysym" in e]
    assert order[:2] == [("key", "Control_L"), ("key", "Shift_L")]
    assert order[-2:] == [("key_release", "Shift_L"), ("key_release", "Control_L")]


def test_a_plain_key_press_is_not_held(event_app: TkApp) -> None:
    from env.desktop import DesktopEnv

    app = event_app
    with DesktopEnv() as env:
        mark = app.mark()
        env.act(Key(keys="shift"))
        down, up = _held(app, "Shift_L", mark)
    assert up - down < 800


def test_a_phone_refuses_hold_key_in_one_line_and_sends_nothing(adb_server) -> None:
    device = adb_server.device()
    with AndroidEnv(port=adb_server.port) as env:
        calls = len(device.calls)
        with pytest.raises(InputError, match="hold_key is not available on a phone") as err:
            env.act(HoldKey(keys="volume_up", seconds=2))
    assert "\n" not in str(err.value)
    assert [argv for argv in device.calls[calls:] if argv[0] == "input"] == []


def test_agent_do_hold_key_on_a_phone_exits_2_with_one_line(adb_server) -> None:
    env = {"ANDROID_ADB_SERVER_PORT": str(adb_server.port), "PATH": "/usr/bin:/bin"}
    import os

    env = {**{k: v for k, v in os.environ.items() if k != "DISPLAY"}, **env}
    env["ADBUTILS_ADB_PATH"] = "/nonexistent/adb"
    result = subprocess.run(
        [str(AGENT), "do", "--android", "hold_key", "volume_up", "2"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert "hold_key is not available on a phone" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not [e for e in adb_server.device().events]


def test_agent_do_hold_key_reaches_a_real_app(event_app: TkApp) -> None:
    import os

    app = event_app
    env = {**os.environ, "DISPLAY": str(app.display)}
    mark = app.mark()
    result = subprocess.run(
        [str(AGENT), "do", "hold_key", "shift", "0.5"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "sent hold_key(shift, 0.5 s)" in result.stdout
    down, up = _held(app, "Shift_L", mark)
    assert up - down >= 500


def test_task_files_and_model_calls_know_hold_key() -> None:
    step = Step.model_validate({"hold_key": {"keys": "ctrl+a", "seconds": 2}})
    assert step.verb == "hold_key" and step.action() == HoldKey(keys="ctrl+a", seconds=2)
    assert Step.model_validate({"hold_key": "shift"}).argument.seconds == 1.0
    with pytest.raises(ValueError, match="unknown key 'nokey'"):
        Step.model_validate({"hold_key": "nokey"})
    frame = CoordinateFrame.for_image((1920, 1080))
    text = to_tool_call(HoldKey(keys="shift", seconds=3), frame)
    assert parse_answer(text, frame).actions == [HoldKey(keys="shift", seconds=3)]


def test_the_python_api_holds_a_key_and_takes_the_failsafe_setting(
    event_app: TkApp, tmp_path: Path
) -> None:
    from agent import Agent

    app = event_app
    with Agent.desktop(failsafe=False, settle=0, out=tmp_path / "run") as agent:
        assert agent.env.pointer.failsafe is False
        agent.env.pointer.move(0, 0)  # a corner: with the fail-safe off, nothing stops
        x, y = app.center("entry")
        agent.click(x=x, y=y)
        mark = app.mark()
        agent.hold_key("shift", 0.5)
    down, up = _held(app, "Shift_L", mark)
    assert up - down >= 500
    step = json.loads((tmp_path / "run" / "steps.jsonl").read_text().splitlines()[-1])
    assert step["action"] == {"type": "hold_key", "keys": ["shift"], "seconds": 0.5}
    assert step["status"] == "ok"
    # the run compiles back into a task file step that holds the same key as long
    from tasks.compile import compile_run

    compiled = compile_run(tmp_path / "run")
    assert "hold_key:" in compiled.text
    last = compiled.task.steps[-1]
    assert last.verb == "hold_key" and last.action() == HoldKey(keys="shift", seconds=0.5)


def test_mcp_serves_the_generated_hold_key_tool_and_judges_it_as_the_clients(
    event_app: TkApp,
) -> None:
    """No hand-written tool: the vocabulary's entry gives its name, schema and handler; a
    client's risky combo is refused like press_key's, a bad key in one line, nothing sent."""
    import time

    from tests.fixtures.mcp_client import ok, run, server_env, stdio_session, text

    app = event_app

    async def body() -> None:
        async with stdio_session(["mcp"], env=server_env(app.display)) as s:
            tools = {tool.name: tool for tool in (await s.list_tools()).tools}
            schema = tools["hold_key"].input_schema
            assert schema["required"] == ["keys"]
            assert schema["properties"]["seconds"]["maximum"] == 60
            mark = app.mark()
            result = ok(await s.call_tool("hold_key", {"keys": "shift", "seconds": 0.5}))
            assert text(result).startswith("sent hold_key(shift, 0.5 s)"), text(result)
            down, up = _held(app, "Shift_L", mark)
            assert up - down >= 500
            mark = app.mark()
            refused = await s.call_tool("hold_key", {"keys": "ctrl+w", "seconds": 0.2})
            assert refused.is_error and "needs confirmation" in text(refused), text(refused)
            bad = await s.call_tool("hold_key", {"keys": "nokey"})
            assert bad.is_error and "unknown key 'nokey'" in text(bad), text(bad)
            assert "\n" not in text(bad).strip()
            time.sleep(0.3)
            assert app.events("key", mark) == []

    run(body)


def test_the_api_performs_any_simple_verb_of_the_vocabulary(
    event_app: TkApp, tmp_path: Path
) -> None:
    from agent import Agent

    app = event_app
    with Agent.desktop(settle=0, out=tmp_path / "run") as agent:
        with pytest.raises(InputError, match="hold_key: keys: unknown key 'nokey'"):
            agent.do("hold_key", "nokey")
        with pytest.raises(InputError, match="'teleport' is not a simple verb"):
            agent.do("teleport", 1)
        mark = app.mark()
        agent.do("hold_key", "shift", seconds=0.4)
        agent.perform(HoldKey(keys="shift", seconds=0.4))
    assert app.events("key", mark)  # sent twice
    steps = (tmp_path / "run" / "steps.jsonl").read_text().splitlines()
    assert [json.loads(line)["action"]["type"] for line in steps] == ["hold_key", "hold_key"]


def test_agent_do_help_lists_the_generated_verb() -> None:
    result = subprocess.run(
        [str(AGENT), "do", "hold_key", "--help"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "KEYS" in result.stdout and "SECONDS" in result.stdout
    assert "seconds to hold it down" in result.stdout
