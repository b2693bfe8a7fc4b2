"""The packages depend one way: actions <- env <- agent <- tasks <- the front ends.

The front ends are the CLI (`agent.cli`) and the MCP server (`agent.mcp`): they
may use everything, nothing may use them. Every import counts, those inside
functions too (a lazy import hides a cycle from Python, not from a reader);
only imports under ``if TYPE_CHECKING:`` are left out, since they never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

from actions.types import ACTION_TYPES
from actions.vocabulary import PLATFORMS

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("actions", "env", "agent", "tasks")
FRONT_ENDS = ("agent.cli", "agent.mcp")
LAYER = {"actions": 0, "env": 1, "agent": 2, "tasks": 3}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            found[module_name(path)] = path
    return found


class _Imports(ast.NodeVisitor):
    def __init__(self, name: str, is_package: bool) -> None:
        self.name, self.is_package, self.found = name, is_package, set()

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        if getattr(test, "id", None) == "TYPE_CHECKING" or getattr(test, "attr", None) == (
            "TYPE_CHECKING"
        ):
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.found.update(alias.name for alias in node.names)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            parts = self.name.split(".")
            keep = len(parts) - node.level + (1 if self.is_package else 0)
            base = ".".join(parts[:keep] + ([node.module] if node.module else []))
        self.found.add(base)
        self.found.update(f"{base}.{alias.name}" for alias in node.names)


def import_graph() -> dict[str, set[str]]:
    known = modules()
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        visitor = _Imports(name, path.name == "__init__.py")
        visitor.visit(ast.parse(path.read_text(encoding="utf-8")))
        targets = set()
        for target in visitor.found:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                targets.add(target)
        graph[name] = targets
    return graph


def layer(name: str) -> int:
    if name.startswith(FRONT_ENDS):
        return len(LAYER)
    return LAYER[name.split(".")[0]]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_a_layer_above_its_own() -> None:
    graph = import_graph()
    upward = sorted(
        f"{name} -> {target}"
        for name, targets in graph.items()
        for target in targets
        if layer(target) > layer(name)
    )
    assert upward == []


def test_there_are_no_import_cycles() -> None:
    assert cycles(import_graph()) == []


def test_the_checker_sees_lazy_imports_and_cycles() -> None:
    # The checker itself: a function-level import counts, a TYPE_CHECKING one does not.
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from agent.session import Session\n"
        "def f():\n    from agent.loop import run_goal\n"
    )
    visitor = _Imports("agent.x", False)
    visitor.visit(ast.parse(source))
    assert "agent.loop" in visitor.found and "agent.session" not in visitor.found
    assert cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    assert layer("agent.cli.main") > layer("tasks.runner") > layer("agent.session")


# -- one action vocabulary, one platform list ----------------------------------------------
ACTION_CLASSES = {cls.__name__ for cls in ACTION_TYPES}
VOCABULARY = "actions.vocabulary"
CHAIN = 4
"""isinstance tests against this many action types in one function make a dispatch chain:
what `actions.vocabulary` declares per type (its handlers, verbs, writers) instead."""


def _checked_classes(node: ast.AST) -> set[str]:
    """The action classes named in isinstance calls directly inside one function."""
    names: set[str] = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Call) and getattr(child.func, "id", None) == "isinstance":
            if len(child.args) == 2:
                for leaf in ast.walk(child.args[1]):
                    name = getattr(leaf, "id", None) or getattr(leaf, "attr", None)
                    if name in ACTION_CLASSES:
                        names.add(name)
    return names


def isinstance_chains(source: str) -> list[tuple[str, int]]:
    """(function, classes) for each function that tests `CHAIN` or more action types."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            classes = _checked_classes(node)
            if len(classes) >= CHAIN:
                found.append((node.name, len(classes)))
    return found


def platform_lists(source: str) -> list[int]:
    """Lines that spell out the platform list (a Literal, tuple, list or set of both)."""
    platforms = set(PLATFORMS)
    lines = []
    for node in ast.walk(ast.parse(source)):
        elements = None
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            elements = node.elts
        if elements is not None and len(elements) == len(platforms):
            values = {getattr(e, "value", None) for e in elements}
            if values == platforms:
                lines.append(node.lineno)
    return sorted(lines)


def test_no_isinstance_chain_over_the_action_union_outside_the_vocabulary() -> None:
    chains = sorted(
        f"{name}.{function} ({count} action types)"
        for name, path in modules().items()
        if name != VOCABULARY
        for function, count in isinstance_chains(path.read_text(encoding="utf-8"))
    )
    assert chains == []


def test_the_platform_list_is_written_once() -> None:
    written = sorted(
        f"{name}:{line}"
        for name, path in modules().items()
        for line in platform_lists(path.read_text(encoding="utf-8"))
    )
    assert written == [f"{VOCABULARY}:{platform_lists(_vocabulary_source())[0]}"]


def _vocabulary_source() -> str:
    return (ROOT / "actions" / "vocabulary.py").read_text(encoding="utf-8")


def test_the_duplication_checkers_see_what_they_forbid() -> None:
    chain = (
        "def perform(a):\n"
        "    if isinstance(a, Click): pass\n"
        "    elif isinstance(a, (Drag, Swipe)): pass\n"
        "    elif isinstance(a, types.Key): pass\n"
        "def fine(a):\n    return isinstance(a, (Type, Key))\n"
    )
    assert isinstance_chains(chain) == [("perform", 4)]
    assert platform_lists('P = Literal["desktop", "android"]\nQ = ("android", "desktop")\n') == [
        1,
        2,
    ]


