"""AndroidEnv: a phone over adb (adbutils), behind the same contract as the desktop.

Every device command is one ``adb shell`` string built from validated numbers
and `shlex.quote`-d words; nothing the model or user wrote reaches the device
shell unquoted. Per action (input coordinates = screenshot pixels / scale), the
gesture is worked out here and sent by the transport (`env.android_transport`;
``adb shell input`` by default, shown below):

=================  =========================================================
Click count 1 / 2  ``input tap X Y`` / the same twice in one shell call
LongPress          ``input swipe X Y X Y MS``
Swipe, Drag        ``input swipe X1 Y1 X2 Y2 MS``
Scroll             a swipe through the point (or the screen centre): wheel up
                   = finger down; `pixels` long (the distance asked for), or
                   10 % of the screen per wheel notch; at most 90 % of it
Key, SystemButton  ``input keyevent KEYCODE_*``; combos ``input keycombination``
                   (Android 13+)
Type               `env.android_text` (``input text`` or ADBKeyBoard)
OpenApp            `env.android_apps`, then ``am start -n`` (or ``monkey``)
Wait / Terminate   sleep / nothing
=================  =========================================================

Move, hold_key and right/middle clicks have no meaning here: `InputError` (the refusals
are declared in `actions.vocabulary`).

Geometry: ``wm size`` (an "Override size" line wins) in the display's natural
orientation, swapped when ``dumpsys display`` reports a quarter turn. If the
capture comes back at another size of the same shape, the difference becomes
the geometry's scale. Capture: raw ``exec-out screencap`` first, PNG
(``screencap -p``) when the raw dump cannot be decoded.
"""

from __future__ import annotations

import logging
import re
import shlex
import time
from typing import TYPE_CHECKING, Any, Literal

from PIL import Image

from actions.project_errors import InputError, require
from actions.types import (
    Click,
    Drag,
    Key,
    LongPress,
    OpenApp,
    Scroll,
    Swipe,
    SystemButton,
    Terminate,
    Type,
    Wait,
)
from env.adb_connect import (
    STATE_HINTS,
    AdbFailure,
    AdbServerAddress,
    connect,
    list_devices,
    select_device,
)
from env.android_apps import parse_package_list, parse_resolved_activity, resolve_package
from env.android_capture import CaptureError, decode_png, decode_raw
from env.android_keys import KEYCOMBINATION_SDK, keycode, keycodes
from env.android_text import (
    AdbKeyboard,
    needs_ime,
    plan_text,
    text_commands,
    typing_label,
)
from env.android_transport import AdbShellInput, AndroidTransport
from env.base import Env, ScreenGeometry, ScrollSent

if TYPE_CHECKING:
    from env.devices import DeviceSection

log = logging.getLogger(__name__)

CaptureMode = Literal["auto", "raw", "png"]
SCROLL_STEP = 0.1
"""Fraction of the screen one wheel notch scrolls (a scroll given in notches)."""
MAX_SWIPE = 0.9
"""Longest scroll swipe, as a fraction of the screen side (a swipe must start on it)."""
SCROLL_SWIPE_SECONDS = 0.5
"""Duration of a scroll swipe. The list follows the finger; a fast lift also flings it
further, which a real phone would show (none can run here)."""
MAX_SHELL_COMMAND = 4000
"""Bytes per shell request: old adbd versions cap a service request at 4096."""


def parse_wm_size(output: str) -> tuple[int, int]:
    """(width, height) from ``wm size`` output; an "Override size" line wins."""
    for label in ("Override size", "Physical size"):
        m = re.search(rf"{label}:\s*(\d+)\s*x\s*(\d+)", output)
        if m:
            return int(m.group(1)), int(m.group(2))
    raise AdbFailure(f"unexpected `wm size` output: {output.strip()[:80]!r}")


def parse_display_state(output: str, display: int = 0) -> tuple[int, str | None]:
    """(rotation 0-3, physical display id or None) of a logical display, from `dumpsys display`.

    The display's ``DisplayViewport{...}`` entry gives both (``orientation=N``,
    ``uniqueId='local:ID'``); without one, the first ``orientation=`` line counts.
    """
    for body in re.findall(r"DisplayViewport\{([^}]*)\}", output):
        m_id = re.search(r"displayId=(\d+)", body)
        m_rot = re.search(r"orientation=(\d)", body)
        if m_id and m_rot and int(m_id.group(1)) == display:
            m_unique = re.search(r"uniqueId='local:(\d+)'", body)
            return int(m_rot.group(1)) % 4, m_unique.group(1) if m_unique else None
    m = re.search(r"orientation=(\d)", output)
    return (int(m.group(1)) % 4 if m else 0), None


