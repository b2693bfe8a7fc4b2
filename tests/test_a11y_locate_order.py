"""The locate order in task files, and how a target is matched against elements."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.cli.main import main
from env.a11y import Element, pick, split_target

SIZE = (1920, 1080)


def button(name: str, box: tuple[int, int, int, int], *states: str, role: str = "push button"):
    states = states or ("visible", "showing", "enabled", "sensitive")
    return Element(role=role, name=name, box=box, source="atspi", states=list(states))


@pytest.mark.parametrize(
    "target, text, roles",
    [
        ("Save", "save", None),
        ('the "Save" button', "save", True),
        ("Remember me checkbox", "remember me", True),
        ("Name text field", "name", True),
        ("+", "+", None),
    ],
)
def test_split_target(target: str, text: str, roles: bool | None) -> None:
    got_text, got_roles = split_target(target)
    assert got_text == text and (got_roles is not None) == bool(roles)


def test_two_same_named_buttons_are_ambiguous_and_one_hidden_is_not() -> None:
    a, b = button("Delete", (10, 10, 50, 30)), button("Delete", (10, 60, 50, 80))
    element, why = pick([a, b], "Delete", SIZE)
    assert element is None and "ambiguous" in why
    hidden = button("Delete", (10, 60, 50, 80), "visible", "enabled")  # not SHOWING
    assert pick([a, hidden], "Delete", SIZE)[0] == a


def test_role_words_narrow_and_labels_stand_for_their_widget() -> None:
    field = Element(role="text", name="", box=(120, 10, 400, 30), source="atspi",
                    states=["visible", "showing", "enabled"])  # fmt: skip
    label = Element(role="label", name="Name", box=(10, 10, 100, 30), source="atspi",
                    states=["visible", "showing", "enabled"], target=field)  # fmt: skip
    heading = button("Name", (10, 200, 100, 230), role="heading")
    assert pick([label, heading], "Name field", SIZE)[0] == field
    assert pick([heading], "Name button", SIZE)[0] is None
    off_screen = button("Far", (2000, 10, 2100, 30))
    assert "none usable" in pick([off_screen], "Far", SIZE)[1]


@pytest.mark.parametrize("order", ["[a11y, a11y]", "[tree]", "[]"])
def test_bad_locate_in_a_task_file_is_exit_2(tmp_path: Path, order: str, capsys) -> None:
    task = tmp_path / "t.yaml"
    task.write_text(f"name: t\nenv: {{desktop: {{}}}}\nlocate: {order}\nsteps:\n  - click: OK\n")
    assert main(["run", str(task), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "locate" in err and "Traceback" not in err
