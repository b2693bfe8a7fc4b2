"""Qwen2.5-VL's window attention in a few batched SDPA calls instead of one per window.

transformers' SDPA path of `Qwen2_5_VLVisionAttention` splits the packed
sequence at every window boundary and calls SDPA once per window (~80 windows
of 64 patches for a 1080p screenshot at our pixel budget, in each of the 28
window blocks), then concatenates the ~80 outputs. On CPU those small calls
and the concatenation cost a third of the vision tower (BENCHMARKS 4).

Windows of the same length are independent attention problems of the same
shape, so they are gathered into one batch (at most four distinct lengths:
full windows, the right and bottom edges, the corner) and each batch is one
SDPA call. Every window still attends to exactly its own patches, with no
padding and no mask: the result is the per-window computation, batched.

`install(model)` replaces the forward of the attention modules of one loaded
model (instances, never the class: another model in the same process keeps
transformers' own path). ``SCREENPILOT_FAST_VISION=off`` leaves them alone.
"""

from __future__ import annotations

import logging
import os
import types
from typing import Any

log = logging.getLogger(__name__)

ENV = "SCREENPILOT_FAST_VISION"


def enabled() -> bool:
    """Whether the batched window attention is on (``SCREENPILOT_FAST_VISION``, default on)."""
    return os.environ.get(ENV, "on").strip().lower() not in ("0", "off", "no", "false")


def install(model: Any) -> int:
    """Batch the window attention of `model`'s Qwen2.5-VL vision tower; modules changed.

    Only the SDPA path changes (eager computes its softmax otherwise;
    flash-attention already packs the windows with cu_seqlens); another
    architecture (Qwen3-VL has no windows) is left as it is and 0 is returned.
    """
    if not enabled():
        return 0
    from transformers.models.qwen2_5_vl import modeling_qwen2_5_vl as qwen25

    visual = model  # the whole model, or its vision tower alone
    if not isinstance(visual, qwen25.Qwen2_5_VisionTransformerPretrainedModel):
        visual = getattr(getattr(model, "model", model), "visual", None)
    if not isinstance(visual, qwen25.Qwen2_5_VisionTransformerPretrainedModel):
        return 0
    if visual.config._attn_implementation != "sdpa":
        return 0
    changed = 0
    for module in visual.modules():
        if isinstance(module, qwen25.Qwen2_5_VLVisionAttention):
            module.forward = types.MethodType(_forward, module)
            changed += 1
    log.debug("batched window attention in %d vision blocks", changed)
    return changed


def _plan(cu_seqlens: Any) -> list[tuple[int, int, Any]]:
    """(window length, window count, token indexes) per distinct window length."""
    import torch

    lengths = (cu_seqlens[1:] - cu_seqlens[:-1]).tolist()
    starts = cu_seqlens[:-1].tolist()
    groups: dict[int, list[int]] = {}
    for start, length in zip(starts, lengths, strict=True):
        if length > 0:
            groups.setdefault(length, []).append(start)
    plan = []
    for length, group in groups.items():
        first = torch.tensor(group, dtype=torch.long, device=cu_seqlens.device)
        offsets = torch.arange(length, dtype=torch.long, device=cu_seqlens.device)
        plan.append((length, len(group), (first[:, None] + offsets[None, :]).reshape(-1)))
    return plan


def _rotate(qk: Any, cos: Any, sin: Any) -> Any:
    """transformers' `apply_rotary_pos_emb_vision` on (seq, 2, heads, dim), bit for bit.

    It computes ``x * cos + rotate_half(x) * sin`` in float32, rotate_half being
    ``cat(-x2, x1)``; per half that is ``x1 * cos1 - x2 * sin1`` and
    ``x2 * cos2 + x1 * sin2`` (negating a product and adding it is subtracting
    it, exactly), without the concatenation and negation passes.
    """
    import torch

    x = qk.float()
    cos, sin = cos[:, None, None, :].float(), sin[:, None, None, :].float()
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    out = torch.empty_like(x)
    out[..., :half] = x1 * cos[..., :half] - x2 * sin[..., :half]
    out[..., half:] = x2 * cos[..., half:] + x1 * sin[..., half:]
    return out.to(qk.dtype)


def _forward(
    self: Any,
    hidden_states: Any,
    cu_seqlens: Any,
    position_embeddings: tuple[Any, Any] | None = None,
    max_seqlen: int | None = None,
    **kwargs: Any,
) -> Any:
    """`Qwen2_5_VLVisionAttention.forward` with windows of one length in one SDPA call."""
    import torch
    from torch.nn import functional

    seq_length = hidden_states.shape[0]
    # (seq, 3, heads, head_dim): queries and keys rotated together, values as they are.
    qkv = self.qkv(hidden_states).reshape(seq_length, 3, self.num_heads, -1)
    query, key = _rotate(qkv[:, :2], *position_embeddings).unbind(1)
    value = qkv[:, 2]
    plan = _plan(cu_seqlens)
    if len(plan) == 1 and plan[0][1] == 1:  # one window (a full-attention block)
        q, k, v = (t.transpose(0, 1).unsqueeze(0) for t in (query, key, value))
        out = functional.scaled_dot_product_attention(q, k, v, scale=self.scaling)
        attn_output = out[0].transpose(0, 1).reshape(seq_length, -1)
    else:
        attn_output = torch.empty(
            seq_length, self.num_heads * query.shape[-1], dtype=value.dtype, device=value.device
        )
        for length, count, index in plan:
            # (count * length, heads, dim) -> (count, heads, length, dim): one batch per length.
            q, k, v = (
                t.index_select(0, index).view(count, length, self.num_heads, -1).transpose(1, 2)
                for t in (query, key, value)
            )
            out = functional.scaled_dot_product_attention(q, k, v, scale=self.scaling)
            attn_output.index_copy_(0, index, out.transpose(1, 2).reshape(count * length, -1))
    return self.proj(attn_output.contiguous())
