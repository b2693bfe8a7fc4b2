"""Any profiled model behind an OpenAI-compatible chat-completions server.

Works with vLLM (``vllm serve Qwen/Qwen2.5-VL-7B-Instruct``), SGLang, Ollama
and hosted endpoints. The profile (`agent.models.profiles`, chosen from the
served model name unless given) decides the prompts, the image/text order,
the pixel limits and patch factor, the prefill (sent as a final assistant
message with vLLM/SGLang's ``continue_final_message``), chat-template
arguments and structured output. The screenshot is resized on the client to
its exact `smart_resize` size for the profile and sent as a base64 data URL,
so the server's own resize is the identity and the coordinates refer to the
image this client knows; several vLLM releases ignored server-side
``max_pixels``, so the prompt token count the server reports is checked
against the visual tokens expected and a mismatch is logged as a warning.

Timeouts, and retries with exponential backoff on 408/409/429/5xx and
connection errors (honouring Retry-After), are the openai client's own;
batches run with at most `spec.concurrency` requests in flight per endpoint;
with ``spec.endpoints`` requests spread over several (`agent.models.endpoints`).
"""

from __future__ import annotations

import base64
import functools
import io
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

from PIL import Image

from actions.frames import CoordinateFrame, family_of_space, visual_tokens
from actions.project_errors import InputError, ScreenpilotError, require
from agent.models import prompts
from agent.models.base import Model, ModelReply, ModelRequest
from agent.models.endpoints import EndpointPool
from agent.models.resize import to_model_image
from agent.models.spec import ModelSpec

log = logging.getLogger(__name__)

# vLLM and SGLang continue a final assistant message instead of opening a new one.
CONTINUE_FINAL_MESSAGE = {"continue_final_message": True, "add_generation_prompt": False}


class ServerError(ScreenpilotError):
    """The server kept failing (5xx, 429, timeouts) after every retry."""


class EndpointDown(InputError):
    """The server could not be reached (still bad input, exit 2, when it is the only one)."""


def encode_image(image: Image.Image, image_format: str = "png") -> str:
    """A data URL of `image`: PNG (lossless, fast compression level) or JPEG (quality 95)."""
    buffer = io.BytesIO()
    if image_format == "jpeg":
        image.save(buffer, "JPEG", quality=95)
        mime = "image/jpeg"
    else:
        # Level 1 costs ~20 ms for a 1316x728 screen and is ~10 % larger than level 6.
        image.save(buffer, "PNG", compress_level=1)
        mime = "image/png"
    return f"data:{mime};base64,{base64.b64encode(buffer.getvalue()).decode('ascii')}"


def to_openai_messages(messages: list[prompts.Message], image_url: str) -> list[dict[str, Any]]:
    """Chat-template messages -> chat-completions messages with the image as a data URL."""
    out = []
    for message in messages:
        content = message["content"]
        if isinstance(content, list):
            content = [
                {"type": "image_url", "image_url": {"url": image_url}}
                if part.get("type") == "image"
                else {"type": "text", "text": part["text"]}
                for part in content
            ]
        out.append({"role": message["role"], "content": content})
    return out


@functools.cache
def _qwen_tokenizer(model: str) -> Any:
    """The model's own tokenizer if it is on disk (a local folder or the Hugging Face
    cache; never downloaded), for exact prompt counts; None otherwise."""
    try:
        from tokenizers import Tokenizer
    except ImportError:
        return None
    candidates: list[Path] = []
    if Path(model).is_dir():
        candidates.append(Path(model) / "tokenizer.json")
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(model, "tokenizer.json")
        if isinstance(cached, str):
            candidates.append(Path(cached))
    except Exception as exc:  # not a hub id, no cache: fall back to an estimate
        log.debug("no cached tokenizer for %s: %s", model, exc)
    for path in candidates:
        if path.is_file():
            try:
                return Tokenizer.from_file(str(path))
            except Exception as exc:
                log.debug("cannot read %s: %s", path, exc)
    return None


def expected_prompt_tokens(model: str, prompt_text: str, image_tokens: int) -> tuple[int, bool]:
    """Prompt tokens a Qwen-VL server should report, and whether the count is exact.

    `prompt_text` is the chat-template rendering with one ``<|image_pad|>``;
    the server expands it to `image_tokens` tokens.
    """
    tokenizer = _qwen_tokenizer(model)
    if tokenizer is not None:
        count = len(tokenizer.encode(prompt_text, add_special_tokens=False).ids)
        return count - 1 + image_tokens, True
    # ~3.6 characters per token for this English, JSON-heavy prompt.
    return round(len(prompt_text) / 3.6) + image_tokens, False