class AndroidEnv(Env):
    """A phone (or emulator) reached through an adb server.

    Args:
        serial: the device; default ``$ANDROID_SERIAL`` or the only one attached.
        host, port: the adb server (default: adb's own environment variables,
            then 127.0.0.1:5037).
        display: logical display id on multi-display devices (default: the main one).
        capture: "auto" (raw, PNG if undecodable), "raw" or "png".
        ime_switch_delay: seconds to let ADBKeyBoard bind after switching to it.
        transport: how touches and keys are sent (default: ``adb shell input``,
            `env.android_transport.AdbShellInput`).
        dry_run, settle: see `Env`.
    """

    platform = "android"

    def __init__(
        self,
        serial: str | None = None,
        *,
        host: str | None = None,
        port: int | None = None,
        display: int | None = None,
        capture: CaptureMode = "auto",
        ime_switch_delay: float = 0.5,
        transport: AndroidTransport | None = None,
        dry_run: bool = False,
        settle: float = 0.0,
    ) -> None:
        super().__init__(dry_run=dry_run, settle=settle)
        self.address = AdbServerAddress.resolve(host, port)
        self._client = connect(self.address)
        self.serial = select_device(list_devices(self._client), serial)
        self._device = self._client.device(self.serial)
        self.display = display
        self.capture_mode: CaptureMode = capture
        self.keyboard = AdbKeyboard(self.shell, switch_delay=ime_switch_delay)
        self.transport: AndroidTransport = transport or AdbShellInput(
            self.shell, self._run_all, display
        )
        self._shell_v2: bool | None = None
        self._physical_display: str | None = None
        self._last_capture_size: tuple[int, int] | None = None
        self._sdk: int | None = None
        self._packages: list[str] | None = None
        self._ime_ready = False
        log.info("android device %s via adb server %s", self.serial, self.address)

    # -- device access -------------------------------------------------------------------
    def _adb_error(self, what: str, exc: BaseException) -> AdbFailure:
        return AdbFailure(f"adb {what} on {self.serial} failed: {exc}".replace("\n", " "))

    def run(
        self, command: str, *, check: bool = True, shown: str | None = None
    ) -> tuple[int, str, str]:
        """Run one device shell command; returns (exit code, stdout, stderr).

        Uses the shell v2 protocol (separate stderr, real exit code) when the
        device supports it. With `check`, a non-zero exit raises `AdbFailure`.
        `shown` names the command in errors instead of its text (typed text
        may be a secret, in encodings a redactor cannot always recognise once cut).
        """
        adbutils = self._adbutils()
        try:
            if self._shell_v2 is None:
                self._shell_v2 = "shell_v2" in self._device.get_features().split(",")
            result = self._device.shell2(command, encoding="utf-8", v2=self._shell_v2)
        except (adbutils.AdbError, OSError, EOFError) as exc:
            raise self._adb_error(shown or f"shell {command[:60]!r}", exc) from None
        code, out, err = result.returncode, result.stdout or "", result.stderr or ""
        if not self._shell_v2:
            out = result.output
        if check and code != 0:
            detail = (err or out).strip().splitlines()
            raise AdbFailure(
                f"{shown or f'device command {command[:80]!r}'} exited {code}"
                + (f": {detail[0]}" if detail else "")
            )
        return code, out, err

    def shell(self, command: str, *, shown: str | None = None) -> str:
        """Run one device shell command (checked) and return its stdout."""
        return self.run(command, shown=shown)[1]

    def exec_out(self, command: str) -> bytes:
        """Binary stdout of ``adb exec-out COMMAND`` (no pty, no newline mangling)."""
        adbutils = self._adbutils()
        try:
            conn = self._device.open_transport()
            try:
                conn.send_command("exec:" + command)
                conn.check_okay()
                sock = conn.conn
                chunks: list[bytes] = []
                while chunk := sock.recv(1 << 20):
                    chunks.append(chunk)
            finally:
                conn.close()
        except (adbutils.AdbError, OSError) as exc:
            raise self._adb_error(f"exec-out {command!r}", exc) from None
        return b"".join(chunks)

    def _run_all(self, commands: list[str], *, shown: str | None = None) -> None:
        """Run commands in order, several per shell request (`&&`: stop at the first failure)."""
        batch: list[str] = []
        for command in commands:
            if batch and len(" && ".join([*batch, command])) > MAX_SHELL_COMMAND:
                self.shell(" && ".join(batch), shown=shown)
                batch = []
            batch.append(command)
        if batch:
            self.shell(" && ".join(batch), shown=shown)

    @staticmethod
    def _adbutils() -> Any:
        return require("adbutils", "android")

    def sdk(self) -> int:
        """The device's API level (``ro.build.version.sdk``)."""
        if self._sdk is None:
            value = self.shell("getprop ro.build.version.sdk").strip()
            self._sdk = int(value) if value.isdigit() else 0
        return self._sdk

    # -- geometry and capture ------------------------------------------------------------
    def _read_geometry(self) -> ScreenGeometry:
        display = self.display or 0
        wm = "wm size" if not display else f"wm size -d {int(display)}"
        width, height = parse_wm_size(self.shell(wm))
        rotation, physical = parse_display_state(self.shell("dumpsys display"), display)
        self._physical_display = physical
        if rotation % 2:
            width, height = height, width
        scale = 1.0
        captured = self._last_capture_size
        if captured and captured != (width, height):
            sx, sy = captured[0] / width, captured[1] / height
            if abs(sx - sy) <= 0.01:
                scale = sx
                width, height = captured
        return ScreenGeometry(
            width=width, height=height, scale=scale, rotation=rotation, display=display
        )

    def _screencap_command(self, png: bool) -> str:
        command = "screencap -p" if png else "screencap"
        if self.display and self._physical_display:
            command += f" -d {shlex.quote(self._physical_display)}"
        return command

    def _capture(self) -> Image.Image:
        if self.display and self._physical_display is None:
            self._read_geometry()
        image: Image.Image | None = None
        if self.capture_mode in ("auto", "raw"):
            data = self.exec_out(self._screencap_command(png=False))
            try:
                image = decode_raw(data)
            except CaptureError as exc:
                if self.capture_mode == "raw":
                    raise AdbFailure(f"raw screencap failed: {exc}") from None
                log.warning("raw screencap unusable (%s); using screencap -p from now on", exc)
                self.capture_mode = "png"
        if image is None:
            try:
                image = decode_png(self.exec_out(self._screencap_command(png=True)))
            except CaptureError as exc:
                raise AdbFailure(str(exc)) from None
        self._last_capture_size = image.size
        return image

    # -- validation ----------------------------------------------------------------------
    # what this env refuses of the types it performs (`Env._check_supported`)
    def _check_click(self, action: Click) -> None:
        if action.button != "left":
            raise InputError(f"a phone has no {action.button} button; use long_press")
        if action.count > 2:
            raise InputError("a phone takes a tap or a double tap (count 1 or 2)")

    def _check_drag(self, action: Drag) -> None:
        if action.x is None:
            raise InputError("a drag on a phone needs its start point (x, y)")

    def _check_key(self, action: Key) -> None:
        codes = keycodes(action.keys)
        if len(codes) > 1 and self.sdk() < KEYCOMBINATION_SDK:
            raise InputError(
                f"key combo {action.combo!r} needs Android 13 (`input keycombination`); "
                f"this phone runs API {self.sdk()}"
            )

    def _check_system_button(self, action: SystemButton) -> None:
        keycode(action.button)

    def _check_type(self, action: Type) -> None:
        plan_text(action.text)
        if needs_ime(action.text) and not self._ime_ready:
            self.keyboard.require()
            self._ime_ready = True

    def _check_open_app(self, action: OpenApp) -> None:
        self.resolve_app(action.app)

    # -- actions -------------------------------------------------------------------------
    def _point(self, x: float, y: float) -> tuple[int, int]:
        geometry = self.geometry
        max_x = geometry.width / geometry.scale - 1
        max_y = geometry.height / geometry.scale - 1
        return int(round(min(max(x, 0), max_x))), int(round(min(max(y, 0), max_y)))

    # each action type's handler (`Env._perform`)
    def _do_click(self, action: Click) -> None:
        x, y = self._point(action.x, action.y)
        self.transport.tap(x, y, count=action.count)

    def _do_long_press(self, action: LongPress) -> None:
        x, y = self._point(action.x, action.y)
        self.transport.swipe(x, y, x, y, ms=int(action.duration * 1000))

    def _do_swipe(self, action: Swipe | Drag) -> None:
        if action.x is None or action.y is None:  # _check_drag refused this already
            raise InputError("a drag on a phone needs its start point (x, y)")
        self._swipe(action.x, action.y, action.to_x, action.to_y, action.duration or 0.3)

    _do_drag = _do_swipe

    def _do_scroll(self, action: Scroll) -> None:
        self._scroll(action)

    def _do_key(self, action: Key) -> None:
        self.transport.keys(keycodes(action.keys))

    def _do_system_button(self, action: SystemButton) -> None:
        self.transport.keys([keycode(action.button)])

    def _do_type(self, action: Type) -> None:
        self.type_text(action.text)

    def _do_open_app(self, action: OpenApp) -> None:
        self.launch(action.app)

    def _do_wait(self, action: Wait) -> None:
        time.sleep(action.seconds)

    def _do_terminate(self, action: Terminate) -> None:
        log.info("terminate: %s %s", action.status, action.answer or "")

    def _swipe(self, x1: float, y1: float, x2: float, y2: float, seconds: float) -> None:
        (ax, ay), (bx, by) = self._point(x1, y1), self._point(x2, y2)
        self.transport.swipe(ax, ay, bx, by, ms=max(int(seconds * 1000), 1))

    def _plan_scroll(self, action: Scroll) -> ScrollSent:
        """The swipe length (input pixels) a scroll becomes: `pixels` as asked, or
        `SCROLL_STEP` of the screen per notch; at most `MAX_SWIPE` of the screen."""
        geometry = self.geometry
        side = (geometry.width if action.axis == "horizontal" else geometry.height) / geometry.scale
        if action.pixels is not None:
            wanted = abs(action.pixels) / geometry.scale
        else:
            wanted = abs(action.amount or 0) * SCROLL_STEP * side
        length = min(wanted, MAX_SWIPE * side)
        return ScrollSent(
            requested_pixels=action.pixels,
            requested_notches=action.amount,
            swipe_pixels=max(1, round(length)),
            capped=wanted > MAX_SWIPE * side,
        )

    def _scroll(self, action: Scroll) -> None:
        geometry = self.geometry
        width, height = geometry.width / geometry.scale, geometry.height / geometry.scale
        x = width / 2 if action.x is None else action.x
        y = height / 2 if action.y is None else action.y
        d = self._plan_scroll(action).swipe_pixels or 1
        # Wheel up (positive) shows what is above: the finger moves down.
        sign = 1 if (action.pixels or action.amount or 0) > 0 else -1
        if action.axis == "vertical":
            y = min(max(y, d / 2), height - d / 2)  # the whole swipe on the screen
            self._swipe(x, y - sign * d / 2, x, y + sign * d / 2, SCROLL_SWIPE_SECONDS)
        else:
            x = min(max(x, d / 2), width - d / 2)
            self._swipe(x + sign * d / 2, y, x - sign * d / 2, y, SCROLL_SWIPE_SECONDS)

    def type_text(self, text: str) -> None:
        """Type `text` exactly (see `env.android_text`); the user's IME is restored after."""
        steps = plan_text(text)
        commands = text_commands(steps, self.display)
        shown = typing_label(text)  # errors never quote the commands: they hold the text
        if not needs_ime(text):
            self._run_all(commands, shown=shown)
            return
        if not self._ime_ready:
            self.keyboard.require()
            self._ime_ready = True
        previous, enabled_here = self.keyboard.activate()
        try:
            self._run_all(commands, shown=shown)
        finally:
            self.keyboard.restore(previous, disable=enabled_here)

    def packages(self, *, refresh: bool = False) -> list[str]:
        """Installed packages (``pm list packages``), cached."""
        if self._packages is None or refresh:
            self._packages = parse_package_list(self.shell("pm list packages"))
        return self._packages

    def resolve_app(self, app: str) -> str:
        """The installed package for an app name or package (see `env.android_apps`)."""
        return resolve_package(app, self.packages())

    def launch(self, target: str | list[str]) -> None:
        """Open an app by package or label: its launcher activity, or monkey as a fallback."""
        if isinstance(target, list):
            if len(target) != 1:
                raise InputError("open one app at a time on a phone")
            target = target[0]
        package = self.resolve_app(target)
        if self.dry_run:
            log.info("dry run: would open %s", package)
            return
        quoted = shlex.quote(package)
        category = "android.intent.category.LAUNCHER"
        code, out, _ = self.run(
            f"cmd package resolve-activity --brief -a android.intent.action.MAIN -c {category} "
            f"{quoted}",
            check=False,
        )
        component = parse_resolved_activity(out) if code == 0 else None
        if component:
            output = self.shell(f"am start -n {shlex.quote(component)}")
        else:
            output = self.shell(f"monkey -p {quoted} -c {category} 1")
        if "Error" in output or "No activities found" in output:
            raise AdbFailure(f"could not open {package}: {output.strip().splitlines()[-1]}")

    def _close(self) -> None:
        self._device = None


def android_devices(host: str | None = None, port: int | None = None) -> DeviceSection:
    """The `agent devices` section: every device the adb server knows, in any state.

    Raises:
        InputError: the adb server is not reachable (shown as "unavailable").
    """
    from env.devices import DeviceSection

    address = AdbServerAddress.resolve(host, port)
    devices = list_devices(connect(address))
    columns = ["serial", "state", "model", "device", "transport_id", "hint"]
    rows = [
        [
            d.serial,
            d.state,
            d.tags.get("model", ""),
            d.tags.get("device", ""),
            d.tags.get("transport_id", ""),
            "" if d.state == "device" else STATE_HINTS.get(d.state, "check `adb devices`"),
        ]
        for d in devices
    ]
    note = None if rows else "none attached (enable USB debugging and plug the phone in)"
    return DeviceSection(
        title=f"android (adb server {address})", columns=columns, rows=rows, note=note
    )
