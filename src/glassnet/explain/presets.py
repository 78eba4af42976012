"""Notation presets: the same trace written in glassnet's symbols or in one seed's.

The numbers never change, only the names printed for them:

========== ==================================================================================
preset     convention
========== ==================================================================================
glassnet   (the default) the input is layer 0; the first weight matrix is W¹ and the forward
           pass runs for l = 1, …, L: z^l = W^l a^{l−1} + b^l
seed000    seed 000 (Nielsen's book): the input is layer 1, so glassnet's W² is its w³ (w^l_jk
           joins neuron k of layer l − 1 to neuron j of layer l); forward for l = 2, …, L
seed001    seed 001: as seed000, with the layer in parentheses: w_{jk}^{(l)}, z^{(l)}, a^{(l)}
seed004    seed 004 (Mazur's worked example): inputs i1, i2, hidden h1, h2, outputs o1, o2,
           net and out for z and a, weights w1…w8 numbered row by row, biases b1, b2, error E
seed003    seed 003's NumPy code: x, W1, b1, h1 = f(W1·x + b1), W2, b2, …
========== ==================================================================================

A renderer picks a preset with ``notation=``; ``using(preset, L)`` makes it the current one
while a document is built (a context variable, so threads and nested renders do not mix).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass

from ..errors import InvalidArgumentError
from .notation import Sym

__all__ = ["Preset", "PRESETS", "DEFAULT", "get", "current", "using"]


@dataclass(frozen=True)
class Preset:
    """One way of naming layers and quantities (see the module docstring)."""

    name: str
    summary: str
    offset: int = 0  # shown layer number = glassnet's + offset
    parens: bool = False  # superscripts as (l), seed 001's w_{jk}^{(l)}
    style: str = "layers"  # "layers", "seed004" (i/h/o, net/out) or "seed003" (W1, h1)
    weight_letter: str = "W"  # seeds 000/001 write the weight matrix w^l too

    @property
    def input_layer(self) -> int:
        """The number the input layer gets (0 in glassnet, 1 in seeds 000/001)."""
        return self.offset

    def layer(self, l: int | str) -> str:
        """Layer l (glassnet's count, or a symbol such as "l", "L", "l+1") as printed."""
        if isinstance(l, int):
            return str(l + self.offset)
        return l

    def forward_range(self) -> str:
        """For which l the forward pass z^l = W^l a^{l−1} + b^l runs."""
        return f"l = {1 + self.offset}, …, L"


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "glassnet",
            "glassnet's notation (the default): the input is layer 0, W^l (w^l_jk) takes "
            "layer l − 1 to layer l, forward pass for l = 1, …, L",
        ),
        Preset(
            "seed000",
            "seed 000's notation: the input is layer 1, w^l_jk joins neuron k of layer l − 1 "
            "to neuron j of layer l, forward pass for l = 2, …, L (glassnet's W^l is w^{l+1})",
            offset=1,
            weight_letter="w",
        ),
        Preset(
            "seed001",
            "seed 001's notation: the input is layer 1, w^{(l)}_jk joins neuron k of layer l − 1 "
            "to neuron j of layer l, forward pass for l = 2, …, L (glassnet's W^l is "
            "w^{(l+1)})",
            offset=1,
            parens=True,
            weight_letter="w",
        ),
        Preset(
            "seed004",
            "seed 004's notation: inputs i1, i2, hidden neurons h1, h2, outputs o1, o2; net "
            "and out are z and a; weights w1…w8 counted row by row, layer by layer; biases "
            "b1, b2; the error E",
            style="seed004",
        ),
        Preset(
            "seed003",
            "seed 003's notation: the input x, W1, b1 and h1 = f(W1·x + b1) for the first "
            "layer, W2, b2, h2 for the second, and so on",
            style="seed003",
        ),
    )
}
DEFAULT = "glassnet"

_CURRENT: contextvars.ContextVar[tuple[Preset, int]] = contextvars.ContextVar(
    "glassnet_notation", default=(PRESETS[DEFAULT], 0)
)


def get(notation: str | Preset | None) -> Preset:
    """The preset called ``notation`` (None: the default, glassnet's)."""
    if notation is None:
        return PRESETS[DEFAULT]
    if isinstance(notation, Preset):
        return notation
    if isinstance(notation, str) and notation in PRESETS:
        return PRESETS[notation]
    raise InvalidArgumentError(
        f"notation must be one of {', '.join(PRESETS)}, received notation={notation!r}"
    )


def current() -> tuple[Preset, int]:
    """(the preset in use, the number L of weight layers of the trace being rendered)."""
    return _CURRENT.get()


@contextlib.contextmanager
def using(preset: Preset, L: int) -> Iterator[Preset]:  # noqa: N803 - the seeds' L
    """Make ``preset`` current while a document for a trace with L weight layers is built."""
    token = _CURRENT.set((preset, L))
    try:
        yield preset
    finally:
        _CURRENT.reset(token)


def _seed004_unit(l: int | str, L: int) -> str:  # noqa: N803
    """Seed 004's letter for layer l: i (input), h (hidden), o (output)."""
    if l == 0:
        return "i"
    if l == "L" or l == L:
        return "o"
    if isinstance(l, int) and L > 2:
        return f"h{l}"  # several hidden layers: h1, h2, … (seed 004 has one)
    return "h"


def symbol(base: str, l: int | str | None, sub: str | None = None, prime: bool = False) -> Sym:
    """The symbol for quantity ``base`` ("a", "z", "W", "b", "δ", "w") of layer l, in the
    current preset; ``sub`` is the neuron index part (j, jk, x for a sample)."""
    preset, L = current()
    if l is None:
        return Sym(base, sub=sub, prime=prime)
    if preset.style == "seed004":
        return _seed004_symbol(base, l, sub, prime, L)
    if preset.style == "seed003":
        return _seed003_symbol(base, l, sub, prime, L)
    shown = preset.layer(l)
    sup = f"({shown})" if preset.parens else shown
    letter = preset.weight_letter if base == "W" else base
    return Sym(letter, sub=sub, sup=sup, prime=prime)


def _seed004_symbol(
    base: str,
    l: int | str,
    sub: str | None,
    prime: bool,
    L: int,  # noqa: N803
) -> Sym:
    unit = _seed004_unit(l, L)
    tail = unit if sub is None else f"{unit}{sub}"  # out_h1, net_o2, as seed 004 writes
    if base == "a":
        return Sym("i", sub=sub, prime=prime) if unit == "i" else Sym("out", sub=tail, prime=prime)
    if base == "z":
        return Sym("net", sub=tail, prime=prime)
    if base == "b":
        # one bias per layer in seed 004: b1 for the hidden layer, b2 for the output
        number = str(l) if isinstance(l, int) else ("2" if unit == "o" else l)
        return Sym("b", sub=number if sub is None else f"{number},{sub}", prime=prime)
    return Sym(base, sub=tail, prime=prime)


def _seed003_symbol(
    base: str,
    l: int | str,
    sub: str | None,
    prime: bool,
    L: int,  # noqa: N803
) -> Sym:
    name = str(l)
    tail = name if sub is None else f"{name},{sub}"
    if base == "a":
        if l == 0:
            return Sym("x", sub=sub, prime=prime)
        if l == L or l == "L":
            return Sym("out", sub=sub, prime=prime)
        return Sym("h", sub=tail, prime=prime)
    return Sym(base, sub=tail, prime=prime)


def cost_symbol() -> Sym:
    """C, or seed 004's E."""
    preset, _ = current()
    return Sym("E" if preset.style == "seed004" else "C")