def check_prompt_tokens(
    reported: int | None, expected: int, exact: bool, image_tokens: int
) -> str | None:
    """A warning if the server's prompt token count says it resized the image after all."""
    if reported is None:
        return None
    text_tokens = max(expected - image_tokens, 1)
    slack = 16 if exact else 16 + text_tokens // 4
    if abs(reported - expected) <= slack:
        return None
    return (
        f"the server counted {reported} prompt tokens, {expected} expected for "
        f"{image_tokens} visual tokens: it may resize images itself (set its max_pixels "
        "at least as high as ours, or check that --profile matches the served model)"
    )


def served_models(base_url: str, api_key: str = "EMPTY", timeout: float = 30.0) -> list[str]:
    """The model names an OpenAI-compatible server lists (GET /models)."""
    openai = require("openai", "serve")
    client = openai.OpenAI(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=1)
    try:
        return [m.id for m in client.models.list()]
    except openai.APIConnectionError as exc:
        cause = exc.__cause__ or exc
        raise InputError(f"cannot reach the model server at {base_url}: {cause}") from None
    except openai.APIStatusError as exc:
        raise InputError(
            f"{base_url} did not list its models (HTTP {exc.status_code}): {_error_detail(exc)}"
        ) from None
    finally:
        client.close()


def the_served_model(base_url: str, api_key: str = "EMPTY") -> str:
    """The one model a server serves; an InputError names them if it serves several or none."""
    names = served_models(base_url, api_key)
    if len(names) == 1:
        return names[0]
    if not names:
        raise InputError(f"{base_url} lists no model; pass the model name with model=...")
    raise InputError(
        f"{base_url} serves {len(names)} models ({', '.join(names)}); choose one with model=..."
    )


