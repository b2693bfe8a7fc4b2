"""Model backends: one module per backend behind the one-method `Model` interface."""

from agent.models.base import Model, ModelReply, ModelRequest

__all__ = ["Model", "ModelReply", "ModelRequest"]
