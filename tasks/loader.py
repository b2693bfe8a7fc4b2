"""Load a task file: safe YAML, ${VAR} expansion, validation, errors as `file:line: field: ...`.

PyYAML's `safe_load` forgets where values came from, so the file is composed
into nodes with `yaml.SafeLoader` (marks kept), constructed from those nodes,
and every pydantic error location is walked back through the node tree to a
line. Everything is checked before anything runs: the schema, the cross-field
rules of `tasks.schema.semantic_errors`, environment variables, and the files
a ``launch`` step names (relative paths are relative to the task file).

Values that came from ``${VAR}`` are secrets: the loaded task lists them so
that trajectories, reports and logs can replace them with ``***``. A secret
must have at least 4 characters (a shorter one would mask every occurrence of
its characters), and it may not reach a model's prompt (a goal, a click or
scroll target) unless the task says ``send_secrets_to_model: true``: a hosted
endpoint would receive it. The ``ocr`` backend reads the screen locally and
sends no prompt anywhere, so targets may use secrets with it.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from actions.project_errors import InputError
from agent.provenance import Provenance, trust
from agent.secrets import MIN_SECRET_LENGTH
from tasks.schema import MODEL_TEXT_VERBS, Loc, Task, semantic_errors

_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$\{([^}]*)\}?")
_SCRIPT_SUFFIXES = (".py", ".sh", ".bash", ".pl", ".rb", ".js", ".jar", ".tcl", ".lua")
PYTHON_NAMES = ("python", "python3", sys.executable)
WHOSE = {
    Provenance.USER: "your task",
    Provenance.MODEL: "a model's task",
    Provenance.CLIENT: "an MCP client's task",
    Provenance.FOLDER: "a task from a run folder",
}
"""How an error names the origin of a task it refuses."""
USED_INSTEAD = {
    Provenance.CLIENT: "the server's own (agent mcp --backend/--model) is used",
}
"""What is used instead of a model the task may not choose (default: the runner's own)."""


class TaskFileError(InputError):
    """A task file problem, shown as ``file:line: field: problem`` (exit code 2)."""

    def __init__(self, path: str | Path, line: int | None, field: str, problem: str) -> None:
        self.path, self.line, self.field, self.problem = str(path), line, field, problem
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {field + ': ' if field else ''}{problem}")


class LoadedTask(BaseModel):
    """A validated task with what the runner needs besides the schema."""

    model_config = ConfigDict(frozen=True)

    task: Task
    path: Path
    base_dir: Path
    secrets: frozenset[str] = frozenset()
    step_lines: tuple[int, ...] = ()
    templates: dict[int, str] = Field(
        default_factory=dict, description="typed text as written, for steps that use ${VAR}"
    )
    model_text_vars: tuple[tuple[str, int | None, str], ...] = Field(
        (), description="(field, line, VAR) for each ${VAR} in text that goes to the model"
    )

    def with_task(self, task: Task) -> LoadedTask:
        """The same file with an overridden task (CLI flags), re-checked."""
        errors = semantic_errors(task)
        if errors:
            loc, problem = errors[0]
            raise TaskFileError(self.path, None, format_loc(loc), problem)
        check_secrets_to_model(task, self.model_text_vars, self.path)
        return self.model_copy(update={"task": task})


def model_text_loc(loc: Loc) -> bool:
    """Whether a location in the file holds text that becomes the model's prompt."""
    if loc == ("goal",):
        return True
    if len(loc) >= 3 and loc[0] == "steps" and loc[2] in MODEL_TEXT_VERBS:
        rest = loc[3:]
        return rest == () or rest == ("goal" if loc[2] == "goal" else "target",)
    return False


def check_secrets_to_model(
    task: Task, found: tuple[tuple[str, int | None, str], ...], path: str | Path
) -> None:
    """Refuse ``${VAR}`` in a model's prompt unless the task opts in (see the module docstring)."""
    if not found or task.send_secrets_to_model or task.model.backend == "ocr":
        return
    field, line, name = found[0]
    raise TaskFileError(
        path,
        line,
        field,
        f"${{{name}}} would be sent to the model ({task.model.backend} backend): goals and "
        "targets are its prompt; type the secret with a type step, or set "
        "send_secrets_to_model: true to send it anyway",
    )


def format_loc(loc: Loc) -> str:
    """``('steps', 2, 'click', 'x')`` -> ``steps[2].click.x``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# -- YAML with lines -------------------------------------------------------------------
class _Lines:
    """Line numbers (1-based) of every node, keyed by its location in the document."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.value_line: dict[Loc, int] = {}
        self.key_line: dict[Loc, int] = {}

    def index(self, node: yaml.Node, loc: Loc = ()) -> None:
        self.value_line[loc] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in node.value:
                key = str(key_node.value)
                if key in seen:
                    raise TaskFileError(
                        self.path,
                        key_node.start_mark.line + 1,
                        format_loc((*loc, key)),
                        "duplicate key",
                    )
                seen.add(key)
                self.key_line[(*loc, key)] = key_node.start_mark.line + 1
                self.index(value_node, (*loc, key))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self.index(item, (*loc, i))

    def line_of(self, loc: Loc) -> int | None:
        """The line of the deepest node on `loc` (an unknown key points at itself)."""
        for end in range(len(loc), -1, -1):
            sub = tuple(loc[:end])
            if sub in self.key_line and end == len(loc):
                return self.key_line[sub]
            if sub in self.value_line:
                return self.value_line[sub]
        return None


def _compose(text: str, path: str) -> tuple[Any, _Lines]:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        raise TaskFileError(path, line, "yaml", problem or "syntax error") from None
    except yaml.YAMLError as exc:
        raise TaskFileError(path, None, "yaml", str(exc).splitlines()[0]) from None
    finally:
        loader.dispose()
    lines = _Lines(path)
    if node is not None:
        lines.index(node)
    return data, lines


# -- ${VAR} ----------------------------------------------------------------------------
def expand_vars(
    data: Any,
    lines: _Lines,
    environ: dict[str, str] | os._Environ[str] | None,
    loc: Loc = (),
    used: dict[Loc, list[str]] | None = None,
    whose: str = WHOSE[Provenance.USER],
) -> tuple[Any, set[str]]:
    """Replace ``${NAME}`` in every string with the environment's value; ``$$`` is a ``$``.

    Args:
        environ: None when the task's provenance may not read the environment:
            any ``${NAME}`` is then refused (``$$`` still means ``$``).
        used: filled with the variable names substituted at each location.
        whose: the task's origin, as the refusal names it.

    Returns:
        The expanded data and the set of substituted values (the secrets).
    """
    secrets: set[str] = set()
    used = {} if used is None else used
    if isinstance(data, str):

        def sub(match: re.Match[str]) -> str:
            if match.group(0) == "$$":
                return "$"
            name = match.group(1)
            if name is None:
                raise TaskFileError(
                    lines.path,
                    lines.line_of(loc),
                    format_loc(loc),
                    f"bad variable reference {match.group(0)!r}: write ${{NAME}}, or $$ for a $",
                )
            if environ is None:  # e.g. an MCP client: the server's variables are not its to read
                raise TaskFileError(
                    lines.path,
                    lines.line_of(loc),
                    format_loc(loc),
                    f"${{{name}}}: {whose} cannot read environment variables of the machine "
                    "it runs on (write $$ for a literal $)",
                )
            if name not in environ:
                raise TaskFileError(
                    lines.path,
                    lines.line_of(loc),
                    format_loc(loc),
                    f"environment variable {name} is not set",
                )
            value = environ[name]
            if 0 < len(value) < MIN_SECRET_LENGTH:
                raise TaskFileError(
                    lines.path,
                    lines.line_of(loc),
                    format_loc(loc),
                    f"${{{name}}} has {len(value)} character(s): values from ${{VAR}} are "
                    f"secrets and need at least {MIN_SECRET_LENGTH} (masking a shorter one "
                    "would hide those characters everywhere in the records)",
                )
            if value:
                secrets.add(value)
            used.setdefault(loc, []).append(name)
            return value

        return _VAR.sub(sub, data), secrets
    if isinstance(data, dict):
        out: dict[Any, Any] = {}
        for key, value in data.items():
            out[key], found = expand_vars(value, lines, environ, (*loc, str(key)), used, whose)
            secrets |= found
        return out, secrets
    if isinstance(data, list):
        items = []
        for i, value in enumerate(data):
            item, found = expand_vars(value, lines, environ, (*loc, i), used, whose)
            items.append(item)
            secrets |= found
        return items, secrets
    return data, secrets


# -- loading ---------------------------------------------------------------------------
def _validation_error(exc: ValidationError, lines: _Lines, secrets: set[str]) -> TaskFileError:
    err = exc.errors()[0]
    loc: Loc = tuple(p for p in err.get("loc", ()) if not str(p).startswith("function-"))
    message = str(err.get("msg", "invalid value"))
    message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if err.get("type") == "extra_forbidden":
        message = f"unknown key {loc[-1]!r}" if loc else "unknown key"
    elif err.get("type") == "missing":
        message = "required key is missing"
    inp = err.get("input")
    if err.get("type") not in ("missing", "extra_forbidden") and isinstance(inp, (int, float, str)):
        if isinstance(inp, str):  # masked before it is cut, so no part of a secret shows
            for secret in sorted(secrets, key=len, reverse=True):
                inp = inp.replace(secret, "***")
        shown = inp if not isinstance(inp, str) or len(inp) < 40 else inp[:37] + "..."
        if str(shown) not in message:
            message += f" (got {shown!r})"
    more = exc.error_count() - 1
    if more:
        message += f" (and {more} more problem{'s' if more > 1 else ''})"
    for secret in sorted(secrets, key=len, reverse=True):
        message = message.replace(secret, "***")
    return TaskFileError(lines.path, lines.line_of(loc), format_loc(loc), message)


def looks_like_path(arg: str) -> bool:
    """True for a launch argument written as a path: it has a ``/`` or names a script file.

    ``""``, ``.`` and plain words (``--entry-text``, ``report``) are never paths, even
    when a file of that name lies beside the task file.
    """
    if not arg or arg.startswith("-"):
        return False
    return "/" in arg or arg.lower().endswith(_SCRIPT_SUFFIXES)


def resolve_launch_argv(argv: list[str], base_dir: Path) -> list[str]:
    """A desktop launch's argv with relative paths made relative to the task file's folder.

    Only the program and the arguments that look like paths (`looks_like_path`) and
    exist there are rewritten; every other argument is passed exactly as written.
    """
    out: list[str] = []
    for index, arg in enumerate(argv):
        # A bare program name (zenity) is looked up on PATH, never beside the task file.
        pathlike = "/" in arg if index == 0 else looks_like_path(arg)
        candidate = base_dir / os.path.expanduser(arg)
        out.append(str(candidate) if pathlike and candidate.exists() else arg)
    return out


def _check_launch_files(task: Task, base_dir: Path, lines: _Lines) -> None:
    """A launch step's program and scripts must exist before anything runs."""
    if task.platform != "desktop":
        return
    for i, step in enumerate(task.steps):
        if step.launch is None:
            continue
        loc: Loc = ("steps", i, "launch")
        try:
            argv = step.launch_argv()
        except ValueError as exc:
            raise TaskFileError(
                lines.path, lines.line_of(loc), format_loc(loc), f"cannot split command: {exc}"
            ) from None
        if not argv:
            raise TaskFileError(lines.path, lines.line_of(loc), format_loc(loc), "empty command")
        program = argv[0]
        if program not in PYTHON_NAMES and "/" not in program and shutil.which(program) is None:
            raise TaskFileError(
                lines.path, lines.line_of(loc), format_loc(loc), f"program {program!r} not found"
            )
        for index, arg in enumerate(argv):
            names_file = ("/" in arg and index == 0) or (
                not arg.startswith("-") and arg.lower().endswith(_SCRIPT_SUFFIXES)
            )
            if names_file and not (base_dir / os.path.expanduser(arg)).exists():
                raise TaskFileError(
                    lines.path,
                    lines.line_of(loc),
                    format_loc(loc),
                    f"file not found: {arg} (relative paths are relative to the task file)",
                )


def load_task(
    path: str | Path,
    *,
    environ: dict[str, str] | os._Environ[str] | None = None,
    provenance: Provenance = Provenance.USER,
) -> LoadedTask:
    """Read, expand and validate a task file; raise `TaskFileError` on the first problem.

    `provenance` is who wrote the file (see `load_task_text`).
    """
    file = Path(path)
    shown = str(path)
    if not file.exists():
        raise TaskFileError(shown, None, "", "task file not found")
    if not file.is_file():
        raise TaskFileError(shown, None, "", "not a file")
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TaskFileError(shown, None, "", f"cannot read: {exc}") from None
    return load_task_text(
        text, name=shown, base_dir=file.resolve().parent, environ=environ, provenance=provenance
    )


def load_task_text(
    text: str,
    *,
    name: str = "<task>",
    base_dir: str | Path | None = None,
    environ: dict[str, str] | os._Environ[str] | None = None,
    provenance: Provenance = Provenance.USER,
) -> LoadedTask:
    """`load_task` for a task given as text; errors read ``<name>:line: field: problem``.

    Relative paths in ``launch`` steps are relative to `base_dir` (default: the
    current folder). `provenance` is who wrote the task; what it may not set
    (`agent.provenance.trust`) is refused before anything runs: ``${VAR}``
    without ``expand_environment``, a ``model`` section without
    ``choose_model``, environment settings without ``choose_environment``.
    """
    shown = name
    data, lines = _compose(text, shown)
    if not isinstance(data, dict):
        raise TaskFileError(
            shown, lines.line_of(()) or 1, "", "a task file is a mapping with name, env, steps/goal"
        )
    _check_provenance(data, lines, provenance)
    templates = _type_templates(data)
    used: dict[Loc, list[str]] = {}
    allowed = trust(provenance).expand_environment
    source = (os.environ if environ is None else environ) if allowed else None
    data, secrets = expand_vars(data, lines, source, (), used, WHOSE[provenance])
    try:
        task = Task.model_validate(data)
    except ValidationError as exc:
        raise _validation_error(exc, lines, secrets) from None
    errors = semantic_errors(task)
    if errors:
        loc, problem = errors[0]
        raise TaskFileError(shown, lines.line_of(loc), format_loc(loc), problem)
    model_text_vars = tuple(
        (format_loc(loc), lines.line_of(loc), var)
        for loc, names in used.items()
        if model_text_loc(loc)
        for var in names
    )
    check_secrets_to_model(task, model_text_vars, shown)
    base = Path(base_dir).resolve() if base_dir is not None else Path.cwd()
    _check_launch_files(task, base, lines)
    step_lines = tuple(lines.line_of(("steps", i)) or 0 for i in range(len(task.steps)))
    return LoadedTask(
        task=task,
        path=Path(shown),
        base_dir=base,
        secrets=frozenset(secrets),
        step_lines=step_lines,
        templates=templates,
        model_text_vars=model_text_vars,
    )


def _check_provenance(data: dict[str, Any], lines: _Lines, provenance: Provenance) -> None:
    """Refuse the settings a task of this provenance may not choose (one line, with its line)."""
    allowed = trust(provenance)
    whose = WHOSE[provenance]
    if not allowed.choose_model and "model" in data:
        raise TaskFileError(
            lines.path,
            lines.line_of(("model",)),
            "model",
            f"{whose} cannot choose the model (backend, model, base_url, api_key_env): "
            + USED_INSTEAD.get(provenance, "the runner's own model options are used"),
        )
    env = data.get("env")
    if allowed.choose_environment or not isinstance(env, dict):
        return
    for platform, settings in env.items():  # naming the platform is all it may do
        if settings in (None, {}):
            continue
        loc: Loc = ("env", str(platform))
        if isinstance(settings, dict):
            loc = (*loc, str(next(iter(settings))))
        raise TaskFileError(
            lines.path,
            lines.line_of(loc),
            format_loc(loc),
            f"{whose} cannot choose environment settings (display, monitor, fail-safe, "
            "devices, adb address): write only `env: desktop` or `env: android`",
        )


def _type_templates(data: dict[str, Any]) -> dict[int, str]:
    steps = data.get("steps")
    if not isinstance(steps, list):
        return {}
    return {
        i: step["type"]
        for i, step in enumerate(steps)
        if isinstance(step, dict) and isinstance(step.get("type"), str) and "${" in step["type"]
    }