class OpenAIModel(Model):
    """A model behind an OpenAI-compatible endpoint. Build it with `load_model`."""

    def __init__(self, spec: ModelSpec) -> None:
        openai = require("openai", "serve")
        self.spec = spec
        resolved = spec.resolve(read_config=False)
        log.info("%s: %s", spec.model, resolved.describe())
        self.profile = resolved.profile
        self.space = spec.coordinate_override()
        self.min_pixels, self.max_pixels = spec.pixel_limits(self.profile)
        self.family = family_of_space(self.space or self.profile.space, self.profile.factor)
        self._openai = openai
        key = spec.resolved_api_key()

        def client(url: str | None) -> Any:
            return openai.OpenAI(
                base_url=url, api_key=key, timeout=spec.timeout, max_retries=spec.retries
            )

        self.pool = EndpointPool([spec.base_url, *spec.endpoints], client, spec.concurrency)
        self.client = self.pool.endpoints[0].client
        self._warned = False

    def frame_for(
        self, image: Image.Image, *, kind: Literal["ground", "act"] = "ground", mobile: bool = False
    ) -> CoordinateFrame:
        """The frame a screenshot is answered in (the profile's resize under our limits)."""
        return self.profile.frame_for(
            image.size,
            min_pixels=self.min_pixels,
            max_pixels=self.max_pixels,
            kind=kind,
            mobile=mobile,
            space=self.space,
        )

    def answer(self, requests: list[ModelRequest]) -> list[ModelReply]:
        """Answer `requests` with at most `spec.concurrency` in flight per endpoint, in order."""
        in_flight = self.spec.concurrency * len(self.pool)
        if len(requests) <= 1 or in_flight == 1:
            return [self._answer_one(r) for r in requests]
        workers = min(in_flight, len(requests))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="openai") as pool:
            return list(pool.map(self._answer_one, requests))

    def _answer_one(self, request: ModelRequest) -> ModelReply:
        t0 = time.perf_counter()
        profile = self.profile
        frame = self.frame_for(request.image, kind=request.kind, mobile=request.mobile)
        image = to_model_image(request.image, frame.model_size)
        url = encode_image(image, self.spec.image_format)
        messages, prefill = prompts.request_messages(
            request, frame.model_size, prefill=self.spec.use_prefill(), profile=profile
        )
        payload = to_openai_messages(messages, url)
        body: dict[str, Any] = {}
        if prefill:
            payload.append({"role": "assistant", "content": prefill})
            body.update(CONTINUE_FINAL_MESSAGE)
        if profile.decoding.chat_template_kwargs:
            body["chat_template_kwargs"] = dict(profile.decoding.chat_template_kwargs)
        extra: dict[str, Any] = {"extra_body": body} if body else {}
        if request.kind == "ground" and profile.decoding.json_schema is not None:
            schema = profile.decoding.json_schema
            extra["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": str(schema.get("title", "answer")), "schema": schema},
            }
        act = profile.act if request.kind == "act" else None
        stop = list(act.stop if act is not None else profile.decoding.stop)
        t1 = time.perf_counter()
        completion = self._create(payload, extra, stop, self.spec.token_cap(profile, request.kind))
        t2 = time.perf_counter()
        raw, finish = _reply_text(completion)
        ended = prompts.TOOL_CALL_END in stop and finish == "stop"
        if ended and "<tool_call>" in prefill + raw and prompts.TOOL_CALL_END not in raw:
            raw += prompts.TOOL_CALL_END  # the server cut the stop string off
        if prefill and not raw.lstrip().startswith("<tool_call>"):
            raw = prefill + raw
        tokens = visual_tokens(frame.model_size, frame.factor)
        self._check_usage(completion, messages, prefill, tokens)
        seconds = {"preprocess": t1 - t0, "model": t2 - t1}
        return ModelReply(
            raw=raw, frame=frame, profile=profile.name, visual_tokens=tokens, seconds=seconds
        )

    def _create(
        self, messages: list[dict[str, Any]], extra: dict[str, Any], stop: list[str], cap: int
    ) -> Any:
        """One completion from the least busy endpoint; another one when it fails."""

        def request(client: Any, url: str) -> Any:
            return self._create_on(client, url, messages, extra, stop, cap)

        return self.pool.call(request, retryable=(ServerError, EndpointDown))

    def _create_on(
        self,
        client: Any,
        url: str,
        messages: list[dict[str, Any]],
        extra: dict[str, Any],
        stop: list[str],
        cap: int,
    ) -> Any:
        openai = self._openai
        where = url or "the default OpenAI endpoint"
        try:
            return client.chat.completions.create(
                model=self.spec.model,
                messages=messages,
                temperature=0.0,
                max_tokens=cap,
                stop=stop or None,
                **extra,
            )
        except openai.APITimeoutError:
            raise ServerError(
                f"{where} did not answer within {self.spec.timeout:g} s "
                f"({self.spec.retries} retries)"
            ) from None
        except openai.APIConnectionError as exc:
            cause = exc.__cause__ or exc
            raise EndpointDown(f"cannot reach the model server at {where}: {cause}") from None
        except openai.APIStatusError as exc:
            detail = _error_detail(exc)
            if exc.status_code in (408, 409, 429) or exc.status_code >= 500:
                raise ServerError(
                    f"{where} failed with HTTP {exc.status_code} after {self.spec.retries} "
                    f"retries: {detail}"
                ) from None
            raise InputError(
                f"{where} refused the request (HTTP {exc.status_code}) for model "
                f"{self.spec.model!r}: {detail}"
            ) from None

    def _check_usage(
        self, completion: Any, messages: list, prefill: str, image_tokens: int
    ) -> None:
        usage = getattr(completion, "usage", None)
        reported = getattr(usage, "prompt_tokens", None)
        if reported is None:
            return
        # A continued assistant message has no end-of-turn: the prompt ends with the prefill.
        # The rendering is Qwen2.5-VL's template; Qwen3-VL's differs by a few tokens (no
        # default system turn), which the estimate's slack covers.
        qwen25 = "qwen2_5_vl" in self.profile.architectures
        text = prompts.render_chat(messages, prefill)
        expected, exact = expected_prompt_tokens(self.spec.model, text, image_tokens)
        exact = exact and qwen25
        warning = check_prompt_tokens(reported, expected, exact, image_tokens)
        if warning:
            level = logging.DEBUG if self._warned else logging.WARNING
            log.log(level, "%s", warning)
            self._warned = True

    def close(self) -> None:
        """Close the HTTP clients."""
        self.pool.close()


def _reply_text(completion: Any) -> tuple[str, str | None]:
    choices = getattr(completion, "choices", None) or []
    if not choices:
        return "", None
    choice = choices[0]
    message = getattr(choice, "message", None)
    content = getattr(message, "content", None) or ""
    if isinstance(content, list):  # some servers answer with content parts
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return str(content), getattr(choice, "finish_reason", None)


def _error_detail(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        message = err.get("message") if isinstance(err, dict) else err
        if message:
            return str(message).splitlines()[0][:300]
    try:
        return json.dumps(body)[:300] if body is not None else str(exc).splitlines()[0][:300]
    except (TypeError, ValueError):
        return str(exc).splitlines()[0][:300]
