"""Reaching the adb server and choosing a device, the way `adb` itself does.

Server address, first match wins (adb 1.0.41's own order):

1. an explicit host and/or port (task file, ``--adb-host`` / ``--adb-port``);
2. ``ADB_SERVER_SOCKET`` (``tcp:HOST:PORT`` or ``tcp:PORT``);
3. ``ANDROID_ADB_SERVER_ADDRESS`` (host) and ``ANDROID_ADB_SERVER_PORT`` (port);
4. ``127.0.0.1:5037``.

adbutils runs ``adb start-server`` whenever it cannot connect; that would
start a stray server (on 5037, not where the user pointed). So the socket is
probed here first, and the client returned by `connect` never spawns anything:
a server that went away mid-run is an error, not a reason to start another.

Device: the serial given, else ``$ANDROID_SERIAL``, else the only attached
device. Anything else (none, several, offline, unauthorized, unknown serial)
is a one-line `InputError` that lists what is attached.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from actions.project_errors import InputError, ScreenpilotError, require

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5037
CONNECT_TIMEOUT = 2.0
PROBE_TIMEOUT = 3.0
"""Seconds to wait for the server's version answer (something else may hold the port)."""


class AdbFailure(ScreenpilotError):
    """The adb server or the device failed while running a command (exit 1)."""


