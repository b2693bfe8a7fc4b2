"""A Tk desktop rendered on the current X display, with every widget's exact screen box.

The scene is a desktop (background, icons with captions, a taskbar) and one
application window (title bar, menu bar, icon toolbar, sidebar list, form,
status bar), optionally with an open drop-down menu. Layout, application
theme and colours come from a seeded random generator, so a seed renders the
same screen. Boxes come from Tk itself (`winfo_rootx/rooty/width/height`,
`Listbox.bbox`, `Menu.yposition`), so they are exact, not estimated.
"""

from __future__ import annotations

import random
import tkinter as tk
from dataclasses import dataclass, field
from pathlib import Path

from tasks.datasets.icons import ICONS, PALETTE, icon_spec, write_icons
from tasks.datasets.targets import Box, Target, box_from_geometry


@dataclass(frozen=True)
class AppTheme:
    """The words one kind of application shows."""

    name: str
    group: str
    title: str
    menus: tuple[str, ...]
    menu_items: tuple[str, ...]
    sidebar: tuple[str, ...]
    fields: tuple[str, ...]
    checks: tuple[str, ...]
    buttons: tuple[str, ...]
    status: tuple[str, ...]
    tools: tuple[str, ...]


THEMES: tuple[AppTheme, ...] = (
    AppTheme(
        "code_editor", "Dev", "main.py - Code Editor",
        ("File", "Edit", "Selection", "View", "Run", "Terminal", "Help"),
        ("New File", "Open Folder", "Save As", "Revert File", "Close Editor", "Preferences"),
        ("src", "tests", "README.md", "setup.cfg", "requirements.txt", "Makefile", "docs"),
        ("Find", "Replace with", "Files to include"),
        ("Match case", "Whole word", "Use regular expression"),
        ("Replace All", "Find Next", "Cancel"),
        ("Ln 12, Col 4", "UTF-8", "Python 3.11", "Spaces: 4"),
        ("save", "search", "play", "refresh", "settings", "folder"),
    ),
    AppTheme(
        "mail_client", "Office", "Inbox - Mail",
        ("Message", "Folder", "View", "Tools", "Accounts", "Help"),
        ("Reply All", "Forward", "Mark as Unread", "Move to Archive", "Report Spam"),
        ("Inbox", "Drafts", "Sent Items", "Archive", "Junk Email", "Outbox", "Newsletters"),
        ("To", "Subject", "Attachment"),
        ("Request read receipt", "High priority", "Encrypt message"),
        ("Send", "Save Draft", "Discard"),
        ("Connected", "142 unread", "Last sync 10:42"),
        ("mail", "delete", "print", "notifications", "search", "download"),
    ),
    AppTheme(
        "photo_editor", "Creative", "untitled.png - Photo Editor",
        ("Image", "Layer", "Select", "Filter", "Window", "Help"),
        ("Crop to Selection", "Flip Horizontal", "Adjust Levels", "Gaussian Blur", "Export As"),
        ("Background", "Layer 1", "Shadows", "Highlights", "Text Layer", "Mask", "Color Fill"),
        ("Width", "Height", "Resolution"),
        ("Keep aspect ratio", "Resample image", "Scale styles"),
        ("Apply", "Reset", "Close"),
        ("Zoom 100%", "RGB/8", "1920 x 1080 px"),
        ("camera", "favorite", "add", "save", "like", "download"),
    ),
    AppTheme(
        "spreadsheet", "Office", "Budget 2025.xlsx - Sheets",
        ("Home", "Insert", "Formulas", "Data", "Review", "Help"),
        ("Insert Row Above", "Delete Column", "Sort Ascending", "Freeze Panes", "Pivot Table"),
        ("Sheet1", "Quarterly", "Expenses", "Revenue", "Forecast", "Summary", "Charts"),
        ("Cell range", "Number format", "Decimal places"),
        ("Show gridlines", "Wrap text", "Auto recalculate"),
        ("Calculate", "Clear", "Done"),
        ("Ready", "Sum: 4,210", "Average: 38.5"),
        ("add", "delete", "print", "search", "save", "refresh"),
    ),
    AppTheme(
        "lab_plotter", "Scientific", "experiment_07 - Lab Plotter",
        ("Data", "Analysis", "Plot", "Fit", "Window", "Help"),
        ("Import CSV", "Linear Regression", "Fourier Transform", "Export Figure", "Add Error Bars"),
        ("Trial A", "Trial B", "Control", "Calibration", "Noise floor", "Baseline", "Run 12"),
        ("X column", "Y column", "Sample rate"),
        ("Log scale", "Show legend", "Normalize"),
        ("Plot", "Fit Curve", "Export"),
        ("n = 512", "R² = 0.982", "Idle"),
        ("play", "refresh", "download", "settings", "search", "camera"),
    ),
)  # fmt: skip

