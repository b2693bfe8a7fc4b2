"""The MCP server: the tools of `agent.mcp.tools` registered on the official SDK's `MCPServer`.

Each tool's parameters are the fields of its argument model (so the JSON
schema the client sees is pydantic's), and its output schema is the result
model. A call runs on the `Worker` thread that owns the screen; the caller's
coordinates refer to the latest screenshot the server returned (see
`agent.mcp.host`). Every failure becomes an error result with one line of text, the
same line ``agent do`` prints after ``error:``: argument validation errors
included, whether the SDK or the argument model found them.

Confirmation (``--confirm``): the policy's question is put to the user through
MCP elicitation when the client declared it can elicit; otherwise the action
is refused with a message saying so.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, Field, ValidationError

from actions.project_errors import ScreenpilotError, require
from agent.errors import ActionDenied
from agent.mcp.host import Outcome, ScreenHost
from agent.mcp.tools import BY_NAME, SERVER_INSTRUCTIONS, ToolSpec, not_offered, tools_for
from agent.secrets import Redactor

log = logging.getLogger(__name__)

T = TypeVar("T")


class Worker:
    """The one thread that does all screen work, in the order calls arrive."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="screen")

    def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn` on the worker and wait (from a thread that is not the worker)."""
        return self._pool.submit(fn, *args).result()

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn` on the worker without blocking the event loop."""
        return await asyncio.wrap_future(self._pool.submit(fn, *args))

    def close(self) -> None:
        self._pool.shutdown(wait=True)


class Confirmation(BaseModel):
    """What the user is asked before a risky action."""

    allow: bool = Field(description="Allow screenpilot to do this?")


def error_message(exc: BaseException) -> str:
    """The one line ``agent`` prints after ``error:`` for this exception."""
    from actions.project_errors import format_validation_error

    if isinstance(exc, ValidationError):
        return format_validation_error(exc)
    if isinstance(exc, ScreenpilotError):
        return str(exc)
    return f"internal error: {type(exc).__name__}: {exc}"


def _asker(
    ctx: Any, loop: asyncio.AbstractEventLoop, timeout: float
) -> Callable[[str], bool] | None:
    """The policy's `ask`, through MCP elicitation; None when the client cannot elicit.

    An answer that has not come after `timeout` seconds is a no: the one screen
    worker waits for it, so every other client waits too.
    """
    try:
        capabilities = ctx.client_capabilities
    except ValueError:  # called outside an MCP request (server.call_tool from Python)
        return None
    if capabilities is None or capabilities.elicitation is None:
        return None

    def ask(question: str) -> bool:
        message = f"screenpilot wants to: {question}. Allow it?"
        future = asyncio.run_coroutine_threadsafe(ctx.elicit(message, Confirmation), loop)
        try:
            answer = future.result(timeout)
        except Exception as exc:  # the client failed or never answered: that is a no
            log.warning("confirmation failed (counted as no): %s", exc or type(exc).__name__)
            future.cancel()
            return False
        return answer.action == "accept" and bool(answer.data.allow)

    return ask


def _client_of(ctx: Any) -> str | None:
    """The client's HTTP session id (``Mcp-Session-Id``, what its view is keyed by).

    None over stdio (one client per server) and outside a request. The SDK
    builds a new session object per request, so the header is what stays.
    """
    try:
        request = ctx.request_context.request
    except (ValueError, AttributeError):  # server.call_tool from Python
        return None
    headers = getattr(request, "headers", None)
    return headers.get("mcp-session-id") if headers is not None else None


def _to_result(outcome: Outcome, redactor: Redactor | None = None) -> Any:
    """The wire result; every string in it passes through `redactor` (secrets as ``***``)."""
    import mcp_types as mt

    redactor = redactor or Redactor()

    content: list[Any] = []
    if outcome.image is not None:
        import base64

        data = base64.b64encode(outcome.image).decode("ascii")
        content.append(mt.ImageContent(type="image", data=data, mime_type=outcome.mime))
    content.append(mt.TextContent(type="text", text=redactor.text(outcome.text)))
    structured = redactor(outcome.data.model_dump(mode="json")) if outcome.data else None
    return mt.CallToolResult(content=content, structured_content=structured, is_error=outcome.error)


def _error(text: str) -> Outcome:
    return Outcome(text, error=True)


class ToolCaller:
    """Runs one tool call on the worker: validation, confirmation, errors as results."""

    def __init__(self, host: ScreenHost, worker: Worker) -> None:
        self.host = host
        self.worker = worker

    async def __call__(self, spec: ToolSpec, ctx: Any, arguments: dict[str, Any]) -> Any:
        ask = _asker(ctx, asyncio.get_running_loop(), self.host.options.confirm_timeout)
        outcome = await self.worker.call(self._run, spec, arguments, ask, _client_of(ctx))
        return _to_result(outcome, self.host.redactor)

    def _run(
        self,
        spec: ToolSpec,
        arguments: dict[str, Any],
        ask: Callable[[str], bool] | None,
        client: str | None = None,
    ) -> Outcome:
        host = self.host
        host.set_ask(ask)
        host.set_client(client)
        steps = host.session.steps_done
        try:
            args = spec.args.model_validate(arguments)  # the rules that span fields
            return spec.call(host, args)
        except Exception as exc:
            if not isinstance(exc, (ScreenpilotError, ValidationError)):
                log.exception("%s failed", spec.name)
            message = error_message(exc)
            if isinstance(exc, ActionDenied) and ask is None:
                message += " (this MCP client cannot ask its user: it does not support elicitation)"
            if host.session.steps_done == steps:  # refused before it became a step
                host.record_refusal(spec.step_verb, host.redactor.text(message))
            return _error(message)
        finally:
            host.set_ask(None)
            host.set_client(None)

    async def refused(self, name: str, message: str) -> Any:
        """The error result for arguments the SDK refused; recorded like any other call."""
        verb = BY_NAME[name].step_verb if name in BY_NAME else name
        await self.worker.call(self.host.record_refusal, verb, self.host.redactor.text(message))
        return _to_result(_error(message), self.host.redactor)


def _signature(spec: ToolSpec, context_type: type) -> tuple[inspect.Signature, dict[str, Any]]:
    """The tool function's signature: the context, then one parameter per argument field."""
    import mcp_types as mt

    kinds = inspect.Parameter.KEYWORD_ONLY
    params = [inspect.Parameter("ctx", kinds, annotation=context_type)]
    annotations: dict[str, Any] = {"ctx": context_type}
    for name, field in spec.args.model_fields.items():
        annotation = Annotated[field.annotation, field]
        default = inspect.Parameter.empty if field.is_required() else field.default
        params.append(inspect.Parameter(name, kinds, annotation=annotation, default=default))
        annotations[name] = annotation
    returns = Annotated[mt.CallToolResult, spec.result]
    annotations["return"] = returns
    return inspect.Signature(params, return_annotation=returns), annotations


