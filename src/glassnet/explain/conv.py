"""``backprop`` for convolutional networks: the equations of a convolution, a pooling and a
batch normalisation, with real numbers, checked against the autograd engine.

The trace follows a Sequential chain of *stages*, numbered l = 1, …, L (a^0 is the input, a^l
the output of stage l): Conv1D / Conv2D, Conv2DTranspose, Max- and AveragePooling1D/2D, the
global poolings, ZeroPadding2D, UpSampling2D (nearest), BatchNormalization, Activation, Flatten
and Dense (Dropout is the identity, as at inference).
Feature maps are kept as (n, channels, rows, cols) whatever the model's ``data_format``; a
sequence's as (n, channels, 1, steps), so that a Conv1D is a Conv2D over one row. The
equations, per sample (C is the mean of the samples' C_x, so every parameter gradient is
averaged over them), written for stride 1 and dilation 1:

    convolution    z^l_f = Σ_c W^l_fc ⋆ a^{l−1}_c + b^l_f        (⋆: valid cross-correlation
                   a^l_f = σ(z^l_f)                               of the zero-padded maps)
                   δ^l_f = ∂C/∂a^l_f ⊙ σ'(z^l_f)
                   ∂C/∂a^{l−1}_c = Σ_f pad(δ^l_f) ⋆ rot180(W^l_fc)  (the full correlation with
                                                                    the 180°-rotated kernel)
                   ∂C/∂W^l_fc = a^{l−1}_c ⋆ δ^l_f,   ∂C/∂b^l_f = Σ_rs δ^l_f[r, s]
    max pooling    a^l_c[r, s] = max of window (r, s) of a^{l−1}_c; its gradient goes to the
                   window's (first) maximum only; average pooling shares it over the window
    batch norm     μ_c, σ²_c over the batch and positions, x̂ = (x − μ)/√(σ² + ε),
                   a = γ x̂ + β;  ∂C/∂γ = Σ g ⊙ x̂, ∂C/∂β = Σ g, ĝ = γ g,
                   ∂C/∂x = (ĝ − mean(ĝ) − x̂ ⊙ mean(ĝ ⊙ x̂)) / √(σ² + ε)
    dense          z^l = W^l a^{l−1} + b^l and BP1–BP4 as in ``trace.py``
    transposed     z^l_f = crop(Σ_c pad(spread(a^{l−1}_c)) ⋆ rot180(W^l_cf)) + b^l_f: the input
    convolution    gradient of a convolution (W is (channels, filters, ·, ·) here, as in
                   PyTorch); δ^l_f = ∂C/∂a^l_f ⊙ σ'(z^l_f); ∂C/∂a^{l−1}_c = Σ_f pad(δ^l_f) ⋆ W^l_cf
                   (strided: the convolution's forward); ∂C/∂W^l_cf = pad(δ^l_f) read through
                   the index map with a^{l−1}_c; ∂C/∂b^l_f = Σ_rs δ^l_f[r, s]
    zero padding   a^l = pad(a^{l−1});  ∂C/∂a^{l−1} = ∂C/∂a^l with the padding cropped off
    upsampling     a^l[r, q] = a^{l−1}[r // s₁, q // s₂];  ∂C/∂a^{l−1}[r, q] = Σ of ∂C/∂a^l over
                   the s₁×s₂ block that repeated it

With strides s and dilation d (per axis) the convolution's index map is
z[r, q] = Σ_{c,i,j} W[f, c, i, j] a[c, s₁r + d₁i, s₂q + d₂j] + b; backwards each δ[r, q] goes
to the entries its window touched, ∂C/∂a[c, s₁r + d₁i, s₂q + d₂j] += W[f, c, i, j] δ[r, q] —
computed as the full correlation of δ spread by the stride (zeros between its entries) with
the 180°-rotated kernel spread by the dilation — and ∂C/∂W[f, c, i, j] = Σ_{r,q}
a[c, s₁r + d₁i, s₂q + d₂j] δ[r, q].

A transposed convolution runs that index map the other way: z[f, s₁r + d₁i − top,
s₂q + d₂j − left] += W[c, f, i, j] a[c, r, q], where Keras keeps n·s rows ("same", from
top = max(span − s, 0) // 2) or n·s + max(span − s, 0) ("valid", top = 0) of the (n − 1)·s +
span that the full correlation gives (``transpose_frame``). Backwards δ is put back in that
frame (pad(δ)), and ∂C/∂a[c, r, q] = Σ_{f,i,j} W[c, f, i, j] pad(δ)[f, s₁r + d₁i, s₂q + d₂j],
∂C/∂W[c, f, i, j] = Σ_{r,q} a[c, r, q] pad(δ)[f, s₁r + d₁i, s₂q + d₂j]. Glassnet's
Conv2DTranspose has no output_padding argument; an UpSampling2D whose interpolation is not
"nearest" is refused.

Everything is computed here with NumPy loops over the kernel offsets and window positions —
not with the layers' im2col kernels — and then compared with the engine: the model's own
layers as autograd nodes on float64 copies of the weights, every z, a, δ and gradient read
off retained tensors. Batch normalisation uses the batch's statistics, as training does
(the model's moving statistics are not touched).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..autograd.tensor import Tensor
from ..errors import InvalidArgumentError, NotTraceableError, ShapeError, describe
from ..nn import losses as losses_module
from ..nn.module import Parameter
from . import trace as tr
from .i18n import Message

__all__ = ["ConvTrace", "StageTrace", "conv_backprop", "CONV_ROLES", "is_conv_chain"]

#: the explain roles that make a chain a convolutional one
CONV_ROLES = frozenset({"conv", "tconv", "pool", "global_pool", "batchnorm", "zeropad", "upsample"})
#: the roles of layers whose windows run over 1 or 2 spatial axes (one kind per model)
_SPATIAL_ROLES = frozenset({"conv", "tconv", "pool", "global_pool", "zeropad", "upsample"})


def is_conv_chain(chain: Sequence[Any]) -> bool:
    """True when a chain of layers holds a convolution, a pooling, a batch normalisation, a
    zero padding or an upsampling."""
    return any(role_of(layer) in CONV_ROLES for layer in chain)


def role_of(layer: Any) -> str | None:
    """How the trace treats a layer: its ``explain_role`` (None for layers it does not know)."""
    return getattr(layer, "explain_role", None)


@dataclass(eq=False)
class StageTrace:
    """Stage l of a convolutional trace (1-based; a^0 is the input).

    Per-sample arrays keep the batch axis: maps are (n, channels, rows, cols), vectors (n, K).
    ``grad_a`` is ∂C/∂a^l and ``delta`` ∂C/∂z^l, both for the sample's own C_x (n times the
    gradient of the mean C); ``grad_a_prev`` is ∂C/∂a^{l−1}. ``params``/``grads`` hold the
    parameters in the trace's layout (a convolution's W as (filters, channels, rows, cols),
    so W[f, c] is the kernel from input channel c to filter f; a transposed convolution's as
    (channels, filters, rows, cols), PyTorch's layout, W[c, f] spreading channel c into
    filter f) and their gradients averaged over the samples. ``info`` holds what the
    rendering shows beside the equations (padding, the routing of max pooling, the batch
    statistics).
    """

    index: int
    # "conv", "tconv", "pool", "global_pool", "batchnorm", "zeropad", "upsample", "activation",
    # "flatten" or "dense"
    kind: str
    name: str
    a_prev: np.ndarray
    a: np.ndarray
    z: np.ndarray | None = None
    activation: str = "linear"
    sigma_prime: np.ndarray | None = None
    jacobian: bool = False
    grad_a: np.ndarray | None = None
    delta: np.ndarray | None = None
    grad_a_prev: np.ndarray | None = None
    params: dict[str, np.ndarray] = field(default_factory=dict)
    grads: dict[str, np.ndarray] = field(default_factory=dict)
    updated: dict[str, np.ndarray] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    engine: dict[str, np.ndarray] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    activation_params: dict[str, float] = field(default_factory=dict)
    #: 2 for images; 1 for sequences, whose maps are kept as (n, channels, 1, steps)
    rank: int = 2

    @property
    def units(self) -> int:
        """The size of the output's last axis (the neurons of a Dense stage)."""
        return int(self.a.shape[-1])

    @property
    def is_maps(self) -> bool:
        """True when the stage's output is feature maps (n, C, H, W)."""
        return self.a.ndim == 4

    def __repr__(self) -> str:
        return f"StageTrace(l={self.index}, {self.kind}, name={self.name!r})"