DESKTOP_ICONS = (
    ("home", "Home"), ("folder", "Documents"), ("mail", "Mail"), ("camera", "Photos"),
    ("download", "Downloads"), ("settings", "Settings"), ("delete", "Trash"), ("play", "Videos"),
    ("print", "Printers"), ("lock", "Passwords"),
)  # fmt: skip
BACKGROUNDS = ("#2e3436", "#204a87", "#3c3c58", "#5c3566", "#1f4f46")
FONT_SIZES = (9, 10, 11)


@dataclass
class TkScene:
    """A rendered Tk scene: its targets and window boxes (stacking level, box)."""

    root: tk.Tk
    targets: list[Target] = field(default_factory=list)
    windows: list[tuple[int, Box]] = field(default_factory=list)
    images: list[tk.PhotoImage] = field(default_factory=list)
    occupied: list[Box] = field(default_factory=list)

    def close(self) -> None:
        try:
            self.root.destroy()
        except tk.TclError:
            pass


def _box(widget: tk.Misc) -> Box:
    return box_from_geometry(
        widget.winfo_rootx(), widget.winfo_rooty(), widget.winfo_width(), widget.winfo_height()
    )


def build_tk_scene(
    screen: tuple[int, int], rng: random.Random, icon_dir: Path, *, popup: bool | None = None
) -> TkScene:
    """Render a desktop with one application window on the current DISPLAY.

    Args:
        screen: the display's size; the layout is fitted to it.
        rng: the seeded generator that picks theme, layout and colours.
        icon_dir: where the PNG icons are written (Tk loads them from there).
        popup: open a drop-down menu (random when None).
    """
    width, height = screen
    theme = rng.choice(THEMES)
    font = ("DejaVu Sans", rng.choice(FONT_SIZES))
    color = PALETTE[rng.randrange(len(PALETTE))]
    tool_size = rng.choice((16, 20, 24))
    tool_icons = write_icons(icon_dir / f"tool_{tool_size}_{color[0]}", tool_size, color)
    desk_icons = write_icons(icon_dir / "desk_40", 40, (238, 238, 236))

    root = tk.Tk(className="screenpilot-desktop")
    scene = TkScene(root=root)
    root.overrideredirect(True)
    root.geometry(f"{width}x{height}+0+0")
    root.configure(bg=rng.choice(BACKGROUNDS))
    root.option_add("*Font", font)
    scene.windows.append((0, (0, 0, width - 1, height - 1)))
    bg = root.cget("bg")

    pending: list[tuple[tk.Misc, str, str, str, str]] = []  # widget, text, ui, role, app

    # Desktop icons with captions, down the left edge.
    left, step = rng.randrange(12, 40), rng.randrange(86, 112)
    for row, (icon, caption) in enumerate(rng.sample(DESKTOP_ICONS, k=rng.randrange(3, 6))):
        img = tk.PhotoImage(file=str(desk_icons[icon]))
        scene.images.append(img)
        icon_label = tk.Label(root, image=img, bg=bg, bd=0)
        icon_label.place(x=left, y=20 + row * step)
        text_label = tk.Label(root, text=caption, bg=bg, fg="white", bd=0)
        text_label.place(x=left + 20, y=66 + row * step, anchor="n")
        pending.append((icon_label, icon, "icon", "icon", "desktop"))
        pending.append((text_label, caption, "text", "label", "desktop"))

    # Taskbar along the bottom.
    bar_h = 34
    taskbar = tk.Frame(root, bg="#1c1c1c", height=bar_h)
    taskbar.place(x=0, y=height - bar_h, width=width, height=bar_h)
    for text in ("Activities", theme.title.split(" - ")[-1]):
        btn = tk.Button(taskbar, text=text, relief="flat", bg="#1c1c1c", fg="white", bd=0)
        btn.pack(side="left", padx=8, pady=4)
        pending.append((btn, text, "text", "button", "desktop"))
    clock = tk.Label(taskbar, text=f"{rng.randrange(7, 19):02d}:{rng.randrange(60):02d}",
                     bg="#1c1c1c", fg="white")  # fmt: skip
    clock.pack(side="right", padx=12)

    # The application window.
    win_w = int(width * rng.uniform(0.55, 0.72))
    win_h = int((height - bar_h) * rng.uniform(0.6, 0.82))
    win_x = rng.randrange(140, max(141, width - win_w - 20))
    win_y = rng.randrange(10, max(11, height - bar_h - win_h - 10))
    app = tk.Toplevel(root, bg="#f6f5f4", bd=1, relief="solid")
    app.overrideredirect(True)
    app.geometry(f"{win_w}x{win_h}+{win_x}+{win_y}")
    app_box = box_from_geometry(win_x, win_y, win_w, win_h)
    scene.windows.append((1, app_box))
    name = theme.name

    title = tk.Frame(app, bg="#dcdad5")
    title.pack(fill="x")
    tk.Label(title, text=theme.title, bg="#dcdad5").pack(side="left", padx=10, pady=4)
    for glyph in ("✕", "☐", "—"):
        btn = tk.Button(title, text=glyph, relief="flat", bg="#dcdad5", bd=0, width=2)
        btn.pack(side="right", padx=2)
        if glyph == "✕":
            pending.append((btn, "close", "icon", "close button", name))

    menubar = tk.Frame(app, bg="#f6f5f4")
    menubar.pack(fill="x")
    menubuttons = []
    for label in theme.menus:
        mb = tk.Menubutton(menubar, text=label, bg="#f6f5f4", relief="flat", padx=6)
        mb.pack(side="left")
        menubuttons.append(mb)
        pending.append((mb, label, "text", "menu", name))

    toolbar = tk.Frame(app, bg="#eeeeec", bd=1, relief="groove")
    toolbar.pack(fill="x")
    for icon in rng.sample(list(theme.tools), k=min(len(theme.tools), rng.randrange(4, 7))):
        img = tk.PhotoImage(file=str(tool_icons[icon]))
        scene.images.append(img)
        btn = tk.Button(toolbar, image=img, relief="flat", bg="#eeeeec", bd=1, padx=3, pady=3)
        btn.pack(side="left", padx=2, pady=2)
        pending.append((btn, icon, "icon", "icon", name))

    status = tk.Frame(app, bg="#e8e8e7")
    status.pack(side="bottom", fill="x")
    for text in theme.status:
        lbl = tk.Label(status, text=text, bg="#e8e8e7", padx=4)
        lbl.pack(side="left" if rng.random() < 0.5 else "right", padx=6)
        pending.append((lbl, text, "text", "label", name))

    body = tk.Frame(app, bg="#f6f5f4")
    body.pack(fill="both", expand=True)
    items = list(theme.sidebar)
    rng.shuffle(items)
    sidebar = tk.Listbox(body, bd=0, highlightthickness=0, activestyle="none", width=18)
    for item in items:
        sidebar.insert("end", item)
    sidebar.pack(side="left", fill="y", padx=(6, 10), pady=6)

    form = tk.Frame(body, bg="#f6f5f4")
    form.pack(side="left", anchor="n", pady=12)
    for r, label in enumerate(theme.fields):
        lbl = tk.Label(form, text=label + ":", bg="#f6f5f4")
        lbl.grid(row=r, column=0, sticky="w", padx=4, pady=4)
        tk.Entry(form, width=rng.randrange(18, 34)).grid(row=r, column=1, sticky="w", padx=4)
        pending.append((lbl, label + ":", "text", "label", name))
    row = len(theme.fields)
    for check in theme.checks:
        cb = tk.Checkbutton(form, text=check, bg="#f6f5f4", highlightthickness=0)
        cb.grid(row=row, column=0, columnspan=2, sticky="w", padx=4)
        pending.append((cb, check, "text", "checkbox", name))
        row += 1
    buttons = tk.Frame(form, bg="#f6f5f4")
    buttons.grid(row=row, column=0, columnspan=2, sticky="e", pady=10)
    for text in theme.buttons:
        btn = tk.Button(buttons, text=text, padx=8)
        btn.pack(side="left", padx=4)
        pending.append((btn, text, "text", "button", name))

    _settle(root)
    app.lift()  # the desktop may have been mapped after the window: put the window on top
    _settle(root)
    for widget, text, ui, role, owner in pending:
        level = 0 if owner == "desktop" else 1
        group = "OS" if owner == "desktop" else theme.group
        scene.targets.append(
            Target(
                text=text,
                ui_type=ui,
                role=role,
                bbox=_box(widget),
                application=owner,
                group=group,
                window=level,
            )  # fmt: skip
        )
    left, top = sidebar.winfo_rootx(), sidebar.winfo_rooty()
    for index, item in enumerate(items):
        bb = sidebar.bbox(index)
        if bb:
            box = box_from_geometry(left + bb[0], top + bb[1], bb[2], bb[3])
            scene.targets.append(
                Target(
                    text=item,
                    ui_type="text",
                    role="list item",
                    bbox=box,
                    application=name,
                    group=theme.group,
                    window=1,
                )  # fmt: skip
            )

    if popup if popup is not None else rng.random() < 0.5:
        _post_menu(scene, rng.choice(menubuttons[:4]), theme)
    return scene