# -- simple actions: one declaration, no per-verb front-end code ----------------------------
GENERATED_FROM_THE_VOCABULARY = (
    "tasks.schema", "tasks.runner", "agent.cli.cmd_do", "agent.mcp.tools",
    "agent.mcp.tool_models", "agent.mcp.host", "agent.safety", "agent.cache.policy",
)  # fmt: skip
"""The step model, the step dispatch, `agent do`, MCP, the confirm policy and the cache:
they take a simple action's verb, arguments, risk and focus effect from its entry
(`actions.verb_args`), so none of them may name one."""


def _simple_names() -> set[str]:
    from actions.vocabulary import simple_specs

    names: set[str] = set()
    for spec in simple_specs():
        names |= {spec.type, spec.cls.__name__, *(v.name for v in spec.task_verbs)}
        names |= {spec.do_verb} if spec.do_verb else set()
    return names


def named_simple_actions(source: str, names: set[str]) -> list[str]:
    """Where code names one of `names`: a string it compares or passes (docstrings and
    comments aside), or a class it uses."""
    tree = ast.parse(source)
    docstrings = {
        id(statement.value)
        for node in ast.walk(tree)
        for statement in (node.body if isinstance(getattr(node, "body", None), list) else [])
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)
    }
    found = []
    for leaf in ast.walk(tree):
        if isinstance(leaf, ast.Constant) and leaf.value in names and id(leaf) not in docstrings:
            found.append(f"{leaf.value}:{leaf.lineno}")
        elif isinstance(leaf, ast.Name) and leaf.id in names:
            found.append(f"{leaf.id}:{leaf.lineno}")
        elif isinstance(leaf, ast.Attribute) and leaf.attr in names:
            found.append(f"{leaf.attr}:{leaf.lineno}")
        elif isinstance(leaf, ast.alias) and leaf.name in names:
            found.append(f"{leaf.name}:{leaf.lineno}")
    return sorted(found)


def test_simple_actions_are_not_named_by_the_generated_front_ends() -> None:
    names = _simple_names()
    assert "hold_key" in names and "HoldKey" in names
    named = sorted(
        f"{module}: {where}"
        for module in GENERATED_FROM_THE_VOCABULARY
        for where in named_simple_actions(modules()[module].read_text(encoding="utf-8"), names)
    )
    assert named == []


RECORD_READERS = (
    "agent.replay", "tasks.compile", "agent.cli.cmd_run", "agent.mcp.host", "agent.cache.policy",
)  # fmt: skip
"""They read recorded steps as typed actions (`StepRecord.typed_action()`); only the
run-folder format-1 readers (`agent.trajectory`, `agent.report`'s fallback for an action
this version does not know) look into a recorded action's dict."""
_ACTION_FIELDS = {"type"} | {
    name for cls in ACTION_TYPES for name in cls.model_fields if name != "type"
}


def action_dict_reads(source: str) -> list[str]:
    """``x["type"]`` / ``x.get("keys")``: an action's field read out of a dict."""
    found = []
    for node in ast.walk(ast.parse(source)):
        key = None
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            key = node.slice.value
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", None) == "get"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            key = node.args[0].value
        if key in _ACTION_FIELDS:
            found.append(f"{key}:{node.lineno}")
    return found


def test_recorded_actions_are_read_typed() -> None:
    reads = sorted(
        f"{module}: {where}"
        for module in RECORD_READERS
        for where in action_dict_reads(modules()[module].read_text(encoding="utf-8"))
    )
    assert reads == []


def test_the_front_end_checkers_see_what_they_forbid() -> None:
    source = (
        'def run(step):\n    """Runs hold_key steps."""\n'
        '    if step.verb == "hold_key":\n        return HoldKey(keys=step.keys)\n'
        "    # hold_key in a comment is fine\n"
    )
    assert named_simple_actions(source, {"hold_key", "HoldKey"}) == ["HoldKey:4", "hold_key:3"]
    assert action_dict_reads('k = rec.action["type"]\nx = a.get("x")\ng = a.get("scale")\n') == [
        "type:1",
        "x:2",
    ]


# -- one run engine -------------------------------------------------------------------------
ENGINE = "agent.engine"
ASSEMBLED = ("RunWriter", "Session")
"""What a run is assembled from: only the engine builds them (`agent run`, the API, MCP,
replay all go through it), so a run folder and its report are finished one way."""


def assemblies(source: str) -> list[str]:
    """Calls that construct a run folder writer or a recorded session."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name in ASSEMBLED:
                found.append(f"{name}:{node.lineno}")
    return found


def test_runs_are_assembled_only_by_the_engine() -> None:
    built = sorted(
        f"{name}.{call}"
        for name, path in modules().items()
        if name != ENGINE
        for call in assemblies(path.read_text(encoding="utf-8"))
    )
    assert built == []
    assert assemblies("w = RunWriter(out, info)\ns = agent.session.Session(env)\n") == [
        "RunWriter:1",
        "Session:2",
    ]


# -- recording runs no model ----------------------------------------------------------------
RECORDER = "agent.trajectory"
MODEL_MODULES = ("agent.models", "agent.screen_mask", "agent.grounding", "agent.two_stage")
"""Modules that run a model (OCR included): the run-folder writer reaches none of them, even
through another import; the session masks screenshots before the writer gets them."""


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    """Every module `start` imports, directly or through others."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        for target in graph.get(todo.pop(), set()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def test_the_recorder_imports_no_model_or_ocr_module() -> None:
    graph = import_graph()
    reached = sorted(name for name in reachable(graph, RECORDER) if name.startswith(MODEL_MODULES))
    assert reached == []
    # the checker sees an import through another module
    assert reachable({"a": {"b"}, "b": {"agent.models.ocr"}}, "a") == {"b", "agent.models.ocr"}
