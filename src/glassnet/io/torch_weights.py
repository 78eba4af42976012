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
    Conv1D, Conv2D         Conv1d/Conv2d(weight (out, in, *kernel) = W transposed from
                           (*kernel, in, out)), between Permute steps when channels_last,
                           then σ; unequal padding ("causal", an odd "same") is a
                           ConstantPad1d/2d of zeros before a valid convolution
    Conv2DTranspose        ConvTranspose2d(weight (in, out, kh, kw) from (kh, kw, out, in),
                           padding = the crop before, output_padding = the rows added after;
                           an odd "same" crops one more row after by a ConstantPad2d of −1)
    Max/AveragePooling1D/2D    MaxPool1d/2d (an unequal "same" as a −∞ ConstantPad first) /
                           AvgPool1d/2d(count_include_pad=False; unequal "same" refused)
    Global*Pooling1D/2D    Reduce (a small module: mean or amax over the spatial dims)
    BatchNormalization     BatchNorm1d/2d(eps, momentum = 1 − glassnet's momentum): weight,
                           bias, running_mean, running_var (num_batches_tracked is written as
                           0 and ignored on loading); Permute-wrapped for channels-last
    LayerNormalization     LayerNorm(the last len(axis) dims, eps, elementwise_affine = scale,
                           bias = center); center without scale refused
    Reshape                Reshape (a small module: x.reshape(batch, *target_shape))
    ZeroPadding2D          ZeroPad2d((left, right, top, bottom)), Permute-wrapped
    UpSampling2D           Upsample(scale_factor = size, mode="nearest-exact": for integer
                           factors the same repetition as "nearest", without its float32
                           rounding), Permute-wrapped
    Embedding              Embedding (weight = the table, same layout)

The data between modules keeps glassnet's layout (channels-last by default): torch's
channels-first modules sit between Permute steps, so a Flatten after them orders the values as
glassnet's Flatten does. torch's layers pad both sides equally: where glassnet pads one more
row after, an explicit ConstantPad module does it exactly (it shifts the keys after it by one);
where no torch module is exact (an average over unequal padding) the layer is refused by name.

So ``Dense(128, "relu")``, ``Dropout(0.2)``, ``Dense(10, "softmax")`` is
``Sequential(Linear, ReLU, Dropout, Linear, Softmax)`` with keys 0.* and 3.*.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import InvalidArgumentError, ShapeError, require
from ..nn.layers import (
    Activation,
    AveragePooling1D,
    AveragePooling2D,
    BatchNormalization,
    Conv1D,
    Conv2D,
    Conv2DTranspose,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    Input,
    Layer,
    LayerNormalization,
    MaxPooling1D,
    MaxPooling2D,
    Normalization,
    Rescaling,
    Reshape,
    UpSampling2D,
    ZeroPadding2D,
)
from ..nn.layers.conv import spatial_of
from ._sequential import mapped_ancestor, sequential_layers

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

# A module spec: (torch class name, constructor kwargs, {torch param name: glassnet Parameter,
# or (Parameter, axes) when torch's layout is the Parameter transposed by ``axes``, or a NumPy
# constant for a torch buffer glassnet does not keep, such as num_batches_tracked}).
Spec = tuple[str, dict[str, Any], dict[str, Any]]
TO_FIRST = {3: (0, 2, 1), 4: (0, 3, 1, 2)}  # channels-last → channels-first, by batch rank
TO_LAST = {3: (0, 2, 1), 4: (0, 2, 3, 1)}


def _activation_spec(layer_name: str, kernel: Any) -> Spec:
    if kernel.name not in TORCH_ACTIVATIONS:
        raise InvalidArgumentError(
            f"to_torch: layer {layer_name!r} uses the activation {kernel.name!r}, which has no "
            f"torch module; mapped: {', '.join(sorted(TORCH_ACTIVATIONS))}"
        )
    cls, kwargs = TORCH_ACTIVATIONS[kernel.name]
    kwargs = {**kwargs, **{_PARAM_NAMES[k]: float(v) for k, v in kernel.params.items()}}
    return cls, kwargs, {}


def _dense_specs(layer: Dense, shape: tuple[int, ...]) -> list[Spec]:
    assert layer.W is not None
    params = {"weight": layer.W, **({"bias": layer.b} if layer.b is not None else {})}
    out_f, in_f = layer.W.shape
    sizes = {"in_features": in_f, "out_features": out_f, "bias": layer.b is not None}
    specs: list[Spec] = [("Linear", sizes, params)]
    if layer.activation.kernel.name != "linear":
        specs.append(_activation_spec(layer.name, layer.activation.kernel))
    return specs


def _normalization_specs(layer: Normalization, shape: tuple[int, ...]) -> list[Spec]:
    inv, mean = layer.scale_and_shift()
    return [("Affine", {"scale": inv, "shift": 0.0, "centre": mean}, {})]


def _around(specs: list[Spec], ndim: int, channels_last: bool) -> list[Spec]:
    """torch's channels-first modules between Permute steps when glassnet's data is
    channels-last, so that between modules the data keeps glassnet's layout (a Flatten after
    them then orders the values as glassnet's does)."""
    if not channels_last:
        return specs
    return [
        ("Permute", {"dims": TO_FIRST[ndim]}, {}),
        *specs,
        ("Permute", {"dims": TO_LAST[ndim]}, {}),
    ]


def _refuse(layer: Layer, why: str) -> None:
    raise InvalidArgumentError(f"to_torch: layer {layer.name!r} ({type(layer).__name__}) {why}")


def _geometry_of(layer: Any, shape: tuple[int, ...]) -> Any:
    return layer._geometry(spatial_of(shape, layer.data_format))


def _average_padding(layer: Any, geo: Any) -> tuple[int, ...]:
    """The padding of AvgPool(count_include_pad=False): torch puts it on both sides equally,
    and no explicit pad module can stand in for it (its values would be averaged)."""
    if geo.before != geo.after:
        _refuse(
            layer,
            f"with padding={layer.padding!r} pads {geo.before} before and {geo.after} after, "
            f"but torch's AvgPool pads both sides equally and an explicit zero pad would be "
            f"counted in the average, so choose an input size or stride for which "
            f"padding='same' is symmetric",
        )
    return geo.before


def _pad_spec(before: tuple[int, ...], after: tuple[int, ...], value: float = 0.0) -> Spec:
    """torch's explicit padding of the last 1 or 2 dims of a channels-first batch (negative
    widths crop): ConstantPad1d/2d take (left, right[, top, bottom]), the last axis first."""
    widths = tuple(w for pair in reversed(list(zip(before, after))) for w in pair)
    return (f"ConstantPad{len(before)}d", {"padding": widths, "value": value}, {})


def _channel_activation(layer: Any, last: bool) -> list[Spec]:
    """The σ a convolution ends with (a softmax runs over the channels, as the kernel's)."""
    kernel = layer.activation.kernel
    if kernel.name == "softmax":
        return [("Softmax", {"dim": -1 if last else 1}, {})]
    if kernel.name == "linear":
        return []
    return [_activation_spec(layer.name, kernel)]


def _conv_specs(layer: Any, shape: tuple[int, ...]) -> list[Spec]:
    """Conv1D and Conv2D: Conv1d/Conv2d; padding torch cannot put equally on both sides
    (Conv1D's "causal", an odd "same") is an explicit ConstantPad before a valid convolution."""
    assert layer.W is not None
    n = layer.rank
    *kernel, channels, filters = layer.W.shape
    axes = (n + 1, n, *range(n))  # (*kernel, in, out) → (out, in, *kernel)
    params: dict[str, Any] = {"weight": (layer.W, axes)}
    if layer.b is not None:
        params["bias"] = layer.b
    geo = _geometry_of(layer, shape)
    symmetric = geo.before == geo.after
    kwargs = {
        "in_channels": channels,
        "out_channels": filters,
        "kernel_size": tuple(kernel),
        "stride": layer.strides,
        "padding": geo.before if symmetric else 0,
        "dilation": layer.dilation_rate,
        "bias": layer.b is not None,
    }
    padding = [] if symmetric else [_pad_spec(geo.before, geo.after)]
    last = layer.data_format == "channels_last"
    specs = _around([*padding, (f"Conv{n}d", kwargs, params)], n + 2, last)
    return specs + _channel_activation(layer, last)


def _conv_transpose_specs(layer: Conv2DTranspose, shape: tuple[int, ...]) -> list[Spec]:
    """ConvTranspose2d crops ``padding`` from both ends of the full output and adds
    ``output_padding`` at the end; glassnet crops ``before`` and ``after``. With padding =
    before, output_padding = what is left to add; an odd "same" has one more to crop at the
    end, done by a ConstantPad2d of width −1 (exact: it only drops values)."""
    assert layer.W is not None
    geo = _geometry_of(layer, shape)  # geo.out: this layer's input, geo.size: its output
    extra = []
    for n, k, s, d, b, length in zip(
        geo.out, geo.kernel, geo.strides, geo.dilation, geo.before, geo.size
    ):
        extra.append(length - ((n - 1) * s + (k - 1) * d + 1 - 2 * b))
    kh, kw, filters, channels = layer.W.shape
    params: dict[str, Any] = {"weight": (layer.W, (3, 2, 0, 1))}  # (in, out, kh, kw)
    if layer.b is not None:
        params["bias"] = layer.b
    kwargs = {
        "in_channels": channels,
        "out_channels": filters,
        "kernel_size": (kh, kw),
        "stride": layer.strides,
        "padding": geo.before,
        "output_padding": tuple(max(e, 0) for e in extra),
        "dilation": layer.dilation_rate,
        "bias": layer.b is not None,
    }
    specs = [("ConvTranspose2d", kwargs, params)]
    if min(extra) < 0:
        specs.append(_pad_spec((0, 0), tuple(min(e, 0) for e in extra)))
    last = layer.data_format == "channels_last"
    return _around(specs, 4, last) + _channel_activation(layer, last)


def _pool_specs(layer: Any, shape: tuple[int, ...]) -> list[Spec]:
    """MaxPool1d/2d, AvgPool1d/2d. An odd "same" max pooling is an explicit −∞ pad (torch's
    own padding value for max); an odd "same" average is refused: torch's count_include_pad
    =False only knows symmetric padding."""
    n = layer.rank
    geo = _geometry_of(layer, shape)
    padding: list[Spec] = []
    if layer.mode == "average":
        pads = _average_padding(layer, geo)
    elif geo.before == geo.after:
        pads = geo.before
    else:
        pads, padding = (0,) * n, [_pad_spec(geo.before, geo.after, float("-inf"))]
    kwargs: dict[str, Any] = {
        "kernel_size": layer.pool_size,
        "stride": layer.strides,
        "padding": pads,
    }
    if layer.mode == "average":
        kwargs["count_include_pad"] = False  # as glassnet: a window averages its real values
    cls = f"MaxPool{n}d" if layer.mode == "max" else f"AvgPool{n}d"
    return _around([*padding, (cls, kwargs, {})], n + 2, layer.data_format == "channels_last")


def _global_pool_specs(layer: Any, shape: tuple[int, ...]) -> list[Spec]:
    first = 1 if layer.data_format == "channels_last" else 2
    dims = tuple(range(first, first + layer.rank))
    kwargs = {"dims": dims, "keepdims": layer.keepdims, "mode": layer.mode}
    return [("Reduce", kwargs, {})]


def _batch_norm_specs(layer: BatchNormalization, shape: tuple[int, ...]) -> list[Spec]:
    assert layer.moving_mean is not None and layer.moving_variance is not None
    ndim = len(shape) + 1
    axis = layer._feature_axis(ndim)
    if ndim > 4 or (axis != 1 and axis != ndim - 1) or layer.center != layer.scale:
        _refuse(
            layer,
            f"has no torch counterpart in this form (axis={layer.axis} of a {ndim}-D batch, "
            f"center={layer.center}, scale={layer.scale}); torch's BatchNorm normalises axis 1 "
            f"of a 2-D to 4-D batch with both or neither of γ and β",
        )
    params: dict[str, Any] = {}
    if layer.gamma is not None and layer.beta is not None:
        params.update(weight=layer.gamma, bias=layer.beta)
    params.update(
        running_mean=layer.moving_mean,
        running_var=layer.moving_variance,
        num_batches_tracked=np.array(0, dtype=np.int64),  # torch's counter: no glassnet twin
    )
    kwargs = {
        "num_features": layer.moving_mean.shape[0],
        "eps": layer.epsilon,
        "momentum": 1.0 - layer.momentum,  # torch weighs the new batch by momentum
        "affine": layer.gamma is not None,
    }
    cls = "BatchNorm2d" if ndim == 4 else "BatchNorm1d"
    return _around([(cls, kwargs, params)], ndim, axis != 1 and ndim > 2)


def _embedding_specs(layer: Embedding, shape: tuple[int, ...]) -> list[Spec]:
    assert layer.embeddings is not None
    kwargs = {"num_embeddings": layer.input_dim, "embedding_dim": layer.output_dim}
    return [("Embedding", kwargs, {"weight": layer.embeddings})]


def _layer_norm_specs(layer: LayerNormalization, shape: tuple[int, ...]) -> list[Spec]:
    if layer.center and not layer.scale:
        _refuse(
            layer,
            "has center=True with scale=False; torch's LayerNorm has a bias only with a weight "
            "(elementwise_affine=True), so there is no torch module for β without γ",
        )
    features = tuple(int(d) for d in shape[len(shape) - layer._count :])
    params = {"weight": layer.gamma} if layer.gamma is not None else {}
    if layer.beta is not None:
        params["bias"] = layer.beta
    kwargs = {
        "normalized_shape": features,
        "eps": layer.epsilon,
        "elementwise_affine": layer.scale,
        "bias": layer.center,
    }
    return [("LayerNorm", kwargs, params)]


def _zero_padding_specs(layer: ZeroPadding2D, shape: tuple[int, ...]) -> list[Spec]:
    (top, bottom), (left, right) = layer.padding
    spec: Spec = ("ZeroPad2d", {"padding": (left, right, top, bottom)}, {})
    return _around([spec], 4, layer.data_format == "channels_last")


def _upsampling_specs(layer: UpSampling2D, shape: tuple[int, ...]) -> list[Spec]:
    # Both of torch's nearest modes repeat each value k times for an integer k, but "nearest"
    # finds the source as floor(i · (1/k)) in float32, which for k = 41, 47, … lands one short
    # at a multiple of k; "nearest-exact"'s floor((i + ½) / k) stays 1/(2k) from any integer.
    kwargs = {"scale_factor": tuple(float(k) for k in layer.size), "mode": "nearest-exact"}
    return _around([("Upsample", kwargs, {})], 4, layer.data_format == "channels_last")


SPECS: dict[type[Layer], Callable[[Any, tuple[int, ...]], list[Spec]]] = {
    Dense: _dense_specs,
    Dropout: lambda layer, shape: [("Dropout", {"p": layer.rate}, {})],
    Flatten: lambda layer, shape: [("Flatten", {}, {})],
    Input: lambda layer, shape: [],
    Rescaling: lambda layer, shape: [
        ("Affine", {"scale": layer.scale, "shift": layer.offset, "centre": 0.0}, {})
    ],
    Normalization: _normalization_specs,
    Reshape: lambda layer, shape: [("Reshape", {"shape": layer.target_shape}, {})],
    Conv1D: _conv_specs,
    Conv2D: _conv_specs,
    Conv2DTranspose: _conv_transpose_specs,
    MaxPooling1D: _pool_specs,
    MaxPooling2D: _pool_specs,
    AveragePooling1D: _pool_specs,
    AveragePooling2D: _pool_specs,
    GlobalAveragePooling1D: _global_pool_specs,
    GlobalAveragePooling2D: _global_pool_specs,
    GlobalMaxPooling1D: _global_pool_specs,
    GlobalMaxPooling2D: _global_pool_specs,
    BatchNormalization: _batch_norm_specs,
    Embedding: _embedding_specs,
    LayerNormalization: _layer_norm_specs,
    ZeroPadding2D: _zero_padding_specs,
    UpSampling2D: _upsampling_specs,
}


def _layer_specs(layer: Layer, shape: tuple[int, ...]) -> list[Spec]:
    """The torch modules one glassnet layer becomes (its class's, or a parent's as for ONNX)."""
    kind = type(layer)
    if isinstance(layer, Activation) and kind.__module__ == Activation.__module__:
        return [_activation_spec(layer.name, layer.kernel)]
    specs = mapped_ancestor(kind, SPECS)  # keras.layers.Dense: Dense's (same math)
    if specs is None:
        raise InvalidArgumentError(
            f"to_torch: layer {layer.name!r} ({kind.__name__}) has no torch counterpart; "
            f"supported: the activation layers, {', '.join(c.__name__ for c in SPECS)}"
        )
    return specs(layer, shape)  # type: ignore[no-any-return]


def torch_modules(model: Any) -> list[Spec]:
    """The torch.nn.Sequential the model corresponds to, as (class, kwargs, parameters)."""
    layers, shape = sequential_layers(model, "to_torch")
    specs: list[Spec] = []
    for layer in layers:
        specs += _layer_specs(layer, shape)
        shape = tuple(int(d) for d in layer.compute_output_shape(shape))  # type: ignore[arg-type]
    return specs


def _keyed_parameters(model: Any) -> dict[str, Any]:
    """torch key ("0.weight") → what is behind it (see ``Spec``), in module order."""
    return {
        f"{index}.{name}": param
        for index, (_, _, params) in enumerate(torch_modules(model))
        for name, param in params.items()
    }


def _torch_array(entry: Any) -> np.ndarray:
    """The array torch holds for a state-dict entry (a copy, in torch's layout)."""
    if isinstance(entry, np.ndarray):
        return entry.copy()
    param, axes = entry if isinstance(entry, tuple) else (entry, None)
    data = param.data if axes is None else param.data.transpose(axes)
    return np.ascontiguousarray(data).copy()


def _is_constant(entry: Any) -> bool:
    return isinstance(entry, np.ndarray)


def to_torch_state_dict(model: Any, tensors: bool = True) -> OrderedDict[str, Any]:
    """The weights keyed as the matching torch.nn.Sequential: torch tensors (``tensors=True``,
    needs torch) or NumPy arrays; always copies, in the model's dtype."""
    arrays = OrderedDict(
        (key, _torch_array(entry)) for key, entry in _keyed_parameters(model).items()
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
    entries = _keyed_parameters(model)
    expected = {k: e for k, e in entries.items() if not _is_constant(e)}
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict.keys() if k not in entries]
    if missing or unexpected:
        raise ShapeError(
            f"{where}: the state dict does not fit {model.name}: missing keys {missing}, "
            f"unexpected keys {unexpected} (expected exactly {list(expected)})"
        )
    arrays = {key: _as_array(state_dict[key]) for key in expected}
    shapes = {key: _torch_array(entry).shape for key, entry in expected.items()}
    bad = [
        f"{key} has shape {tuple(arrays[key].shape)}, expected {tuple(shapes[key])}"
        for key in expected
        if tuple(arrays[key].shape) != tuple(shapes[key])
    ]
    if bad:
        raise ShapeError(f"{where}: the state dict does not fit {model.name}: {'; '.join(bad)}")
    names = {id(param): name for name, param in model.named_parameters()}
    values = {}
    for key, entry in expected.items():
        param, axes = entry if isinstance(entry, tuple) else (entry, None)
        array = arrays[key] if axes is None else arrays[key].transpose(np.argsort(axes))
        values[names[id(param)]] = np.ascontiguousarray(array).astype(param.data.dtype)
    model.load_state_dict(values)


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


def _helper_classes(torch: Any) -> dict[str, Any]:
    class Permute(torch.nn.Module):  # type: ignore[misc, name-defined]
        """x.permute(dims): torch's convolutions read channels first, glassnet's data is
        channels-last by default."""

        def __init__(self, dims: tuple[int, ...]) -> None:
            super().__init__()
            self.dims = tuple(dims)

        def forward(self, x: Any) -> Any:
            return x.permute(*self.dims)

    class Reduce(torch.nn.Module):  # type: ignore[misc, name-defined]
        """Global pooling: the mean or maximum over the spatial dims."""

        def __init__(self, dims: tuple[int, ...], keepdims: bool, mode: str) -> None:
            super().__init__()
            self.dims, self.keepdims, self.mode = tuple(dims), keepdims, mode

        def forward(self, x: Any) -> Any:
            if self.mode == "average":
                return x.mean(dim=self.dims, keepdim=self.keepdims)
            return x.amax(dim=self.dims, keepdim=self.keepdims)

    class Reshape(torch.nn.Module):  # type: ignore[misc, name-defined]
        """x.reshape(batch, *shape), as glassnet's Reshape (one entry may be -1)."""

        def __init__(self, shape: tuple[int, ...]) -> None:
            super().__init__()
            self.shape = tuple(shape)

        def forward(self, x: Any) -> Any:
            return x.reshape(x.shape[0], *self.shape)

    return {
        "Affine": _affine_class(torch),
        "Permute": Permute,
        "Reduce": Reduce,
        "Reshape": Reshape,
    }


def to_torch_module(model: Any) -> Any:
    """The matching ``torch.nn.Sequential`` with the model's weights, in its dtype, in eval
    mode (as glassnet's predict runs); needs torch."""
    torch = require("torch", "to_torch_module", "torch")
    helpers = _helper_classes(torch)
    modules = []
    for cls_name, kwargs, _ in torch_modules(model):
        cls = helpers.get(cls_name) or getattr(torch.nn, cls_name)
        modules.append(cls(**kwargs))
    module = torch.nn.Sequential(*modules)
    dtype = torch.float64 if model.dtype == np.float64 else torch.float32
    module = module.to(dtype)
    module.load_state_dict(to_torch_state_dict(model), strict=True)
    return module.eval()
