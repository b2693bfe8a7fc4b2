"""The Host/Origin rules of `agent.mcp.host_check`, one header at a time (no server needed).

The end-to-end check, with real requests on each kind of bind, is
tests/test_mcp_http.py::test_dns_rebinding_is_refused_on_every_bind.
"""

from __future__ import annotations

import pytest

from agent.mcp.host_check import HostCheck, allowed_names, split_host


async def _app(scope: object, receive: object, send: object) -> None:  # never reached here
    raise AssertionError("not called")


CHECK = HostCheck(_app, allowed_names("127.0.0.2", ["mcp.example.org"]), 8765)


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("127.0.0.2:8765", True), ("127.0.0.2", True), ("LOCALHOST:8765", True),
        ("[::1]:8765", True), ("MCP.Example.Org:8765", True), ("mcp.example.org.:8765", True),
        ("127.0.0.2:8766", False), ("evil.example:8765", False), ("127.0.0.3:8765", False),
        ("::1", False), ("[::1", False), ("127.0.0.2:80x", False), ("", False),
        ("127.0.0.2:8765@evil.example", False),
    ],
)  # fmt: skip
def test_host(host: str, allowed: bool) -> None:
    assert CHECK.host_ok(host) is allowed


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        (None, True), ("http://127.0.0.2:8765", True), ("https://LOCALHOST:8765", True),
        ("http://localhost", False), ("null", False), ("file://", False),
        ("http://evil.example:8765", False), ("http://127.0.0.2:8765.evil.example", False),
        ("chrome-extension://abc", False),
    ],
)  # fmt: skip
def test_origin(origin: str | None, allowed: bool) -> None:
    assert CHECK.origin_ok(origin) is allowed


def test_split_host() -> None:
    assert split_host("[0:0::1]:9") == ("::1", 9)
    assert split_host("Example.COM") == ("example.com", None)
