"""Where a step came from, and what that origin may do: one policy for every front end.

Trust is decided by *provenance*, never by which front end assembled the run.
Every step the engine performs carries one of four origins:

* ``user``   — the user's own task file, CLI call or Python API call;
* ``model``  — an action a model chose (goal mode, multi-action answers);
* ``client`` — an MCP client's tool call or task (another program, possibly
  driven by a remote model or a web page);
* ``folder`` — a recorded or compiled run folder, a cache or a result file
  from elsewhere (anyone may have written it).

`TRUST` says, per origin, what may run unasked and which inputs may be taken
from it. The confirm policy (`agent.safety.ConfirmPolicy`) reads `judged`; the
task loader, MCP host, replay and compile read the rest. A new front end picks
the origin of its input and gets the whole policy with it.
"""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, ConfigDict


class Provenance(str, Enum):
    """The origin of a step or of an input (see the module docstring)."""

    USER = "user"
    MODEL = "model"
    CLIENT = "client"
    FOLDER = "folder"


class Trust(BaseModel):
    """What input of one provenance may do."""

    model_config = ConfigDict(frozen=True)

    judged: bool
    """Risky actions are confirmed under ``--confirm risky``; every launch counts as risky."""
    expand_environment: bool
    """``${VAR}`` may take its value from the process environment."""
    choose_model: bool
    """May name the model, backend, base URL or API key variable."""
    choose_environment: bool
    """May set the environment: display, devices, adb address, fail-safe, window manager."""
    unbounded_waits: bool
    """Waits are taken as written (others are capped at `agent.session.MAX_MODEL_WAIT`)."""


TRUST: dict[Provenance, Trust] = {
    Provenance.USER: Trust(
        judged=False, expand_environment=True, choose_model=True,
        choose_environment=True, unbounded_waits=True,
    ),
    Provenance.MODEL: Trust(
        judged=True, expand_environment=False, choose_model=False,
        choose_environment=False, unbounded_waits=False,
    ),
    Provenance.CLIENT: Trust(
        judged=True, expand_environment=False, choose_model=False,
        choose_environment=False, unbounded_waits=False,
    ),
    Provenance.FOLDER: Trust(
        judged=True, expand_environment=False, choose_model=False,
        choose_environment=False, unbounded_waits=False,
    ),
}  # fmt: skip


def trust(provenance: Provenance) -> Trust:
    """What input of `provenance` may do."""
    return TRUST[provenance]
