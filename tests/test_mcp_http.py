"""`agent mcp --transport http`: streamable HTTP with the SDK's client, and its bearer token.

A loopback bind is served without a token; any other address is refused at
start-up without one, and with one every request that lacks it (or carries a
wrong one) gets 401 before it reaches a tool. The non-loopback case binds the
machine's own network address (0.0.0.0 when it has none) and connects to it.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import mcp_types as mt
import pytest

from tests.conftest import need
from tests.fixtures.display import TkApp
from tests.fixtures.mcp_client import (
    AGENT,
    HttpServer,
    http_session,
    ok,
    run,
    server_env,
    text,
)

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "curl-like", "version": "0"},
    },
}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@pytest.fixture(autouse=True)
def _installed() -> None:
    need(AGENT.exists(), f"the agent script is not installed next to {AGENT.parent}")


def machine_address() -> str | None:
    """This machine's own non-loopback IPv4 address, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.254", 9))  # no packet is sent for a UDP connect
            address = probe.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def test_tools_act_over_http(event_app: TkApp, tmp_path: Path) -> None:
    app = event_app
    out = tmp_path / "run"
    with HttpServer(["--port", "0", "--out", str(out)], server_env(app.display)) as server:
        assert server.url.startswith("http://127.0.0.1:") and server.url.endswith("/mcp")

        asked: list[str] = []

        async def elicit(context: Any, params: Any) -> mt.ElicitResult:
            asked.append(params.message)
            return mt.ElicitResult(action="accept", content={"allow": True})

        async def body() -> None:
            async with http_session(server.url, elicit=elicit) as s:
                names = {t.name for t in (await s.list_tools()).tools}
                assert {"screenshot", "click", "type_text", "run_task"} <= names
                x, y = app.center("ok")
                mark = app.mark()
                ok(await s.call_tool("click", {"x": x, "y": y}))
                app.wait_for(lambda e: e["event"] == "button" and e["name"] == "ok", since=mark)
                ex, ey = app.center("entry")
                time.sleep(0.6)
                ok(await s.call_tool("click", {"x": ex, "y": ey}))
                ok(await s.call_tool("type_text", {"text": "héllo 你好 over http"}))
                app.wait_for(lambda e: e.get("value") == "héllo 你好 over http", since=mark)
                bad = await s.call_tool("press_key", {"keys": "ctrl+nosuchkey"})
                assert bad.is_error and text(bad) == "keys: unknown key 'nosuchkey'"
                ok(await s.call_tool("press_key", {"keys": "ctrl+w"}))  # risky: asked over HTTP
                assert len(asked) == 1 and "key(ctrl+w)" in asked[0]
                app.wait_for(lambda e: e["event"] == "key" and e["keysym"] == "w", since=mark)

        run(body)
        assert server.stop() == 130  # Ctrl-C, as for every agent command
    steps = [json.loads(line) for line in (out / "steps.jsonl").read_text().splitlines()]
    assert [s["verb"] for s in steps] == ["click", "click", "type", "key", "key"]
    assert (out / "report.html").is_file()  # written on Ctrl-C too


def test_a_non_loopback_bind_without_a_token_is_refused(xvfb: Any) -> None:
    env = server_env(xvfb.name)
    env.pop("SCREENPILOT_MCP_TOKEN", None)
    result = subprocess.run(
        [str(AGENT), "mcp", "--transport", "http", "--host", "0.0.0.0", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: --host 0.0.0.0 is reachable from other machines")
    assert "$SCREENPILOT_MCP_TOKEN" in result.stderr


def test_requests_without_the_token_get_401(event_app: TkApp) -> None:
    import httpx2

    app = event_app
    address = machine_address()
    host = address or "0.0.0.0"
    token = "t0ken-" + "x" * 24
    env = server_env(app.display, SCREENPILOT_MCP_TOKEN=token)
    with HttpServer(["--host", host, "--port", "0"], env) as server:
        url = server.url if address else server.url.replace("0.0.0.0", "127.0.0.1")
        mark = app.mark()
        for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": token}):
            answer = httpx2.post(url, json=INITIALIZE, headers={**HEADERS, **headers}, timeout=30)
            assert answer.status_code == 401, (headers, answer.text)
            assert "invalid_token" in answer.text
        listed = httpx2.post(
            url,
            json={"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
                "name": "click", "arguments": {"x": 10, "y": 10}}},
            headers=HEADERS,
            timeout=30,
        )  # fmt: skip
        assert listed.status_code == 401

        async def body() -> None:
            async with http_session(url, token=token) as s:
                x, y = app.center("ok")
                ok(await s.call_tool("click", {"x": x, "y": y}))
                app.wait_for(lambda e: e["event"] == "button", since=mark)

        time.sleep(0.3)
        assert app.events(since=mark) == []  # nothing reached the screen without the token
        run(body)
        assert server.stop() == 130  # Ctrl-C, as for every agent command
    assert token not in "".join(server.lines)