# =============================================================================================
# The equations, in NumPy (independent of the layers' kernels)
# =============================================================================================
def pad_maps(x: np.ndarray, pad: tuple[tuple[int, int], tuple[int, int]]) -> np.ndarray:
    """x (n, C, H, W) with zeros added around each map: ((top, bottom), (left, right))."""
    return np.pad(x, ((0, 0), (0, 0), pad[0], pad[1]))


def crop_maps(x: np.ndarray, pad: tuple[tuple[int, int], tuple[int, int]]) -> np.ndarray:
    """The inverse of ``pad_maps``: x (n, C, H, W) without its first and last rows and
    columns ((top, bottom), (left, right))."""
    (top, bottom), (left, right) = pad
    h, w = x.shape[-2:]
    return x[:, :, top : h - bottom, left : w - right]


Pair = tuple[int, int]


def correlate(
    x: np.ndarray, kernels: np.ndarray, strides: Pair = (1, 1), dilation: Pair = (1, 1)
) -> np.ndarray:
    """The valid cross-correlation z[n, f] = Σ_c kernels[f, c] ⋆ x[n, c] with stride s and
    dilation d per axis:
    z[n, f, r, q] = Σ_{c, i, j} kernels[f, c, i, j] · x[n, c, s₁r + d₁i, s₂q + d₂j]."""
    n, _, h, w = x.shape
    f, _, kh, kw = kernels.shape
    (sh, sw), (dh, dw) = strides, dilation
    oh, ow = (h - (kh - 1) * dh - 1) // sh + 1, (w - (kw - 1) * dw - 1) // sw + 1
    z = np.zeros((n, f, oh, ow))
    for i in range(kh):
        for j in range(kw):
            window = x[:, :, dh * i : dh * i + sh * (oh - 1) + 1 : sh,
                       dw * j : dw * j + sw * (ow - 1) + 1 : sw]  # fmt: skip
            z += np.einsum("nchw,fc->nfhw", window, kernels[:, :, i, j])
    return z


def rot180(kernels: np.ndarray) -> np.ndarray:
    """Each kernel turned by 180° (flipped upside down and left to right)."""
    return kernels[..., ::-1, ::-1]


def spread(maps: np.ndarray, step: Pair) -> np.ndarray:
    """maps (..., h, w) with step − 1 zeros put between neighbouring entries along each axis:
    δ spread by the stride (its entries back at the rows and columns their windows start
    from), or a kernel spread by the dilation (its entries where they touch the input)."""
    h, w = maps.shape[-2:]
    out = np.zeros((*maps.shape[:-2], (h - 1) * step[0] + 1, (w - 1) * step[1] + 1))
    out[..., :: step[0], :: step[1]] = maps
    return out


def full_correlate_rotated(
    delta: np.ndarray,
    kernels: np.ndarray,
    strides: Pair = (1, 1),
    dilation: Pair = (1, 1),
    size: Pair | None = None,
) -> np.ndarray:
    """Σ_f pad(δ_f) ⋆ rot180(W_fc) for every input channel c: the input gradient of a
    convolution, in the frame of its (padded) input. With a stride, δ is first spread by the
    stride; with a dilation, the kernel by the dilation; the spread δ is padded with span − 1
    zeros on each side (the full correlation; span = the spread kernel's size). kernels are
    (F, C, kh, kw). Rows and columns past the last window (a "valid" stride that does not
    divide) receive nothing: ``size`` adds them as zeros. Result (n, C, *size)."""
    up, kernel = spread(delta, strides), spread(kernels, dilation)
    kh, kw = kernel.shape[-2:]
    padded = pad_maps(up, ((kh - 1, kh - 1), (kw - 1, kw - 1)))
    turned = rot180(kernel).transpose(1, 0, 2, 3)  # (C, F, kh, kw)
    full = correlate(padded, np.ascontiguousarray(turned))
    if size is None:
        return full
    return pad_maps(full, ((0, size[0] - full.shape[2]), (0, size[1] - full.shape[3])))


def scatter_back(
    delta: np.ndarray, kernels: np.ndarray, strides: Pair, dilation: Pair, size: Pair
) -> np.ndarray:
    """The same input gradient as ``full_correlate_rotated``, in the scatter form of the
    index map: ∂C/∂a[n, c, s₁r + d₁i, s₂q + d₂j] += W[f, c, i, j] · δ[n, f, r, q]."""
    n, _, oh, ow = delta.shape
    _, c, kh, kw = kernels.shape
    (sh, sw), (dh, dw) = strides, dilation
    out = np.zeros((n, c, *size))
    for i in range(kh):
        for j in range(kw):
            out[:, :, dh * i : dh * i + sh * (oh - 1) + 1 : sh,
                dw * j : dw * j + sw * (ow - 1) + 1 : sw] += np.einsum(
                "nfhw,fc->nchw", delta, kernels[:, :, i, j])  # fmt: skip
    return out


def kernel_gradient(
    a_pad: np.ndarray,
    delta: np.ndarray,
    kernel: Pair | None = None,
    strides: Pair = (1, 1),
    dilation: Pair = (1, 1),
) -> np.ndarray:
    """∂C/∂W[f, c, i, j] = 1/n Σ_{n, r, q} a_pad[n, c, s₁r + d₁i, s₂q + d₂j] · δ[n, f, r, q]:
    the correlation of the (padded) input with δ through the forward's index map, averaged
    over the samples. ``kernel`` (kh, kw) defaults to what a stride-1 correlation leaves."""
    n, _, h, w = a_pad.shape
    oh, ow = delta.shape[-2:]
    kh, kw = kernel if kernel is not None else (h - oh + 1, w - ow + 1)
    (sh, sw), (dh, dw) = strides, dilation
    grad = np.zeros((delta.shape[1], a_pad.shape[1], kh, kw))
    for i in range(kh):
        for j in range(kw):
            window = a_pad[:, :, dh * i : dh * i + sh * (oh - 1) + 1 : sh,
                           dw * j : dw * j + sw * (ow - 1) + 1 : sw]  # fmt: skip
            grad[:, :, i, j] = np.einsum("nchw,nfhw->fc", window, delta)
    return grad / n


