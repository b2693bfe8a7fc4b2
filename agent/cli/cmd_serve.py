"""`agent serve --model X`: the local model as an OpenAI-compatible server for many workers.

Loads the checkpoint once (see `agent.models.serve`) and answers
``/v1/chat/completions`` and ``/v1/models`` until Ctrl-C. Clients use it as any
served model: ``--backend openai --base-url http://127.0.0.1:8000/v1 --model X``
(with ``--profile P`` where X's name does not tell the profile). Binding an
address off loopback needs a bearer token, as `agent mcp` does.
"""

from __future__ import annotations

import typer


def serve_command(
    model: str = typer.Option(..., "--model", help="Checkpoint folder or hub id (cached)."),
    profile: str = typer.Option(None, "--profile", help="Model profile (see `agent models`)."),
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Address to bind; any non-loopback one needs --token."
    ),
    port: int = typer.Option(8000, "--port", min=0, max=65535, help="HTTP port (0: any free)."),
    name: str = typer.Option(None, "--served-name", help="Model name clients send (default X)."),
    device: str = typer.Option("auto", "--device", help="auto, cuda, mps, cpu or a torch device."),
    token: str = typer.Option(
        None,
        "--token",
        envvar="SCREENPILOT_SERVE_TOKEN",
        show_envvar=True,
        help="Bearer token clients must send (prefer the environment variable).",
    ),
) -> None:
    """Serve a local model as an OpenAI-compatible /v1/chat/completions endpoint."""
    from actions.project_errors import InputError
    from agent.mcp.host_check import is_loopback
    from agent.models.load import load_model
    from agent.models.serve import LocalChat, make_server
    from agent.models.spec import ModelSpec

    if not is_loopback(host) and not token:
        raise InputError(
            f"--host {host} is reachable from other machines: set SCREENPILOT_SERVE_TOKEN "
            "(or --token) so that only your clients can use the model"
        )
    spec = ModelSpec(backend="qwen", model=model, profile=profile, device=device, weights="eager")
    loaded = load_model(spec)
    chat = LocalChat(loaded, name or model)
    try:
        server = make_server(chat, host, port, token)
    except OSError as exc:
        raise InputError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    bound = server.server_address[1]
    shown = f"[{host}]" if ":" in host else host
    # The line a parent process waits for (agent run --workers reads the port from it).
    print(f"serving {chat.name} at http://{shown}:{bound}/v1", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        loaded.close()
    typer.echo(f"stopped after {chat.answered} request(s)")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
