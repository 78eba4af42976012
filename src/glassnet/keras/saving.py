"""``keras.saving``: glassnet's model files, and reading Keras 3's ``.weights.h5`` files.

A Keras 3 weights file (``model.save_weights("m.weights.h5")``) is HDF5 with one group per
layer and the layer's variables numbered in creation order, e.g. for a Sequential::

    vars/                                  the model's own variables (none)
    layers/dense/vars/0   kernel (in, units)
    layers/dense/vars/1   bias (units,)
    layers/dense_1/vars/0 ...

Layers in a list are addressed by their class name in snake case, numbered per class
(``dense``, ``dense_1``, …; not by their ``name``); layers held as attributes of a subclassed
model or layer by the attribute's name (``keras/src/saving/saving_lib.py``). ``load_weights``
walks the glassnet model the same way and converts each layer's variables from Keras's layout
(``from_keras_layout``: Dense's kernel (in, units) → W (units, in)); every path, count and
shape is checked before any weight changes. h5py is needed (the ``h5`` extra).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..errors import FileFormatError, InvalidArgumentError, ShapeError
from ..io.registry import register
from ..nn.layers.base import _snake
from ..nn.module import Module, Parameter
from ..training.model import Sequential as _Sequential

__all__ = [
    "load_model",
    "register_keras_serializable",
    "load_keras_weights",
    "keras_weight_paths",
]


def load_model(path: Any, compile: bool = True, **kwargs: Any) -> Any:
    """Rebuild a model saved with ``model.save(path)`` (glassnet's file format)."""
    from .. import load_model as _load

    return _load(path, compile=compile)


def register_keras_serializable(package: str = "Custom", name: str | None = None) -> Any:
    """Class decorator: let ``load_model`` rebuild a custom layer or model (saved under
    "package>Name", as Keras names it)."""

    def decorate(cls: Any) -> Any:
        return register(cls, name=f"{package}>{name or cls.__name__}")

    return decorate


def _name_key(name: str) -> str:
    return "~" + name if name.startswith("_") else name  # private attributes last, as Keras


def _container(items: list[Any], path: str) -> Iterator[tuple[str, Module]]:
    used: dict[str, int] = {}
    for item in items:
        if not isinstance(item, Module):
            continue
        name = _snake(type(item).__name__)
        if name in used:
            used[name] += 1
            name = f"{name}_{used[name]}"
        else:
            used[name] = 0
        yield from _walk(item, f"{path}/{name}" if path else name)


def _walk(module: Module, path: str) -> Iterator[tuple[str, Module]]:
    yield path, module
    if isinstance(module, _Sequential):
        yield from _container(module.layers, f"{path}/layers" if path else "layers")
        return
    for attr in sorted(vars(module), key=_name_key):
        value = vars(module)[attr]
        child_path = f"{path}/{attr}" if path else attr
        if isinstance(value, Module):
            yield from _walk(value, child_path)
        elif isinstance(value, (list, tuple)):
            yield from _container(list(value), child_path)


def keras_weight_paths(model: Module) -> list[tuple[str, Module, list[Parameter]]]:
    """(HDF5 group path, module, its own variables) in Keras's file layout, each module once."""
    found, seen = [], set()
    for path, module in _walk(model, ""):
        if id(module) in seen:
            continue
        seen.add(id(module))
        own = [p for _, p in module._own_parameters()]
        found.append((path, module, own))
    return found


def load_keras_weights(model: Module, path: str | os.PathLike[str]) -> None:
    """Load a Keras 3 ``.weights.h5`` file into the matching glassnet model (see above)."""
    try:
        import h5py
    except ImportError:  # pragma: no cover - h5py is an optional extra
        raise InvalidArgumentError(
            "load_weights: reading a Keras .weights.h5 file needs h5py; install it with: "
            "pip install 'glassnet[h5]'"
        ) from None
    where = f"load_weights({os.fspath(path)!r})"
    plan: list[tuple[Parameter, np.ndarray]] = []
    with h5py.File(path, "r") as f:
        for group_path, module, own in keras_weight_paths(model):
            if not own:
                continue
            key = f"{group_path}/vars" if group_path else "vars"
            if key not in f:
                raise FileFormatError(
                    f"{where}: the file has no group {key!r} for layer "
                    f"{getattr(module, 'name', type(module).__name__)!r}; groups at the top: "
                    f"{', '.join(sorted(f.keys()))}"
                )
            group = f[key]
            arrays = [np.asarray(group[str(i)]) for i in range(len(group)) if str(i) in group]
            if len(arrays) != len(own):
                raise ShapeError(
                    f"{where}: {key} holds {len(arrays)} variables, the glassnet layer "
                    f"{getattr(module, 'name', '?')!r} has {len(own)}"
                )
            convert = getattr(module, "from_keras_layout", None)
            if convert is None:
                convert = _default_layout(module)
            converted = convert(arrays)
            for i, (p, arr, raw) in enumerate(zip(own, converted, arrays)):
                if arr.shape != p.data.shape:
                    raise ShapeError(
                        f"{where}: {key}/{i} has shape {raw.shape}, which does not fit "
                        f"{getattr(module, 'name', '?')!r} (glassnet shape {p.data.shape})"
                    )
                if arr.dtype.kind == "f" and not np.isfinite(arr).all():
                    raise FileFormatError(f"{where}: {key}/{i} contains NaN or inf")
                plan.append((p, arr))
    for p, arr in plan:
        p.data[...] = arr


def _default_layout(module: Module) -> Any:
    """glassnet's own Dense (not the Keras subclass) also stores W = kernelᵀ."""
    from ..nn.layers import Dense

    if isinstance(module, Dense):
        return lambda arrays: [arrays[0].T, *arrays[1:]]
    return lambda arrays: arrays