def conv_padding(
    size: Pair, kernel: Pair, strides: Pair, dilation: Pair, padding: str
) -> tuple[Pair, Pair]:
    """((top, bottom), (left, right)) zeros of Keras's padding: none for "valid"; for "same"
    ⌈size/stride⌉ positions with the padding split evenly, the extra one after; "causal"
    (Conv1D) span − 1 before the steps only."""
    pads = []
    for n, k, s, d in zip(size, kernel, strides, dilation):
        span = (k - 1) * d + 1
        if padding == "same":
            pads.append(same_padding(n, span, s))
        elif padding == "causal":
            pads.append((span - 1, 0))
        else:
            pads.append((0, 0))
    return pads[0], pads[1]


def transpose_frame(
    size: Pair, kernel: Pair, strides: Pair, dilation: Pair, padding: str
) -> tuple[tuple[Pair, Pair], Pair]:
    """Keras's Conv2DTranspose geometry: (the crop ((top, bottom), (left, right)) that takes z
    out of the frame, the frame's size). The full correlation of the input spread by the
    stride has (n − 1)·s + span rows (span = (k − 1)·d + 1); Keras keeps n·s + max(span − s, 0)
    of them for "valid" and n·s for "same", from row max(span − s, 0) // 2 ("same") or 0 on.
    When span < s the output is longer than the correlation: the frame adds zeros after."""
    crops, frame = [], []
    for n, k, s, d in zip(size, kernel, strides, dilation):
        span = (k - 1) * d + 1
        out = n * s + (max(span - s, 0) if padding == "valid" else 0)
        top = max(span - s, 0) // 2 if padding == "same" else 0
        total = max((n - 1) * s + span, top + out)
        crops.append((top, total - top - out))
        frame.append(total)
    return (crops[0], crops[1]), (frame[0], frame[1])


def upsample(x: np.ndarray, size: Pair) -> np.ndarray:
    """Nearest-neighbour upsampling of x (n, C, H, W): a[r, q] = x[r // s₁, q // s₂]."""
    rows = np.arange(x.shape[2] * size[0]) // size[0]
    cols = np.arange(x.shape[3] * size[1]) // size[1]
    return x[:, :, rows][:, :, :, cols]


def block_sums(g: np.ndarray, size: Pair) -> np.ndarray:
    """The backward of ``upsample``: ∂C/∂x[r, q] = the sum of g over the s₁×s₂ block
    (rows s₁r … s₁r + s₁ − 1, columns s₂q … s₂q + s₂ − 1) that repeated x[r, q]."""
    n, c, h, w = g.shape
    return g.reshape(n, c, h // size[0], size[0], w // size[1], size[1]).sum(axis=(3, 5))


def same_padding(size: int, window: int, stride: int) -> tuple[int, int]:
    """Keras's "same": ⌈size/stride⌉ positions, the padding split evenly, the extra one after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + window - size, 0)
    return total // 2, total - total // 2


def pool_windows(
    shape: tuple[int, int], pool: tuple[int, int], strides: tuple[int, int], padding: str
) -> list[list[tuple[slice, slice]]]:
    """For each output position (r, s), the rows and columns of its window in the unpadded
    input (clipped: "same" padding adds no values to a window)."""
    pads = [
        same_padding(n, p, s) if padding == "same" else (0, 0)
        for n, p, s in zip(shape, pool, strides)
    ]
    outs = [
        -(-n // s) if padding == "same" else (n - p) // s + 1
        for n, p, s in zip(shape, pool, strides)
    ]
    grid = []
    for r in range(outs[0]):
        row = []
        for s in range(outs[1]):
            r0, c0 = r * strides[0] - pads[0][0], s * strides[1] - pads[1][0]
            row.append(
                (
                    slice(max(r0, 0), min(r0 + pool[0], shape[0])),
                    slice(max(c0, 0), min(c0 + pool[1], shape[1])),
                )
            )
        grid.append(row)
    return grid


def pool_forward(
    x: np.ndarray, windows: list[list[tuple[slice, slice]]], mode: str
) -> tuple[np.ndarray, np.ndarray]:
    """(a, where): each window's maximum (or mean) per sample and channel, and for max pooling
    the flat index into the map of the first maximum in row-major order (-1 for average)."""
    n, c, _, w = x.shape
    oh, ow = len(windows), len(windows[0])
    out = np.zeros((n, c, oh, ow))
    where = np.full((n, c, oh, ow), -1, dtype=np.int64)
    for r in range(oh):
        for s in range(ow):
            rows, cols = windows[r][s]
            patch = x[:, :, rows, cols].reshape(n, c, -1)
            if mode == "max":
                k = patch.argmax(axis=2)  # the first maximum, as the engine and PyTorch
                out[:, :, r, s] = np.take_along_axis(patch, k[..., None], axis=2)[..., 0]
                width = cols.stop - cols.start
                where[:, :, r, s] = (rows.start + k // width) * w + cols.start + k % width
            else:
                out[:, :, r, s] = patch.mean(axis=2)
    return out, where


def pool_backward(
    g: np.ndarray,
    windows: list[list[tuple[slice, slice]]],
    where: np.ndarray,
    shape: tuple[int, ...],
    mode: str,
) -> np.ndarray:
    """∂C/∂a^{l−1}: max pooling adds each g[r, s] to its window's maximum; average pooling
    shares it equally over the window's values."""
    dx = np.zeros(shape)
    n, c = shape[:2]
    flat = dx.reshape(n, c, -1)
    for r, row in enumerate(windows):
        for s, (rows, cols) in enumerate(row):
            if mode == "max":
                idx = where[:, :, r, s][..., None]
                np.put_along_axis(
                    flat, idx, np.take_along_axis(flat, idx, 2) + g[:, :, r, s][..., None], 2
                )
            else:
                count = (rows.stop - rows.start) * (cols.stop - cols.start)
                dx[:, :, rows, cols] += g[:, :, r, s][:, :, None, None] / count
    return dx


def batchnorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float
) -> dict[str, np.ndarray]:
    """Batch statistics per channel (axis 1) over every other axis; x̂ and a = γ x̂ + β."""
    axes = tuple(i for i in range(x.ndim) if i != 1)
    shape = tuple(-1 if i == 1 else 1 for i in range(x.ndim))
    mean = x.mean(axis=axes)
    var = ((x - mean.reshape(shape)) ** 2).mean(axis=axes)  # biased, as Keras
    inv = 1.0 / np.sqrt(var + eps)
    xhat = (x - mean.reshape(shape)) * inv.reshape(shape)
    a = gamma.reshape(shape) * xhat + beta.reshape(shape)
    return {"mean": mean, "var": var, "inv": inv, "xhat": xhat, "a": a}


def batchnorm_backward(
    g: np.ndarray, stats: dict[str, np.ndarray], gamma: np.ndarray, n: int
) -> dict[str, np.ndarray]:
    """From g = ∂C/∂a (per-sample scale, i.e. n·∂C_mean/∂a): dγ, dβ (of the mean C) and dx."""
    axes = tuple(i for i in range(g.ndim) if i != 1)
    shape = tuple(-1 if i == 1 else 1 for i in range(g.ndim))
    xhat = stats["xhat"]
    ghat = g * gamma.reshape(shape)
    mean_g = ghat.mean(axis=axes)
    mean_gx = (ghat * xhat).mean(axis=axes)
    dx = (ghat - mean_g.reshape(shape) - xhat * mean_gx.reshape(shape)) * stats["inv"].reshape(
        shape
    )
    return {
        "gamma": (g * xhat).sum(axis=axes) / n,
        "beta": g.sum(axis=axes) / n,
        "ghat": ghat,
        "mean_ghat": mean_g,
        "mean_ghat_xhat": mean_gx,
        "dx": dx,
    }


