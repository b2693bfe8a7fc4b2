"""Task files: the schema, ${VAR} secrets, and one-line errors with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tasks.loader import TaskFileError, load_task

EXAMPLES = Path(__file__).resolve().parents[1] / "tasks" / "examples"

GOOD = """\
name: save-a-note
env:
  desktop: {monitor: primary, virtual_display: 1920x1080}
model: {backend: ocr}
steps:
  - launch: ["python3", "app.py"]
  - click: "the Save button"
  - click: {x: 320, y: 40}
  - double_click: [5, 6]
  - type: "Groceries ${USER_NOTE} costs $$5"
  - key: ctrl+s
  - scroll: {target: "the list", amount: -3}
  - scroll: 2
  - wait: 0.5
  - wait_for: "Saved"
  - assert: {text: "Groceries", timeout: 2}
max_steps: 30
timeout: 300
"""


def _write(tmp_path: Path, text: str, name: str = "task.yaml") -> Path:
    (tmp_path / "app.py").write_text("print('app')\n")
    path = tmp_path / name
    path.write_text(text)
    return path


def test_good_task_file_loads_with_every_step_form(tmp_path: Path) -> None:
    loaded = load_task(_write(tmp_path, GOOD), environ={"USER_NOTE": "milk-and-eggs"})
    task = loaded.task
    assert [s.verb for s in task.steps] == [
        "launch", "click", "click", "double_click", "type", "key", "scroll", "scroll", "wait",
        "wait_for", "assert",
    ]  # fmt: skip
    assert task.steps[1].click.target == "the Save button"
    assert (task.steps[2].click.x, task.steps[2].click.y) == (320, 40)
    assert task.steps[4].type == "Groceries milk-and-eggs costs $5"
    assert task.steps[5].key == ["ctrl", "s"]
    assert task.steps[7].scroll.amount == 2
    assert task.env.desktop.virtual_display == "1920x1080"
    assert loaded.secrets == {"milk-and-eggs"}
    assert loaded.templates == {4: "Groceries ${USER_NOTE} costs $$5"}
    assert loaded.step_lines[0] == 6 and loaded.step_lines[-1] == 16


def test_example_tasks_are_valid() -> None:
    names = {load_task(p).task.name for p in sorted(EXAMPLES.glob("*.yaml"))}
    assert {"demo-form", "zenity-entry", "android-display-settings"} <= names


def test_android_launch_keeps_an_app_label_whole(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: a\nenv: {android: {}}\nsteps:\n  - launch: Google Chrome\n")
    step = load_task(path).task.steps[0]
    assert step.launch == ["Google Chrome"]


BAD = {
    "yaml syntax": ("name: x\nenv: {desktop: {}\nsteps:\n  - wait: 1\n", 3, "yaml", "expected"),
    "unknown key": ("name: x\nenv: {desktop: {}}\nsteps:\n  - wait: 1\nbogus: 3\n", 5, "bogus",
                    "unknown key 'bogus'"),
    "both envs": ("name: x\nenv:\n  desktop: {}\n  android: {}\nsteps:\n  - wait: 1\n", 2, "env",
                  "exactly one of desktop or android"),
    "two verbs": ("name: x\nenv: {desktop: {}}\nsteps:\n  - wait: 1\n    click: Save\n", 4,
                  "steps[0]", "exactly one verb, got 'wait' and 'click'"),
    "unknown verb": ("name: x\nenv: {desktop: {}}\nsteps:\n  - clik: Save\n", 4, "steps[0]",
                     "unknown step 'clik'"),
    "negative coordinate": ("name: x\nenv: {desktop: {}}\nsteps:\n  - wait: 1\n"
                            "  - click: {x: -5, y: 3}\n", 5, "steps[1].click.x",
                            "greater than or equal to 0"),
    "missing env var": ("name: x\nenv: {desktop: {}}\nsteps:\n  - type: \"a ${NOPE_VAR_X}\"\n", 4,
                        "steps[0].type", "environment variable NOPE_VAR_X is not set"),
    "missing script": ("name: x\nenv: {desktop: {}}\nsteps:\n  - launch: python3 missing.py\n", 4,
                       "steps[0].launch", "file not found: missing.py"),
    "missing program": ("name: x\nenv: {desktop: {}}\nsteps:\n  - launch: [no-such-prog-zz]\n", 4,
                        "steps[0].launch", "program 'no-such-prog-zz' not found"),
    "bad key": ("name: x\nenv: {desktop: {}}\nsteps:\n  - key: ctrl+nokey\n", 4, "steps[0].key",
                "unknown key 'nokey'"),
    "goal with ocr": ("name: x\nenv: {desktop: {}}\ngoal: save it\n", 3, "goal",
                      "ocr backend cannot plan"),
    "scroll without amount": ("name: x\nenv: {desktop: {}}\nsteps:\n  - scroll: {target: a}\n",
                              4, "steps[0].scroll.amount", "required"),
    "duplicate key": ("name: x\nname: y\nenv: {desktop: {}}\nsteps:\n  - wait: 1\n", 2, "name",
                      "duplicate key"),
    "phone verb on desktop": ("name: x\nenv: {desktop: {}}\nsteps:\n  - long_press: OK\n", 4,
                              "steps[0].long_press", "not available on desktop"),
    "nothing to do": ("name: x\nenv: {desktop: {}}\n", 1, "", "give a goal, steps, or both"),
    "bad display size": ("name: x\nenv:\n  desktop: {virtual_display: 10x10}\nsteps:\n"
                         "  - wait: 1\n", 3, "env.desktop.virtual_display", "64..16384"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_task_file_gives_file_line_field_problem(tmp_path: Path, case: str) -> None:
    text, line, field, problem = BAD[case]
    path = _write(tmp_path, text)
    with pytest.raises(TaskFileError) as info:
        load_task(path, environ={})
    err = info.value
    message = str(err)
    assert "\n" not in message
    assert (err.line, err.field) == (line, field), message
    assert problem in message
    assert message.startswith(f"{path}:{line}: ")
    assert err.exit_code == 2


def test_missing_task_file(tmp_path: Path) -> None:
    with pytest.raises(TaskFileError, match=r"nope\.yaml: task file not found"):
        load_task(tmp_path / "nope.yaml")


def test_secret_never_shows_in_an_error(tmp_path: Path) -> None:
    text = "name: x\nenv: {desktop: {}}\nsteps:\n  - wait: ${POSITION}\n"
    with pytest.raises(TaskFileError) as info:
        load_task(_write(tmp_path, text), environ={"POSITION": "hunter2-xyz"})
    assert "hunter2-xyz" not in str(info.value)


def test_dollar_escapes_and_bad_references(tmp_path: Path) -> None:
    path = _write(tmp_path, 'name: x\nenv: {desktop: {}}\nsteps:\n  - type: "${1BAD}"\n')
    with pytest.raises(TaskFileError, match="bad variable reference"):
        load_task(path, environ={})


# -- secrets and the model's prompt ------------------------------------------------------
QWEN = "model: {backend: openai, base_url: 'http://127.0.0.1:9/v1', model: m}\n"
PROMPT_SECRETS = {
    "goal": ("goal: log in as ${SP_USER}\n", 4, "goal"),
    "goal step": ("steps:\n  - wait: 1\n  - goal: {goal: 'find ${SP_USER}', max_steps: 3}\n",
                  6, "steps[1].goal.goal"),
    "click target": ("steps:\n  - click: the ${SP_USER} entry\n", 5, "steps[0].click"),
    "click mapping": ("steps:\n  - double_click: {target: 'row ${SP_USER}'}\n", 5,
                      "steps[0].double_click.target"),
    "scroll target": ("steps:\n  - scroll: {target: '${SP_USER} list', amount: 2}\n", 5,
                      "steps[0].scroll.target"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(PROMPT_SECRETS))
def test_a_secret_in_text_sent_to_the_model_is_refused(tmp_path: Path, case: str) -> None:
    body, line, field = PROMPT_SECRETS[case]
    path = _write(tmp_path, f"name: x\nenv: {{desktop: {{}}}}\n{QWEN}{body}")
    with pytest.raises(TaskFileError) as info:
        load_task(path, environ={"SP_USER": "ada.lovelace"})
    err = info.value
    assert (err.line, err.field) == (line, field), str(err)
    assert str(err).startswith(f"{path}:{line}: {field}: ${{SP_USER}} would be sent to the model")
    assert "send_secrets_to_model: true" in str(err) and "ada.lovelace" not in str(err)
    opted_in = f"name: x\nenv: {{desktop: {{}}}}\n{QWEN}send_secrets_to_model: true\n{body}"
    loaded = load_task(_write(tmp_path, opted_in, "in.yaml"), environ={"SP_USER": "ada.lovelace"})
    assert loaded.task.send_secrets_to_model and "ada.lovelace" in loaded.secrets


def test_secrets_in_typed_text_and_with_the_ocr_backend_are_fine(tmp_path: Path) -> None:
    typed = f"name: x\nenv: {{desktop: {{}}}}\n{QWEN}steps:\n  - type: ${{SP_USER}}\n"
    load_task(_write(tmp_path, typed), environ={"SP_USER": "ada.lovelace"})
    ocr = "name: x\nenv: {desktop: {}}\nsteps:\n  - click: the ${SP_USER} entry\n"
    loaded = load_task(_write(tmp_path, ocr, "ocr.yaml"), environ={"SP_USER": "ada.lovelace"})
    # switching that task to a served model on the command line is checked again
    data = loaded.task.model_dump(by_alias=True, exclude_none=True)
    data["model"] = {"backend": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "m"}
    with pytest.raises(TaskFileError, match=r"steps\[0\]\.click: \$\{SP_USER\} would be sent"):
        loaded.with_task(type(loaded.task).model_validate(data))


def test_a_variable_shorter_than_four_characters_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, 'name: x\nenv: {desktop: {}}\nsteps:\n  - type: "pin ${SP_PIN}"\n')
    with pytest.raises(TaskFileError) as info:
        load_task(path, environ={"SP_PIN": "zq7"})
    assert (info.value.line, info.value.field) == (4, "steps[0].type")
    assert "${SP_PIN} has 3 character(s)" in str(info.value) and "at least 4" in str(info.value)
    assert "zq7" not in str(info.value)


def test_a_long_secret_is_masked_before_an_error_cuts_it(tmp_path: Path) -> None:
    secret = "a-very-long-secret-value-that-is-cut-in-errors-9931"
    path = _write(tmp_path, "name: x\nenv: {desktop: {}}\nsteps:\n  - wait: ${SP_LONG}\n")
    with pytest.raises(TaskFileError) as info:
        load_task(path, environ={"SP_LONG": secret})
    assert "***" in str(info.value) and secret[:20] not in str(info.value)


def _launched_argv(path: Path) -> list[str]:
    from tasks.runner import _launch_target

    loaded = load_task(path, environ={})
    step = next(s for s in loaded.task.steps if s.launch is not None)
    target = _launch_target(step, loaded.task, loaded.base_dir)
    assert isinstance(target, list)
    return target


def test_zenity_example_opens_with_an_empty_entry() -> None:
    # `--entry-text ""` used to become the examples folder's path (issue 24.7).
    example = Path(__file__).parent.parent / "tasks" / "examples" / "zenity_entry.yaml"
    argv = _launched_argv(example)
    assert argv[argv.index("--entry-text") + 1] == ""
    assert argv[:2] == ["zenity", "--entry"]


def test_launch_resolves_only_the_program_and_path_like_arguments(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "tool").write_text("#!/bin/sh\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "in.txt").write_text("x")
    (tmp_path / "notes").mkdir()  # a plain word that happens to name a folder here
    (tmp_path / "app.py").write_text("")
    path = _write(
        tmp_path,
        "name: x\nenv: {desktop: {}}\nsteps:\n"
        '  - launch: [bin/tool, "", notes, ".", --in, data/in.txt, ./app.py, app.py, '
        "data/missing.txt, /etc/hostname]\n",
    )
    assert _launched_argv(path) == [
        str(tmp_path / "bin" / "tool"),
        "",
        "notes",
        ".",
        "--in",
        str(tmp_path / "data" / "in.txt"),
        str(tmp_path / "app.py"),
        str(tmp_path / "app.py"),
        "data/missing.txt",
        "/etc/hostname",
    ]
