"""Every profile's prompts against verbatim copies of the authors' source strings, and its frames.

tests/data/profile_sources.json holds each cited string literal exactly as it
stands in the authors' file (repository, path, commit), copied by a script
from the fetched repositories. Here each literal is evaluated the way Python
would (ast: plain literals with literal_eval, f-strings by filling their
fields), the authors' own substitutions are applied with known values, and
the result must equal what screenpilot sends, byte for byte.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field

from actions.frames import CoordinateSpace, smart_resize
from agent.models import prompts
from agent.models.act_formats import act_messages, qwen3_user_text
from agent.models.base import ModelRequest
from agent.models.profiles import PROFILES, get_profile

SOURCES = json.loads((Path(__file__).parent / "data" / "profile_sources.json").read_text())
ENTRIES = {e["id"]: e for e in SOURCES["entries"]}
SIZE = (1316, 728)  # a 1920x1080 screenshot at 1280 visual tokens of 28 px
TARGET = "the Save button"


def source(entry_id: str, **fields: str) -> str:
    """The value of a cited literal; f-string fields are filled from `fields` by their
    source text (e.g. ``instruction`` or ``sample['instruction']``)."""
    literal = ENTRIES[entry_id]["literal"]
    tree = ast.parse("(" + literal + ")", mode="eval").body
    if isinstance(tree, ast.Constant):
        return tree.value
    assert isinstance(tree, ast.JoinedStr), entry_id
    out = []
    for part in tree.values:
        if isinstance(part, ast.Constant):
            out.append(part.value)
        else:
            assert isinstance(part, ast.FormattedValue)
            out.append(fields[ast.unparse(part.value)])
    return "".join(out)


def ground(profile: str, instruction: str = TARGET, size: tuple[int, int] = SIZE) -> list:
    return prompts.ground_messages(size, instruction, profile=get_profile(profile))


def test_every_profile_cites_a_source_copy():
    cited = {e["profile"] for e in SOURCES["entries"]}
    assert cited == set(PROFILES)
    for entry in SOURCES["entries"]:
        assert len(entry["commit"]) == 40 and entry["repo"].count("/") == 1, entry["id"]


def test_qwen25vl_is_the_screenspot_pro_harness_prompt_and_prefill():
    harness = source("qwen2.5-vl.ground.system.preamble") + source(
        "qwen2.5-vl.ground.system.tools"
    ).replace("{{screen_width}}", "1316").replace("{{screen_height}}", "728")
    system, user = ground("qwen2.5-vl")
    assert system == {"role": "system", "content": harness}
    assert user["content"] == [{"type": "image"}, {"type": "text", "text": TARGET}]
    request = ModelRequest(kind="ground", image=_image(), instruction=TARGET)
    _, prefill = prompts.request_messages(request, SIZE, prefill=True)
    assert prefill == source("qwen2.5-vl.ground.prefill")
    _, none = prompts.request_messages(request, SIZE, prefill=False)
    assert none == ""


def test_qwen25vl_agent_mode_uses_the_cookbook_tool_text():
    system = prompts.act_messages(SIZE, "Save it", [])[0]["content"]
    tool = json.loads(system.split("<tools>\n", 1)[1].split("\n</tools>", 1)[0])["function"]
    description = source(
        "qwen2.5-vl.act.computer.description", **{"self.display_width_px": "1316",
                                                  "self.display_height_px": "728"}
    )  # fmt: skip
    assert tool["description"] == description.strip()
    actions = tool["parameters"]["properties"]["action"]["description"]
    assert actions == source("qwen2.5-vl.act.computer.actions").strip()
    mobile = prompts.act_messages((1092, 2408), "x", [], mobile=True)[0]["content"]
    tool = json.loads(mobile.split("<tools>\n", 1)[1].split("\n</tools>", 1)[0])["function"]
    fields = {"self.display_width_px": "1092", "self.display_height_px": "2408"}
    assert tool["description"] == source("qwen2.5-vl.act.mobile.description", **fields).strip()
    actions = tool["parameters"]["properties"]["action"]["description"]
    assert actions == source("qwen2.5-vl.act.mobile.actions").strip()
    # The cookbook's example user turn, rebuilt from its goal and its one history step.
    example = source("qwen2.5-vl.act.user")
    goal = example.split("The user query:  ", 1)[1].split("\n", 1)[0]
    step = example.split("Step 1: ", 1)[1].rstrip("; ")
    assert prompts.act_user_text(goal, [step]) == example


def test_qwen3vl_is_the_screenspot_pro_reference_prompt():
    system, user = ground("qwen3-vl")
    assert system["content"] == source("qwen3-vl.ground.system")
    assert "1000x1000" in system["content"]
    assert user["content"] == [{"type": "image"}, {"type": "text", "text": TARGET}]
    assert get_profile("qwen3-vl").decoding.prefill is None


def test_ui_tars_grounding_prompt_has_no_system_and_the_image_first():
    (user,) = ground("ui-tars-1.5")
    expected = source("ui-tars-1.5.ground.user").format(instruction=TARGET)
    assert user["content"] == [{"type": "image"}, {"type": "text", "text": expected}]


def test_gta1_states_the_resized_height_and_width():
    system, user = ground("gta1")
    expected = source("gta1.ground.system").strip().format(height=728, width=1316)
    assert system["content"] == expected
    assert user["content"][1]["text"] == TARGET


def test_ui_venus_ground_and_15_prompts():
    (user,) = ground("ui-venus-ground")
    assert user["content"][1]["text"] == source("ui-venus-ground.ground.user").format(TARGET)
    # UI-Venus-1.5 drops one trailing period, then the refusal-aware prompt.
    (user,) = ground("ui-venus-1.5", TARGET + ".")
    expected = source("ui-venus-1.5.ground.user", instruction=TARGET)
    assert user["content"] == [{"type": "image"}, {"type": "text", "text": expected}]


def test_gui_owl_grounding_system_prompt():
    system, user = ground("gui-owl-1.5")
    assert system["content"] == source("gui-owl-1.5.ground.system")
    assert user["content"][1]["text"] == TARGET


def test_mai_ui_puts_the_text_before_the_image():
    system, user = ground("mai-ui")
    assert system["content"] == source("mai-ui.ground.system")
    assert user["content"] == [{"type": "text", "text": TARGET + "\n"}, {"type": "image"}]


def test_holo15_prompt_and_its_guided_decoding_schema():
    (user,) = ground("holo1.5")
    assert user["content"][1]["text"] == source("holo1.5.ground.user") + "\n" + TARGET

    class ClickAbsoluteAction(BaseModel):  # as in SSP models/holo1_5.py
        """Click at absolute coordinates."""

        action: Literal["click_absolute"] = "click_absolute"
        x: int = Field(description="The x coordinate, number of pixels from the left edge.")
        y: int = Field(description="The y coordinate, number of pixels from the top edge.")

    schema = ClickAbsoluteAction.model_json_schema()
    assert get_profile("holo1.5").decoding.json_schema == schema


def test_holo2_prompt_embeds_the_schema_repr_and_turns_thinking_off():
    describe = "The {} coordinate, normalized between 0 and 1000."

    class ClickCoordinates(BaseModel):  # as in the hai-cookbook notebook
        x: int = Field(ge=0, le=1000, description=describe.format("x"))
        y: int = Field(ge=0, le=1000, description=describe.format("y"))

    schema = ClickCoordinates.model_json_schema()
    (user,) = ground("holo2")
    prompt = source("holo2.ground.user", **{"ClickCoordinates.model_json_schema()": str(schema)})
    assert user["content"] == [{"type": "image"}, {"type": "text", "text": f"{prompt}\n{TARGET}"}]
    decoding = get_profile("holo2").decoding
    assert decoding.chat_template_kwargs == {"thinking": False}
    assert decoding.json_schema == schema and decoding.max_new_tokens == 32


def test_infigui_announces_the_resized_size_in_the_user_text():
    system, user = ground("infigui-g1")
    assert system["content"] == source("infigui-g1.ground.system")
    text = source(
        "infigui-g1.ground.user",
        image_width="1316",
        image_height="728",
        **{"sample['instruction']": TARGET},
    )
    # "<image>" marks where their own template puts the picture: first.
    assert text.startswith("<image>")
    assert user["content"] == [{"type": "image"}, {"type": "text", "text": text[len("<image>") :]}]


def test_ui_tars_goal_mode_prompt_and_history_turns():
    profile = get_profile("ui-tars-1.5")
    history = ["Action: click(point='<point>10 20</point>')"]
    messages = act_messages(profile, SIZE, "Save the file", history)
    template = source("ui-tars-1.5.act.computer")
    expected = template.format(language="English", instruction="Save the file")
    assert messages[1] == {"role": "user", "content": [{"type": "text", "text": expected}]}
    assert messages[2] == {"role": "assistant", "content": history[0]}
    assert messages[-1] == {"role": "user", "content": [{"type": "image"}]}
    phone = act_messages(profile, SIZE, "Open Files", [], mobile=True)
    mobile = source("ui-tars-1.5.act.mobile").format(language="English", instruction="Open Files")
    assert phone[1]["content"][0]["text"] == mobile


def test_qwen3_goal_mode_follows_the_mobile_agent_cookbook():
    profile = get_profile("qwen3-vl")
    history = ['I opened the "X" app.\n']
    messages = act_messages(profile, SIZE, "Search for Musk", history, mobile=True)
    assert messages[0]["content"] == source("qwen3-vl.act.mobile.system")
    steps = "Step 1: I opened the X app.; "
    expected = source(
        "qwen3-vl.act.mobile.user", instruction="Search for Musk", stage2_history=steps
    )
    assert messages[1]["content"] == [{"type": "text", "text": expected}, {"type": "image"}]
    assert qwen3_user_text("Search for Musk", history) == expected
    # On desktops: the cookbook's ComputerUse tool, at 1000x1000, in the same layout.
    desktop = act_messages(profile, SIZE, "Save", [])[0]["content"]
    tool = json.loads(desktop.split("<tools>\n", 1)[1].split("\n</tools>", 1)[0])["function"]
    fields = {"self.display_width_px": "1000", "self.display_height_px": "1000"}
    assert tool["description"] == source("qwen3-vl.act.computer.description", **fields).strip()
    actions = tool["parameters"]["properties"]["action"]["description"]
    assert actions == source("qwen3-vl.act.computer.actions").strip()
    assert profile.coordinate_space("act", mobile=True) is CoordinateSpace.REL999
    assert profile.coordinate_space("act", mobile=False) is CoordinateSpace.REL1000


def test_gui_owl_goal_mode_is_its_pc_agent_prompt():
    profile = get_profile("gui-owl-1.5")
    messages = act_messages(profile, SIZE, "Open the terminal", ["Step text"])
    assert messages[0]["content"] == source("gui-owl-1.5.act.computer.system")
    expected = source(
        "gui-owl-1.5.act.computer.user",
        instruction="Open the terminal",
        previous_actions_str="Step 1: Step text",
    )
    assert messages[1]["content"] == [{"type": "text", "text": expected}, {"type": "image"}]
    assert not profile.can_plan(mobile=True) and profile.can_plan(mobile=False)


@pytest.mark.parametrize(
    ("name", "screen", "expected"),
    [
        # factor 28, 1280 tokens: REFERENCE 1's table.
        ("qwen2.5-vl", (1920, 1080), (1316, 728)),
        ("ui-tars-1.5", (1080, 2400), (672, 1484)),
        # factor 32, 1280 tokens: hand-computed smart_resize (beta = sqrt(2073600/1310720)).
        ("qwen3-vl", (1920, 1080), (1504, 832)),
        ("mai-ui", (2560, 1440), (1504, 832)),
        # UI-Venus-Ground's own 2000000..4800000: a 1280x800 screen grows to >= 2 MP
        # (beta = sqrt(2000000 / 1024000), sides ceiled to 28).
        ("ui-venus-ground", (1280, 800), (1792, 1120)),
    ],
)
def test_agent_frames_use_the_profile_factor_and_limits(name, screen, expected):
    profile = get_profile(name)
    low, high = profile.pixel_limits()
    frame = profile.frame_for(screen, min_pixels=low, max_pixels=high)
    assert frame.model_size == expected
    assert frame.factor == profile.factor and frame.space is profile.space
    assert expected[0] % profile.factor == 0 and expected[1] % profile.factor == 0


def test_benchmark_frames_follow_each_authors_limits():
    def bench(name: str, screen: tuple[int, int]) -> tuple[int, int]:
        profile = get_profile(name)
        low, high = profile.pixel_limits("benchmark")
        return profile.frame_for(screen, min_pixels=low, max_pixels=high).model_size

    # GUI-Owl-1.5: at most 9800 tokens of 32 px; 3840x2160 rounds to 3840x2176 (8160 tokens).
    assert bench("gui-owl-1.5", (3840, 2160)) == (3840, 2176)
    # MAI-UI: max 6553600 px; beta = sqrt(8294400 / 6553600) = 1.125 -> 3413 / 1920, floored.
    assert bench("mai-ui", (3840, 2160)) == (3392, 1920)
    # InfiGUI-G1: area scaled to 5600*28*28 with rounded sides (2794x1571), then
    # smart_resize rounds to 28: 2800x1568 -- not the 2772x1568 a plain smart_resize gives.
    assert bench("infigui-g1", (3840, 2160)) == (2800, 1568)
    assert smart_resize(3840, 2160, max_pixels=5600 * 28 * 28) == (2772, 1568)
    # Holo1.5: 2560*1440 at most.
    assert bench("holo1.5", (2560, 1440)) == (2548, 1428)


def _image() -> Any:
    from PIL import Image

    return Image.new("RGB", (1920, 1080), (200, 200, 200))
