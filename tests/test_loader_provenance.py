"""The task loader refuses, per provenance, what that origin may not set (`agent.provenance`)."""

from __future__ import annotations

import pytest

from agent.provenance import Provenance
from tasks.loader import TaskFileError, load_task_text

ENV = {"SP_TOKEN": "tok-1234-secret"}


def load(text: str, provenance: Provenance) -> object:
    return load_task_text(text, name="t.yaml", environ=ENV, provenance=provenance)


def test_the_user_may_set_everything() -> None:
    text = (
        "name: u\nenv: {desktop: {failsafe: false}}\n"
        "model: {backend: openai, base_url: 'http://127.0.0.1:9/v1', model: m}\n"
        "steps:\n  - type: '${SP_TOKEN}'\n"
    )
    loaded = load_task_text(text, name="t.yaml", environ=ENV)
    assert loaded.secrets == {"tok-1234-secret"}
    assert loaded.task.env.desktop is not None and loaded.task.env.desktop.failsafe is False


@pytest.mark.parametrize("provenance", [Provenance.CLIENT, Provenance.FOLDER, Provenance.MODEL])
@pytest.mark.parametrize(
    ("text", "where", "problem"),
    [
        ("name: x\nenv: desktop\nsteps:\n  - type: 'a ${SP_TOKEN}'\n", "t.yaml:4: steps[0].type",
         "${SP_TOKEN}: "),
        ("name: x\nenv: desktop\nsteps:\n  - type: '${NOT_SET_AT_ALL}'\n", "t.yaml:4: steps[0]",
         "${NOT_SET_AT_ALL}: "),
        ("name: x\nenv: desktop\nmodel: {backend: ocr}\nsteps:\n  - key: a\n", "t.yaml:3: model",
         "cannot choose the model"),
        ("name: x\nenv:\n  android: {adb_host: 10.0.0.9}\nsteps:\n  - key: back\n",
         "t.yaml:3: env.android.adb_host", "cannot choose environment settings"),
        ("name: x\nenv: {desktop: {monitor: all}}\nsteps:\n  - key: a\n",
         "t.yaml:2: env.desktop.monitor", "cannot choose environment settings"),
    ],
)  # fmt: skip
def test_other_origins_are_refused_in_one_line(
    provenance: Provenance, text: str, where: str, problem: str
) -> None:
    with pytest.raises(TaskFileError) as caught:
        load(text, provenance)
    message = str(caught.value)
    assert message.startswith(f"{where}") and problem in message, message
    assert "\n" not in message and "tok-1234" not in message


def test_a_client_task_may_name_the_platform_and_write_dollars() -> None:
    for env in ("desktop", "{desktop: {}}", "{desktop: }", "\n  desktop:"):
        text = f"name: c\nenv: {env}\nsteps:\n  - type: 'costs $$5'\n"
        loaded = load_task_text(text, environ=ENV, provenance=Provenance.CLIENT)
        assert loaded.task.steps[0].type == "costs $5"
        assert loaded.secrets == frozenset()
