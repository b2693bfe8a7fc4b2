"""The profile table: one entry per model family, each citing the files its facts come from.

Prompt strings are the authors' own, byte for byte (tests/test_profiles.py
checks each against a verbatim copy of the cited source literal, kept in
tests/data/profile_sources.json). ``{instruction}``, ``{width}`` and
``{height}`` are filled in literally; ``{width}x{height}`` is the
smart_resized size. Adding a profile is one entry here, its official reader for
`agent eval` included (`reader`): no backend changes, no second table.

Not in the table (custom model code, not stock transformers): GUI-Actor (a
pointer head that needs its repository's model class) and OpenCUA-7B / the
newer Salesforce/GTA1-7B built on it (trust_remote_code; they answer
``pyautogui.click(x=.., y=..)`` in absolute resized pixels). Serve those with
vLLM at most; the local backend does not load them.

Short names of the sources cited below:
  SSP      likaixin2000/ScreenSpot-Pro-GUI-Grounding @ bd8bbbb470fbc4fda2a4fa9ec90bd2572507794e
  SSP-Q3   upstream commit 573b40ef0425ab384b5ffc2817faafb99c1a8b60 of the same harness
           (read in the fork anaicalledsolaris/ScreenSpot-Pro-GUI-Grounding)
  QWEN25   QwenLM/Qwen2.5-VL @ f0af2996e843cf46aa5f778c38d6694500c2ca81
  QWEN3    QwenLM/Qwen3-VL @ 96588727e44c78b25ba03ea03b8e12f7e64fd0da
  UITARS   bytedance/UI-TARS @ 582f3a7ea5d285ee8ed9e2e84048d1ab01453c49
  GTA1     Yan98/GTA1 @ 81f0c4c2997cf6ad696d42f47c5480f4c856b73a
  VENUS    inclusionAI/UI-Venus (commits named per entry)
  MOBAG    X-PLUG/MobileAgent @ 11cea575561fb7800b5fb6b6cafa56f7a91de11f
  MAIUI    Tongyi-MAI/MAI-UI @ 4dd07b9e910a294f001452e888514d912b96cc41
  HAI      hcompai/hai-cookbook @ 2ba89619bdcfe729d31649d976bdaa7b9551e216
  INFIGUI  InfiXAI/InfiGUI-G1 @ 22208e4d4826626731292fa08bb73ec9fc6f9b15
  CLAWGUI  ZJU-REAL/ClawGUI @ d990d3e3f2390ced708771d9681d3c4f9a6cbef5 (reproduction harness)
  BOARD    GUI-Agent/grounding-leaderboard results/screenspot_pro.json (published figures)
"""

from __future__ import annotations

from actions.answer_formats import AnswerFormat
from actions.frames import CoordinateSpace
from actions.project_errors import InputError
from actions.tool_prompt import system_prompt
from agent.eval import author_readers as authors
from agent.eval.harness_readers import read_holo1_5, read_qwen2_5_vl, read_qwen3_vl
from agent.models.grounder_prompts import (
    GTA1_SYSTEM,
    GUIOWL_GROUND_SYSTEM,
    HOLO2_SCHEMA,
    HOLO2_USER,
    HOLO15_SCHEMA,
    HOLO15_USER,
    INFIGUI_SYSTEM,
    INFIGUI_USER,
    MAI_SYSTEM,
    UITARS_GROUND_USER,
    VENUS15_USER,
    VENUS_GROUND_USER,
)
from agent.models.profile import (
    ActSpec,
    Decoding,
    GroundPrompt,
    OfficialReader,
    PixelLimits,
    Profile,
    Published,
)
from agent.models.profile_prompts import (
    QWEN3_GROUND_SYSTEM,
    QWEN25_GROUND_SYSTEM,
    QWEN25_MOBILE_PREFILL,
    QWEN25_PREFILL,
)

PIXELS = CoordinateSpace.PIXELS
REL1000 = CoordinateSpace.REL1000
REL999 = CoordinateSpace.REL999
TOOL_CALL_END = "</tool_call>"
# Official readers (`OfficialReader.kind`) and the ScreenSpot-Pro harness they may follow.
HARNESS = "ScreenSpot-Pro harness"
SCRIPT = "authors' ScreenSpot-Pro script"
PARSER = "authors' answer parser"
SSP = "likaixin2000/ScreenSpot-Pro-GUI-Grounding @ bd8bbbb"

