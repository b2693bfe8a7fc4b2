"""`agent mcp`: screenpilot as an MCP server, so any MCP client can see and drive a screen.

Everything that can be wrong with the command line (options, the display or
phone, the model, a non-loopback bind without a token) is reported in one line
with exit code 2 before the server starts. The MCP SDK is imported only here,
when the command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from agent.cli.env_options import (
    AndroidOptionCommand,
    adb_host_option,
    adb_port_option,
    android_option,
    monitor_option,
    target_options,
    virtual_display_option,
    xwayland_option,
)


def model_fields(
    backend: str | None,
    model: str | None,
    base_url: str | None,
    profile: str | None,
    max_pixels: int | None,
    api_key_env: str,
) -> dict[str, Any] | None:
    """ModelSpec fields for the options given; None when nothing was chosen and OCR is absent.

    With no backend named: --base-url means openai, --model or --profile means
    qwen (local), and nothing at all means the offline ocr grounder (when installed).
    """
    if backend is None:
        if base_url:
            backend = "openai"
        elif model or profile:
            backend = "qwen"
        else:
            import importlib.util

            if importlib.util.find_spec("rapidocr") is None:
                return None  # coordinates still work; targets say that they need a model
            backend = "ocr"
    fields: dict[str, Any] = {"backend": backend, "api_key_env": api_key_env}
    if model is not None:
        fields["model"] = model
    if base_url is not None:
        fields["base_url"] = base_url
    if profile is not None:
        fields["profile"] = profile
    if max_pixels is not None:
        fields["max_pixels"] = max_pixels
    return fields


def mcp_command(
    transport: str = typer.Option(
        "stdio", "--transport", help="stdio (clients spawn the server) or http (streamable HTTP)."
    ),
    host: str = typer.Option(
        "127.0.0.1", "--host", help="HTTP address to bind; any non-loopback one needs --token."
    ),
    port: int = typer.Option(8765, "--port", help="HTTP port (0: any free)."),
    allowed_host: list[str] = typer.Option(
        [],
        "--allowed-host",
        help="Another name clients use for this server in HTTP Host headers (repeatable); "
        "requests naming any other host are refused (DNS rebinding).",
    ),
    token: str = typer.Option(
        None,
        "--token",
        envvar="SCREENPILOT_MCP_TOKEN",
        show_envvar=True,
        help="Bearer token HTTP clients must send (prefer the environment variable).",
    ),
    monitor: str = monitor_option(),
    virtual_display: str = virtual_display_option(),
    xwayland: bool = xwayland_option(),
    android: str = android_option(),
    adb_host: str = adb_host_option(),
    adb_port: int = adb_port_option(),
    failsafe: bool = typer.Option(
        True, "--failsafe/--no-failsafe", help="A pointer in a screen corner aborts (pyautogui)."
    ),
    backend: str = typer.Option(
        None, "--backend", "-b", help="Grounding for targets: ocr (default), qwen or openai."
    ),
    model: str = typer.Option(
        None, "--model", "-m", help="Hub id or local folder (qwen), or the served model (openai)."
    ),
    base_url: str = typer.Option(
        None, "--base-url", help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1."
    ),
    api_key_env: str = typer.Option(
        "OPENAI_API_KEY", "--api-key-env", help="Environment variable holding the API key."
    ),
    profile: str = typer.Option(
        None,
        "--profile",
        help="Model profile (see `agent models`); default: detected from the checkpoint "
        "and its name.",
    ),
    max_pixels: int = typer.Option(None, "--max-pixels", help="Largest image area fed."),
    confirm: str = typer.Option(
        "risky", "--confirm", help="never | risky (ask before risky actions) | always."
    ),
    confirm_timeout: float = typer.Option(
        60.0,
        "--confirm-timeout",
        help="Seconds a confirmation asked through the client waits; no answer counts as no.",
    ),
    allow_run_task: bool = typer.Option(
        False,
        "--allow-run-task",
        help="Offer run_task: clients may then send whole task files (judged as a model's "
        "actions: launches and risky steps are confirmed).",
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate and report; send nothing."),
    out: Path = typer.Option(
        None,
        "--out",
        help="Record every call in a new run folder under DIR (one per server start).",
    ),
    settle: float = typer.Option(
        0.0, "--settle", help="After each action wait up to S s (0-60) for the screen to settle."
    ),
    max_side: int = typer.Option(
        None,
        "--max-side",
        help="Default longest side of returned screenshots (e.g. 1280 for clients that shrink "
        "large images); coordinates follow the returned image.",
    ),
) -> None:
    """Serve this screen (or a phone) to MCP clients: screenshot, click, type, ...

    stdio by default (for Claude Desktop, VS Code, Cursor); --transport http
    serves streamable HTTP at http://HOST:PORT/mcp. Exit 2 for bad options.
    """
    from actions.project_errors import InputError, require
    from agent.mcp.transport import check_bind
    from agent.models.weights import announce_loads

    announce_loads()

    if transport not in ("stdio", "http"):
        raise InputError(f"--transport {transport!r}: use stdio or http")
    if confirm not in ("never", "risky", "always"):
        raise InputError(f"--confirm {confirm!r}: use never, risky or always")
    if not 0 <= port <= 65535:
        raise InputError(f"--port {port}: use 0..65535 (0: any free port)")
    if transport == "http":
        check_bind(host, token)
    if out is not None and out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: not a folder (run folders are made inside it)")
    require("mcp", "mcp")
    from agent.mcp.host import HostOptions, ScreenHost
    from agent.mcp.server import Worker, build_server
    from agent.mcp.transport import run_server
    from agent.models.spec import ModelSpec
    from agent.secrets import redacted_logging

    target = target_options(
        monitor=monitor,
        virtual_display=virtual_display,
        android=android,
        adb_host=adb_host,
        adb_port=adb_port,
        failsafe=failsafe,
        xwayland=xwayland,
    )
    fields = model_fields(backend, model, base_url, profile, max_pixels, api_key_env)
    options = HostOptions(
        target=target,
        model=ModelSpec(**fields) if fields is not None else None,
        confirm=confirm,  # type: ignore[arg-type]
        dry_run=dry_run,
        settle=settle,
        out=out,
        max_side=max_side,
        allow_run_task=allow_run_task,
        confirm_timeout=confirm_timeout,
    )
    if options.model is None:
        typer.echo(
            "agent mcp: no grounding model (rapidocr is not installed): clicks by target need "
            "--backend qwen|openai or pip install 'screenpilot[ocr]'",
            err=True,
        )
    worker = Worker()
    try:
        screen = worker.run(ScreenHost, options)
        try:
            with redacted_logging(screen.redactor):  # secrets typed later are masked too
                run_server(
                    lambda auth: build_server(screen, worker, **auth),
                    transport=transport,
                    host=host,
                    port=port,
                    token=token,
                    allowed_hosts=tuple(allowed_host),
                    on_listening=lambda where: _announce(where, screen, dry_run),
                )
        finally:
            report = worker.run(screen.close)
            if report is not None:
                typer.echo(f"report: {report}", err=True)
    finally:
        worker.close()


def _announce(where: str, screen: Any, dry_run: bool) -> None:
    what = "a phone" if screen.platform == "android" else "the desktop"
    mode = " (dry run: nothing will be sent)" if dry_run else ""
    via = "over stdio" if where == "stdio" else f"at {where}"
    typer.echo(f"agent mcp: serving {what} {via}{mode}", err=True)
    if screen.writer is not None:
        typer.echo(f"agent mcp: recording every call in {screen.writer.dir}", err=True)


def register(app: typer.Typer) -> None:
    app.command("mcp", cls=AndroidOptionCommand)(mcp_command)
