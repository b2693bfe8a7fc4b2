"""DNS-rebinding protection for the HTTP transport: Host and Origin checked on every request.

A web page the user opens can make the browser send requests to any address,
including loopback, under a name the page's author controls (DNS rebinding):
the request then carries ``Host: evil.example``. The SDK checks Host/Origin
only for the exact bind strings ``127.0.0.1``, ``localhost`` and ``::1``
(REFERENCE.md section 11), and compares them case-sensitively; this ASGI
wrapper checks them for whatever address is bound, case-insensitively:

* Host must name an address of this server (the bound one; for a loopback
  bind also ``localhost``, ``127.0.0.1`` and ``[::1]``; for a wildcard bind
  every address and name of this machine) plus any ``--allowed-host``, with
  the bound port when a port is given; otherwise 421.
* Origin, when a browser sends one, must be ``http(s)://`` one of those names
  on the bound port; otherwise 403.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
Scope = dict[str, Any]
App = Callable[[Scope, Any, Any], Awaitable[None]]


def normalize(name: str) -> str:
    """A host name as compared: lower case, no IPv6 brackets, canonical IP spelling."""
    name = name.strip().strip("[]").lower().rstrip(".")
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        return name


def is_wildcard(host: str) -> bool:
    """Whether `host` binds every address (0.0.0.0, ::)."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False


def is_loopback(host: str) -> bool:
    """Whether binding `host` keeps the server reachable from this machine only."""
    if normalize(host) == "localhost":
        return True
    try:
        return ipaddress.ip_address(normalize(host)).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def machine_names() -> set[str]:
    """This machine's names and addresses (what clients may call it by on a wildcard bind)."""
    names = {socket.gethostname(), socket.getfqdn()}
    for name in list(names):
        try:
            names |= {str(info[4][0]) for info in socket.getaddrinfo(name, None)}
        except OSError:
            continue
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.254", 9))  # no packet is sent for a UDP connect
            names.add(probe.getsockname()[0])
        except OSError:
            pass
    return names


def allowed_names(host: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """The Host names a request to a server bound on `host` may carry (normalized)."""
    names: set[str] = set(extra)
    if is_wildcard(host):
        names |= {*LOOPBACK_NAMES, *machine_names()}
    else:
        names.add(host)
        if is_loopback(host):
            names |= set(LOOPBACK_NAMES)
    return frozenset(normalize(n) for n in names if n)


def split_host(value: str) -> tuple[str, int | None] | None:
    """``name[:port]`` or ``[v6][:port]`` -> (name, port); None when malformed."""
    value = value.strip()
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        name, rest = value[1:end], value[end + 1 :]
        if rest and not rest.startswith(":"):
            return None
        port_text = rest[1:] if rest else ""
    elif value.count(":") == 1:
        name, port_text = value.split(":")
    elif ":" in value:  # an unbracketed IPv6 address is not a valid Host
        return None
    else:
        name, port_text = value, ""
    if port_text and not port_text.isdigit():
        return None
    return normalize(name), int(port_text) if port_text else None


class HostCheck:
    """ASGI wrapper: refuse HTTP requests whose Host or Origin is not this server's."""

    def __init__(self, app: App, names: frozenset[str], port: int) -> None:
        self.app, self.names, self.port = app, names, port

    def host_ok(self, value: str | None) -> bool:
        parsed = split_host(value) if value else None
        if parsed is None:
            return False
        name, port = parsed
        return name in self.names and port in (None, self.port)

    def origin_ok(self, value: str | None) -> bool:
        if value is None:  # not a browser, or a same-origin GET
            return True
        try:
            parts = urlsplit(value.strip())
            port = parts.port
        except ValueError:
            return False
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            return False  # includes "null" (sandboxed frames, file:// pages)
        default = 80 if parts.scheme.lower() == "http" else 443
        return normalize(parts.hostname) in self.names and (port or default) == self.port

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":  # lifespan
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if not self.host_ok(headers.get("host")):
            log.warning("refused a request for Host %r (DNS rebinding?)", headers.get("host"))
            await _refuse(send, 421, "Invalid Host header")
        elif not self.origin_ok(headers.get("origin")):
            log.warning("refused a request from Origin %r", headers.get("origin"))
            await _refuse(send, 403, "Invalid Origin header")
        else:
            await self.app(scope, receive, send)


async def _refuse(send: Any, status: int, text: str) -> None:
    body = text.encode("ascii")
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
