"""A Tk window of labelled buttons whose order, labels and colours are set on the command line.

Run: ``python tests/apps/button_board.py LOG_FILE [--button NAME=LABEL[:COLOUR]] ...
[--columns N] [--title T] [--geometry WxH+X+Y]``.

Each ``--button`` adds one button, in order, laid out in a grid of ``--columns``
columns; NAME is what the log calls it whatever its LABEL says, so a test can
swap two buttons, relabel or recolour one between runs and still tell which
button an agent's click reached. Lines written (root/screen pixels):

* ``{"event": "ready", "widgets": {name: {"x", "y", "w", "h"}}}`` once the window is
  mapped and laid out;
* ``{"event": "press", "x", "y", "widget"}`` for every left-button press anywhere;
* ``{"event": "button", "name"}`` when a button's command runs (a full click on it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import tkinter as tk

DEFAULT_BUTTONS = ("save=Save", "open=Open", "close=Close")


def parse_button(spec: str) -> tuple[str, str, str | None]:
    """``save=Save:#ff8080`` -> ("save", "Save", "#ff8080")."""
    name, _, rest = spec.partition("=")
    label, _, colour = (rest or name).partition(":")
    return name, label, colour or None


class Board:
    def __init__(self, log_path: str, buttons: list[str], columns: int, title: str) -> None:
        self.log = open(log_path, "a", encoding="utf-8")  # noqa: SIM115 - lives with the app
        self.root = tk.Tk()
        self.root.title(title)
        self.root.configure(background="#f0f0f0", padx=24, pady=18)
        tk.Label(
            self.root, text=title, font=("DejaVu Sans", 15, "bold"), background="#f0f0f0"
        ).grid(row=0, column=0, columnspan=columns, sticky="w", pady=(0, 12))
        self.widgets: dict[str, tk.Widget] = {}
        for index, spec in enumerate(buttons):
            name, label, colour = parse_button(spec)
            options = {"background": colour, "activebackground": colour} if colour else {}
            button = tk.Button(
                self.root,
                text=label,
                width=10,
                font=("DejaVu Sans", 12),
                command=lambda n=name: self.write("button", name=n),
                **options,
            )
            button.grid(row=1 + index // columns, column=index % columns, padx=24, pady=14)
            button._log_name = name  # type: ignore[attr-defined]
            self.widgets[name] = button
        self.root.bind_all("<ButtonPress-1>", self._press, add="+")
        self._ready = False
        self.root.bind("<Map>", self._mapped)

    def write(self, event: str, **fields: object) -> None:
        record = {"event": event, "t": time.time(), **fields}
        self.log.write(json.dumps(record) + "\n")
        self.log.flush()

    def _press(self, event: tk.Event) -> None:
        name = getattr(event.widget, "_log_name", None)
        self.write("press", x=event.x_root, y=event.y_root, widget=name)

    def _mapped(self, event: tk.Event) -> None:
        if self._ready or event.widget is not self.root:
            return
        self._ready = True
        self.root.after(150, self._announce)

    def _announce(self) -> None:
        self.root.update_idletasks()
        boxes = {
            name: {
                "x": w.winfo_rootx(),
                "y": w.winfo_rooty(),
                "w": w.winfo_width(),
                "h": w.winfo_height(),
            }
            for name, w in self.widgets.items()
        }
        self.write("ready", widgets=boxes, pid=os.getpid())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log")
    parser.add_argument("--button", action="append", dest="buttons")
    parser.add_argument("--columns", type=int, default=3)
    parser.add_argument("--title", default="button board")
    parser.add_argument("--geometry", default="+40+40")
    args = parser.parse_args(argv)
    board = Board(args.log, args.buttons or list(DEFAULT_BUTTONS), args.columns, args.title)
    board.root.geometry(args.geometry)
    board.root.mainloop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