# Agent steps: 1280 visual tokens at most (a 1920x1080 screen -> 1316x728 at factor 28), the
# speed trade-off screenpilot always made; benchmarks use each author's own limits below.
AGENT_28 = PixelLimits(min_pixels=4 * 28 * 28, max_pixels=1280 * 28 * 28)
AGENT_32 = PixelLimits(min_pixels=64 * 32 * 32, max_pixels=1280 * 32 * 32)
# What a Qwen3-VL processor allows (preprocessor_config size shortest/longest_edge).
QWEN3_PROCESSOR = PixelLimits(min_pixels=65536, max_pixels=16777216)


def _board(model: str, ssp: float) -> Published:
    # Checked in BOARD @ ef17af06d60111eccbbdff93d8539dbcf2f7ab7c (overall "avg").
    return Published(model=model, ssp=ssp, source="GUI-Agent/grounding-leaderboard")


def _card(model: str, ssp: float, source: str) -> Published:
    return Published(model=model, ssp=ssp, source=source)


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            name="qwen2.5-vl",
            reader=OfficialReader(
                name="ssp-qwen2.5-vl",
                source=f"{SSP} models/qwen2_5vl.py",
                kind=HARNESS,
                read=read_qwen2_5_vl,
            ),
            summary="Qwen2.5-VL Instruct: computer_use tool call in resized pixels (default)",
            architectures=("qwen2_5_vl",),
            hub_ids=tuple(f"Qwen/Qwen2.5-VL-{s}-Instruct" for s in ("3B", "7B", "32B", "72B")),
            patterns=(r"qwen2\.?5-?vl",),
            factor=28,
            space=PIXELS,
            # SSP asks max_pixels 99999999; the processor's own limit (16384*28*28) still applies.
            benchmark_pixels=PixelLimits(min_pixels=3136, max_pixels=16384 * 28 * 28),
            agent_pixels=AGENT_28,
            ground=GroundPrompt(
                system=QWEN25_GROUND_SYSTEM,
                # --mobile grounding: the cookbook's mobile_use tool (screenpilot's choice).
                mobile_system=system_prompt(("{width}", "{height}"), mobile=True),  # type: ignore
                user="{instruction}",
            ),
            decoding=Decoding(
                max_new_tokens=256,
                prefill=QWEN25_PREFILL,
                mobile_prefill=QWEN25_MOBILE_PREFILL,
                stop=(TOOL_CALL_END,),
            ),
            # QWEN25 cookbooks/utils/agent_function_call.py + mobile_agent.ipynb.
            act=ActSpec(
                format="qwen2.5-vl",
                space=PIXELS,
                stop=(TOOL_CALL_END,),
                source="QWEN25 cookbooks",
            ),
            published=(
                Published(model="Qwen2.5-VL-3B", ssp=23.9, source="model card"),
                Published(model="Qwen2.5-VL-7B", ssp=29.0, source="model card"),
                Published(model="Qwen2.5-VL-72B", ssp=43.6, source="model card"),
            ),
            sources=("SSP models/qwen2_5vl.py", "QWEN25 cookbooks/utils/agent_function_call.py"),
        ),
        Profile(
            name="qwen3-vl",
            reader=OfficialReader(
                name="ssp-qwen3-vl",
                source="ScreenSpot-Pro-GUI-Grounding @ 573b40ef models/qwen3vl.py",
                kind=HARNESS,
                read=read_qwen3_vl,
            ),
            summary="Qwen3-VL Instruct: computer_use tool call in 0-1000",
            architectures=("qwen3_vl", "qwen3_vl_moe"),
            hub_ids=tuple(
                f"Qwen/Qwen3-VL-{s}-Instruct"
                for s in ("2B", "4B", "8B", "32B", "30B-A3B", "235B-A22B")
            ),
            patterns=(r"qwen3-?vl",),
            factor=32,
            space=REL1000,
            # SSP-Q3 asks 32*32 .. 99999999; the processor's own limits still apply.
            benchmark_pixels=QWEN3_PROCESSOR,
            agent_pixels=AGENT_32,
            ground=GroundPrompt(system=QWEN3_GROUND_SYSTEM, user="{instruction}"),
            # SSP-Q3: greedy, no prefill, the last tool call counts; it allows 10000 new tokens,
            # a cap only a runaway answer reaches (a tool call is ~30 tokens).
            answer=AnswerFormat(point="last"),
            decoding=Decoding(max_new_tokens=256),
            # Desktop: the ComputerUse tool of QWEN3 cookbooks/utils/agent_function_call.py at
            # 1000x1000. Mobile: QWEN3 cookbooks/mobile_agent.ipynb verbatim, which announces
            # 999x999 and divides by 999.
            act=ActSpec(
                format="qwen3-vl",
                space=REL1000,
                mobile_space=REL999,
                stop=(TOOL_CALL_END,),
                source="QWEN3 cookbooks",
            ),
            # Not in the leaderboard snapshot: REFERENCE 8's figures (model card).
            published=(
                _card("Qwen3-VL-2B", 48.5, "model card"),
                _card("Qwen3-VL-4B", 59.5, "model card"),
                _card("Qwen3-VL-8B", 54.6, "model card"),
            ),
            sources=("SSP-Q3 models/qwen3vl.py", "QWEN3 cookbooks/mobile_agent.ipynb"),
        ),
        Profile(
            name="ui-tars-1.5",
            reader=OfficialReader(
                name="ui-tars-action-parser",
                source="bytedance/UI-TARS @ 582f3a7 codes/ui_tars/action_parser.py",
                kind=PARSER,
                read=authors.read_ui_tars,
            ),
            summary="UI-TARS-1.5: Action: click(point='<point>x y</point>') in resized pixels",
            architectures=("qwen2_5_vl",),
            hub_ids=("ByteDance-Seed/UI-TARS-1.5-7B",),
            patterns=(r"ui-?tars-?1\.5",),
            factor=28,
            space=PIXELS,
            # UITARS README_coordinates.md: MIN_PIXELS 100*28*28, MAX_PIXELS 16384*28*28.
            benchmark_pixels=PixelLimits(min_pixels=100 * 28 * 28, max_pixels=16384 * 28 * 28),
            agent_pixels=PixelLimits(min_pixels=100 * 28 * 28, max_pixels=1280 * 28 * 28),
            # No system message (the chat template adds its default); image first (CLAWGUI
            # scripts/infer/*/uitars_run_*.sh TV_OR_VT="vt").
            ground=GroundPrompt(user=UITARS_GROUND_USER),
            decoding=Decoding(max_new_tokens=512),  # CLAWGUI MAX_TOKENS=512
            # Goal mode: COMPUTER_USE_DOUBAO / MOBILE_USE_DOUBAO; history as in OSWorld's
            # mm_agents/uitars_agent.py (earlier answers as assistant turns).
            act=ActSpec(format="ui-tars-1.5", max_new_tokens=1000, source="UITARS prompt.py"),
            published=(_card("UI-TARS-1.5-7B", 49.6, "bytedance/UI-TARS README"),),
            sources=("UITARS codes/ui_tars/prompt.py", "UITARS README_coordinates.md"),
        ),
        Profile(
            name="gta1",
            reader=OfficialReader(
                name="gta1-readme",
                source="Yan98/GTA1 @ 81f0c4c README.md (extract_coordinates)",
                kind=PARSER,
                read=authors.read_gta1,
            ),
            summary="GTA1-7B-2507 (Qwen2.5-VL): (x,y) in resized pixels",
            architectures=("qwen2_5_vl",),
            hub_ids=("Salesforce/GTA1-7B-2507", "HelloKKMe/GTA1-7B-2507"),
            patterns=(r"gta1",),
            factor=28,
            space=PIXELS,
            benchmark_pixels=PixelLimits(min_pixels=3136, max_pixels=4096 * 2160),
            agent_pixels=AGENT_28,
            ground=GroundPrompt(system=GTA1_SYSTEM, user="{instruction}"),
            # GTA1 README: the first "(x,y)" in the answer; 32 new tokens, greedy.
            answer=AnswerFormat(loose_point=True),
            decoding=Decoding(max_new_tokens=32),
            published=(_board("GTA1-7B-2507", 50.1),),  # "GTA1-Qwen2.5VL-7B" there
            sources=("GTA1 README.md",),
            notes="The newer Salesforce/GTA1-7B (OpenCUA-based) is not this model.",
        ),
        Profile(
            name="ui-venus-ground",
            reader=OfficialReader(
                name="ui-venus-ground-7b",
                source="inclusionAI/UI-Venus @ fc7670d models/grounding/ui_venus_ground_7b.py",
                kind=SCRIPT,
                read=authors.read_ui_venus_ground,
            ),
            summary="UI-Venus-Ground (Qwen2.5-VL): [x1,y1,x2,y2] box in resized pixels",
            architectures=("qwen2_5_vl",),
            hub_ids=("inclusionAI/UI-Venus-Ground-7B", "inclusionAI/UI-Venus-Ground-72B"),
            patterns=(r"ui-?venus-?ground",),
            factor=28,
            space=PIXELS,
            # The 7B's limits; its own min (2000000) is above the agent default, so agent
            # steps use them too.
            benchmark_pixels=PixelLimits(min_pixels=2000000, max_pixels=4800000),
            agent_pixels=PixelLimits(min_pixels=2000000, max_pixels=4800000),
            ground=GroundPrompt(user=VENUS_GROUND_USER),
            answer=AnswerFormat(loose_point=True),
            decoding=Decoding(max_new_tokens=128),
            published=(_board("UI-Venus-Ground-7B", 50.8),),  # "UI-Venus-7B" there
            sources=("VENUS@fc7670d models/grounding/ui_venus_ground_7b.py",),
            notes="ClawGUI's README labels it 0-1000; its code and the authors' read "
            "absolute pixels. The 72B's own script uses another prompt and limits.",
        ),
        Profile(
            name="ui-venus-1.5",
            reader=OfficialReader(
                name="ui-venus-1.5-ssp",
                source="inclusionAI/UI-Venus @ c3a1442 models/grounding/eval_screenspot_pro.py",
                kind=SCRIPT,
                read=authors.read_ui_venus_1_5,
            ),
            summary="UI-Venus-1.5 (Qwen3-VL): [x,y] in 0-1000, [-1,-1] = not on screen",
            architectures=("qwen3_vl", "qwen3_vl_moe"),
            hub_ids=("inclusionAI/UI-Venus-1.5-2B", "inclusionAI/UI-Venus-1.5-8B"),
            patterns=(r"ui-?venus-?1\.5",),
            factor=32,
            space=REL1000,
            benchmark_pixels=QWEN3_PROCESSOR,  # the processor's defaults
            agent_pixels=AGENT_32,
            ground=GroundPrompt(user=VENUS15_USER, strip_period=True),
            answer=AnswerFormat(loose_point=True),
            decoding=Decoding(max_new_tokens=256),
            published=(_board("UI-Venus-1.5-2B", 57.7), _board("UI-Venus-1.5-8B", 68.4)),
            sources=("VENUS@c3a1442 models/grounding/eval_screenspot_pro.py",),
        ),
        Profile(
            name="gui-owl-1.5",
            reader=OfficialReader(
                name="gui-owl-1.5-grounding-eval",
                source="X-PLUG/MobileAgent @ 11cea57 Mobile-Agent-v3.5/grounding_and_kb/"
                "eval_grounding_benchmarks.py",
                kind=SCRIPT,
                read=authors.read_gui_owl_1_5,
            ),
            summary="GUI-Owl-1.5 (Qwen3-VL): computer_use tool call in 0-1000",
            architectures=("qwen3_vl", "qwen3_vl_moe"),
            hub_ids=tuple(f"mPLUG/GUI-Owl-1.5-{s}-Instruct" for s in ("2B", "4B", "8B")),
            patterns=(r"gui-?owl-?1\.5",),
            factor=32,
            space=REL1000,
            # MOBAG eval_grounding_benchmarks.py: processor 196*32*32 .. 9800*32*32.
            benchmark_pixels=PixelLimits(min_pixels=196 * 32 * 32, max_pixels=9800 * 32 * 32),
            agent_pixels=PixelLimits(min_pixels=196 * 32 * 32, max_pixels=1280 * 32 * 32),
            ground=GroundPrompt(system=GUIOWL_GROUND_SYSTEM, user="{instruction}"),
            # The last (x, y) / [x, y] in the answer counts; greedy (top_k 1, T 0.01), 2048.
            answer=AnswerFormat(point="last", loose_point=True),
            decoding=Decoding(max_new_tokens=2048),
            # MOBAG Mobile-Agent-v3.5/computer_use (the PC agent); its phone agent is not
            # implemented here.
            act=ActSpec(
                format="gui-owl-1.5",
                mobile=False,
                space=REL1000,
                max_new_tokens=2048,
                source="MOBAG computer_use/utils.py",
            ),
            # Not in the leaderboard snapshot: REFERENCE 8's figures (technical report).
            published=(
                _card("GUI-Owl-1.5-2B", 57.8, "GUI-Owl-1.5 technical report"),
                _card("GUI-Owl-1.5-4B", 66.8, "GUI-Owl-1.5 technical report"),
                _card("GUI-Owl-1.5-8B", 71.1, "GUI-Owl-1.5 technical report"),
            ),
            sources=(
                "MOBAG Mobile-Agent-v3.5/grounding_and_kb/eval_grounding_benchmarks.py",
                "MOBAG Mobile-Agent-v3.5/computer_use/utils.py",
            ),
        ),
        Profile(
            name="mai-ui",
            reader=OfficialReader(
                name="mai-ui-eval-server",
                source="Tongyi-MAI/MAI-UI @ 4dd07b9 evaluation/grounding/eval_server.py",
                kind=SCRIPT,
                read=authors.read_mai_ui,
            ),
            summary='MAI-UI (Qwen3-VL): <answer>{"coordinate": [x,y]}</answer> in 0-1000',
            architectures=("qwen3_vl", "qwen3_vl_moe"),
            hub_ids=("Tongyi-MAI/MAI-UI-2B", "Tongyi-MAI/MAI-UI-8B"),
            patterns=(r"mai-?ui",),
            factor=32,
            space=REL1000,
            # MAIUI eval_server.py: smart_resize(factor 32, min 16*16*4, max 6553600).
            benchmark_pixels=PixelLimits(min_pixels=16 * 16 * 4, max_pixels=6553600),
            agent_pixels=PixelLimits(min_pixels=16 * 16 * 4, max_pixels=1280 * 32 * 32),
            ground=GroundPrompt(system=MAI_SYSTEM, user="{instruction}\n", image_first=False),
            answer=AnswerFormat(answer_tag="answer", loose_point=True),
            decoding=Decoding(max_new_tokens=256),  # temperature 0, 256 tokens
            published=(_board("MAI-UI-2B", 57.4), _board("MAI-UI-8B", 65.7)),
            sources=("MAIUI evaluation/grounding/eval_server.py",),
            notes="Its mobile agent (src/prompt.py) is not implemented here: grounding only.",
        ),
        Profile(
            name="holo1.5",
            reader=OfficialReader(
                name="ssp-holo1.5",
                source=f"{SSP} models/holo1_5.py",
                kind=HARNESS,
                read=read_holo1_5,
            ),
            summary='Holo1.5 (Qwen2.5-VL): {"action": "click_absolute", "x", "y"} pixels',
            architectures=("qwen2_5_vl",),
            hub_ids=tuple(f"Hcompany/Holo1.5-{s}" for s in ("3B", "7B", "72B")),
            patterns=(r"holo-?1\.5",),
            factor=28,
            space=PIXELS,
            # SSP models/holo1_5.py Holo1_5Parameters: min 4*28*28, max 2560*1440.
            benchmark_pixels=PixelLimits(min_pixels=3136, max_pixels=2560 * 1440),
            agent_pixels=AGENT_28,
            ground=GroundPrompt(user=HOLO15_USER),
            answer=AnswerFormat(loose_point=True),
            # Greedy, 32 tokens, JSON-schema guided decoding (a server that supports it).
            decoding=Decoding(max_new_tokens=32, json_schema=HOLO15_SCHEMA),
            published=(_board("Holo1.5-3B", 51.5), _board("Holo1.5-7B", 57.9)),
            sources=("SSP models/holo1_5.py",),
        ),
        Profile(
            name="holo2",
            reader=OfficialReader(
                name="holo2-cookbook",
                source="hcompai/hai-cookbook @ 2ba8961 holo2/holo_2_localization_huggingface.ipynb",
                kind=PARSER,
                read=authors.read_holo2,
            ),
            summary='Holo2 (Qwen3-VL): {"x": .., "y": ..} in 0-1000 after </think>',
            architectures=("qwen3_vl", "qwen3_vl_moe"),
            hub_ids=tuple(f"Hcompany/Holo2-{s}" for s in ("4B", "8B", "30B-A3B")),
            patterns=(r"holo-?2(?![0-9])",),
            factor=32,
            space=REL1000,
            benchmark_pixels=QWEN3_PROCESSOR,  # the processor's defaults (HAI hosted example)
            agent_pixels=AGENT_32,
            ground=GroundPrompt(user=HOLO2_USER),
            answer=AnswerFormat(think=True, loose_point=True),
            decoding=Decoding(
                max_new_tokens=32,
                chat_template_kwargs={"thinking": False},
                json_schema=HOLO2_SCHEMA,
            ),
            published=(_board("Holo2-4B", 57.2), _board("Holo2-8B", 58.9)),
            sources=("HAI holo2/holo_2_localization_huggingface.ipynb",),
        ),
        Profile(
            name="infigui-g1",
            reader=OfficialReader(
                name="infigui-g1-eval",
                source="InfiXAI/InfiGUI-G1 @ 22208e4 eval/prompts.py (think mode)",
                kind=SCRIPT,
                read=authors.read_infigui_g1,
            ),
            summary='InfiGUI-G1 (Qwen2.5-VL): think, then [{"point_2d": [x, y]}] in pixels',
            architectures=("qwen2_5_vl",),
            hub_ids=("InfiX-ai/InfiGUI-G1-3B", "InfiX-ai/InfiGUI-G1-7B"),
            patterns=(r"infigui-?g1",),
            factor=28,
            space=PIXELS,
            # INFIGUI eval/eval.py: area scaled to --max-image-tokens 5600 * 28*28 (sides
            # rounded), then smart_resize(max_pixels=12845056).
            resize="prescale",
            benchmark_pixels=PixelLimits(min_pixels=3136, max_pixels=5600 * 28 * 28),
            agent_pixels=AGENT_28,
            ground=GroundPrompt(system=INFIGUI_SYSTEM, user=INFIGUI_USER),
            answer=AnswerFormat(think=True),  # the first point_2d counts
            decoding=Decoding(max_new_tokens=1024),
            published=(
                _card("InfiGUI-G1-3B", 45.2, "InfiXAI/InfiGUI-G1 README"),
                _card("InfiGUI-G1-7B", 51.9, "InfiXAI/InfiGUI-G1 README"),
            ),
            sources=("INFIGUI eval/prompts.py", "INFIGUI eval/eval.py"),
        ),
    )
}

