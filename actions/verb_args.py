"""The arguments of a simple action, read from its class: one shape for every front end.

A *simple* action needs nothing found on the screen (no target to locate, no
point): holding a key, say. Its vocabulary entry (`actions.vocabulary.ActionSpec`)
carries a `SimpleArgs`, and every front end derives its verb from the Action
class's own fields (their types, bounds, defaults and descriptions):

* a task-file step ``hold_key: {keys: shift, seconds: 2}`` (a bare value fills
  `SimpleArgs.bare`: ``hold_key: shift``), validated by the class itself;
* an ``agent do`` verb, `SimpleArgs.positional` its arguments in order and every
  other field an ``--option``;
* ``Agent.do(verb, ...)`` in the Python API, and an MCP tool whose JSON schema is
  the class's fields.

So a new simple action needs no step model, CLI verb, API method or MCP tool of
its own; targeted steps (a click on a described target) stay hand-written, since
they need locating.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, Field, ValidationError, create_model
from pydantic.fields import FieldInfo

from actions.project_errors import InputError, format_validation_error


@dataclass(frozen=True)
class SimpleArgs:
    """How a simple action's fields are written where a verb takes arguments."""

    bare: str
    """The field a bare value fills (``hold_key: shift`` is ``{keys: shift}``)."""
    positional: tuple[str, ...] = ()
    """`agent do` arguments in order (required ones first); other fields are ``--options``."""


def fields_of(cls: type) -> dict[str, FieldInfo]:
    """The action class's argument fields: all but its ``type`` tag."""
    fields: dict[str, FieldInfo] = cls.model_fields  # type: ignore[attr-defined]
    return {name: info for name, info in fields.items() if name != "type"}


def widen(args: SimpleArgs, value: Any) -> Any:
    """A step's bare value as the mapping it stands for; a mapping as is."""
    return value if isinstance(value, dict) else {args.bare: value}


def build(cls: type, values: dict[str, Any], *, where: str = "") -> Any:
    """The action from named argument values, or `InputError` in one line (nothing sent).

    Values that are None are left out, so the class's defaults apply.
    """
    known = fields_of(cls)
    unknown = [name for name in values if name not in known]
    kind = cls.model_fields["type"].default  # type: ignore[attr-defined]
    if unknown:
        raise InputError(
            f"{where or kind}: unknown argument {unknown[0]!r} (takes {', '.join(known)})"
        )
    try:
        return cls(**{k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        raise InputError(format_validation_error(exc, where or kind)) from None


def scalar_type(info: FieldInfo) -> type:
    """The plain type a command line passes for a field: a key list is one combo string."""
    annotation: Any = info.annotation
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin is Union or str(origin) == "<class 'types.UnionType'>":
            inner = [a for a in get_args(annotation) if a is not type(None)]
            annotation = inner[0] if len(inner) == 1 else str
        else:
            break
    if annotation in (int, float, bool, str):
        return annotation  # type: ignore[no-any-return]
    if get_origin(annotation) is Literal:
        values = get_args(annotation)
        return type(values[0]) if values and isinstance(values[0], (int, float, str)) else str
    return str  # a list of key names is written as one combo, ``ctrl+a``


def describe(info: FieldInfo, name: str) -> str:
    """The field's help line: its description, else its name."""
    return info.description or name.replace("_", " ")


def args_model(cls: type, base: type[BaseModel]) -> type[BaseModel]:
    """A flat argument model of the class's fields for a tool schema (an MCP tool):

    each field as a command line writes it (`scalar_type`: a key list is one combo string),
    with its bounds where the type is kept; the action class checks the rest when built.
    """
    fields: dict[str, Any] = {}
    for name, info in fields_of(cls).items():
        kind = scalar_type(info)
        kept = info.annotation in (int, float, bool, str) or get_origin(info.annotation) is Literal
        annotation: Any = info.annotation if kept else kind
        if kept and info.metadata:
            annotation = Annotated.__class_getitem__((annotation, *info.metadata))  # type: ignore[attr-defined]
        default = ... if info.is_required() else info.default
        fields[name] = (annotation, Field(default, description=describe(info, name)))
    return create_model(f"{cls.__name__}Args", __base__=base, **fields)  # type: ignore[no-any-return, call-overload]
