"""A Tk app that logs every input event it receives, one JSON object per line.

Run: ``python tests/apps/event_logger.py LOG_FILE [--title T] [--geometry 900x640+200+120]
[--button LABEL]... [--wm-class CLASS]``: extra buttons (in a row of their own, named
``button:LABEL``) and the window's WM_CLASS class (to look like another program).

The tests drive it through the desktop environment and read back what really
arrived, from the app's side. Lines (all coordinates are root/screen pixels):

* ``{"event": "ready", "widgets": {name: {"x", "y", "w", "h", "color"?}}}`` once the
  window is mapped and laid out;
* ``press`` / ``release`` (``button``: 1 left, 2 middle, 3 right; ``widget``; ``x``, ``y``;
  ``server_ms``: the X server's event time),
  ``double`` / ``triple`` (the second / third press of a multi-click);
* ``wheel`` (``direction``: up, down, left, right) for wheel buttons 4-7
  (Tk reports the horizontal wheel as Shift + vertical, so shift+wheel is horizontal too);
* ``motion`` (``x``, ``y``, ``buttons`` held) over the pad;
* ``button`` (``name``) when a Tk button's command runs;
* ``key`` (``keysym``, ``char``, ``mods``: held modifiers, ``widget``, ``server_ms``) for
  every key press, ``key_release`` (``keysym``, ``server_ms``) for every release;
* ``shortcut`` (``name``) for the app's bindings: Control-s save, F5 refresh, Escape cancel;
* ``text`` (``widget``: entry or notes; ``value``) whenever a text field's content changes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tkinter as tk

PATCHES = {"red_patch": "#ff0000", "green_patch": "#00c000", "blue_patch": "#2040ff"}
_MODS = {0x1: "Shift", 0x4: "Control", 0x8: "Alt", 0x40: "Super"}
_WHEEL = {4: "up", 5: "down", 6: "left", 7: "right"}


class EventLogger:
    def __init__(
        self,
        log_path: str,
        title: str,
        geometry: str,
        buttons: tuple[str, ...] = (),
        wm_class: str = "Tk",
    ) -> None:
        self.log = open(log_path, "a", encoding="utf-8")  # noqa: SIM115 - lives as long as the app
        self.root = tk.Tk(className=wm_class)
        self.root.title(title)
        self.root.geometry(geometry)
        self.root.configure(background="#f0f0f0")
        self.widgets: dict[str, tk.Widget] = {}
        self._ready = False
        self._build()
        self._extra_buttons(buttons)

    def _extra_buttons(self, labels: tuple[str, ...]) -> None:
        if not labels:
            return
        row = tk.Frame(self.root, background="#f0f0f0")
        row.pack(side="top", fill="x", padx=10, pady=5, before=self.widgets["entry"])
        for label in labels:
            button = tk.Button(
                row,
                text=label,
                font=("DejaVu Sans", 14),
                command=lambda label=label: self.write("button", name=label),
            )
            button.pack(side="left", padx=12)
            name = f"button:{label}"
            self.widgets[name] = button
            button.bindtags(("LogPress", "LogMulti", "LogKey", *button.bindtags()))
            button._log_name = name  # type: ignore[attr-defined]

    def write(self, event: str, **fields: object) -> None:
        record = {"event": event, "t": time.time(), **fields}
        self.log.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.log.flush()

    def _build(self) -> None:
        root = self.root
        top = tk.Frame(root, background="#f0f0f0")
        top.pack(side="top", fill="x", padx=10, pady=10)
        ok = tk.Button(top, text="OK", width=10, command=lambda: self.write("button", name="ok"))
        ok.pack(side="left", padx=5)
        other = tk.Button(
            top, text="Other", width=10, command=lambda: self.write("button", name="other")
        )
        other.pack(side="left", padx=5)
        self.widgets.update(ok=ok, other=other)

        self.entry_var = tk.StringVar(root)
        self.entry_var.trace_add("write", lambda *_: self._text("entry", self.entry_var.get()))
        entry = tk.Entry(root, textvariable=self.entry_var, font=("DejaVu Sans", 14))
        entry.pack(side="top", fill="x", padx=15, pady=5)
        self.widgets["entry"] = entry

        notes = tk.Text(root, height=4, font=("DejaVu Sans", 12), undo=False)
        notes.pack(side="top", fill="x", padx=15, pady=5)
        notes.bind("<<Modified>>", self._notes_changed)
        self.widgets["notes"] = notes

        patches = tk.Frame(root, background="#f0f0f0")
        patches.pack(side="top", fill="x", padx=15, pady=5)
        for name, color in PATCHES.items():
            patch = tk.Frame(patches, width=120, height=60, background=color)
            patch.pack(side="left", padx=10)
            self.widgets[name] = patch

        pad = tk.Canvas(root, background="#ffffff", highlightthickness=0, height=260)
        pad.pack(side="top", fill="both", expand=True, padx=15, pady=10)
        self.widgets["pad"] = pad

        # Bindtags of our own see every press, even when a Double/Triple binding is the
        # more specific match for the same event; multi-clicks are per button, as in Tk.
        for name, widget in self.widgets.items():
            widget.bindtags(("LogPress", "LogMulti", "LogKey", *widget.bindtags()))
            widget._log_name = name  # type: ignore[attr-defined]
        root.bind_class("LogPress", "<ButtonPress>", lambda e: self._mouse("press", e))
        root.bind_class("LogPress", "<ButtonRelease>", lambda e: self._mouse("release", e))
        for button in (1, 2, 3):
            for kind in ("Double", "Triple"):
                root.bind_class(
                    "LogMulti",
                    f"<{kind}-ButtonPress-{button}>",
                    lambda e, k=kind.lower(): self._mouse(k, e),
                )
        pad.bind("<Motion>", self._motion)
        # Keys too: Tk's own "all" bindings (Alt-Key, Tab) would hide them from bind_all.
        root.bindtags(("LogKey", *root.bindtags()))
        root.bind_class("LogKey", "<KeyPress>", self._key)
        root.bind_class("LogKey", "<KeyRelease>", self._key_release)
        root.bind_all("<Control-s>", lambda e: self.write("shortcut", name="save"), add="+")
        root.bind_all("<F5>", lambda e: self.write("shortcut", name="refresh"), add="+")
        root.bind_all("<Escape>", lambda e: self.write("shortcut", name="cancel"), add="+")
        root.bind("<Map>", self._mapped)

    def _name(self, widget: object) -> str:
        return getattr(widget, "_log_name", str(widget))

    def _mouse(self, kind: str, event: tk.Event) -> None:
        if kind == "press" and event.num in _WHEEL:
            # Tk 8.6 reports the horizontal wheel (X buttons 6/7) as Shift + 4/5.
            direction = _WHEEL[event.num + 2 if event.state & 0x1 else event.num]
            self.write(
                "wheel",
                direction=direction,
                widget=self._name(event.widget),
                x=event.x_root,
                y=event.y_root,
            )
            return
        if event.num in _WHEEL:
            return  # the wheel's release half
        self.write(
            kind,
            button=event.num,
            widget=self._name(event.widget),
            x=event.x_root,
            y=event.y_root,
            server_ms=event.time,
        )

    def _motion(self, event: tk.Event) -> None:
        held = [b for b, mask in ((1, 0x100), (2, 0x200), (3, 0x400)) if event.state & mask]
        self.write("motion", x=event.x_root, y=event.y_root, buttons=held)

    def _key(self, event: tk.Event) -> None:
        mods = [name for mask, name in _MODS.items() if event.state & mask]
        focus = self.root.focus_get()
        self.write(
            "key",
            keysym=event.keysym,
            char=event.char,
            mods=mods,
            widget=self._name(focus) if focus else None,
            server_ms=event.time,
        )

    def _key_release(self, event: tk.Event) -> None:
        self.write("key_release", keysym=event.keysym, server_ms=event.time)

    def _text(self, widget: str, value: str) -> None:
        self.write("text", widget=widget, value=value)

    def _notes_changed(self, event: tk.Event) -> None:
        notes = self.widgets["notes"]
        if notes.edit_modified():  # type: ignore[attr-defined]
            self._text("notes", notes.get("1.0", "end-1c"))  # type: ignore[attr-defined]
            notes.edit_modified(False)  # type: ignore[attr-defined]

    def _mapped(self, event: tk.Event) -> None:
        if self._ready or event.widget is not self.root:
            return
        self._ready = True
        self.root.update_idletasks()
        self.root.after(50, self._announce)

    def _announce(self) -> None:
        self.root.update_idletasks()
        geometry = {}
        for name, widget in self.widgets.items():
            box = {
                "x": widget.winfo_rootx(),
                "y": widget.winfo_rooty(),
                "w": widget.winfo_width(),
                "h": widget.winfo_height(),
            }
            if name in PATCHES:
                box["color"] = PATCHES[name]
            geometry[name] = box
        self.root.focus_force()
        self.write("ready", widgets=geometry, pid=__import__("os").getpid())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log")
    parser.add_argument("--title", default="screenpilot event logger")
    parser.add_argument("--geometry", default="900x640+200+120")
    parser.add_argument("--button", action="append", default=[])
    parser.add_argument("--wm-class", default="Tk")
    args = parser.parse_args(argv)
    app = EventLogger(args.log, args.title, args.geometry, tuple(args.button), args.wm_class)
    app.root.mainloop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
