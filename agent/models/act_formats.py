"""Goal mode per profile: the next-action request and the step history, in each model's words.

A profile with goal mode names one of these formats (`ActSpec.format`):

* ``qwen2.5-vl``: the Qwen2.5-VL cookbooks (computer_use / mobile_use tool for
  the resized screen; user turn "The user query:  ..." + "Task progress ...
  Step N: {tool call}; " + the screenshot).
* ``qwen3-vl``: the Qwen3-VL mobile_agent cookbook verbatim on phones (a
  999x999 screen); on desktops the same layout with the cookbook's
  ComputerUse tool at 1000x1000.
* ``ui-tars-1.5``: COMPUTER_USE_DOUBAO / MOBILE_USE_DOUBAO as its own user
  turn, each earlier step as an assistant turn, then the screenshot (OSWorld's
  uitars_agent message layout; earlier screenshots are not resent).
* ``gui-owl-1.5``: Mobile-Agent-v3.5's PC agent (system = its tool prompt;
  user = "Please generate the next move ... Previous actions: Step N: ...").

The history is a list of strings each format writes itself (`history_text`):
tool calls for the Qwen-style formats, ``Action: click(point='<point>x y</point>')``
for UI-TARS, always in the model's own coordinate space.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from actions.frames import CoordinateFrame
from actions.tool_prompt import system_prompt, to_tool_call
from actions.types import Action
from actions.vocabulary import uitars_text
from agent.models.grounder_prompts import (
    GUIOWL_COMPUTER_SYSTEM,
    UITARS_COMPUTER,
    UITARS_MOBILE,
)
from agent.models.profile_prompts import (
    QWEN3_COMPUTER_TOOL,
    QWEN3_MOBILE_SYSTEM,
)

if TYPE_CHECKING:
    from agent.models.profile import Profile

Message = dict[str, Any]
TASK_PROGRESS = "Task progress (You have done the following operation on the current device): "
UITARS_LANGUAGE = "English"


def _qwen3_system(mobile: bool) -> str:
    if mobile:
        return QWEN3_MOBILE_SYSTEM
    head, rest = QWEN3_MOBILE_SYSTEM.split("<tools>\n", 1)
    tail = rest.split("\n</tools>", 1)[1]
    tool = json.dumps(QWEN3_COMPUTER_TOOL, ensure_ascii=False)
    return f"{head}<tools>\n{tool}\n</tools>{tail}"


def _tool_history(history: list[str]) -> str:
    """Qwen2.5-VL cookbook: ``Step N: {tool call JSON}; `` (tags and newlines removed)."""
    items = []
    for number, text in enumerate(history, start=1):
        body = text.replace("<tool_call>", "").replace("</tool_call>", "")
        items.append(f"Step {number}: {' '.join(body.split())}; ")
    return "".join(items)


def qwen25_user_text(goal: str, history: list[str], correction: str | None = None) -> str:
    """The Qwen2.5-VL mobile_agent cookbook's user text (two spaces after the colon are theirs)."""
    text = f"The user query:  {goal.strip()}\n{TASK_PROGRESS}{_tool_history(history)}"
    return text + (f"\n{correction.strip()}" if correction else "")


def qwen3_user_text(goal: str, history: list[str], correction: str | None = None) -> str:
    """The Qwen3-VL mobile_agent cookbook's user_query (each step without newlines or quotes)."""
    steps = "".join(
        f"Step {n}: {h.replace(chr(10), '').replace(chr(34), '')}; "
        for n, h in enumerate(history, start=1)
    )
    text = f"The user query: {goal.strip()}.\n{TASK_PROGRESS}{steps}.\n"
    return text + (f"{correction.strip()}\n" if correction else "")


def guiowl_user_text(goal: str, history: list[str], correction: str | None = None) -> str:
    """Mobile-Agent-v3.5 computer_use/utils.py build_messages' instruction_prompt."""
    steps = "\n".join(f"Step {n}: {h}" for n, h in enumerate(history, start=1)) or "None"
    text = (
        "Please generate the next move according to the UI screenshot, "
        "instruction and previous actions.\n\n"
        f"Instruction: {goal.strip()}\n\n"
        f"Previous actions:\n{steps}"
    )
    return text + (f"\n\n{correction.strip()}" if correction else "")


def act_messages(
    profile: Profile,
    model_size: tuple[int, int],
    goal: str,
    history: list[str],
    *,
    mobile: bool = False,
    correction: str | None = None,
) -> list[Message]:
    """The messages of one next-action request for `profile` (which must have goal mode)."""
    if profile.act is None:
        raise ValueError(f"profile {profile.name} has no goal mode")
    fmt = profile.act.format
    image: Message = {"type": "image"}
    if fmt == "qwen2.5-vl":
        text = qwen25_user_text(goal, history, correction)
        return [
            {"role": "system", "content": system_prompt(model_size, mobile=mobile)},
            {"role": "user", "content": [{"type": "text", "text": text}, image]},
        ]
    if fmt == "qwen3-vl":
        text = qwen3_user_text(goal, history, correction)
        return [
            {"role": "system", "content": _qwen3_system(mobile)},
            {"role": "user", "content": [{"type": "text", "text": text}, image]},
        ]
    if fmt == "gui-owl-1.5":
        text = guiowl_user_text(goal, history, correction)
        return [
            {"role": "system", "content": GUIOWL_COMPUTER_SYSTEM},
            {"role": "user", "content": [{"type": "text", "text": text}, image]},
        ]
    template = UITARS_MOBILE if mobile else UITARS_COMPUTER
    prompt = template.replace("{language}", UITARS_LANGUAGE).replace("{instruction}", goal.strip())
    messages: list[Message] = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": [{"type": "text", "text": prompt}]},
    ]
    messages.extend({"role": "assistant", "content": h} for h in history)
    last: list[Message] = [image]
    if correction:
        last.append({"type": "text", "text": correction.strip()})
    messages.append({"role": "user", "content": last})
    return messages


def correction_text(profile: Profile | None, error: str) -> str:
    """What to tell the model after an answer that could not be used."""
    if profile is not None and profile.act is not None and profile.act.format == "ui-tars-1.5":
        return (
            f"Your previous answer could not be used ({error}). Answer with a Thought line and "
            "one Action line from the action space."
        )
    return (
        f"Your previous answer could not be used ({error}). Answer with exactly one "
        '<tool_call>...</tool_call> block holding one JSON object with "name" and "arguments".'
    )


def history_text(
    profile: Profile | None, action: Action, frame: CoordinateFrame, *, mobile: bool = False
) -> str:
    """One performed action as the model itself would have written it (model space)."""
    if profile is not None and profile.act is not None and profile.act.format == "ui-tars-1.5":
        return "Action: " + uitars_call(action, frame, mobile=mobile)
    return to_tool_call(action, frame, mobile=mobile)


def uitars_call(action: Action, frame: CoordinateFrame, *, mobile: bool = False) -> str:
    """An action in UI-TARS-1.5's action space (prompt.py), points in resized pixels.

    Raises:
        ValueError: UI-TARS has no verb for this action (`actions.vocabulary` says which).
    """
    return uitars_text(action, frame)
