"""GTK dialogs (zenity) placed on the screen, with widget boxes read over AT-SPI.

zenity is a real GTK 3 application: its buttons, table cells and column
headers are GTK widgets whose allocations AT-SPI reports in screen pixels.
The dialog is moved with xdotool (there is no window manager under Xvfb, so
the move is exact) to a place chosen by the seeded generator, and only
widgets whose box lies inside the dialog are kept.
"""

from __future__ import annotations

import logging
import random
import shutil
import subprocess
import time
from dataclasses import dataclass

from tasks.datasets.atspi import A11ySession, Reader
from tasks.datasets.targets import Box, Target, box_from_geometry, overlaps

log = logging.getLogger(__name__)

FILES = (
    "quarterly_report.pdf", "holiday_photo.jpg", "notes.txt", "invoice_0423.pdf",
    "design_v2.svg", "budget.ods", "meeting_minutes.docx", "backup.tar.gz",
    "thesis_draft.tex", "screenshot_01.png", "playlist.m3u", "contacts.vcf",
)  # fmt: skip
QUESTIONS = (
    ("Delete 3 selected files permanently?", "Delete", "Keep Files"),
    ("Save changes to the document before closing?", "Save", "Close Without Saving"),
    ("A newer version is available. Install it now?", "Install Update", "Remind Me Later"),
    ("Replace the existing file in this folder?", "Replace", "Skip"),
)
FORMS = (
    ("New Contact", "Contact details", ("First name", "Last name", "Email address")),
    ("Connect to Server", "Server settings", ("Server address", "Port number", "User name")),
    ("Book a Room", "Reservation", ("Guest name", "Arrival date", "Number of nights")),
)
ROLES = {
    "push button": "button",
    "table cell": "table cell",
    "table column header": "column header",
    "check box": "checkbox",
}


def zenity_available() -> str | None:
    """None when GTK dialogs can be rendered here, otherwise what is missing."""
    for tool in ("zenity", "xdotool", "dbus-daemon", "gdbus"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return None


@dataclass
class GtkDialog:
    """A running zenity dialog and what was read from it."""

    process: subprocess.Popen[bytes]
    title: str
    box: Box
    targets: list[Target]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)


def _dialog_args(rng: random.Random, title: str) -> tuple[list[str], tuple[int, int]]:
    kind = rng.choice(("list", "question", "forms", "list"))
    if kind == "list":
        rows = rng.sample(FILES, k=rng.randrange(4, 8))
        args = ["--list", "--text=Choose a file to open", "--column=Name", "--column=Size"]
        for name in rows:
            args += [name, f"{rng.randrange(2, 900)} kB"]
        size = (rng.randrange(340, 460), 120 + 26 * len(rows))
    elif kind == "question":
        text, ok, cancel = rng.choice(QUESTIONS)
        args = ["--question", f"--text={text}", f"--ok-label={ok}", f"--cancel-label={cancel}"]
        size = (rng.randrange(380, 480), 120)
    else:
        _, text, fields = rng.choice(FORMS)
        args = ["--forms", f"--text={text}"] + [f"--add-entry={f}" for f in fields]
        size = (rng.randrange(340, 440), 220)
    return [f"--title={title}", *args, f"--width={size[0]}", f"--height={size[1]}"], size


def _place(
    rng: random.Random, size: tuple[int, int], screen: tuple[int, int], avoid: list[Box]
) -> tuple[int, int]:
    width, height = screen
    w, h = size
    best = (max(0, width - w - 20), 20)
    for _ in range(200):
        x = rng.randrange(min(130, max(0, width - w - 10)), max(131, width - w - 10))
        y = rng.randrange(10, max(11, height - h - 60))
        if not any(overlaps(box_from_geometry(x, y, w + 40, h + 60), a) for a in avoid):
            return x, y
    return best


def _window_size(wid: str) -> tuple[int, int] | None:
    out = subprocess.run(
        ["xdotool", "getwindowgeometry", "--shell", wid], capture_output=True, text=True, timeout=10
    ).stdout
    values = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    try:
        return int(values["WIDTH"]), int(values["HEIGHT"])
    except (KeyError, ValueError):
        return None


def open_dialog(
    session: A11ySession,
    rng: random.Random,
    screen: tuple[int, int],
    avoid: list[Box],
    *,
    level: int,
    index: int,
) -> GtkDialog:
    """Start one zenity dialog, move it into place and read its widget boxes."""
    title = f"{rng.choice(('Open', 'Confirm', 'Details', 'Dialog'))} {index + 1}"
    args, size = _dialog_args(rng, title)
    proc = subprocess.Popen(
        ["zenity", *args], env=session.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wid = subprocess.run(
            ["xdotool", "search", "--sync", "--onlyvisible", "--name", f"^{title}$"],
            capture_output=True, text=True, timeout=15, check=True,
        ).stdout.split()[0]  # fmt: skip
        real = _window_size(wid) or size  # GTK may grow a dialog to fit its text
        origin = _place(rng, real, screen, avoid)
        subprocess.run(["xdotool", "windowmove", "--sync", wid, *map(str, origin)], timeout=10)
        reader = Reader(session.a11y_address())
        dest, path = reader.wait_for_window("zenity", title, origin)
        time.sleep(0.2)  # let GTK finish the redraw at the new place
        nodes = reader.walk(dest, path)
    except BaseException:
        proc.kill()
        proc.wait(timeout=10)
        raise
    window = nodes[0].extents
    box = box_from_geometry(*window)
    targets = []
    for node in nodes[1:]:
        role = ROLES.get(node.role)
        x, y, w, h = node.extents
        if role is None or not node.name.strip() or w <= 0 or h <= 0:
            continue
        target_box = box_from_geometry(x, y, w, h)
        if not (box[0] <= target_box[0] and target_box[2] <= box[2]):
            continue
        if not (box[1] <= target_box[1] and target_box[3] <= box[3]):
            continue  # scrolled out of view
        targets.append(
            Target(
                text=node.name.strip(),
                ui_type="text",
                role=role,
                bbox=target_box,
                application="zenity",
                group="OS",
                window=level,
            )  # fmt: skip
        )
    log.info("zenity %r at %s: %d targets", title, box, len(targets))
    return GtkDialog(process=proc, title=title, box=box, targets=targets)