def build_server(
    host: ScreenHost, worker: Worker, *, token_verifier: Any = None, auth: Any = None
) -> Any:
    """An `MCPServer` offering the host's platform's tools."""
    require("mcp", "mcp")
    from mcp.server.mcpserver import Context, MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from mcp_types import ToolAnnotations

    from agent import __version__

    caller = ToolCaller(host, worker)

    class ScreenpilotServer(MCPServer):  # type: ignore[misc]
        async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
            off = not_offered(name, host.platform, host.options.opted_in)
            if off is not None:  # say which flag turns it on, rather than "unknown tool"
                return await caller.refused(name, off)
            try:
                return await super().call_tool(name, arguments, context)
            except ToolError as exc:
                # argument types and bounds the SDK checked: one line, as `agent do` prints
                if isinstance(exc.__cause__, ValidationError):
                    return await caller.refused(name, error_message(exc.__cause__))
                raise

    server = ScreenpilotServer(
        "screenpilot",
        instructions=SERVER_INSTRUCTIONS,
        version=__version__,
        log_level="WARNING",
        token_verifier=token_verifier,
        auth=auth,
    )
    for spec in tools_for(host.platform, host.options.opted_in):
        server.add_tool(
            _tool_function(spec, caller, Context),
            name=spec.name,
            title=spec.title,
            description=spec.description,
            annotations=ToolAnnotations(read_only_hint=spec.read_only),
        )
    return server


def _tool_function(spec: ToolSpec, caller: ToolCaller, context_type: type) -> Any:
    async def tool(ctx: Any, **arguments: Any) -> Any:
        return await caller(spec, ctx, arguments)

    signature, annotations = _signature(spec, context_type)
    tool.__signature__ = signature  # type: ignore[attr-defined]
    tool.__annotations__ = annotations
    tool.__name__ = tool.__qualname__ = spec.name
    tool.__doc__ = spec.description
    return tool
