"""Finding the package behind an app name, and the activity that launches it.

An app's label ("Settings", "Google Maps") lives in the resources of its APK;
no shell command prints it without extra tools on the phone. So a name is
resolved in this order, against ``pm list packages``:

1. an installed package name as given (``com.android.settings``);
2. a table of well-known labels (AOSP, Google, Samsung, popular apps): the
   first installed candidate wins;
3. a package-name match: the name without spaces or punctuation equals one
   segment of exactly one installed package (``WhatsApp`` -> ``com.whatsapp``,
   ``Firefox`` -> ``org.mozilla.firefox``).

Several matches or none is a one-line `InputError`. The launcher activity then
comes from ``cmd package resolve-activity --brief`` (Android 7+), or ``monkey``
starts the package's launcher intent where that command is missing.
"""

from __future__ import annotations

import re

from actions.project_errors import InputError

KNOWN_APPS: dict[str, tuple[str, ...]] = {
    "settings": ("com.android.settings",),
    "chrome": ("com.android.chrome",),
    "browser": ("com.android.chrome", "com.sec.android.app.sbrowser", "com.android.browser"),
    "internet": ("com.sec.android.app.sbrowser", "com.android.browser"),
    "camera": (
        "com.google.android.GoogleCamera",
        "com.android.camera2",
        "com.sec.android.app.camera",
        "com.android.camera",
    ),
    "phone": ("com.google.android.dialer", "com.samsung.android.dialer", "com.android.dialer"),
    "dialer": ("com.google.android.dialer", "com.android.dialer"),
    "messages": (
        "com.google.android.apps.messaging",
        "com.samsung.android.messaging",
        "com.android.messaging",
        "com.android.mms",
    ),
    "contacts": (
        "com.google.android.contacts",
        "com.samsung.android.app.contacts",
        "com.android.contacts",
    ),
    "calendar": (
        "com.google.android.calendar",
        "com.samsung.android.calendar",
        "com.android.calendar",
    ),
    "clock": (
        "com.google.android.deskclock",
        "com.sec.android.app.clockpackage",
        "com.android.deskclock",
    ),
    "calculator": (
        "com.google.android.calculator",
        "com.sec.android.app.popupcalculator",
        "com.android.calculator2",
    ),
    "files": (
        "com.google.android.apps.nbu.files",
        "com.google.android.documentsui",
        "com.android.documentsui",
    ),
    "myfiles": ("com.sec.android.app.myfiles",),
    "photos": ("com.google.android.apps.photos",),
    "gallery": (
        "com.sec.android.gallery3d",
        "com.android.gallery3d",
        "com.google.android.apps.photos",
    ),
    "gmail": ("com.google.android.gm",),
    "email": ("com.google.android.gm", "com.samsung.android.email.provider", "com.android.email"),
    "maps": ("com.google.android.apps.maps",),
    "googlemaps": ("com.google.android.apps.maps",),
    "youtube": ("com.google.android.youtube",),
    "playstore": ("com.android.vending",),
    "googleplay": ("com.android.vending",),
    "google": ("com.google.android.googlequicksearchbox",),
    "drive": ("com.google.android.apps.docs",),
    "keep": ("com.google.android.keep",),
    "googlekeep": ("com.google.android.keep",),
    "recorder": ("com.google.android.apps.recorder", "com.android.soundrecorder"),
    "x": ("com.twitter.android",),
    "twitter": ("com.twitter.android",),
    "facebook": ("com.facebook.katana",),
    "messenger": ("com.facebook.orca",),
    "instagram": ("com.instagram.android",),
    "telegram": ("org.telegram.messenger",),
    "wechat": ("com.tencent.mm",),
    "tiktok": ("com.zhiliaoapp.musically", "com.ss.android.ugc.trill"),
    "spotify": ("com.spotify.music",),
}

_PACKAGE_RE = re.compile(r"^[A-Za-z][\w]*(\.[A-Za-z_][\w]*)+$")
_GENERIC_SEGMENTS = {"com", "org", "net", "android", "google", "apps", "app", "sec", "samsung"}


def _key(name: str) -> str:
    return re.sub(r"[\W_]+", "", name.casefold())


def resolve_package(app: str, installed: list[str]) -> str:
    """The installed package `app` names (a package or a label); see the module docstring.

    Raises:
        InputError: nothing installed matches, or several packages do.
    """
    name = app.strip()
    if name in installed:
        return name
    available = set(installed)
    key = _key(name)
    for candidate in KNOWN_APPS.get(key, ()):
        if candidate in available:
            return candidate
    if key and key not in _GENERIC_SEGMENTS:
        matches = sorted(p for p in installed if any(_key(seg) == key for seg in p.split(".")[1:]))
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            shown = ", ".join(matches[:6]) + (" ..." if len(matches) > 6 else "")
            raise InputError(f"app {app!r} matches several packages ({shown}): give the package")
    if _PACKAGE_RE.match(name):
        raise InputError(f"package {name!r} is not installed on the phone")
    raise InputError(
        f"no installed app matches {app!r}; give its package name "
        "(`adb shell pm list packages` lists them)"
    )


def parse_package_list(output: str) -> list[str]:
    """Package names from ``pm list packages`` output (``package:NAME`` lines)."""
    return sorted(m.group(1) for m in re.finditer(r"^package:(\S+?)\s*$", output, re.MULTILINE))


def parse_resolved_activity(output: str) -> str | None:
    """The ``pkg/.Activity`` component from ``cmd package resolve-activity --brief``, if any."""
    for line in reversed(output.strip().splitlines()):
        line = line.strip()
        if re.fullmatch(r"[\w.]+/[\w.$]+", line):
            return line
    return None
