"""The chat messages sent to a model, shared by the local and the server backends.

What is sent is the model's profile (`agent.models.profiles`): its system
prompt or none, its user text around the screenshot, image before or after
the text, the announced resolution (the smart_resized W'xH', or 1000x1000
written into a 0-1000 tool prompt), and the reply prefill. Without a profile
the default, qwen2.5-vl, applies:

* Grounding (the ScreenSpot-Pro harness' Qwen2.5-VL prompt): system = the
  computer_use tool for the resized screen size, user turn = screenshot, then
  the target description; the reply is prefilled with the start of a click
  call so the model only writes the coordinate; the raw answer handed to the
  parser includes the prefill.
* Next action (`agent.models.act_formats`, per profile): the cookbooks'
  tool prompt, the goal, the earlier steps, the screenshot.

Messages are plain dicts in the chat-template shape (``{"type": "image"}``
marks where the screenshot goes); each backend turns the image part into what
it sends (pixels for transformers, a data URL for a server).
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any

from actions.tool_prompt import tool_name

if TYPE_CHECKING:
    from agent.models.base import ModelRequest
    from agent.models.profile import Profile

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


def _default_profile() -> Profile:
    from agent.models.profiles import DEFAULT_PROFILE, get_profile

    return get_profile(DEFAULT_PROFILE)


def fill(template: str, model_size: tuple[int, int], instruction: str = "") -> str:
    """A prompt template with {width}, {height} (resized size) and {instruction} filled in.

    The instruction goes in last, so text in it is never taken for a placeholder.
    """
    width, height = model_size
    text = template.replace("{width}", str(width)).replace("{height}", str(height))
    return text.replace("{instruction}", instruction)


def ground_messages(
    model_size: tuple[int, int],
    instruction: str,
    *,
    mobile: bool = False,
    profile: Profile | None = None,
) -> list[Message]:
    """Messages asking where `instruction` is on a screenshot of `model_size` (resized size)."""
    profile = profile or _default_profile()
    spec = profile.ground
    target = instruction.strip()
    if spec.strip_period and target.endswith("."):
        target = target[:-1]
    text: Message = {"type": "text", "text": fill(spec.user, model_size, target)}
    image: Message = {"type": "image"}
    messages: list[Message] = []
    system = (spec.mobile_system or spec.system) if mobile else spec.system
    if system is not None:
        messages.append({"role": "system", "content": fill(system, model_size)})
    content = [image, text] if spec.image_first else [text, image]
    messages.append({"role": "user", "content": content})
    return messages


def history_item(text: str) -> str:
    """One earlier step as the cookbook writes it: the tool call JSON on one line, no tags."""
    body = text.replace("<tool_call>", "").replace(TOOL_CALL_END, "")
    return re.sub(r"\s*\n\s*", " ", body).strip()


def act_user_text(goal: str, history: list[str], *, correction: str | None = None) -> str:
    """The user turn's text of a Qwen2.5-VL next-action request (mobile_agent cookbook)."""
    from agent.models.act_formats import qwen25_user_text

    return qwen25_user_text(goal, history, correction)


def act_messages(
    model_size: tuple[int, int],
    goal: str,
    history: list[str],
    *,
    mobile: bool = False,
    correction: str | None = None,
    profile: Profile | None = None,
) -> list[Message]:
    """Messages asking for the next action towards `goal` after the steps in `history`."""
    from agent.models.act_formats import act_messages as build

    profile = profile or _default_profile()
    return build(profile, model_size, goal, history, mobile=mobile, correction=correction)


def request_messages(
    request: ModelRequest,
    model_size: tuple[int, int],
    *,
    prefill: bool,
    profile: Profile | None = None,
) -> tuple[list[Message], str]:
    """The messages for one request and the reply's prefill ("" unless the profile prefills
    grounding replies and `prefill` is on). The one entry point of both backends."""
    profile = profile or _default_profile()
    if request.kind == "ground":
        messages = ground_messages(
            model_size, request.instruction, mobile=request.mobile, profile=profile
        )
        start = profile.decoding.mobile_prefill if request.mobile else profile.decoding.prefill
        return messages, (start or "") if prefill else ""
    messages = act_messages(
        model_size,
        request.instruction,
        request.history,
        mobile=request.mobile,
        correction=request.correction,
        profile=profile,
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
