"""A small Tk form for the demo task: labelled entries, a checkbox, Submit and Clear.

Every event the app receives is written as one JSON line to the file named by
``--log PATH`` or the ``SCREENPILOT_DEMO_LOG`` environment variable (``-`` for
stdout; nothing is logged when neither is given), so a test can check what
really reached the app rather than what was sent. Clicking a field's label
focuses the field, as an HTML ``<label for>`` does: an agent that grounds on
visible text can click "Name" to reach the Name field. Submit shows
"Saved: <name>" and adds the record to a list.

Run it alone with ``python3 tasks/examples/demo_form.py --log -``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import tkinter as tk
from typing import Any, TextIO

FONT = ("DejaVu Sans", 16)
FIELDS = (("name", "Name"), ("email", "Email"), ("note", "Note"))


class EventLog:
    """JSON lines, flushed at once so a reader sees events as they happen."""

    def __init__(self, stream: TextIO | None) -> None:
        self.stream = stream

    def __call__(self, event: str, **data: Any) -> None:
        if self.stream is None:
            return
        record = {"t": round(time.time(), 3), "event": event, **data}
        self.stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.stream.flush()


class DemoForm:
    """The form; widgets are named after their field so the log can say which got what."""

    def __init__(self, root: tk.Tk, log: EventLog) -> None:
        self.root = root
        self.log = log
        self.entries: dict[str, tk.Entry] = {}
        self.records = 0
        root.title("screenpilot demo form")
        root.configure(bg="white", padx=40, pady=30)
        tk.Label(root, text="Contact form", font=("DejaVu Sans", 22, "bold"), bg="white").grid(
            row=0, column=0, columnspan=2, sticky="w", pady=(0, 20)
        )
        for row, (key, label) in enumerate(FIELDS, start=1):
            text = tk.Label(root, text=label, font=FONT, bg="white", anchor="w", width=8)
            text.grid(row=row, column=0, sticky="w", pady=8)
            entry = tk.Entry(root, name=key, font=FONT, width=28, relief="solid", bd=1)
            entry.grid(row=row, column=1, sticky="w", pady=8)
            self.entries[key] = entry
            text.bind("<Button-1>", lambda _e, k=key: self._label_click(k))
            entry.bind("<FocusIn>", lambda _e, k=key: self.log("focus", field=k))
            entry.bind("<KeyPress>", lambda e, k=key: self._key(k, e))
        self.subscribe = tk.BooleanVar(value=False)
        tk.Checkbutton(
            root,
            text="Subscribe to updates",
            variable=self.subscribe,
            command=lambda: self.log("checkbox", field="subscribe", value=self.subscribe.get()),
            font=FONT,
            bg="white",
            highlightthickness=0,
        ).grid(row=4, column=1, sticky="w", pady=8)
        buttons = tk.Frame(root, bg="white")
        buttons.grid(row=5, column=1, sticky="w", pady=(12, 8))
        self.buttons: dict[str, tk.Button] = {}
        for text, command in (("Submit", self.submit), ("Clear", self.clear)):
            button = tk.Button(buttons, text=text, font=FONT, width=8, command=command)
            button.pack(side="left", padx=(0, 16))
            self.buttons[text.lower()] = button
        self.status = tk.Label(root, text="Fill in the form", font=FONT, bg="white", fg="#225")
        self.status.grid(row=6, column=0, columnspan=2, sticky="w", pady=(16, 4))
        self.saved = tk.Listbox(root, font=FONT, width=40, height=4, relief="flat", bg="#f4f4f8")
        self.saved.grid(row=7, column=0, columnspan=2, sticky="w")
        root.bind_all("<Button-1>", self._pointer, add="+")
        root.protocol("WM_DELETE_WINDOW", self.quit)
        root.bind_all("<Control-q>", lambda _e: self.quit())

    def _pointer(self, event: tk.Event) -> None:
        self.log("press", widget=str(event.widget), x=event.x_root, y=event.y_root)

    def _label_click(self, key: str) -> None:
        self.log("label", field=key)
        self.entries[key].focus_set()

    def _key(self, key: str, event: tk.Event) -> None:
        self.log("key", field=key, keysym=event.keysym, char=event.char)
        # the field's value after Tk has applied the key
        self.root.after_idle(lambda: self.log("text", field=key, value=self.entries[key].get()))

    def layout(self) -> dict[str, list[int]]:
        """Where each field and button is: [x, y, width, height] in screen pixels."""
        widgets: dict[str, tk.Widget] = {**self.entries, **self.buttons}
        return {
            name: [w.winfo_rootx(), w.winfo_rooty(), w.winfo_width(), w.winfo_height()]
            for name, w in widgets.items()
        }

    def values(self) -> dict[str, str]:
        return {key: entry.get() for key, entry in self.entries.items()}

    def submit(self) -> None:
        values = self.values()
        self.log("submit", subscribe=self.subscribe.get(), **values)
        if not values["name"].strip():
            self.status.configure(text="Name is required", fg="#a00")
            return
        self.records += 1
        self.saved.insert("end", f"{values['name']} <{values['email']}>")
        self.status.configure(text=f"Saved: {values['name']}", fg="#060")
        for entry in self.entries.values():
            entry.delete(0, "end")

    def clear(self) -> None:
        self.log("clear")
        for entry in self.entries.values():
            entry.delete(0, "end")
        self.status.configure(text="Fill in the form", fg="#225")

    def quit(self) -> None:
        self.log("quit", records=self.records)
        self.root.destroy()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", help="JSON-lines event log (default: $SCREENPILOT_DEMO_LOG)")
    parser.add_argument("--geometry", default="+0+0", help="Tk geometry, e.g. 800x600+0+0")
    args = parser.parse_args(argv)
    path = args.log or os.environ.get("SCREENPILOT_DEMO_LOG")
    if not path:
        stream = None
    elif path == "-":
        stream = sys.stdout
    else:
        stream = open(path, "a", encoding="utf-8")  # noqa: SIM115 - open for the app's life
    log = EventLog(stream)
    root = tk.Tk()
    root.geometry(args.geometry)
    form = DemoForm(root, log)
    root.wait_visibility()
    root.update()
    log(
        "start",
        pid=os.getpid(),
        geometry=root.winfo_geometry(),
        display=os.environ.get("DISPLAY"),
        widgets=form.layout(),
    )
    try:
        root.mainloop()
    except KeyboardInterrupt:
        form.log("interrupted")
    finally:
        if stream is not None and stream is not sys.stdout:
            stream.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
