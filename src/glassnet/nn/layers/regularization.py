"""Dropout: inverted dropout, its mask drawn once and used in forward and backward."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import InvalidArgumentError
from ...functional.nn import dropout_bits
from .base import Context, Layer

__all__ = ["Dropout"]


class Dropout(Layer):
    """Inverted dropout: in training mode, zero each unit with probability ``rate`` and scale
    the rest by 1/(1 − rate); in inference mode, the identity.

    forward a = x ⊙ m, backward ∂C/∂x = g ⊙ m, with m = 1/(1 − rate) where the unit's 32 random
    bits reach rate·2³², else 0 (``functional.nn.dropout_bits``: one draw per unit, in layer
    order, from the global generator — the same bits on every path).
    """

    explain_role = "identity"

    def __init__(self, rate: float, name: str | None = None, dtype: Any = None) -> None:
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise InvalidArgumentError(f"Dropout: rate must be in [0, 1), received rate={rate!r}")
        super().__init__(name=name, dtype=dtype)
        self.rate = float(rate)
        self.built = True

    def is_identity(self, x: np.ndarray, ctx: Context) -> bool:
        return (not ctx.training or self.rate == 0) and x.dtype.kind == "f"

    def forward_kernel(self, x: np.ndarray, ctx: Context) -> np.ndarray:
        if x.dtype.kind != "f":
            x = x.astype(self.dtype)
        if not ctx.training or self.rate == 0:
            ctx.saved = None
            return x
        bits = dropout_bits(x.shape)
        ctx.saved = bits
        out = ctx.buffer("a", x.shape, x.dtype)
        return ctx.ops.apply_dropout(x, bits, self.rate, np.empty_like(x) if out is None else out)

    def backward_kernel(self, ctx: Context, g: np.ndarray) -> np.ndarray | None:
        if ctx.saved is None:
            return g
        out = ctx.buffer("g_prev", g.shape, g.dtype)
        return ctx.ops.apply_dropout(
            g, ctx.saved, self.rate, np.empty_like(g) if out is None else out
        )

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rate": self.rate}

    def extra_repr(self) -> str:
        return f"rate={self.rate}"
