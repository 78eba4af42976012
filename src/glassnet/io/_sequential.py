"""The one check the exporters share: a Sequential running its own forward, with a known input."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidArgumentError
from ..nn.layers import Layer
from . import registry

__all__ = ["sequential_layers", "mapped_ancestor", "MATH_METHODS"]

#: What a subclass may not override and still be converted as its parent: the math.
MATH_METHODS = ("forward_kernel", "backward_kernel", "forward", "call")


def mapped_ancestor(cls: type, table: dict[type, Any]) -> Any:
    """``table``'s entry for cls or for its nearest ancestor, when no class in between
    redefines the math (a Keras-namespace subclass that only changes how weights are shown
    keeps its parent's mapping; a subclass with its own forward has none): else None."""
    for klass in cls.__mro__:
        if klass in table:
            return table[klass]
        if any(method in vars(klass) for method in MATH_METHODS):
            return None
    return None


def sequential_layers(model: Any, where: str) -> tuple[list[Layer], tuple[int, ...]]:
    """The layers of a Sequential whose forward is Sequential's own, and its input shape."""
    sequential = registry.builtin("Sequential")
    if not isinstance(model, sequential) or type(model).forward is not sequential.forward:
        raise InvalidArgumentError(
            f"{where}: only a Sequential model (without its own forward) can be converted, "
            f"received {type(model).__name__}"
        )
    shape = model.input_shape
    if shape is None:
        raise InvalidArgumentError(
            f"{where}: {model.name} has no input shape yet; give the first layer input_shape=, "
            f"call model.build(input_shape) or fit it first"
        )
    return model.layers, tuple(int(s) for s in shape)