# =============================================================================================
# The plan: which layer becomes which stage, refusing what the trace cannot show exactly
# =============================================================================================
@dataclass
class _Stage:
    kind: str
    layer: Any
    act: Any = None  # the Activation layer giving σ (the layer's own or a merged one)
    notes: list[str] = field(default_factory=list)


def _refuse(layer: Any, arg: str, value: Any, expected: str) -> NotTraceableError:
    return NotTraceableError(
        f"backprop: layer {layer.name!r} ({type(layer).__name__}) has {arg}={value!r}; the "
        f"convolution trace supports {expected}"
    )


def pair(values: Sequence[int]) -> Pair:
    """A window layer's per-axis tuple as (rows, cols): a 1-D layer's (v,) is (1, v)."""
    return (int(values[0]), int(values[1])) if len(values) == 2 else (1, int(values[0]))


def _check_conv(layer: Any) -> None:
    if layer.padding not in ("valid", "same", "causal"):
        raise _refuse(layer, "padding", layer.padding, "padding 'valid', 'same' or 'causal'")
    if not layer.activation.kernel.elementwise:
        raise _refuse(
            layer, "activation", layer.activation.kernel.name, "elementwise activations only"
        )


def _plan(chain: Sequence[Any]) -> tuple[list[_Stage], str, list[Any], int]:
    """(the stages, the data format, the fixed preprocessing of the inputs before them, the
    number of spatial axes)."""
    stages: list[_Stage] = []
    pre: list[Any] = []
    formats = set()
    ranks = set()
    pending: list[str] = []
    for layer in chain:
        role = role_of(layer)
        fmt = getattr(layer, "data_format", None)
        if fmt is not None:
            formats.add(fmt)
        if role in _SPATIAL_ROLES:
            ranks.add(int(getattr(layer, "rank", 2)))
        if role in ("scale", "normalize") and not stages:
            pre.append(layer)  # Rescaling / Normalization of the inputs: a fixed affine map
        elif role in ("conv", "tconv"):
            _check_conv(layer)
            stages.append(_Stage(role, layer, layer.activation))
        elif role == "zeropad":
            stages.append(_Stage("zeropad", layer))
        elif role == "upsample":
            if layer.interpolation != "nearest":
                raise _refuse(layer, "interpolation", layer.interpolation, "'nearest' only")
            stages.append(_Stage("upsample", layer))
        elif role == "dense":
            stages.append(_Stage("dense", layer, layer.activation))
        elif role == "pool":
            stages.append(_Stage("pool", layer))
        elif role == "global_pool":
            if layer.keepdims:
                raise _refuse(layer, "keepdims", True, "keepdims=False only")
            stages.append(_Stage("global_pool", layer))
        elif role == "batchnorm":
            if not layer.trainable:
                raise _refuse(
                    layer,
                    "trainable",
                    False,
                    "trainable batch normalisation only (batch statistics)",
                )
            stages.append(_Stage("batchnorm", layer))
        elif role == "flatten":
            stages.append(_Stage("flatten", layer))
        elif role == "activation":
            last = stages[-1] if stages else None
            if (
                last is not None
                and last.kind in ("conv", "tconv", "dense")
                and last.act.kernel.name == "linear"
                and not last.notes
            ):
                last.act = layer
                last.notes.append(
                    Message(
                        "σ comes from the separate layer {layer} ({kernel}) after {dense}.",
                        layer=repr(layer.name),
                        kernel=layer.kernel.name,
                        dense=repr(last.layer.name),
                    )
                )
            else:
                stages.append(_Stage("activation", layer, layer))
        elif role == "identity":
            pending.append(
                Message(
                    "{layer}: {module} is the identity at inference; the trace skips it.",
                    layer=repr(layer.name),
                    module=repr(layer),
                )
            )
        else:
            raise NotTraceableError(
                f"backprop: layer {getattr(layer, 'name', '?')!r} ({type(layer).__name__}) is "
                f"not traceable yet; the convolution trace follows Conv1D, Conv2D, "
                f"Conv2DTranspose, MaxPooling1D/2D, AveragePooling1D/2D, "
                f"GlobalMax/AveragePooling1D/2D, ZeroPadding2D, UpSampling2D, "
                f"BatchNormalization, Activation, Dropout, Flatten and Dense"
            )
        if pending and stages:
            stages[-1].notes.extend(pending)
            pending = []
    if len(formats) > 1:
        raise NotTraceableError(
            f"backprop: the layers mix data formats ({', '.join(sorted(formats))}); the "
            f"convolution trace needs one data_format for the whole model"
        )
    if len(ranks) > 1:
        raise NotTraceableError(
            "backprop: the layers mix 1-D and 2-D windows; the convolution trace needs one "
            "kind of map (sequences or images) for the whole model"
        )
    if not stages or stages[-1].kind != "dense":
        raise NotTraceableError(
            "backprop: the convolution trace needs a Dense output layer at the end of the model"
        )
    if stages[-1].act is not None and stages[-1].act.kernel.name == "softmax":
        pass  # a Jacobian or the fused form, as for Dense chains
    for st in stages[:-1]:
        if st.act is not None and not st.act.kernel.elementwise:
            raise _refuse(
                st.layer, "activation", st.act.kernel.name, "softmax only on the output layer"
            )
    return (
        stages,
        (formats.pop() if formats else "channels_last"),
        pre,
        (ranks.pop() if ranks else 2),
    )


