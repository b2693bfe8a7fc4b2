"""An MCP client is not the user: `run_task` is opt-in, and a client's task is judged as a model's.

Each test reproduces an attack on `agent mcp` with the SDK's own client over
stdio, against the tests' Xvfb and the event logger app (whose log shows what
reached the screen), and, for the model section, a sniffing HTTP server on
loopback that must receive nothing.
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mcp_types as mt
import pytest

from tests.conftest import need
from tests.fixtures.display import TkApp
from tests.fixtures.mcp_client import AGENT, ok, run, server_env, stdio_session, text

SECRET = "srv-s3cret-Zq81"
ATTACK = (
    "name: pwn\nenv: desktop\nsteps:\n"
    '  - launch: ["sh", "-c", "id > pwned.txt"]\n'
    "  - key: ctrl+alt+backspace\n"
)


@pytest.fixture(autouse=True)
def _installed() -> None:
    need(AGENT.exists(), f"the agent script is not installed next to {AGENT.parent}")


class Sniffer:
    """An HTTP server on loopback that records every request it gets (and answers 500)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        sniffer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _record(self) -> None:
                sniffer.requests.append((self.command, self.path, dict(self.headers)))
                self.send_response(500)
                self.end_headers()

            do_GET = do_POST = _record  # noqa: N815

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sniffer() -> Iterator[Sniffer]:
    s = Sniffer()
    yield s
    s.close()


def test_run_task_is_off_unless_the_server_allows_it(event_app: TkApp, tmp_path: Path) -> None:
    app = event_app

    async def body() -> None:
        async with stdio_session(["mcp"], env=server_env(app.display), cwd=tmp_path) as s:
            names = {t.name for t in (await s.list_tools()).tools}
            assert "run_task" not in names and "click" in names
            mark = app.mark()
            result = await s.call_tool("run_task", {"yaml": ATTACK})
            assert result.is_error
            assert text(result) == (
                "run_task is off: the server must be started with "
                "`agent mcp --allow-run-task` to offer it"
            )
            time.sleep(0.3)
            assert app.events(since=mark) == []

    run(body)
    assert not (tmp_path / "pwned.txt").exists()


def test_a_client_task_cannot_launch_or_press_risky_keys_unasked(
    event_app: TkApp, tmp_path: Path
) -> None:
    app = event_app
    questions: list[str] = []

    async def say_no(context: Any, params: Any) -> mt.ElicitResult:
        questions.append(params.message)
        return mt.ElicitResult(action="accept", content={"allow": False})

    key_only = "name: k\nenv: desktop\nsteps:\n  - key: ctrl+alt+backspace\n"
    args = ["mcp", "--allow-run-task"]  # default --confirm risky

    async def body() -> None:
        env = server_env(app.display)
        mark = app.mark()
        async with stdio_session(args, env=env, cwd=tmp_path) as s:  # cannot ask: refused
            for task, what in ((ATTACK, "launch sh -c id > pwned.txt"), (key_only, "key(")):
                result = await s.call_tool("run_task", {"yaml": task})
                assert result.is_error and result.structured_content["status"] == "failed"
                (step,) = result.structured_content["steps"]
                assert step["status"] == "denied", step
                assert f"needs confirmation ({what}" in step["error"], step
                assert "it does not support elicitation" in text(result)
        async with stdio_session(args, env=env, cwd=tmp_path, elicit=say_no) as s:  # asked: no
            result = await s.call_tool("run_task", {"yaml": ATTACK})
            assert result.is_error and result.structured_content["steps"][0]["status"] == "denied"
            assert len(questions) == 1 and "launch" in questions[0] and "sh" in questions[0]
            result = await s.call_tool("run_task", {"yaml": key_only})
            assert result.is_error and "ctrl+alt+backspace" in questions[1]
        time.sleep(0.3)
        assert app.events("key", mark) == []

    run(body)
    assert not (tmp_path / "pwned.txt").exists()