def _post_menu(scene: TkScene, anchor: tk.Menubutton, theme: AppTheme) -> None:
    menu = tk.Menu(scene.root, tearoff=0)
    for item in theme.menu_items:
        menu.add_command(label=item)
    menu.post(anchor.winfo_rootx(), anchor.winfo_rooty() + anchor.winfo_height())
    _settle(scene.root)
    mx, my, mw, mh = menu.winfo_rootx(), menu.winfo_rooty(), menu.winfo_width(), menu.winfo_height()
    scene.windows.append((2, box_from_geometry(mx, my, mw, mh)))
    border = int(str(menu.cget("borderwidth"))) + int(str(menu.cget("activeborderwidth")))
    last = menu.index("end") or 0
    for index in range(last + 1):
        top = menu.yposition(index)
        bottom = menu.yposition(index + 1) if index < last else mh - border
        box = box_from_geometry(mx + border, my + top, mw - 2 * border, bottom - top)
        scene.targets.append(
            Target(
                text=theme.menu_items[index],
                ui_type="text",
                role="menu item",
                bbox=box,
                application=theme.name,
                group=theme.group,
                window=2,
            )  # fmt: skip
        )


def _settle(root: tk.Tk) -> None:
    """Process Tk's pending work until every window is mapped and laid out."""
    for _ in range(5):
        root.update_idletasks()
        root.update()


def icon_words(name: str) -> tuple[str, str]:
    """English and Chinese description of an icon target (the close glyph included)."""
    if name == "close":
        return "close window button (X)", "关闭窗口按钮（X）"
    spec = icon_spec(name)
    return spec.en, spec.cn


__all__ = ["ICONS", "THEMES", "TkScene", "build_tk_scene", "icon_words"]
