"""The local transformers backend as an OpenAI-compatible server (`agent serve`).

One process holds the weights; every worker (``agent run --workers N``,
``agent eval``) is an ordinary OpenAI client of it, so N workers never load N
copies. Speaks the subset of ``POST /v1/chat/completions`` that the OpenAI
backend here (and vLLM clients generally) send: system/user/assistant messages
with text and ``image_url`` data-URL parts, ``max_tokens``, ``stop``,
``chat_template_kwargs`` and vLLM's ``continue_final_message`` (a final
assistant message is continued, not closed); greedy decoding only. ``GET
/v1/models`` lists the one model. The client applies the profile (prompts,
resize to the exact smart_resize size), so the image is used as sent.

Concurrent requests that decode alike (same token cap and stop strings) are
answered by one batched generate() (`agent.models.serve_batch`), each with the
answer it would get alone; the model itself is used by one thread only. A
bearer token is required when one is set (the CLI requires one for any address
off loopback, as `agent mcp` does).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import io
import json
import logging
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.models.serve_batch import DEFAULT_MAX_BATCH, DEFAULT_WINDOW, Batcher, Pending

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024 * 1024
"""Largest request accepted (a 4K PNG screenshot as base64 is well under this)."""


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "user", "assistant"]
    content: str | list[dict[str, Any]]


class ChatRequest(BaseModel):
    """The fields of a chat-completions request this server reads (others are ignored)."""

    model_config = ConfigDict(extra="ignore")

    model: str = ""
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=1, le=32_768)
    stop: str | list[str] | None = None
    temperature: float | None = None
    continue_final_message: bool = False
    add_generation_prompt: bool = True
    chat_template_kwargs: dict[str, Any] = Field(default_factory=dict)


class BadRequest(ValueError):
    """The request cannot be answered (HTTP 400 with this message)."""


def _image(url: str) -> Image.Image:
    if not url.startswith("data:image/") or "," not in url:
        raise BadRequest("only data:image/...;base64 image URLs are accepted")
    try:
        return Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB")
    except (binascii.Error, OSError, ValueError) as exc:
        raise BadRequest(f"unreadable image: {exc}") from None


def to_processor_messages(
    messages: list[ChatMessage],
) -> tuple[list[dict[str, Any]], list[Image.Image], str | None]:
    """OpenAI messages -> the processor's chat messages, their images, and a final
    assistant message to continue (None when the last message is not the assistant's)."""
    out: list[dict[str, Any]] = []
    images: list[Image.Image] = []
    prefill = None
    for i, message in enumerate(messages):
        if message.role == "assistant" and i == len(messages) - 1:
            text = message.content if isinstance(message.content, str) else ""
            prefill = text
            break
        if isinstance(message.content, str):
            out.append(
                {"role": message.role, "content": [{"type": "text", "text": message.content}]}
            )
            continue
        parts: list[dict[str, Any]] = []
        for part in message.content:
            if part.get("type") == "text":
                parts.append({"type": "text", "text": str(part.get("text", ""))})
            elif part.get("type") == "image_url":
                images.append(_image(str((part.get("image_url") or {}).get("url", ""))))
                parts.append({"type": "image"})
            else:
                raise BadRequest(f"unsupported content part {part.get('type')!r}")
        out.append({"role": message.role, "content": parts})
    return out, images, prefill


class LocalChat:
    """Answers chat requests with a loaded `QwenModel`, batching concurrent ones that
    decode alike (`agent.models.serve_batch`)."""

    def __init__(
        self,
        model: Any,
        name: str,
        *,
        max_batch: int = DEFAULT_MAX_BATCH,
        window: float = DEFAULT_WINDOW,
    ) -> None:
        self.model = model
        self.name = name
        self.batcher = Batcher(model, max_batch=max_batch, window=window)

    @property
    def answered(self) -> int:
        """Requests answered so far."""
        return self.batcher.requests

    @property
    def batches(self) -> int:
        """generate() calls so far (fewer than `answered` when requests were batched)."""
        return self.batcher.batches

    def close(self) -> None:
        """Answer the requests already waiting, then stop the batching thread."""
        self.batcher.close()

    def complete(self, request: ChatRequest) -> dict[str, Any]:
        """One chat completion (OpenAI's response shape, with usage)."""
        messages, images, prefill = to_processor_messages(request.messages)
        if len(images) > 1:
            raise BadRequest("one image per request")
        model = self.model
        processor = model.processor
        if prefill is not None and not request.continue_final_message:
            raise BadRequest("a final assistant message needs continue_final_message")
        text = processor.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True, **request.chat_template_kwargs
        )
        text += prefill or ""
        stops = request.stop if isinstance(request.stop, list) else [request.stop or ""]
        stops = tuple(s for s in stops if s)
        cap = request.max_tokens or 256
        done = self.batcher.submit(Pending(text=text, images=images, cap=cap, stops=stops))
        new, prompt_tokens = done.new_ids, done.prompt_tokens
        raw = model._decode(new, stops)
        finish = "stop" if len(new) < cap else "length"
        for stop in stops:  # vLLM leaves the stop string out of the text
            if raw.endswith(stop):
                raw = raw[: -len(stop)]
                finish = "stop"
        return {
            "id": f"chatcmpl-local-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.name,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": raw},
                    "finish_reason": finish,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": len(new),
                "total_tokens": prompt_tokens + len(new),
            },
        }


def make_server(chat: LocalChat, host: str, port: int, token: str | None) -> ThreadingHTTPServer:
    """A threading HTTP server answering /v1/models and /v1/chat/completions with `chat`."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, fmt: str, *args: Any) -> None:
            log.debug("%s " + fmt, self.address_string(), *args)

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, message: str) -> None:
            self._send(status, {"error": {"message": message, "code": status}})

        def _allowed(self) -> bool:
            if token is None:
                return True
            given = self.headers.get("Authorization", "")
            if hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return True
            self._error(401, "missing or wrong bearer token")
            return False

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if not self._allowed():
                return
            if self.path.rstrip("/") == "/v1/models":
                entry = {"id": chat.name, "object": "model", "owned_by": "screenpilot"}
                self._send(200, {"object": "list", "data": [entry]})
            else:
                self._error(404, f"no route {self.path}")

        def do_POST(self) -> None:  # noqa: N802
            if not self._allowed():
                return
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._error(404, f"no route {self.path}")
                return
            try:
                length = int(self.headers.get("Content-Length", "0"))
            except ValueError:
                length = -1
            if not 0 < length <= MAX_BODY:
                self._error(413 if length > MAX_BODY else 400, "bad Content-Length")
                return
            try:
                request = ChatRequest.model_validate_json(self.rfile.read(length))
                if request.model and request.model != chat.name:
                    self._error(404, f"model {request.model!r} is not served here ({chat.name})")
                    return
                self._send(200, chat.complete(request))
            except ValidationError as exc:
                self._error(400, str(exc).splitlines()[0])
            except BadRequest as exc:
                self._error(400, str(exc))
            except Exception as exc:  # answered as a server error; logged with its traceback
                log.exception("chat completion failed")
                self._error(500, f"{type(exc).__name__}: {exc}")

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server