# =============================================================================================
# The trace
# =============================================================================================
class ConvTrace(tr.BackpropTrace):
    """A BackpropTrace of a convolutional network: ``layers`` (or ``stages``) are StageTraces.

    ``check()``, ``max_discrepancy``, ``spot_checks`` and the four renderers work as for a
    Dense chain; the equations are those of each stage (see ``glassnet.explain.conv``).
    """

    data_format: str = "channels_last"
    #: 2 for images, 1 for sequences (their maps kept as (n, C, 1, steps))
    rank: int = 2
    #: ∂C/∂a^0 per sample (n, C, H, W), from the equations and from the engine
    input_grad: np.ndarray
    engine_input_grad: np.ndarray

    @property
    def stages(self) -> list[StageTrace]:
        """Stage l is ``stages[l − 1]``."""
        return self.layers  # type: ignore[return-value]

    def layer(self, l: int) -> Any:  # type: ignore[override]
        """Stage l, counted from 1 (stage 0 is the input)."""
        return super().layer(l)

    def describe(self) -> str:
        parts = [shape_text(self.stages[0].a_prev, self.rank)]
        for st in self.stages:
            out = shape_text(st.a, self.rank)
            what = {
                "conv": "conv",
                "tconv": "transposed conv",
                "zeropad": "zero padding",
                "upsample": "upsampling",
                "pool": st.info.get("mode", "max") + "pool",
                "global_pool": "global " + st.info.get("mode", "max") + "pool",
                "batchnorm": "batchnorm",
                "flatten": "flatten",
                "dense": "dense",
                "activation": st.activation,
            }[st.kind]
            if st.kind in ("conv", "tconv", "dense") and st.activation != "linear":
                what += f" {st.activation}"
            parts.append(f"{out} ({what})")
        return " → ".join(parts)

    def _no_weights(self, where: str) -> NotTraceableError:
        return NotTraceableError(
            f"{where}: weight stories follow Dense chains; a convolution trace shows every "
            f"kernel's gradient in full instead"
        )

    def weight_number(self, l: int, j: int, k: int) -> int:
        raise self._no_weights("trace.weight_number")

    def weight_from_number(self, number: int) -> tuple[int, int, int]:
        raise self._no_weights("trace.weight_from_number")

    def path(self, *args: Any, **kwargs: Any) -> Any:
        raise self._no_weights("trace.path")

    def to_dict(
        self,
        precision: int | None = None,
        weights: Sequence[Any] = (),
        notation: str | None = None,
        lang: str | None = None,
    ) -> dict[str, Any]:
        """The trace as plain data: every stage's arrays as nested lists, the verdict."""
        from .conv_render import conv_dict

        return conv_dict(self, precision, weights, notation, lang)

    def to_json(
        self,
        precision: int | None = None,
        indent: int | None = 1,
        weights: Sequence[Any] = (),
        notation: str | None = None,
        lang: str | None = None,
    ) -> str:
        """``to_dict`` as JSON (non-finite numbers become null)."""
        import json

        return json.dumps(
            self.to_dict(precision, weights, notation, lang),
            indent=indent,
            ensure_ascii=False,
            allow_nan=False,
        )

    def document(self) -> Any:
        """The sections of steps every renderer reads (``conv_render``)."""
        from .conv_render import build_conv_document

        return build_conv_document(self)

    def equation_items(self) -> Any:
        """The heading and equations listed at the top of the Markdown and HTML pages."""
        from .conv_render import conv_equations

        return conv_equations(self)

    def __repr__(self) -> str:
        return (
            f"ConvTrace({self.describe()}, loss={self.loss_name!r}, samples={self.batch_size}, "
            f"cost={self.cost:.6g}, max_discrepancy={self.max_discrepancy:.2g})"
        )


def shape_text(arr: np.ndarray, rank: int) -> str:
    """A sample's shape as the trace shows it: channels × rows × cols, or channels × steps
    for a sequence."""
    shape = list(arr.shape[1:])
    if rank == 1 and len(shape) == 3:
        del shape[1]
    return "×".join(str(d) for d in shape)


def _to_internal(x: np.ndarray, fmt: str) -> np.ndarray:
    """A batch of maps in the model's layout as (n, C, H, W) — sequences (n, steps, C) as
    (n, C, 1, steps) —; vectors unchanged."""
    if x.ndim not in (3, 4):
        return x
    x = np.moveaxis(x, -1, 1) if fmt == "channels_last" else x
    return x[:, :, None, :] if x.ndim == 3 else x


def _to_layout(x: np.ndarray, fmt: str, rank: int = 2) -> np.ndarray:
    """The inverse of ``_to_internal`` for maps of ``rank`` spatial axes."""
    if x.ndim != 4:
        return x
    x = x[:, :, 0, :] if rank == 1 else x
    return np.moveaxis(x, 1, -1) if fmt == "channels_last" else x


