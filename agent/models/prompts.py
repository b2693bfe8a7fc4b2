"""The chat messages sent to Qwen2.5-VL, shared by the local and the server backends.

Both uses follow the Qwen2.5-VL cookbooks' agent mode: the system message is
the computer_use / mobile_use tool description for the *smart_resized*
screen size (`actions.schema.system_prompt`), and the model answers with a
``<tool_call>``.

* Grounding (computer_use cookbook): user turn = screenshot, then the target
  description. By default the reply is prefilled with the start of a click
  call, as the ScreenSpot-Pro harness does, so the model only has to write the
  coordinate; the raw answer handed to the parser includes the prefill.
* Next action (mobile_agent cookbook): user turn = "The user query: ..." with
  the task, "Task progress ...: Step 1: {...}; Step 2: {...}; " with the
  earlier tool calls, then the screenshot.

Messages are plain dicts in the chat-template shape (``{"type": "image"}``
marks where the screenshot goes); each backend turns the image part into what
it sends (pixels for transformers, a data URL for a server).
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any

from actions.schema import system_prompt, tool_name

if TYPE_CHECKING:
    from agent.models.base import ModelRequest

Message = dict[str, Any]

# chat_template.json of Qwen/Qwen2.5-VL-{3B,7B,72B}-Instruct. The local backend uses the
# checkpoint's own template; this copy renders prompts without transformers (tests, the
# tiny test checkpoint, checkpoints that ship no template).
QWEN2_5_VL_CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}"
    "{{ message['content'] }}<|im_end|>\n{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}"
    "Picture {{ image_count.value }}: {% endif %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}{% if add_vision_id %}"
    "Video {{ video_count.value }}: {% endif %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

TOOL_CALL_END = "</tool_call>"
TASK_PROGRESS = "Task progress (You have done the following operation on the current device): "


def ground_prefill(*, mobile: bool = False) -> str:
    """The reply start the ScreenSpot-Pro harness prefills: a click call up to its coordinate."""
    verb = "click" if mobile else "left_click"
    return (
        f'<tool_call>\n{{"name": "{tool_name(mobile=mobile)}", '
        f'"arguments": {{"action": "{verb}", "coordinate": ['
    )


def ground_messages(
    model_size: tuple[int, int], instruction: str, *, mobile: bool = False
) -> list[Message]:
    """Messages asking where `instruction` is on a screenshot of `model_size` (resized size)."""
    return [
        {"role": "system", "content": system_prompt(model_size, mobile=mobile)},
        {
            "role": "user",
            "content": [{"type": "image"}, {"type": "text", "text": instruction.strip()}],
        },
    ]


def history_item(text: str) -> str:
    """One earlier step as the cookbook writes it: the tool call JSON on one line, no tags."""
    body = text.replace("<tool_call>", "").replace(TOOL_CALL_END, "")
    return re.sub(r"\s*\n\s*", " ", body).strip()


def act_user_text(goal: str, history: list[str], *, correction: str | None = None) -> str:
    """The user turn's text of a next-action request (mobile_agent cookbook format)."""
    steps = "".join(f"Step {i}: {history_item(h)}; " for i, h in enumerate(history, start=1))
    text = f"The user query:  {goal.strip()}\n{TASK_PROGRESS}{steps}"
    if correction:
        text += f"\n{correction.strip()}"
    return text


def act_messages(
    model_size: tuple[int, int],
    goal: str,
    history: list[str],
    *,
    mobile: bool = False,
    correction: str | None = None,
) -> list[Message]:
    """Messages asking for the next action towards `goal` after the steps in `history`."""
    text = act_user_text(goal, history, correction=correction)
    return [
        {"role": "system", "content": system_prompt(model_size, mobile=mobile)},
        {"role": "user", "content": [{"type": "text", "text": text}, {"type": "image"}]},
    ]


def request_messages(
    request: ModelRequest, model_size: tuple[int, int], *, prefill: bool
) -> tuple[list[Message], str]:
    """The messages for one request and the reply's prefill ("" unless grounding with prefill)."""
    if request.kind == "ground":
        messages = ground_messages(model_size, request.instruction, mobile=request.mobile)
        return messages, ground_prefill(mobile=request.mobile) if prefill else ""
    messages = act_messages(
        model_size,
        request.instruction,
        request.history,
        mobile=request.mobile,
        correction=request.correction,
    )
    return messages, ""


@functools.cache
def _template() -> Any:
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    return env.from_string(QWEN2_5_VL_CHAT_TEMPLATE)


def render_chat(messages: list[Message], prefill: str = "") -> str:
    """The prompt text Qwen2.5-VL's chat template makes of `messages`, plus a reply `prefill`.

    Each image stays one ``<|image_pad|>``; the processor expands it to the
    image's visual tokens.
    """
    text = _template().render(messages=messages, add_generation_prompt=True)
    return text + prefill
