"""The one check the exporters share: a Sequential running its own forward, with a known input."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidArgumentError
from ..nn.layers import Layer
from . import registry

__all__ = ["sequential_layers"]


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