def _prepare_input(model: Any, x: Any, fmt: str) -> tuple[np.ndarray, bool]:
    """(a^0 in the model's layout as float64 (n, ...), single?)."""
    arr = np.asarray(x.data if isinstance(x, Tensor) else x)
    if arr.dtype.kind not in "fiub":
        raise InvalidArgumentError(f"backprop: x must hold numbers, received {describe(arr)}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise InvalidArgumentError("backprop: x contains NaN or inf")
    tr._ensure_built(model, arr)
    per = tuple(int(d) for d in model.input_shape) if model.input_shape is not None else None
    if per is None:
        raise ShapeError("backprop: the model has no input shape; build it or give input_shape")
    squeezed = tuple(d for d in per if d != 1)
    if arr.shape == per:
        return arr[None], True
    if arr.shape[1:] == per and len(arr) > 0:
        return arr, len(arr) == 1
    if arr.shape == squeezed:  # a one-channel image given without its channel axis
        return arr.reshape(per)[None], True
    raise ShapeError(
        f"backprop: x of shape {arr.shape} does not fit the model, whose samples have shape "
        f"{per}; pass one sample of that shape or a batch (n, ...)"
    )


def _preprocess(pre: list[Any], raw: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """a^0 from x through the Rescaling / Normalization layers in front (constants, nothing
    to learn: the trace starts after them), and a note for each."""
    a0 = raw
    notes: list[str] = []
    for layer in pre:
        if layer.explain_role == "scale":
            a0 = a0 * layer.scale + layer.offset
            offset = f" + {layer.offset:g}" if layer.offset else ""
            notes.append(
                Message(
                    "{layer}: a^0 = x · {scale}{offset} (Rescaling).",
                    layer=repr(layer.name),
                    scale=f"{layer.scale:g}",
                    offset=offset,
                )
            )
        else:
            inv, mean = (np.asarray(v, dtype=np.float64) for v in layer.scale_and_shift())
            a0 = (a0 - mean) * inv
            notes.append(
                Message(
                    "{layer}: a^0 = (x − μ) ⊘ s with the layer's fixed statistics "
                    "(Normalization): an affine map of the inputs with nothing to learn.",
                    layer=repr(layer.name),
                )
            )
    return a0, notes


def _float64_layer(layer: Any) -> tuple[Any, dict[str, Parameter]]:
    """A shallow twin of ``layer`` on float64 copies of its parameters (the model is not
    touched; a batch normalisation's moving statistics are copies too)."""
    twin = copy.copy(layer)
    leaves: dict[str, Parameter] = {}
    for name, value in list(vars(layer).items()):
        if isinstance(value, Parameter):
            p = Parameter(np.array(value.data, dtype=np.float64))
            p.requires_grad = value.requires_grad
            setattr(twin, name, p)
            leaves[name] = p
    twin.dtype = np.dtype(np.float64)
    return twin, leaves


def _params_of(stage: _Stage) -> dict[str, np.ndarray]:
    """The stage's parameters in the trace's layout, float64."""
    layer = stage.layer
    out: dict[str, np.ndarray] = {}
    if stage.kind in ("conv", "tconv"):  # a transposed one's W is (channels, filters, ...)
        out["W"] = kernels_internal(np.array(layer.W.data, dtype=np.float64))
        out["b"] = (
            np.array(layer.b.data, dtype=np.float64)
            if layer.b is not None
            else np.zeros(layer.filters)
        )
    elif stage.kind == "dense":
        out["W"] = np.array(layer.W.data, dtype=np.float64)
        out["b"] = (
            np.array(layer.b.data, dtype=np.float64)
            if layer.b is not None
            else np.zeros(layer.W.shape[0])
        )
    elif stage.kind == "batchnorm":
        c = layer.moving_mean.shape[0]
        out["gamma"] = (
            np.array(layer.gamma.data, dtype=np.float64) if layer.gamma is not None else np.ones(c)
        )
        out["beta"] = (
            np.array(layer.beta.data, dtype=np.float64) if layer.beta is not None else np.zeros(c)
        )
    return out


def kernels_internal(W: np.ndarray) -> np.ndarray:
    """A convolution's W in Keras's layout (*kernel, channels, filters) as (filters, channels,
    rows, cols); a 1-D kernel (k, channels, filters) as (filters, channels, 1, k). A transposed
    convolution's (*kernel, filters, channels) becomes (channels, filters, rows, cols)."""
    return W.transpose(3, 2, 0, 1) if W.ndim == 4 else W.transpose(2, 1, 0)[:, :, None, :]


def _trained(stage: _Stage) -> list[str]:
    """The parameter names of the stage that the model really has (a missing bias is 0)."""
    layer = stage.layer
    if stage.kind in ("conv", "tconv", "dense"):
        return ["W"] + (["b"] if layer.b is not None else [])
    if stage.kind == "batchnorm":
        return [n for n, p in (("gamma", layer.gamma), ("beta", layer.beta)) if p is not None]
    return []


def _check_batchnorm(layer: Any, ndim: int, fmt: str) -> None:
    """ndim: of the model's own layout (a sequence batch is 3-D there)."""
    axis = layer.axis if layer.axis > 0 else ndim + layer.axis
    channel = 1 if (ndim == 2 or fmt == "channels_first") else ndim - 1
    if axis != channel:
        raise _refuse(layer, "axis", layer.axis, "the channel axis only")


def _forward(
    stages: list[_Stage],
    a0: np.ndarray,
    params: list[dict[str, np.ndarray]],
    fmt: str,
    rank: int = 2,
) -> list[dict[str, Any]]:
    """Per stage: a_prev, z (or None), a, σ'(z), jacobian?, and what the stage adds."""
    out: list[dict[str, Any]] = []
    a_prev = a0
    for stage, p in zip(stages, params):
        rec: dict[str, Any] = {"a_prev": a_prev, "z": None, "sp": None, "jac": False}
        layer = stage.layer
        if stage.kind == "conv":
            if a_prev.ndim != 4:
                raise ShapeError(f"backprop: layer {layer.name!r} needs feature maps as input")
            strides, dilation = pair(layer.strides), pair(layer.dilation_rate)
            kernel = (int(p["W"].shape[2]), int(p["W"].shape[3]))
            pad = conv_padding(a_prev.shape[2:], kernel, strides, dilation, layer.padding)
            a_pad = pad_maps(a_prev, pad)
            z = correlate(a_pad, p["W"], strides, dilation) + p["b"][None, :, None, None]
            rec.update(z=z, pad=pad, a_pad=a_pad, strides=strides, dilation=dilation)
        elif stage.kind == "tconv":
            if a_prev.ndim != 4:
                raise ShapeError(f"backprop: layer {layer.name!r} needs feature maps as input")
            strides, dilation = pair(layer.strides), pair(layer.dilation_rate)
            kernel = (int(p["W"].shape[2]), int(p["W"].shape[3]))
            crop, frame = transpose_frame(
                a_prev.shape[2:], kernel, strides, dilation, layer.padding
            )
            # the input gradient of the convolution this layer is the transpose of
            full = full_correlate_rotated(a_prev, p["W"], strides, dilation, frame)
            z = crop_maps(full, crop) + p["b"][None, :, None, None]
            rec.update(z=z, crop=crop, full=full, strides=strides, dilation=dilation)
        elif stage.kind in ("zeropad", "upsample"):
            if a_prev.ndim != 4:
                raise ShapeError(f"backprop: layer {layer.name!r} needs feature maps as input")
            if stage.kind == "zeropad":
                rec["a"] = pad_maps(a_prev, layer.padding)
            else:
                rec["a"] = upsample(a_prev, pair(layer.size))
        elif stage.kind == "dense":
            if a_prev.ndim != 2:
                raise ShapeError(
                    f"backprop: layer {layer.name!r} (Dense) receives feature maps; put a "
                    f"Flatten layer before it"
                )
            rec["z"] = a_prev @ p["W"].T + p["b"]
        elif stage.kind == "pool":
            if a_prev.ndim != 4:
                raise ShapeError(f"backprop: layer {layer.name!r} needs feature maps as input")
            windows = pool_windows(
                a_prev.shape[2:], pair(layer.pool_size), pair(layer.strides), layer.padding
            )
            a, where = pool_forward(a_prev, windows, layer.mode)
            rec.update(a=a, windows=windows, where=where, mode=layer.mode)
        elif stage.kind == "global_pool":  # one window: the whole map
            if a_prev.ndim != 4:
                raise ShapeError(f"backprop: layer {layer.name!r} needs feature maps as input")
            windows = [[(slice(0, a_prev.shape[2]), slice(0, a_prev.shape[3]))]]
            a, where = pool_forward(a_prev, windows, layer.mode)
            rec.update(a=a[:, :, 0, 0], windows=windows, where=where, mode=layer.mode)
        elif stage.kind == "batchnorm":
            _check_batchnorm(layer, a_prev.ndim - (rank == 1 and a_prev.ndim == 4), fmt)
            stats = batchnorm_forward(a_prev, p["gamma"], p["beta"], float(layer.epsilon))
            rec.update(a=stats["a"], stats=stats, eps=float(layer.epsilon))
        elif stage.kind == "flatten":
            rec["a"] = _to_layout(a_prev, fmt, rank).reshape(len(a_prev), -1)
        elif stage.kind == "activation":
            rec["z"] = a_prev
        if rec["z"] is not None:
            a, sp, jac = tr._sigma(stage.act, rec["z"])
            rec.update(a=a, sp=sp, jac=jac)
        out.append(rec)
        a_prev = rec["a"]
    return out


def conv_backprop(
    model: Any, x: Any, y: Any, loss: Any = None, learning_rate: float | None = None
) -> ConvTrace:
    """``backprop`` for a Sequential with convolution, pooling or batch-normalisation layers
    (see the module docstring); the result is a ConvTrace with ``check()`` and renderers."""
    chain = tr.kernel_chain(model)
    assert chain is not None
    stages, fmt, pre, rank = _plan(chain)
    loss_obj = tr.resolve_loss(model, loss)
    alpha = tr._check_learning_rate(learning_rate)
    raw, single = _prepare_input(model, x, fmt)
    inputs, pre_notes = _preprocess(pre, raw)
    a0 = _to_internal(inputs, fmt)
    n = len(a0)
    params = [_params_of(st) for st in stages]
    last = stages[-1]
    k_out = int(params[-1]["W"].shape[0])
    y_loss, ymat, labels = tr._prepare_targets(loss_obj, y, n, k_out)
    if loss_obj.from_logits and not isinstance(loss_obj, tr._CLIPPING):
        raise InvalidArgumentError(
            f"backprop: from_logits=True is not meaningful for {loss_obj.name}"
        )

    fwd = _forward(stages, a0, params, fmt, rank)
    zL, aL = fwd[-1]["z"], fwd[-1]["a"]
    fused = tr._fused(loss_obj, last.act)
    per_sample = tr._cost(loss_obj, y_loss, ymat, aL, zL, fused)
    notes: list[str] = list(pre_notes)
    dtypes = {str(q.data.dtype) for st in stages for q in st.layer.kernel_parameters()}
    if dtypes - {"float64"}:
        notes.append(
            Message(
                "The model's weights are {dtypes}; the trace and its checks use float64 copies "
                "of them.",
                dtypes=", ".join(sorted(dtypes)),
            )
        )

    # ---- BP1 ---------------------------------------------------------------------------------
    if loss_obj.from_logits:
        grad_aL = tr._logit_loss_parts(loss_obj, aL, ymat)[1]
    else:
        grad_aL = np.asarray(loss_obj.gradient(y_loss, aL), dtype=np.float64).reshape(aL.shape)
        if isinstance(loss_obj, tr._CLIPPING) and not fused:
            clipped = (aL < losses_module.EPSILON) | (aL > 1.0 - losses_module.EPSILON)
            grad_aL = np.where(clipped, 0.0, grad_aL)
    if fused and last.act.kernel.name == "softmax":
        delta_rule, deltaL = tr.FUSED_SOFTMAX, aL * ymat.sum(axis=1, keepdims=True) - ymat
    elif fused:
        delta_rule, deltaL = tr.FUSED_SIGMOID, (aL - ymat) / k_out
    elif fwd[-1]["jac"]:
        delta_rule, deltaL = tr.JACOBIAN, np.einsum("nij,ni->nj", fwd[-1]["sp"], grad_aL)
    else:
        delta_rule, deltaL = tr.BP1, grad_aL * fwd[-1]["sp"]

    # ---- backwards through the stages -------------------------------------------------------
    traces: list[StageTrace] = []
    grad = grad_aL
    for i in range(len(stages) - 1, -1, -1):
        st, rec, p = stages[i], fwd[i], params[i]
        s = StageTrace(
            index=i + 1,
            kind=st.kind,
            name=st.layer.name,
            a_prev=rec["a_prev"],
            a=rec["a"],
            z=rec["z"],
            activation=st.act.kernel.name if st.act is not None else "linear",
            sigma_prime=rec["sp"],
            jacobian=rec["jac"],
            grad_a=grad,
            params=p,
            notes=list(st.notes),
            activation_params=dict(st.act.kernel.params) if st.act is not None else {},
            rank=rank,
        )
        delta: np.ndarray | None = None
        if rec["z"] is not None:
            if i == len(stages) - 1:
                delta = deltaL
            elif rec["jac"]:
                delta = np.einsum("nij,ni->nj", rec["sp"], grad)
            else:
                delta = grad * rec["sp"]
            s.delta = delta
        s.grad_a_prev, s.grads, s.info = _stage_backward(st, rec, p, grad, delta, n, fmt, rank)
        s.grads = {k: v for k, v in s.grads.items() if k in _trained(st)}
        if alpha is not None:
            s.updated = {k: s.params[k] - alpha * g for k, g in s.grads.items()}
        traces.append(s)
        grad = s.grad_a_prev
    traces.reverse()

    trace = ConvTrace(
        layers=traces,  # type: ignore[arg-type]
        loss=loss_obj,
        cost=float(per_sample.mean()),
        per_sample_cost=per_sample,
        x=raw[0] if single else raw,
        y=(ymat[0] if labels is None else labels)
        if single
        else (ymat if labels is None else labels),
        y_matrix=ymat[0] if single else ymat,
        labels=labels,
        single=single,
        learning_rate=alpha,
        delta_rule=delta_rule,
        notes=notes,
        model_name=str(getattr(model, "name", "model")),
    )
    trace.data_format = fmt
    trace.rank = rank
    trace.input_grad = grad  # ∂C/∂a^0 per sample
    _engine_check(trace, stages, inputs, y_loss, fused, fmt)
    _spot_check(trace, stages, a0, params, y_loss, ymat, fused, fmt, rank)
    return trace


def _stage_backward(
    st: _Stage,
    rec: dict[str, Any],
    p: dict[str, np.ndarray],
    grad: np.ndarray,
    delta: np.ndarray | None,
    n: int,
    fmt: str,
    rank: int = 2,
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, Any]]:
    """(∂C/∂a^{l−1}, the parameter gradients, what the rendering shows) of one stage, from
    g = ∂C/∂a^l and δ = ∂C/∂z^l (None for a stage without z)."""
    if st.kind == "conv":
        assert delta is not None
        strides, dilation = rec["strides"], rec["dilation"]
        size = rec["a_pad"].shape[2:]
        # the input's padded frame
        full = full_correlate_rotated(delta, p["W"], strides, dilation, size)
        kernel = p["W"].shape[2:]
        grads = {
            "W": kernel_gradient(rec["a_pad"], delta, kernel, strides, dilation),
            "b": delta.sum(axis=(2, 3)).mean(axis=0),
        }
        info = {"pad": rec["pad"], "a_pad": rec["a_pad"], "full": full,
                "padding": st.layer.padding, "strides": strides,
                "dilation": dilation}  # fmt: skip
        return crop_maps(full, rec["pad"]), grads, info
    if st.kind == "tconv":
        assert delta is not None
        strides, dilation = rec["strides"], rec["dilation"]
        # δ back in the frame z was cropped from; the layer's input gradient is then the
        # forward of the convolution it transposes: a (strided) valid correlation with W
        framed = pad_maps(delta, rec["crop"])
        back = correlate(framed, p["W"], strides, dilation)
        kernel = p["W"].shape[2:]
        grads = {
            "W": kernel_gradient(framed, rec["a_prev"], kernel, strides, dilation),
            "b": delta.sum(axis=(2, 3)).mean(axis=0),
        }
        info = {"crop": rec["crop"], "full": rec["full"], "framed": framed,
                "padding": st.layer.padding, "strides": strides,
                "dilation": dilation}  # fmt: skip
        return back, grads, info
    if st.kind == "zeropad":
        return crop_maps(grad, st.layer.padding), {}, {"pad": st.layer.padding}
    if st.kind == "upsample":
        size = pair(st.layer.size)
        return block_sums(grad, size), {}, {"size": size}
    if st.kind == "dense":
        assert delta is not None
        return delta @ p["W"], {"W": delta.T @ rec["a_prev"] / n, "b": delta.mean(axis=0)}, {}
    if st.kind == "pool":
        back = pool_backward(grad, rec["windows"], rec["where"], rec["a_prev"].shape, rec["mode"])
        info = {"mode": rec["mode"], "windows": rec["windows"], "where": rec["where"],
                "pool": tuple(st.layer.pool_size), "strides": tuple(st.layer.strides),
                "padding": st.layer.padding}  # fmt: skip
        return back, {}, info
    if st.kind == "global_pool":
        g = grad[:, :, None, None]
        back = pool_backward(g, rec["windows"], rec["where"], rec["a_prev"].shape, rec["mode"])
        return back, {}, {"mode": rec["mode"], "where": rec["where"]}
    if st.kind == "batchnorm":
        bn = batchnorm_backward(grad, rec["stats"], p["gamma"], n)
        info = {**rec["stats"], "eps": rec["eps"],
                **{k: bn[k] for k in ("ghat", "mean_ghat", "mean_ghat_xhat")}}  # fmt: skip
        return bn["dx"], {"gamma": bn["gamma"], "beta": bn["beta"]}, info
    if st.kind == "flatten":
        shape = _to_layout(rec["a_prev"], fmt, rank).shape
        return _to_internal(grad.reshape(shape), fmt), {}, {}
    assert delta is not None  # an Activation stage: z is the layer's input
    return delta, {}, {}


# =============================================================================================
# The witnesses
# =============================================================================================
def _engine_run(
    stages: list[_Stage], raw: np.ndarray, loss: losses_module.Loss, y_loss: Any, fused: bool
) -> tuple[Tensor, Tensor, list[dict[str, Any]]]:
    """The model's own layers as autograd nodes on float64 twins: (C, x, per stage the
    tensors z, a and the parameter leaves)."""
    x = Tensor(raw, dtype="float64", requires_grad=True)
    a: Tensor = x
    taps: list[dict[str, Any]] = []
    for i, st in enumerate(stages):
        twin, leaves = _float64_layer(st.layer)
        tap: dict[str, Any] = {"leaves": leaves}
        if st.kind in ("conv", "tconv", "dense"):
            z = twin._node(a, logits_only=True)
            z.retain_grad()
            tap["z"] = z
            if i == len(stages) - 1 and fused:
                taps.append(tap)
                break
            a = st.act.forward(z)
        elif st.kind == "batchnorm":
            twin.training = True
            a = twin._node(a, logits_only=False)
        elif st.kind == "activation":
            tap["z"] = a
            a = twin._node(a, logits_only=False)
        else:
            a = twin._node(a, logits_only=False)
        a.retain_grad()
        tap["a"] = a
        taps.append(tap)
    cost = loss.from_logits_tensor(y_loss, taps[-1]["z"]) if fused else loss(y_loss, a)
    return cost, x, taps


def _engine_check(
    trace: ConvTrace, stages: list[_Stage], raw: np.ndarray, y_loss: Any, fused: bool, fmt: str
) -> None:
    cost, x, taps = _engine_run(stages, raw, trace.loss, y_loss, fused)
    cost.backward()
    n = len(raw)
    trace.engine_cost = float(cost.data)

    def internal(t: Tensor, grad: bool) -> np.ndarray:
        if not grad:
            arr = t.data
        else:
            arr = t.grad * n if t.grad is not None else np.zeros_like(t.data)
        return _to_internal(np.asarray(arr, dtype=np.float64), fmt)

    pairs: list[tuple[str, np.ndarray, np.ndarray]] = [
        ("C", np.asarray(trace.cost), np.asarray(trace.engine_cost))
    ]
    for s, tap in zip(trace.stages, taps):
        l = s.index
        if "z" in tap and s.z is not None:
            s.engine["z"] = internal(tap["z"], False)
            s.engine["delta"] = internal(tap["z"], True)
            assert s.delta is not None
            pairs += [(f"z^{l}", s.z, s.engine["z"]), (f"δ^{l}", s.delta, s.engine["delta"])]
        if "a" in tap:
            s.engine["a"] = internal(tap["a"], False)
            s.engine["grad_a"] = internal(tap["a"], True)
            assert s.grad_a is not None
            pairs += [(f"a^{l}", s.a, s.engine["a"]), (f"∂C/∂a^{l}", s.grad_a, s.engine["grad_a"])]
        for name, grad in s.grads.items():
            leaf = tap["leaves"][name]
            eng = leaf.grad if leaf.grad is not None else np.zeros_like(leaf.data)
            if s.kind in ("conv", "tconv") and name == "W":
                eng = kernels_internal(np.asarray(eng))
            s.engine[f"grad_{name}"] = np.asarray(eng)
            pairs.append((f"∂C/∂{name}^{l}", grad, s.engine[f"grad_{name}"]))
    trace.engine_input_grad = internal(x, True)
    pairs.append(("∂C/∂a^0", trace.input_grad, trace.engine_input_grad))
    trace._pairs = pairs
    ref = max(float(np.max(np.abs(eq))) if eq.size else 0.0 for label, eq, _ in pairs[1:])
    trace.discrepancies = {
        label: tr._relative(eq, eng, 0.0 if label == "C" else 1e-6 * ref)
        for label, eq, eng in pairs
    }


#: activations whose slope jumps at z = 0: central differences across 0 are not a derivative
KINKED = frozenset({"relu", "leaky_relu", "relu6", "hard_sigmoid", "hard_tanh", "selu", "elu"})


def _spot_check(
    trace: ConvTrace,
    stages: list[_Stage],
    a0: np.ndarray,
    params: list[dict[str, np.ndarray]],
    y_loss: Any,
    ymat: np.ndarray,
    fused: bool,
    fmt: str,
    rank: int,
    per_parameter: int = 3,
    eps: float = 1e-6,
) -> None:
    """Central differences of C on a few entries of every parameter, from the equations'
    own forward pass. An entry whose ±step moves a ReLU input across 0 or changes a pooling
    window's maximum (C has a kink there: an untrained bias of 0 on a blank image region) is
    skipped and counted in a note; the engine comparison still covers it."""
    rng = np.random.default_rng(0)

    def cost_now() -> tuple[float, bytes]:
        fwd = _forward(stages, a0, params, fmt, rank)
        cost = float(tr._cost(trace.loss, y_loss, ymat, fwd[-1]["a"], fwd[-1]["z"], fused).mean())
        pattern = [
            (rec["z"] > 0).tobytes() if st.act is not None and st.act.kernel.name in KINKED
            else rec["where"].tobytes() if st.kind in ("pool", "global_pool") else b""
            for st, rec in zip(stages, fwd)
        ]  # fmt: skip
        return cost, b"|".join(pattern)

    checks: list[tr.SpotCheck] = []
    skipped = 0
    for s, p in zip(trace.stages, params):
        for name, grad in s.grads.items():
            for idx in tr._spot_indices(p[name].shape, grad, per_parameter, rng):
                numerical = _central(p[name], idx, float(grad[idx]), trace.cost, cost_now, eps)
                if numerical is None:
                    skipped += 1
                    continue
                checks.append(
                    tr.SpotCheck(f"{name}^{s.index}", s.index, idx, numerical, float(grad[idx]))
                )
    trace.spot_checks = checks
    if skipped:
        trace.notes.append(
            Message(
                "{skipped} central-difference spot check(s) skipped: there C has a kink (a ReLU "
                "input at 0 or a tie for a pooling maximum), where a difference quotient is not "
                "the derivative; the engine comparison covers those parameters.",
                skipped=skipped,
            )
        )


def _central(
    arr: np.ndarray,
    idx: tuple[int, ...],
    analytic: float,
    cost: float,
    cost_now: Any,
    eps: float,
) -> float | None:
    """(C(p + h) − C(p − h)) / 2h for the entry idx of arr, the best of three step sizes, or
    None when every step crosses a kink (see ``_spot_check``)."""
    original = arr[idx]
    best: float | None = None
    for step in (eps, eps / 10, eps * 10):
        values, patterns = [], []
        for sign in (1.0, -1.0):
            arr[idx] = original + sign * step
            value, pattern = cost_now()
            values.append(value)
            patterns.append(pattern)
        arr[idx] = original
        if patterns[0] != patterns[1]:
            continue
        numerical = (values[0] - values[1]) / (2 * step)
        if best is None or abs(numerical - analytic) < abs(best - analytic):
            best = numerical
        if tr._spot_ok(best, analytic, cost, tr.NUMERICAL_RTOL, tr.NUMERICAL_ATOL):
            break
    return best
