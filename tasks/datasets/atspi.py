"""Read GTK widget geometry through AT-SPI (the Linux accessibility bus), with `gdbus`.

GTK 3 apps export their widget tree over D-Bus when an accessibility bus is
present; `org.a11y.atspi.Component.GetExtents` gives each widget's exact
screen box (the widget's allocation, as GTK lays it out). This module starts
a private D-Bus session (whose activation starts the at-spi bus launcher),
and walks an application's tree with the `gdbus` command-line client, so it
needs no Python D-Bus binding. Tk does not appear in this tree; its boxes
come from Tk itself.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass

from actions.project_errors import InputError

log = logging.getLogger(__name__)

_REF = re.compile(r"\('(:[0-9.]+)', (?:objectpath )?'([^']+)'\)")
_EXTENTS = re.compile(r"\(\((-?\d+), (-?\d+), (-?\d+), (-?\d+)\),\)")
_STRING = re.compile(r"^\((?:<)?'(.*)'(?:>)?,\)$", re.S)
ROOT_PATH = "/org/a11y/atspi/accessible/root"


@dataclass(frozen=True)
class Node:
    """One accessible: role name ("push button"), name, screen box (x, y, w, h), depth."""

    role: str
    name: str
    extents: tuple[int, int, int, int]
    depth: int


def available() -> str | None:
    """None when AT-SPI can be used here, otherwise what is missing."""
    for tool in ("dbus-daemon", "gdbus"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install dbus libglib2.0-bin at-spi2-core)"
    return None


class A11ySession:
    """A private D-Bus session bus for GTK apps and the AT-SPI bus it activates."""

    def __init__(self) -> None:
        self.address: str | None = None
        self._pid: int | None = None
        self._a11y: str | None = None

    @classmethod
    def attach(cls, address: str) -> A11ySession:
        """A handle on a session bus another process started (not stopped by this one)."""
        session = cls()
        session.address = address
        return session

    def start(self) -> A11ySession:
        missing = available()
        if missing:
            raise InputError(f"AT-SPI unavailable: {missing}")
        out = subprocess.run(
            ["dbus-daemon", "--session", "--fork", "--print-address=1", "--print-pid=1"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.split()
        self.address, self._pid = out[0], int(out[1])
        atexit.register(self.stop)
        log.info("started D-Bus session %s (pid %s)", self.address, self._pid)
        return self

    def env(self) -> dict[str, str]:
        """Environment for a GTK app that should export its tree to this session."""
        env = dict(os.environ)
        env.pop("NO_AT_BRIDGE", None)
        env["DBUS_SESSION_BUS_ADDRESS"] = self.address or ""
        env["GTK_A11Y"] = "atspi"
        return env

    def a11y_address(self) -> str:
        """The accessibility bus address (asks the session bus once, which starts the bus)."""
        if self._a11y is None:
            out = _gdbus(
                ["--address", self.address or "", "--dest", "org.a11y.Bus",
                 "--object-path", "/org/a11y/bus", "--method", "org.a11y.Bus.GetAddress"]
            )  # fmt: skip
            match = _STRING.match(out)
            if not match:
                raise InputError(f"AT-SPI bus address not available: {out[:200]}")
            self._a11y = match.group(1)
        return self._a11y

    def stop(self) -> None:
        if self._pid is not None:
            try:
                os.kill(self._pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            self._pid = None
            atexit.unregister(self.stop)

    def __enter__(self) -> A11ySession:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _gdbus(args: list[str]) -> str:
    proc = subprocess.run(["gdbus", "call", *args], capture_output=True, text=True, timeout=10)
    return proc.stdout.strip() if proc.returncode == 0 else ""


class Reader:
    """Walks the accessible trees on one AT-SPI bus."""

    def __init__(self, address: str) -> None:
        self.address = address

    def _call(self, dest: str, path: str, method: str, *args: str) -> str:
        return _gdbus(
            ["--address", self.address, "--dest", dest, "--object-path", path, "--method", method,
             *args]
        )  # fmt: skip

    def applications(self) -> list[tuple[str, str, str]]:
        """(bus name, object path, application name) of every registered app."""
        out = self._call(
            "org.a11y.atspi.Registry", ROOT_PATH, "org.a11y.atspi.Accessible.GetChildren"
        )
        apps = []
        for dest, path in _REF.findall(out):
            apps.append((dest, path, self._name(dest, path)))
        return apps

    def _name(self, dest: str, path: str) -> str:
        out = self._call(
            dest, path, "org.freedesktop.DBus.Properties.Get", "org.a11y.atspi.Accessible", "Name"
        )
        match = _STRING.match(out)
        return match.group(1) if match else ""

    def walk(self, dest: str, path: str, depth: int = 0, max_nodes: int = 400) -> list[Node]:
        """Every accessible under (dest, path) with its role, name and screen box."""
        nodes: list[Node] = []
        stack = [(dest, path, depth)]
        while stack and len(nodes) < max_nodes:
            d, p, level = stack.pop()
            role_out = self._call(d, p, "org.a11y.atspi.Accessible.GetRoleName")
            role = _STRING.match(role_out)
            ext = _EXTENTS.match(self._call(d, p, "org.a11y.atspi.Component.GetExtents", "0"))
            extents = tuple(int(v) for v in ext.groups()) if ext else (-1, -1, 0, 0)
            nodes.append(Node(role.group(1) if role else "", self._name(d, p), extents, level))  # type: ignore[arg-type]
            kids = _REF.findall(self._call(d, p, "org.a11y.atspi.Accessible.GetChildren"))
            stack.extend((kd, kp, level + 1) for kd, kp in reversed(kids))
        return nodes

    def wait_for_window(
        self, app_name: str, title: str, origin: tuple[int, int] | None, timeout: float = 10.0
    ) -> tuple[str, str]:
        """Wait until `app_name` shows a window called `title` (at `origin`, if given)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for dest, path, name in self.applications():
                if name != app_name:
                    continue
                kids = _REF.findall(self._call(dest, path, "org.a11y.atspi.Accessible.GetChildren"))
                for kd, kp in kids:
                    if self._name(kd, kp) != title:
                        continue
                    ext = _EXTENTS.match(
                        self._call(kd, kp, "org.a11y.atspi.Component.GetExtents", "0")
                    )
                    if ext and (origin is None or tuple(map(int, ext.groups()[:2])) == origin):
                        return kd, kp
            time.sleep(0.1)
        raise TimeoutError(f"{app_name} window {title!r} did not appear on the AT-SPI bus")
