"""Building the backend a `ModelSpec` names, in one table.

The backend modules import the spec (`agent.models.spec`); the spec imports no
backend. Each backend module is imported only when it is chosen, so that torch,
transformers or openai are loaded only by the runs that need them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from actions.project_errors import InputError
from agent.models.spec import ModelSpec

if TYPE_CHECKING:
    from agent.models.base import Model

# backend name -> (module, class); the class takes the spec.
BACKENDS: dict[str, tuple[str, str]] = {
    "qwen": ("agent.models.qwen", "QwenModel"),
    "openai": ("agent.models.openai_compat", "OpenAIModel"),
    "ocr": ("agent.models.ocr", "OcrModel"),
}


def load_model(spec: ModelSpec) -> Model:
    """Build the backend `spec` names; heavy libraries are imported here, not before.

    A profile that contradicts a local checkpoint's config.json fails here, before any
    weights are read.
    """
    entry = BACKENDS.get(spec.backend)
    if entry is None:
        choices = ", ".join(BACKENDS)
        raise InputError(f"unknown model backend {spec.backend!r} (choose {choices})")
    if spec.backend == "qwen":
        spec.resolve()
    module, name = entry
    backend: type[Model] = getattr(importlib.import_module(module), name)
    return backend(spec)