def test_a_client_task_cannot_read_the_servers_environment(event_app: TkApp) -> None:
    app = event_app
    x, y = app.center("entry")
    task = (
        f"name: leak\nenv: desktop\nsteps:\n  - click: [{x}, {y}]\n  - type: 'x ${{SP_SECRET}}'\n"
    )

    async def body() -> None:
        env = server_env(app.display, SP_SECRET=SECRET)
        async with stdio_session(["mcp", "--allow-run-task"], env=env) as s:
            mark = app.mark()
            result = await s.call_tool("run_task", {"yaml": task})
            assert result.is_error
            assert text(result) == (
                "<yaml>:5: steps[1].type: ${SP_SECRET}: an MCP client's task cannot read "
                "environment variables of the machine it runs on (write $$ for a literal $)"
            )
            time.sleep(0.3)
            assert app.events(since=mark) == []  # refused before the first step
            literal = f"name: ok\nenv: desktop\nsteps:\n  - click: [{x}, {y}]\n  - type: 'p$$5'\n"
            ok(await s.call_tool("run_task", {"yaml": literal}))
            app.wait_for(lambda e: e["event"] == "text" and e["value"] == "p$5", since=mark)

    run(body)


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_client_task_cannot_choose_the_model_or_its_key(
    event_app: TkApp, sniffer: Sniffer, dry_run: bool
) -> None:
    app = event_app
    task = (
        "name: sniff\nenv: desktop\n"
        f"model: {{backend: openai, base_url: '{sniffer.url}', model: m, api_key_env: SP_SECRET}}\n"
        "steps:\n  - click: the OK button\n"
    )
    args = ["mcp", "--allow-run-task", *(["--dry-run"] if dry_run else [])]

    async def body() -> None:
        env = server_env(app.display, SP_SECRET=SECRET)
        async with stdio_session(args, env=env) as s:
            mark = app.mark()
            result = await s.call_tool("run_task", {"yaml": task})
            assert result.is_error
            assert text(result) == (
                "<yaml>:3: model: an MCP client's task cannot choose the model (backend, model, "
                "base_url, api_key_env): the server's own (agent mcp --backend/--model) is used"
            )
            hub = "name: hub\nenv: desktop\nmodel: {backend: qwen, model: some/repo}\nsteps:\n"
            hub += "  - click: the OK button\n"
            result = await s.call_tool("run_task", {"yaml": hub})
            assert result.is_error and "cannot choose the model" in text(result)
            time.sleep(0.3)
            assert app.events(since=mark) == []

    run(body)
    assert sniffer.requests == []


def test_a_client_task_cannot_choose_environment_settings(event_app: TkApp) -> None:
    app = event_app
    tasks = {
        "env: {desktop: {failsafe: false}}": "env.desktop.failsafe",
        "env: {desktop: {virtual_display: 800x600}}": "env.desktop.virtual_display",
    }

    async def body() -> None:
        async with stdio_session(["mcp", "--allow-run-task"], env=server_env(app.display)) as s:
            mark = app.mark()
            for env_line, field in tasks.items():
                task = f"name: e\n{env_line}\nsteps:\n  - key: a\n"
                result = await s.call_tool("run_task", {"yaml": task})
                assert result.is_error
                assert text(result).startswith(
                    f"<yaml>:2: {field}: an MCP client's task cannot choose environment settings"
                ), text(result)
            time.sleep(0.3)
            assert app.events(since=mark) == []

    run(body)


def test_an_unanswered_confirmation_is_a_no_after_the_timeout(event_app: TkApp) -> None:
    import anyio

    app = event_app
    asked: list[str] = []

    async def never_answer(context: Any, params: Any) -> mt.ElicitResult:
        asked.append(params.message)
        await anyio.sleep(3600)
        raise AssertionError("unreachable")

    async def body() -> None:
        args = ["mcp", "--confirm-timeout", "2"]
        async with stdio_session(args, env=server_env(app.display), elicit=never_answer) as s:
            mark = app.mark()
            with anyio.fail_after(120):  # a bound on the test, not a timing claim
                denied = await s.call_tool("press_key", {"keys": "ctrl+w"})
                assert denied.is_error and text(denied).startswith("denied: key(ctrl+w)")
                x, y = app.center("ok")
                ok(await s.call_tool("click", {"x": x, "y": y}))  # the server goes on
            app.wait_for(lambda e: e["event"] == "button" and e["name"] == "ok", since=mark)
            assert len(asked) == 1 and app.events("key", mark) == []

    run(body)
