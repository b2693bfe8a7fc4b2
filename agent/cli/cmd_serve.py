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
    dtype: str = typer.Option("auto", "--dtype", help="auto, bfloat16, float16, float32."),
    max_batch: int = typer.Option(
        None,
        "--max-batch",
        min=1,
        max=256,
        help="Most concurrent requests in one generate() (default: 4 on an accelerator, "
        "1 on CPU, where batching measured no faster and holds a batch's activations).",
        show_default=False,
    ),
    window_ms: float = typer.Option(
        5.0,
        "--batch-window-ms",
        min=0.0,
        max=10_000.0,
        help="How long a request waits for others to batch with (the model's busy time adds).",
    ),
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
    if dtype not in ("auto", "bfloat16", "float16", "float32"):
        raise InputError(f"--dtype {dtype}: choose auto, bfloat16, float16 or float32")
    spec = ModelSpec(
        backend="qwen", model=model, profile=profile, device=device, dtype=dtype, weights="eager"
    )
    loaded = load_model(spec)
    if max_batch is None:
        max_batch = default_max_batch(str(loaded.device))
    chat = LocalChat(loaded, name or model, max_batch=max_batch, window=window_ms / 1000)
    try:
        server = make_server(chat, host, port, token)
    except OSError as exc:
        chat.close()
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
        chat.close()
        loaded.close()
    typer.echo(f"stopped after {chat.answered} request(s) in {chat.batches} batch(es)")


def default_max_batch(device: str) -> int:
    """Batching pays on an accelerator; on CPU (BENCHMARKS.md section 13: 0.99x wall, 0.81x
    CPU, the batch's activations in RSS) requests are answered one at a time."""
    from agent.models.serve_batch import DEFAULT_MAX_BATCH

    return 1 if device.split(":")[0] == "cpu" else DEFAULT_MAX_BATCH


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
