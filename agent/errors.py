"""How a step ends when it cannot do what it was asked (exit code 1, after it was recorded).

Shared by the session (`agent.session`), the goal loop (`agent.loop`) and the
front ends; bad input is `actions.project_errors.InputError` (exit code 2) instead.
"""

from __future__ import annotations

from actions.project_errors import ScreenpilotError


class StepFailed(ScreenpilotError):
    """A step could not do what it was asked (exit code 1); it has been recorded."""

    exit_code = 1


class BudgetExhausted(StepFailed):
    """The step or time budget ran out."""


class ActionDenied(StepFailed):
    """The confirmation policy (or the person asked) refused an action."""


class RunStopped(StepFailed):
    """The fail-safe fired (pointer in a screen corner): stop at once."""
