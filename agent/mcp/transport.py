"""Serving the MCP server: stdio (what desktop clients spawn) or streamable HTTP.

HTTP binds to 127.0.0.1 unless told otherwise. Without a token, only
127.0.0.1, ::1 and localhost may be bound: reachable from this machine only,
but by every local user and program. Any other address (another loopback
address, 0.0.0.0, a network address) needs a bearer token, checked by the
SDK's own bearer middleware with a constant-time comparison: a request
without it, or with a wrong one, gets 401 before it reaches a tool. Whatever
is bound, every request's Host and Origin are checked first
(`agent.mcp.host_check`: DNS rebinding from a web page gets 421/403).
"""

from __future__ import annotations

import hmac
import logging
import signal
import socket
from collections.abc import Callable
from typing import Any

from actions.project_errors import InputError
from agent.mcp.host_check import HostCheck, allowed_names, is_loopback, normalize

log = logging.getLogger(__name__)

TOKEN_ENV = "SCREENPILOT_MCP_TOKEN"
HTTP_PATH = "/mcp"


TOKENLESS_BINDS = ("127.0.0.1", "::1", "localhost")
"""The only binds served without a token (REFERENCE.md section 11)."""


def check_bind(host: str, token: str | None) -> None:
    """Refuse a bind other than `TOKENLESS_BINDS` without a token (one line, before start)."""
    if token or normalize(host) in TOKENLESS_BINDS:
        return
    why = (
        "is not 127.0.0.1, ::1 or localhost"
        if is_loopback(host)
        else "is reachable from other machines"
    )
    raise InputError(
        f"--host {host} {why}: give a bearer token with --token or ${TOKEN_ENV} (or bind 127.0.0.1)"
    )


class StaticTokenVerifier:
    """The SDK's `TokenVerifier` for one shared secret token."""

    def __init__(self, token: str) -> None:
        self._token = token.encode("utf-8")

    async def verify_token(self, token: str) -> Any:
        from mcp.server.auth.provider import AccessToken

        if hmac.compare_digest(token.encode("utf-8"), self._token):
            return AccessToken(token=token, client_id="screenpilot-client", scopes=[])
        return None


def auth_for(token: str | None, url: str) -> dict[str, Any]:
    """`MCPServer` keyword arguments that require the token (none without one)."""
    if not token:
        return {}
    from mcp.server.auth.settings import AuthSettings

    # Resource-server mode with no OAuth metadata: the issuer is only a required field here.
    settings = AuthSettings(issuer_url=url, resource_server_url=None)
    return {"token_verifier": StaticTokenVerifier(token), "auth": settings}


def listen(host: str, port: int) -> socket.socket:
    """A bound, listening socket (port 0 picks a free one); InputError when it cannot bind."""
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise InputError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def url_of(sock: socket.socket, host: str) -> str:
    port = sock.getsockname()[1]
    shown = f"[{host.strip('[]')}]" if ":" in host else host
    return f"http://{shown}:{port}{HTTP_PATH}"


def serve_http(
    server: Any, sock: socket.socket, host: str, allowed_hosts: tuple[str, ...] = ()
) -> None:
    """Serve streamable HTTP on `sock` until Ctrl-C or SIGTERM (uvicorn stops gracefully).

    `allowed_hosts`: names besides this server's own addresses that clients
    may put in Host (e.g. a DNS name in front of a 0.0.0.0 bind).
    """
    import anyio
    import uvicorn
    from mcp.server.transport_security import TransportSecuritySettings

    # the SDK's own check is exact-string and case-sensitive; HostCheck covers every bind
    off = TransportSecuritySettings(enable_dns_rebinding_protection=False)
    inner = server.streamable_http_app(
        streamable_http_path=HTTP_PATH, host=host, transport_security=off
    )
    port = sock.getsockname()[1]
    app = HostCheck(inner, allowed_names(host, allowed_hosts), port)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    anyio.run(uvicorn.Server(config).serve, [sock])


def serve_stdio(server: Any) -> None:
    """Serve over stdin/stdout until the client closes stdin, or SIGTERM."""
    import anyio

    previous = signal.signal(signal.SIGTERM, _interrupt)  # so that the run folder is finished
    try:
        anyio.run(server.run_stdio_async)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def run_server(build: Callable[[dict[str, Any]], Any], *, transport: str, host: str, port: int,
               token: str | None, on_listening: Callable[[str], None],
               allowed_hosts: tuple[str, ...] = ()) -> None:  # fmt: skip
    """Build the server (with the auth its bind needs) and serve it on `transport`."""
    if transport == "stdio":
        on_listening("stdio")
        serve_stdio(build({}))
        return
    check_bind(host, token)
    sock = listen(host, port)
    try:
        url = url_of(sock, host)
        server = build(auth_for(token, url))
        on_listening(url)
        serve_http(server, sock, host, allowed_hosts)
    finally:
        sock.close()
