"""Read the Linux accessibility tree (AT-SPI 2) in process, with jeepney.

Why jeepney: it is pure Python and synchronous (a step is synchronous code, and
an asyncio loop per lookup, as dbus-fast needs, would cost more than the calls),
it is maintained (0.9, also what `secretstorage`/`keyring` use), and it lets us
send many calls before reading the replies. dbus-next is unmaintained since 2021.

How: the accessibility bus address comes from ``org.a11y.Bus.GetAddress`` on the
session bus the apps were started with (``DBUS_SESSION_BUS_ADDRESS``), or from
``AT_SPI_BUS_ADDRESS``. The registry lists the applications (only those whose
process runs on the env's display, when it is given). Each app is read in bulk:
``org.a11y.atspi.Cache.GetItems`` where the app offers it (Qt), else
``Collection.GetMatches`` for every SHOWING+VISIBLE descendant followed by one
pipelined batch of names (GTK 3's atk-bridge 2.46 here answers GetItems with
"unknown method"), else a breadth-first walk that sends one level's calls at
once and descends only into SHOWING nodes. Roles, states and extents
(``Component.GetExtents``, screen coordinates) are read, in one more batch, only
for the elements a caller keeps (those named like the target). Every read has a
deadline: past it, the reader stops and says so, and the step falls through.
Apps that publish nothing (Tk) give an empty list at once.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from actions.project_errors import InputError
from env.a11y import Element

log = logging.getLogger(__name__)

ROOT = "/org/a11y/atspi/accessible/root"
NULL_PATH = "/org/a11y/atspi/null"
ACCESSIBLE = "org.a11y.atspi.Accessible"
COLLECTION = "org.a11y.atspi.Collection"
COMPONENT = "org.a11y.atspi.Component"
MATCH_ALL = 1  # AtspiCollectionMatchType
SORT_CANONICAL = 1  # AtspiCollectionSortOrder
MATCH_SIGNATURE = "(aiia{ss}iaiiasib)uib"  # rule, sort order, count (0 = all), traverse
# every descendant that is SHOWING and VISIBLE (state bits 25 and 30); empty role,
# attribute and interface sets match everything under MATCH_ALL
SHOWING_RULE = ([1 << 25 | 1 << 30, 0], MATCH_ALL, {}, MATCH_ALL, [], MATCH_ALL, [], MATCH_ALL,
                False)  # fmt: skip
MAX_NODES = 4000
BATCH = 200  # calls in flight at once: well under what the socket buffers hold
RELATION_LABEL_FOR = 1
# AtspiStateType, in enum order (at-spi2-core atspi-constants.h)
STATES = (
    "invalid", "active", "armed", "busy", "checked", "collapsed", "defunct", "editable",
    "enabled", "expandable", "expanded", "focusable", "focused", "has tooltip", "horizontal",
    "iconified", "modal", "multi line", "multiselectable", "opaque", "pressed", "resizable",
    "selectable", "selected", "sensitive", "showing", "single line", "stale", "transient",
    "vertical", "visible", "manages descendants", "indeterminate", "required", "truncated",
    "animated", "invalid entry", "supports autocompletion", "selectable text", "is default",
    "visited", "checkable", "has popup", "read only",
)  # fmt: skip


def _jeepney() -> Any:
    try:
        import jeepney
        import jeepney.io.blocking
    except ImportError:
        raise InputError(
            "reading the accessibility tree needs jeepney: pip install 'screenpilot[a11y]'"
        ) from None
    return jeepney


def states_of(bits: Iterable[int]) -> list[str]:
    """State names from AT-SPI's bit set (two or more 32-bit words)."""
    names = []
    for word, value in enumerate(bits):
        for bit in range(32):
            if value >> bit & 1:
                index = word * 32 + bit
                names.append(STATES[index] if index < len(STATES) else f"state {index}")
    return names


