"""PyTorch weights: a Sequential's parameters keyed as the matching ``torch.nn.Sequential``.

Each glassnet layer becomes the torch modules below, in order, and a Dense layer's weights are
keyed by the index of its ``nn.Linear`` in that Sequential ("0.weight", "0.bias", "2.weight",
…). glassnet's ``W`` is already (out_features, in_features) like ``nn.Linear.weight``, so the
arrays are copied as they are (C-contiguous).

    Dense(units, σ)        Linear(in, units[, bias]) then σ's module (none for linear)
    activation layers      ReLU, Sigmoid, Tanh, LeakyReLU(slope), ELU(alpha), Softplus,
                           GELU(approximate="tanh"), Softmax(dim=-1); Identity for linear
    Dropout(rate)          Dropout(rate)
    Flatten                Flatten()
    Rescaling, Normalization   a small module x·scale + shift (no weights in the state dict)
    Input                  nothing

So ``Dense(128, "relu")``, ``Dropout(0.2)``, ``Dense(10, "softmax")`` is
``Sequential(Linear, ReLU, Dropout, Linear, Softmax)`` with keys 0.* and 3.*.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import InvalidArgumentError, ShapeError, require
from ..nn.layers import Activation, Dense, Dropout, Flatten, Input, Layer, Normalization, Rescaling
from ._sequential import sequential_layers

__all__ = ["torch_modules", "to_torch_state_dict", "load_torch_state_dict", "to_torch_module"]

#: The torch module (by name and arguments) for each activation kernel.
TORCH_ACTIVATIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "linear": ("Identity", {}),
    "relu": ("ReLU", {}),
    "sigmoid": ("Sigmoid", {}),
    "tanh": ("Tanh", {}),
    "softplus": ("Softplus", {}),
    "gelu": ("GELU", {"approximate": "tanh"}),
    "softmax": ("Softmax", {"dim": -1}),
    "leaky_relu": ("LeakyReLU", {}),
    "elu": ("ELU", {}),
}
_PARAM_NAMES = {"negative_slope": "negative_slope", "alpha": "alpha"}

# A module spec: (torch class name, constructor kwargs, {torch param name: glassnet Parameter}).
Spec = tuple[str, dict[str, Any], dict[str, Any]]


def _activation_spec(layer_name: str, kernel: Any) -> Spec:
    if kernel.name not in TORCH_ACTIVATIONS:
        raise InvalidArgumentError(
            f"to_torch: layer {layer_name!r} uses the activation {kernel.name!r}, which has no "
            f"torch module; mapped: {', '.join(sorted(TORCH_ACTIVATIONS))}"
        )
    cls, kwargs = TORCH_ACTIVATIONS[kernel.name]
    kwargs = {**kwargs, **{_PARAM_NAMES[k]: float(v) for k, v in kernel.params.items()}}
    return cls, kwargs, {}


def _dense_specs(layer: Dense) -> list[Spec]:
    assert layer.W is not None
    params = {"weight": layer.W, **({"bias": layer.b} if layer.b is not None else {})}
    out_f, in_f = layer.W.shape
    sizes = {"in_features": in_f, "out_features": out_f, "bias": layer.b is not None}
    specs: list[Spec] = [("Linear", sizes, params)]
    if layer.activation.kernel.name != "linear":
        specs.append(_activation_spec(layer.name, layer.activation.kernel))
    return specs


def _normalization_specs(layer: Normalization) -> list[Spec]:
    inv, mean = layer.scale_and_shift()
    return [("Affine", {"scale": inv, "shift": 0.0, "centre": mean}, {})]


SPECS: dict[type[Layer], Callable[[Any], list[Spec]]] = {
    Dense: _dense_specs,
    Dropout: lambda layer: [("Dropout", {"p": layer.rate}, {})],
    Flatten: lambda layer: [("Flatten", {}, {})],
    Input: lambda layer: [],
    Rescaling: lambda layer: [
        ("Affine", {"scale": layer.scale, "shift": layer.offset, "centre": 0.0}, {})
    ],
    Normalization: _normalization_specs,
}


def _layer_specs(layer: Layer) -> list[Spec]:
    """The torch modules one glassnet layer becomes (exact classes, as for ONNX)."""
    kind = type(layer)
    if isinstance(layer, Activation) and kind.__module__ == Activation.__module__:
        return [_activation_spec(layer.name, layer.kernel)]
    if kind not in SPECS:
        raise InvalidArgumentError(
            f"to_torch: layer {layer.name!r} ({kind.__name__}) has no torch counterpart; "
            f"supported: the activation layers, {', '.join(c.__name__ for c in SPECS)}"
        )
    return SPECS[kind](layer)


def torch_modules(model: Any) -> list[Spec]:
    """The torch.nn.Sequential the model corresponds to, as (class, kwargs, parameters)."""
    layers, _ = sequential_layers(model, "to_torch")
    return [spec for layer in layers for spec in _layer_specs(layer)]


def _keyed_parameters(model: Any) -> dict[str, Any]:
    """torch key ("0.weight") → the glassnet Parameter behind it, in module order."""
    return {
        f"{index}.{name}": param
        for index, (_, _, params) in enumerate(torch_modules(model))
        for name, param in params.items()
    }


def to_torch_state_dict(model: Any, tensors: bool = True) -> OrderedDict[str, Any]:
    """The weights keyed as the matching torch.nn.Sequential: torch tensors (``tensors=True``,
    needs torch) or NumPy arrays; always copies, in the model's dtype."""
    arrays = OrderedDict(
        (key, np.ascontiguousarray(param.data).copy())
        for key, param in _keyed_parameters(model).items()
    )
    if not tensors:
        return arrays
    torch = require("torch", "to_torch_state_dict(tensors=True)", "torch")
    return OrderedDict((key, torch.from_numpy(value)) for key, value in arrays.items())


