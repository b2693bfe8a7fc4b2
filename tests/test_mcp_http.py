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
    run_folder,
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
                assert {"screenshot", "click", "type_text"} <= names and "run_task" not in names
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
    out = run_folder(out)
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


@pytest.mark.parametrize(
    ("bind", "token", "names"),
    [
        ("127.0.0.1", None, ["127.0.0.1", "LOCALHOST", "[::1]"]),
        ("127.0.0.2", "t0ken-" + "y" * 24, ["127.0.0.2", "LocalHost"]),
        ("[::1]", None, ["[::1]", "[0:0:0:0:0:0:0:1]", "localhost"]),
        ("LOCALHOST", None, ["localhost", "LOCALHOST", "127.0.0.1"]),
        ("0.0.0.0", "t0ken-" + "z" * 24, ["127.0.0.1", "localhost"]),
    ],
)
def test_dns_rebinding_is_refused_on_every_bind(
    xvfb: Any, bind: str, token: str | None, names: list[str]
) -> None:
    import httpx2

    env = server_env(xvfb.name)
    env.pop("SCREENPILOT_MCP_TOKEN", None)
    if token:
        env["SCREENPILOT_MCP_TOKEN"] = token
    auth = {"Authorization": f"Bearer {token}"} if token else {}
    with HttpServer(["--host", bind, "--port", "0"], env) as server:
        port = int(server.url.rsplit(":", 1)[1].split("/")[0])
        url = server.url.replace("0.0.0.0", "127.0.0.1")

        def post(host: str, **extra: str) -> int:
            headers = {**HEADERS, **auth, "Host": host, **extra}
            return httpx2.post(url, json=INITIALIZE, headers=headers, timeout=30).status_code

        for evil in ("evil.example", f"evil.example:{port}", f"EVIL.example:{port}", "[::2]"):
            assert post(evil) == 421, evil
        good = f"{names[0]}:{port}"
        assert post(good, Origin="http://evil.example") == 403
        assert post(good, Origin=f"http://evil.example:{port}") == 403
        assert post(good, Origin="null") == 403
        assert post(f"{names[0]}:{port + 1}") == 421  # another port is another server
        for name in names:  # the server's own names, in any case
            assert post(f"{name}:{port}") == 200, name
        assert post(good, Origin=f"http://{names[-1]}:{port}") == 200

        async def body() -> None:
            async with http_session(url, token=token) as s:
                assert "click" in {t.name for t in (await s.list_tools()).tools}

        run(body)


def test_a_second_loopback_address_needs_a_token(xvfb: Any) -> None:
    env = server_env(xvfb.name)
    env.pop("SCREENPILOT_MCP_TOKEN", None)
    result = subprocess.run(
        [str(AGENT), "mcp", "--transport", "http", "--host", "127.0.0.2", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert result.stderr.startswith(
        "error: --host 127.0.0.2 is not 127.0.0.1, ::1 or localhost: give a bearer token"
    )


def test_each_client_has_its_own_screenshot_scale(event_app: TkApp) -> None:
    app = event_app
    x, y = app.center("ok")
    with HttpServer(["--port", "0"], server_env(app.display)) as server:

        async def body() -> None:
            async with http_session(server.url) as small, http_session(server.url) as full:
                shot = ok(await small.call_tool("screenshot", {"max_side": 640}))
                assert (shot.structured_content["width"], shot.structured_content["height"]) == (
                    640,
                    360,
                )
                ok(await full.call_tool("screenshot", {}))  # another client, full size
                mark = app.mark()
                ok(await small.call_tool("click", {"x": x / 3, "y": y / 3}))  # in its 640 image
                app.wait_for(lambda e: e["event"] == "button" and e["name"] == "ok", since=mark)
                time.sleep(0.6)
                mark = app.mark()
                ok(await full.call_tool("click", {"x": x, "y": y}))  # in its full-size image
                app.wait_for(lambda e: e["event"] == "button" and e["name"] == "ok", since=mark)

        run(body)