class AtspiReader:
    """The elements of every app on one accessibility bus."""

    def __init__(
        self,
        session_bus: str | None = None,
        *,
        a11y_bus: str | None = None,
        bulk: bool = True,
        display: str | None = None,
    ) -> None:
        """
        Args:
            session_bus: the D-Bus session the apps run in (default
                ``DBUS_SESSION_BUS_ADDRESS``).
            a11y_bus: the accessibility bus itself, when already known.
            bulk: use Cache.GetItems / Collection.GetMatches where offered (False:
                always walk, level by level; for comparison).
            display: only apps on this X display (``:3``): one bus can carry apps of
                several displays, whose screen coordinates must not be mixed up.
        """
        self.bulk = bulk
        self.display = display
        self._displays: dict[str, str | None] = {}  # bus name -> its process's DISPLAY
        self.session_bus = session_bus or os.environ.get("DBUS_SESSION_BUS_ADDRESS")
        self.a11y_bus = a11y_bus or os.environ.get("AT_SPI_BUS_ADDRESS")
        self._conn: Any = None
        self._no_cache: set[str] = set()  # apps without Cache.GetItems: walk them

    # -- connection ----------------------------------------------------------------------
    def _connect(self, timeout: float) -> Any:
        if self._conn is not None:
            return self._conn
        jeepney = _jeepney()
        blocking = jeepney.io.blocking
        if self.a11y_bus is None:
            if not self.session_bus:
                raise OSError("no D-Bus session (DBUS_SESSION_BUS_ADDRESS is not set)")
            with blocking.open_dbus_connection(self.session_bus, auth_timeout=timeout) as session:
                msg = jeepney.new_method_call(
                    jeepney.DBusAddress("/org/a11y/bus", "org.a11y.Bus", "org.a11y.Bus"),
                    "GetAddress",
                )
                reply = session.send_and_get_reply(msg, timeout=timeout)
            if reply.header.message_type != jeepney.MessageType.method_return:
                raise OSError(f"no accessibility bus: {reply.body[0] if reply.body else ''}")
            self.a11y_bus = reply.body[0]
        self._conn = blocking.open_dbus_connection(self.a11y_bus, auth_timeout=timeout)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _calls(
        self, calls: list[tuple[str, str, str, str, str | None, tuple]], deadline: float
    ) -> list[Any]:
        """Send calls (dest, path, interface, method, signature, args) pipelined.

        Returns each reply's body, or None for an error reply. Raises TimeoutError
        past `deadline`.
        """
        jeepney = _jeepney()
        conn = self._conn
        results: list[Any] = [None] * len(calls)
        for start in range(0, len(calls), BATCH):
            pending: dict[int, int] = {}
            for i, (dest, path, iface, method, sig, args) in enumerate(
                calls[start : start + BATCH], start
            ):
                msg = jeepney.new_method_call(jeepney.DBusAddress(path, dest, iface), method,
                                              sig, args)  # fmt: skip
                serial = next(conn.outgoing_serial)
                conn.send(msg, serial=serial)
                pending[serial] = i
            while pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                msg = conn.receive(timeout=left)
                index = pending.pop(msg.header.fields.get(jeepney.HeaderFields.reply_serial), None)
                if index is None:
                    continue  # a signal, or a reply to an abandoned read
                if msg.header.message_type == jeepney.MessageType.method_return:
                    results[index] = msg.body
        return results

    # -- reading -------------------------------------------------------------------------
    def elements(
        self,
        budget: float,
        *,
        to_pixels: Any = None,
        extents: bool = True,
        keep: Any = None,
    ) -> tuple[list[Element], str]:
        """Every showing element of every app, and '' or why the read is incomplete.

        Args:
            budget: seconds the whole read may take.
            to_pixels: maps a screen point (x, y) to screenshot pixels.
            extents: read boxes (for the kept elements only).
            keep: predicate on an element (names read, no box yet): only those get
                extents and are returned. Default: all.
        """
        deadline = time.monotonic() + budget
        try:
            self._connect(max(budget, 0.05))
            apps = self._calls([("org.a11y.atspi.Registry", ROOT, ACCESSIBLE, "GetChildren",
                                 None, ())], deadline)[0]  # fmt: skip
            found = self._read_apps(self._on_display(apps[0] if apps else [], deadline), deadline)
            if keep is not None:
                found = [e for e in found if keep(e)]
            self._details(found, deadline, to_pixels if extents else False)
            if extents:
                self._labels(found, deadline, to_pixels)
            return found, ""
        except TimeoutError:
            return [], f"a11y: the tree was not read within {budget:g} s"
        except (OSError, ValueError) as exc:
            self.close()
            return [], f"a11y: accessibility bus unavailable ({exc})"

    def _on_display(self, apps: list[tuple[str, str]], deadline: float) -> list[tuple[str, str]]:
        """The apps whose process runs on `self.display` (all, when it cannot be told)."""
        if self.display is None:
            return apps
        unknown = [dest for dest, _ in apps if dest not in self._displays]
        calls = [("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                  "GetConnectionUnixProcessID", "s", (dest,)) for dest in unknown]  # fmt: skip
        for dest, reply in zip(unknown, self._calls(calls, deadline), strict=True):
            self._displays[dest] = _display_of(reply[0]) if reply else None
        wanted = _screenless(self.display)
        return [
            (dest, path)
            for dest, path in apps
            if self._displays.get(dest) is None or _screenless(self._displays[dest]) == wanted
        ]

    def _read_apps(self, apps: list[tuple[str, str]], deadline: float) -> list[Element]:
        """Names of every app's showing elements: Cache.GetItems, else Collection, else a walk.

        One batch asks every app for its name and its bulk answer; a second batch
        reads the name and description of every element Collection returned.
        """
        if not self.bulk:
            return [e for dest, path in apps for e in self._walk(dest, path, "", deadline)]
        calls: list[tuple] = []
        for dest, path in apps:
            calls.append((dest, path, "org.freedesktop.DBus.Properties", "Get", "ss",
                          (ACCESSIBLE, "Name")))  # fmt: skip
            if dest in self._no_cache:
                calls.append(_showing(dest, path))
            else:
                calls.append((dest, "/org/a11y/atspi/cache", "org.a11y.atspi.Cache",
                              "GetItems", None, ()))  # fmt: skip
        replies = self._calls(calls, deadline)
        found: list[Element] = []
        matched: list[tuple[str, str, str]] = []  # (app, dest, path) from Collection
        for i, (dest, path) in enumerate(apps):
            name, bulk = replies[2 * i], replies[2 * i + 1]
            app = name[0][1] if name else ""
            if dest not in self._no_cache:
                if bulk is not None:
                    found += [self._from_cache_item(item, app) for item in bulk[0]]
                    continue
                self._no_cache.add(dest)  # GTK's atk-bridge 2.46 here: no GetItems
                bulk = self._calls([_showing(dest, path)], deadline)[0]
            if bulk is None:
                found += self._walk(dest, path, app, deadline)  # no Collection either
                continue
            matched += [(app, d, p) for d, p in bulk[0] if p != NULL_PATH]
        calls = [(d, p, "org.freedesktop.DBus.Properties", "GetAll", "s", (ACCESSIBLE,))
                 for _, d, p in matched]  # fmt: skip
        for (app, d, p), props in zip(matched, self._calls(calls, deadline), strict=True):
            if props is None:
                continue  # gone while we read it
            values = {k: v[1] for k, v in props[0].items()}
            found.append(Element(role="", name=values.get("Name", ""), source="atspi",
                                 description=values.get("Description", ""), app=app,
                                 ref=f"{d}\n{p}"))  # fmt: skip
        return found

    @staticmethod
    def _from_cache_item(item: tuple, app: str) -> Element:
        # ((so) self, (so) app, (so) parent, index, child count, interfaces, name, role,
        #  description, states)
        # role is AtspiRole's number here: its name is read for the kept elements only
        (dest, path), _, _, _, _, _, name, _role, description, states = item[:10]
        return Element(role="", name=name, description=description,
                       states=states_of(states), source="atspi", app=app,
                       ref=f"{dest}\n{path}")  # fmt: skip

    def _walk(self, dest: str, root: str, app: str, deadline: float) -> list[Element]:
        found: list[Element] = []
        level = [(dest, root)]
        while level and len(found) < MAX_NODES:
            calls = []
            for d, p in level:
                calls += [
                    (d, p, ACCESSIBLE, "GetRoleName", None, ()),
                    (d, p, "org.freedesktop.DBus.Properties", "GetAll", "s", (ACCESSIBLE,)),
                    (d, p, ACCESSIBLE, "GetState", None, ()),
                    (d, p, ACCESSIBLE, "GetChildren", None, ()),
                ]
            replies = self._calls(calls, deadline)
            next_level = []
            for i, (d, p) in enumerate(level):
                role, props, state, kids = replies[4 * i : 4 * i + 4]
                if role is None:
                    continue  # gone while we read it
                values = {k: v[1] for k, v in (props[0] if props else {}).items()}
                states = states_of(state[0]) if state else []
                if p != root:
                    found.append(Element(
                        role=role[0], name=values.get("Name", ""),
                        description=values.get("Description", ""), states=states,
                        source="atspi", app=app, ref=f"{d}\n{p}",
                    ))  # fmt: skip
                if kids and (p == root or "showing" in states):
                    next_level += [(kd, kp) for kd, kp in kids[0] if kp != NULL_PATH]
            level = next_level
        return found

    def _details(self, found: list[Element], deadline: float, to_pixels: Any) -> None:
        """Role and states where not read yet, and (unless `to_pixels` is False) boxes."""
        calls: list[tuple] = []
        asked: list[tuple[Element, int, int, int]] = []  # element, role, state, extents index
        for e in found:
            dest, path = e.ref.split("\n")
            role = state = box = -1
            if not e.role:
                role = len(calls)
                calls.append((dest, path, ACCESSIBLE, "GetRoleName", None, ()))
                state = len(calls)
                calls.append((dest, path, ACCESSIBLE, "GetState", None, ()))
            if to_pixels is not False:
                box = len(calls)
                calls.append((dest, path, COMPONENT, "GetExtents", "u", (0,)))
            asked.append((e, role, state, box))
        replies = self._calls(calls, deadline)
        for e, role, state, box in asked:
            if role >= 0:
                e.role = replies[role][0] if replies[role] else "unknown"
                e.states = states_of(replies[state][0]) if replies[state] else []
            if box >= 0 and replies[box] is not None:  # some GTK nodes have no Component
                x, y, w, h = replies[box][0]
                if w > 0 and h > 0:
                    e.box = _box(x, y, w, h, to_pixels)

    def _labels(self, found: list[Element], deadline: float, to_pixels: Any) -> None:
        """A label's LABEL_FOR widget becomes its `target` (read with its box)."""
        labels = [e for e in found if e.role == "label"]
        if not labels:
            return
        calls = [(*e.ref.split("\n"), ACCESSIBLE, "GetRelationSet", None, ()) for e in labels]
        targets: list[tuple[Element, str, str]] = []
        for label, reply in zip(labels, self._calls(calls, deadline), strict=True):  # type: ignore[arg-type]
            for kind, refs in reply[0] if reply else []:
                if kind == RELATION_LABEL_FOR and refs:
                    targets.append((label, *refs[0]))
        if not targets:
            return
        calls = []
        for _, d, p in targets:
            calls += [(d, p, ACCESSIBLE, "GetRoleName", None, ()),
                      (d, p, ACCESSIBLE, "GetState", None, ()),
                      (d, p, "org.a11y.atspi.Component", "GetExtents", "u", (0,))]  # fmt: skip
        replies = self._calls(calls, deadline)
        for i, (label, d, p) in enumerate(targets):
            role, state, ext = replies[3 * i : 3 * i + 3]
            if role is None or ext is None:
                continue
            widget = Element(role=role[0], name=label.name, states=states_of(state[0]) if state
                             else [], source="atspi", app=label.app, ref=f"{d}\n{p}")  # fmt: skip
            x, y, w, h = ext[0]
            if w > 0 and h > 0:
                widget.box = _box(x, y, w, h, to_pixels)
            label.target = widget


def _display_of(pid: int) -> str | None:
    """The DISPLAY a process was started with (Linux /proc; None when unreadable)."""
    try:
        environ = Path(f"/proc/{int(pid)}/environ").read_bytes()
    except OSError:
        return None
    for entry in environ.split(b"\0"):
        if entry.startswith(b"DISPLAY="):
            return entry[8:].decode(errors="replace")
    return None


def _screenless(display: str) -> str:
    """':3.0' and ':3' name the same display; 'localhost:3' too."""
    host, _, number = display.rpartition(":")
    return f"{'' if host in ('', 'localhost', 'unix') else host}:{number.split('.')[0]}"


def _showing(dest: str, path: str) -> tuple:
    """Collection.GetMatches for every showing, visible descendant of (dest, path)."""
    return dest, path, COLLECTION, "GetMatches", MATCH_SIGNATURE, (
        SHOWING_RULE, SORT_CANONICAL, 0, True,
    )  # fmt: skip


def _box(x: int, y: int, w: int, h: int, to_pixels: Any) -> tuple[int, int, int, int]:
    if to_pixels is None:
        return x, y, x + w, y + h
    x1, y1 = to_pixels(x, y)
    x2, y2 = to_pixels(x + w, y + h)
    return round(x1), round(y1), round(x2), round(y2)