DEFAULT_PROFILE = "qwen2.5-vl"
OUT_OF_SCOPE = (
    "GUI-Actor (pointer head) and OpenCUA / Salesforce/GTA1-7B (custom code) are not "
    "supported by the local backend; serve them with vLLM at most"
)


def profile_names() -> list[str]:
    """Every profile name, in table order."""
    return list(PROFILES)


def get_profile(name: str) -> Profile:
    """The profile called `name`; a one-line InputError lists the valid ones."""
    key = name.strip().lower().replace("_", "-")
    if key in PROFILES:
        return PROFILES[key]
    raise InputError(f"unknown profile {name!r} (choose one of: {', '.join(PROFILES)})")


def planners(*, mobile: bool) -> list[str]:
    """The profiles with a goal mode on this platform."""
    return [p.name for p in PROFILES.values() if p.can_plan(mobile=mobile)]


def planning_error(profile: Profile, *, mobile: bool) -> str | None:
    """Why `profile` cannot plan towards a goal on this platform, or None if it can."""
    if profile.can_plan(mobile=mobile):
        return None
    where = "phones" if mobile else "desktops"
    what = "grounding only" if profile.act is None else f"no goal mode on {where}"
    return (
        f"profile {profile.name} cannot plan towards a goal ({what}); profiles that can "
        f"on {where}: {', '.join(planners(mobile=mobile))}"
    )