def _as_array(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor, on any device
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def load_torch_state_dict(model: Any, state_dict: Any) -> None:
    """Copy a torch.nn.Sequential's state dict into the model (keys as ``to_torch_state_dict``
    gives them); every key and shape is checked before anything changes."""
    where = "load_torch_state_dict"
    if not hasattr(state_dict, "keys") or not hasattr(state_dict, "__getitem__"):
        raise InvalidArgumentError(
            f"{where}: expected a state dict (a mapping of key → tensor), received "
            f"{type(state_dict).__name__}"
        )
    expected = _keyed_parameters(model)
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict.keys() if k not in expected]
    if missing or unexpected:
        raise ShapeError(
            f"{where}: the state dict does not fit {model.name}: missing keys {missing}, "
            f"unexpected keys {unexpected} (expected exactly {list(expected)})"
        )
    arrays = {key: _as_array(state_dict[key]) for key in expected}
    bad = [
        f"{key} has shape {tuple(arrays[key].shape)}, expected {tuple(param.data.shape)}"
        for key, param in expected.items()
        if tuple(arrays[key].shape) != tuple(param.data.shape)
    ]
    if bad:
        raise ShapeError(f"{where}: the state dict does not fit {model.name}: {'; '.join(bad)}")
    names = {id(param): name for name, param in model.named_parameters()}
    model.load_state_dict(
        {names[id(param)]: arrays[key].astype(param.data.dtype) for key, param in expected.items()}
    )


def _affine_class(torch: Any) -> Any:
    class Affine(torch.nn.Module):  # type: ignore[misc, name-defined]
        """(x − centre) · scale + shift, with constants as buffers kept out of the state dict
        (so the keys stay those of the Linear layers)."""

        def __init__(self, scale: Any, shift: Any, centre: Any) -> None:
            super().__init__()
            for name, value in (("scale", scale), ("shift", shift), ("centre", centre)):
                self.register_buffer(name, torch.as_tensor(np.asarray(value)), persistent=False)

        def forward(self, x: Any) -> Any:
            return (x - self.centre) * self.scale + self.shift

    return Affine


def to_torch_module(model: Any) -> Any:
    """The matching ``torch.nn.Sequential`` with the model's weights, in its dtype, in eval
    mode (as glassnet's predict runs); needs torch."""
    torch = require("torch", "to_torch_module", "torch")
    modules = []
    for cls_name, kwargs, _ in torch_modules(model):
        cls = _affine_class(torch) if cls_name == "Affine" else getattr(torch.nn, cls_name)
        modules.append(cls(**kwargs))
    module = torch.nn.Sequential(*modules)
    dtype = torch.float64 if model.dtype == np.float64 else torch.float32
    module = module.to(dtype)
    module.load_state_dict(to_torch_state_dict(model), strict=True)
    return module.eval()