class AdbServerAddress(BaseModel):
    """Where the adb server listens."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = Field(DEFAULT_HOST, min_length=1)
    port: int = Field(DEFAULT_PORT, ge=1, le=65535)

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"

    @classmethod
    def resolve(
        cls,
        host: str | None = None,
        port: int | None = None,
        environ: dict[str, str] | None = None,
    ) -> AdbServerAddress:
        """The address adb would use, with explicit values first (see the module docstring)."""
        env = os.environ if environ is None else environ
        if host is None and port is None:
            spec = env.get("ADB_SERVER_SOCKET", "").strip()
            if spec:
                return cls._from_socket_spec(spec)
        host = host or env.get("ANDROID_ADB_SERVER_ADDRESS", "").strip() or DEFAULT_HOST
        if port is None:
            raw = env.get("ANDROID_ADB_SERVER_PORT", "").strip()
            if raw:
                if not raw.isdigit() or not 0 < int(raw) < 65536:
                    raise InputError(
                        f"$ANDROID_ADB_SERVER_PORT must be a port number (1-65535), got {raw!r}"
                    )
                port = int(raw)
        return cls(host=host, port=DEFAULT_PORT if port is None else port)

    @classmethod
    def _from_socket_spec(cls, spec: str) -> AdbServerAddress:
        parts = spec.split(":")
        ok = parts[0] == "tcp" and len(parts) in (2, 3) and parts[-1].isdigit()
        if not ok or not 0 < int(parts[-1]) < 65536:
            raise InputError(f"$ADB_SERVER_SOCKET must be tcp:HOST:PORT or tcp:PORT, got {spec!r}")
        host = parts[1] if len(parts) == 3 and parts[1] else DEFAULT_HOST
        return cls(host=host, port=int(parts[-1]))


class DeviceInfo(BaseModel):
    """One line of ``adb devices -l``."""

    model_config = ConfigDict(frozen=True)

    serial: str
    state: str
    tags: dict[str, str] = Field(default_factory=dict)

    def describe(self) -> str:
        extra = " ".join(f"{k}:{v}" for k, v in self.tags.items())
        return f"{self.serial} ({self.state}{', ' + extra if extra else ''})"


def check_server(address: AdbServerAddress, timeout: float = CONNECT_TIMEOUT) -> None:
    """Raise a one-line `InputError` unless something accepts connections at `address`."""
    try:
        with socket.create_connection((address.host, address.port), timeout=timeout):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InputError(
            f"adb server not reachable at {address} ({reason}); start it with "
            "`adb start-server` or point --adb-host/--adb-port at a running one"
        ) from None


def _no_spawn_client_class() -> type:
    """An adbutils client class whose connections never run `adb start-server`."""
    adbutils = require("adbutils", "android")
    from adbutils._adb import AdbConnection

    class _NoSpawnConnection(AdbConnection):  # type: ignore[misc]
        def _safe_connect(self) -> Any:
            # adbutils would run `adb start-server` here and retry.
            return self._create_socket()

    class NoSpawnAdbClient(adbutils.AdbClient):  # type: ignore[misc, name-defined]
        def __init__(self, host: str, port: int, socket_timeout: float | None = None) -> None:
            super().__init__(host, port, socket_timeout=socket_timeout)
            self._default_timeout = socket_timeout

        def make_connection(self, timeout: float | None = None) -> Any:
            timeout = timeout or self._default_timeout
            try:
                conn = _NoSpawnConnection(self.host, self.port)
            except adbutils.AdbError as exc:
                raise AdbFailure(
                    f"adb server at {self.host}:{self.port} went away: {exc}"
                ) from None
            if timeout:
                conn.conn.settimeout(timeout)
            return conn

    return NoSpawnAdbClient


def connect(address: AdbServerAddress, *, socket_timeout: float = 60.0) -> Any:
    """A connected `adbutils.AdbClient` for `address` (probed first; never spawns a server)."""
    check_server(address)
    client_class = _no_spawn_client_class()
    adbutils = require("adbutils", "android")
    # A short timeout for the first question: something else on the port may never answer.
    probe = client_class(address.host, address.port, socket_timeout=PROBE_TIMEOUT)
    try:
        version = probe.server_version()
    except (adbutils.AdbError, OSError) as exc:
        raise InputError(f"{address} does not answer like an adb server: {exc}") from None
    log.debug("adb server %s, protocol version %d", address, version)
    return client_class(address.host, address.port, socket_timeout=socket_timeout)


def list_devices(client: Any) -> list[DeviceInfo]:
    """Every device the server knows, in any state (``adb devices -l``)."""
    adbutils = require("adbutils", "android")
    try:
        infos = client.list(extended=True)
    except adbutils.AdbError as exc:
        raise AdbFailure(f"adb server could not list devices: {exc}") from None
    return [DeviceInfo(serial=i.serial, state=i.state, tags=dict(i.tags)) for i in infos]


STATE_HINTS = {
    "unauthorized": "unlock the phone and accept the 'Allow USB debugging?' prompt",
    "offline": "reconnect the cable or run `adb reconnect`",
    "no permissions": "fix the udev rules for the phone (see `adb devices` output)",
}


def _listing(devices: list[DeviceInfo]) -> str:
    return ", ".join(d.describe() for d in devices) if devices else "none"


def select_device(
    devices: list[DeviceInfo], serial: str | None = None, environ: dict[str, str] | None = None
) -> str:
    """The serial to use: `serial`, else ``$ANDROID_SERIAL``, else the only device.

    Raises:
        InputError: unknown serial, no device, several devices, or a device that
            is not in the ``device`` state; the message lists what is attached.
    """
    env = os.environ if environ is None else environ
    wanted = serial or env.get("ANDROID_SERIAL") or None
    source = "" if serial or not wanted else " ($ANDROID_SERIAL)"
    if wanted is None:
        if len(devices) == 1:
            chosen = devices[0]
        elif not devices:
            raise InputError("no Android device attached (adb devices lists none)")
        else:
            raise InputError(
                f"{len(devices)} Android devices attached, choose one with --android SERIAL: "
                f"{_listing(devices)}"
            )
    else:
        match = [d for d in devices if d.serial == wanted]
        if not match:
            raise InputError(f"no Android device {wanted!r}{source}; attached: {_listing(devices)}")
        chosen = match[0]
    if chosen.state != "device":
        hint = STATE_HINTS.get(chosen.state, "check `adb devices`")
        raise InputError(f"Android device {chosen.serial} is {chosen.state}: {hint}")
    return chosen.serial
