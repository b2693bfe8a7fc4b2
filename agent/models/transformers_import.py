"""Importing transformers so that a broken torchvision cannot break it.

transformers decides from the installed files, not from an import, whether
torchvision is there; a torchvision built for another torch (RuntimeError
"operator torchvision::nms does not exist") then breaks transformers' own
image utilities and every model class with them. Model code therefore imports
transformers through `require_transformers`, which first hides such a
torchvision from this process, so that transformers takes its torchvision-free
paths (the PIL image processor).
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import sys
from types import ModuleType

from actions.project_errors import first_line, require

log = logging.getLogger(__name__)


@functools.cache
def torchvision_available() -> bool:
    """Whether torchvision imports beside the installed torch (a mismatched build does not).

    A torchvision that is installed but does not import is marked absent for
    this process (see the module docstring).
    """
    try:
        if importlib.util.find_spec("torchvision") is None:
            return False
        import torchvision  # noqa: F401
    except Exception as exc:  # a mismatched build raises RuntimeError, not ImportError
        log.warning(
            "torchvision is installed but does not import (%s): using the PIL image path. "
            "Install a torchvision built for the installed torch for the faster one.",
            first_line(exc),
        )
        sys.modules["torchvision"] = None  # type: ignore[assignment]
        return False
    return True


def require_transformers() -> ModuleType:
    """Import transformers, with a torchvision that cannot import hidden from it first.

    transformers caches whether torchvision is available when it is first imported,
    so model code imports transformers through this function.
    """
    torchvision_available()
    return require("transformers", "model")
