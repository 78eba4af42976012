"""Model files: ``save_model`` / ``load_model`` and ``save_weights`` / ``load_weights``.

A model file is a standard safetensors file (``model.safetensors`` is the canonical name; any
suffix is accepted). Its tensors are the model's parameters under their dotted names
(``dense.W`` of shape (units, in_features), ``dense.b`` of shape (units,)), plus, when the
optimiser is included, its state arrays under ``optimizer/...``. Its metadata (a string → string
map in the header) holds:

==================  ===============================================================================
``format``          ``"glassnet"``
``format_version``  ``"1"``
``content``         ``"model"`` (``save_model``) or ``"weights"`` (``save_weights``)
``architecture``    JSON ``{"class_name": "Sequential" | registered name, "config": get_config()}``
``training_config`` JSON ``{"loss": {"name", ...}, "metrics": [...], "optimizer":
                    {"class_name", "config"}}`` (compiled models only)
``optimizer_state`` JSON of the optimiser's ``state_dict()`` with each array replaced by
                    ``{"__glassnet__": "array", "key": "optimizer/..."}`` (when included)
``glassnet_version`` the version that wrote the file (informative)
==================  ===============================================================================

Loading never unpickles, evaluates or imports anything named in the file: classes come only
from glassnet's layer table, ``Sequential``, and the ``register`` list. Every problem with a
file is a ``FileFormatError`` naming it.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np

from .. import _rng
from ..errors import (
    FileFormatError,
    GlassnetError,
    InvalidArgumentError,
    UnknownNameError,
    describe,
)
from ..nn.layers import LAYER_CLASSES, Input, Layer
from ..nn.module import Module, match_weights
from . import registry
from ._container import (
    CHECKPOINT_FORMAT,
    FORMAT,
    FORMAT_VERSION,
    check_format,
    decode_tree,
    dumps,
    encode_tree,
    loads,
    read_container,
    write_container,
)

__all__ = [
    "save_model",
    "load_model",
    "save_weights",
    "load_weights",
    "FORMAT",
    "FORMAT_VERSION",
]

_OPTIMIZER_ROOT = "optimizer"


def _version() -> str:
    from .._version import __version__

    return str(__version__)


# ---------------------------------------------------------------------------------------------
# Saving
# ---------------------------------------------------------------------------------------------
def _check_model(model: Any, where: str) -> Module:
    if not isinstance(model, Module):
        raise InvalidArgumentError(
            f"{where}: model must be a glassnet Module (for example a "
            f"Sequential), received {describe(model)}"
        )
    return model


def _unregistered_message(where: str, what: str, cls: type) -> str:
    return (
        f"{where}: {what} is a {cls.__name__}, which load_model could not rebuild because "
        f"the class is not registered; decorate it with @glassnet.register (or "
        f"glassnet.io.register) and give it a get_config() method, or use save_weights"
    )


def _layer_class_name(layer: Layer, where: str) -> str:
    cls = type(layer)
    if LAYER_CLASSES.get(cls.__name__) is cls:
        return cls.__name__
    name = registry.registered_name(cls)
    if name is None:
        raise InvalidArgumentError(_unregistered_message(where, f"layer {layer.name!r}", cls))
    return name


def _config_of(obj: Any, where: str) -> dict[str, Any]:
    get_config = getattr(obj, "get_config", None)
    if not callable(get_config):
        raise InvalidArgumentError(
            f"{where}: {type(obj).__name__} has no get_config() method; a registered class "
            f"must return its constructor arguments from get_config() so load_model can "
            f"rebuild it"
        )
    config = get_config()
    if not isinstance(config, Mapping):
        raise InvalidArgumentError(
            f"{where}: {type(obj).__name__}.get_config() must return a "
            f"dict, received {describe(config)}"
        )
    return dict(config)


def _architecture(model: Module, where: str) -> dict[str, Any]:
    Sequential = registry.builtin("Sequential")
    cls = type(model)
    name = (
        "Sequential"
        if cls is Sequential
        else "Functional"
        if cls is registry.builtin("Functional")
        else registry.registered_name(cls)
    )
    if name is None:
        raise InvalidArgumentError(_unregistered_message(where, "the model", cls))
    config = _config_of(model, where)
    if isinstance(model, registry.builtin("Functional")):
        _check_graph_classes(model, where)
    if isinstance(model, Sequential) and not _own_from_config(cls, Sequential):
        # Rebuilt layer by layer (a registered Sequential subclass too): record each layer's
        # class under the name load_model will look up.
        config["layers"] = [
            {"class_name": _layer_class_name(layer, where), "config": entry["config"]}
            for layer, entry in zip(model.layers, config.get("layers", []))
        ]
    return {"class_name": name, "config": config}


def _own_from_config(cls: type, base: type) -> bool:
    """Whether ``cls`` defines from_config itself, below ``base`` (a Sequential subclass
    that does not is rebuilt layer by layer)."""
    for klass in cls.__mro__:
        if klass is base:
            return False
        if "from_config" in vars(klass):
            return True
    return callable(getattr(cls, "from_config", None))


def _check_graph_classes(model: Any, where: str) -> None:
    """Every layer of a functional model (and of the models nested in it) is one load_model
    can rebuild: glassnet's own, or registered."""
    builtins = (registry.builtin("Sequential"), registry.builtin("Functional"))
    for member in model.layers:
        if isinstance(member, Layer):
            _layer_class_name(member, where)
        elif type(member) in builtins or isinstance(member, builtins[1]):
            if isinstance(member, builtins[1]):
                _check_graph_classes(member, where)
            else:
                for layer in member.layers:
                    _layer_class_name(layer, where)
        elif registry.registered_name(type(member)) is None:
            raise InvalidArgumentError(
                _unregistered_message(
                    where, f"layer {getattr(member, 'name', '?')!r}", type(member)
                )
            )


def _metric_name(spec: Any) -> str | None:
    if isinstance(spec, str):
        return spec
    name = getattr(spec, "name", None)
    return name if isinstance(name, str) else None


def _training_config(model: Module, where: str) -> dict[str, Any] | None:
    loss = getattr(model, "loss", None)
    if not getattr(model, "compiled", False) or loss is None:
        return None
    config: dict[str, Any] = {"loss": {"name": loss.name, **loss.get_config()}}
    if type(loss) not in _builtin_losses():
        # A user's loss: saved under its registered name (or class name), which load_model
        # looks up in custom_objects= or among the registered classes.
        custom = registry.registered_name(type(loss)) or type(loss).__name__
        config["loss"]["name"] = custom
        config["loss_class"] = custom
    spec = getattr(model, "_compile_spec", None)
    if spec is not None:  # a model with several outputs: one loss and metric list per output
        config["outputs"] = {
            "losses": [
                None if out_loss is None else {"name": out_loss.name, **out_loss.get_config()}
                for out_loss in model._output_losses  # type: ignore[attr-defined]
            ],
            "loss_weights": [float(w) for w in spec["loss_weights"]],
            "metrics": [
                [_metric_name(m) for m in specs]
                for specs in model._output_metric_specs  # type: ignore[attr-defined]
            ],
        }
    metrics = []
    for spec in getattr(model, "metric_specs", []):
        metric = _metric_name(spec)
        if metric is None:
            warnings.warn(
                f"{where}: metric {spec!r} has no name and is not saved; pass it to "
                f"compile again after loading",
                RuntimeWarning,
                stacklevel=3,
            )
        else:
            metrics.append(metric)
    config["metrics"] = metrics
    optimizer = getattr(model, "optimizer", None)
    get_config = getattr(optimizer, "get_config", None)
    config["optimizer"] = (
        {"class_name": type(optimizer).__name__, "config": get_config()}
        if callable(get_config)
        else None
    )
    return config


def _weights(model: Module, where: str) -> dict[str, np.ndarray]:
    return {name: p.data for name, p in model.named_parameters()}


def save_model(model: Module, path: Any, include_optimizer: bool = True) -> None:
    """Save architecture, weights and (if compiled) training config to one safetensors file.

    ``model``: a Sequential, or a Module whose class is registered (``@glassnet.register``).
    ``path``: str or os.PathLike, canonically ``*.safetensors``; written atomically (a crash
    leaves the previous file or the new one). ``include_optimizer``: also store the
    optimiser's state (moments, step count), so training resumes where it stopped.
    """
    where = "save_model"
    _check_model(model, where)
    if not isinstance(include_optimizer, bool):
        raise InvalidArgumentError(
            f"{where}: include_optimizer must be True or False, "
            f"received include_optimizer={include_optimizer!r}"
        )
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "content": "model",
        "glassnet_version": _version(),
    }
    metadata["architecture"] = dumps(
        _architecture(model, where), "the architecture (get_config())", where
    )
    tensors = _weights(model, where)
    training = _training_config(model, where)
    if training is not None:
        metadata["training_config"] = dumps(training, "the training config", where)
        optimizer = getattr(model, "optimizer", None)
        state_dict = getattr(optimizer, "state_dict", None)
        if include_optimizer and callable(state_dict):
            skeleton = encode_tree(
                state_dict(),
                tensors,
                root="optimizer state",
                where=where,
                prefix=(_OPTIMIZER_ROOT,),
            )
            metadata["optimizer_state"] = dumps(skeleton, "the optimizer state", where)
    write_container(path, tensors, metadata, where)


def save_weights(model: Module, path: Any) -> None:
    """Save only the parameters (dotted names → arrays) to a safetensors file, atomically.

    Any Module works, registered or not; read them back with ``load_weights``.
    """
    where = "save_weights"
    _check_model(model, where)
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "content": "weights",
        "glassnet_version": _version(),
    }
    write_container(path, _weights(model, where), metadata, where)


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------
@contextmanager
def _rng_preserved() -> Iterator[None]:
    """Rebuilding layers runs their initialisers; keep glassnet's random stream untouched."""
    bit_generator = _rng.generator().bit_generator
    state = bit_generator.state
    try:
        yield
    finally:
        bit_generator.state = state


def _accepted_kwargs(cls: type) -> set[str]:
    init = cls.__init__  # type: ignore[misc]
    params = inspect.signature(init).parameters.values()
    return {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)} - {
        "self"
    }


def _float_dtype(value: Any) -> np.dtype:
    dt = np.dtype(value) if isinstance(value, str) and value in ("float32", "float64") else None
    if dt is None:
        raise ValueError(f"dtype must be 'float32' or 'float64', received {str(value)[:20]!r}")
    return dt


def _builtin_layer(cls: type[Layer], config: dict[str, Any]) -> Layer:
    """A glassnet layer from its get_config(), left unbuilt (built after the size checks)."""
    config = dict(config)
    accepted = _accepted_kwargs(cls)
    dtype = config.pop("dtype", None) if "dtype" not in accepted else None
    if "activation" in config and "activation" not in accepted:
        # LeakyReLU, ELU: get_config records the kernel name, the class already implies it.
        kind = config.pop("activation")
        expected = getattr(cls, "kernel_name", None)
        if kind != expected:
            raise ValueError(f"{cls.__name__} cannot have activation {str(kind)[:20]!r}")
    if "input_shape" in config and "input_shape" not in accepted:
        config.pop("input_shape")
    layer = cls.from_config(config)
    if dtype is not None:
        layer.dtype = _float_dtype(dtype)
    return layer


def _positive_shape(value: Any, what: str) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value
    ):
        raise ValueError(f"{what} must be a list of positive integers, received {str(value)[:40]}")
    return tuple(value)


def sequential_from_config(config: Any, model_cls: type | None = None) -> Module:
    """A Sequential (or ``model_cls``) from its ``get_config()``, with fresh weights."""
    return _sequential_from_config(
        config, {}, "<config>", "from_config", model_cls, check_weights=False
    )


def _input_shape(value: Any) -> tuple[Any, ...]:
    """A declared input shape: positive integers, or null for a size only the data gives
    (``keras.Input(shape=(None, 4))``)."""
    if not isinstance(value, list) or not all(
        v is None or (isinstance(v, int) and not isinstance(v, bool) and v > 0) for v in value
    ):
        raise ValueError(
            f"input_shape must be a list of positive integers or nulls, received {str(value)[:40]}"
        )
    return tuple(value)


def _sequential_from_config(
    config: Any,
    tensors: Mapping[str, np.ndarray],
    name: str,
    where: str,
    model_cls: type | None = None,
    check_weights: bool = True,
) -> Module:
    """Rebuild a Sequential (or a registered subclass ``model_cls``); every layer's parameter
    shapes (its ``parameter_shapes``) are checked against the file before anything is
    allocated, so a crafted architecture cannot request huge arrays."""
    if model_cls is None:
        model_cls = registry.builtin("Sequential")

    def bad(reason: str) -> FileFormatError:
        return FileFormatError(
            f"{where}: '{name}' has an invalid Sequential architecture: {reason}"
        )

    if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
        raise bad("its config is not an object with a 'layers' list")
    model_name = config.get("name")
    if model_name is not None and not isinstance(model_name, str):
        raise bad(f"the model name is {describe(model_name)}, expected a string")
    try:
        input_shape: tuple[int, ...] | None = (
            _input_shape(config["input_shape"]) if config.get("input_shape") is not None else None
        )
    except ValueError as exc:
        raise bad(str(exc)) from None

    layers: list[Layer] = []
    declared_inputs: list[tuple[int, ...] | None] = []  # a layer's recorded input shape
    for i, entry in enumerate(config["layers"]):
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("class_name"), str)
            or not isinstance(entry.get("config"), dict)
        ):
            raise bad(
                f"layer {i} is not an object with a 'class_name' string and a 'config' object"
            )
        class_name = entry["class_name"]
        layer_config = dict(entry["config"])
        builtin = LAYER_CLASSES.get(class_name)
        cls = builtin or registry.get_registered(class_name)
        if cls is None:
            raise FileFormatError(
                f"{where}: '{name}' uses the unknown layer class {class_name[:60]!r}; glassnet "
                f"rebuilds only its own layers and classes registered with @glassnet.register "
                f"(import the code that registers it before loading)"
            )
        if not issubclass(cls, Layer):
            raise bad(f"layer {i} is a {class_name}, which is not a Layer")
        declared: tuple[int, ...] | None = None
        try:
            if builtin is not Input:
                # Taken out so that no layer builds (allocates) before its sizes are checked.
                dim = layer_config.pop("input_dim", None)
                in_shape = layer_config.pop("input_shape", None)
                if dim is not None:
                    declared = _positive_shape(dim, "input_dim")
                elif in_shape is not None:
                    declared = _positive_shape(in_shape, "input_shape")
            if builtin is Input:
                layer = _builtin_layer(Input, layer_config)
                if layers or input_shape not in (None, layer.input_shape):
                    raise ValueError("Input must come first and agree with input_shape")
                input_shape = layer.input_shape
                continue
            layer = (
                _builtin_layer(builtin, layer_config)
                if builtin is not None
                else registry.from_config(cls, layer_config)
            )
        except FileFormatError:
            raise
        except Exception as exc:
            raise bad(
                f"layer {i} ({class_name}) could not be rebuilt from its config: "
                f"{type(exc).__name__}: {str(exc)[:200]}"
            ) from exc
        if not isinstance(layer, Layer):
            raise bad(f"layer {i} ({class_name}) did not rebuild into a Layer")
        if declared is not None and builtin is not None:
            layer.input_shape = declared  # recorded, as constructing with it would have done
        layers.append(layer)
        declared_inputs.append(declared)
    names = [layer.name for layer in layers]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise bad(f"the layer names {', '.join(duplicates)} occur more than once")
    if input_shape is None and layers and layers[0].input_shape is not None:
        input_shape = layers[0].input_shape

    # Walk the shapes; check every layer's parameters against the file before building it.
    # Past a registered layer the walked shape is only a guess (its compute_output_shape may
    # be the default identity), so there the input shape each layer recorded is what counts.
    problems: list[str] = []
    builds: list[tuple[Layer, tuple[int, ...]]] = []
    shape: tuple[Any, ...] | None = input_shape
    trusted = True
    for layer, declared in zip(layers, declared_inputs):
        seen = shape if shape is not None and trusted else None
        if declared is not None and seen is not None and declared[-1:] != seen[-1:]:
            raise bad(
                f"layer {layer.name!r} records {declared[-1]} inputs but the layer "
                f"before it gives {seen[-1]}"
            )
        in_shape = declared if declared is not None else seen
        if in_shape is not None and not layer.built:
            try:
                expected = layer.parameter_shapes(in_shape)
            except Exception as exc:
                raise bad(
                    f"layer {layer.name!r} rejects inputs of shape {in_shape}: {str(exc)[:120]}"
                ) from exc
            for pname, want in expected.items() if check_weights else ():
                key = f"{layer.name}.{pname}"
                if key not in tensors:
                    problems.append(f"{key} is missing")
                elif tensors[key].shape != tuple(want):
                    problems.append(
                        f"{key} has shape {tensors[key].shape}, the architecture needs "
                        f"{tuple(want)}"
                    )
            if expected:
                builds.append((layer, tuple(in_shape)))
        if LAYER_CLASSES.get(type(layer).__name__) is not type(layer):
            trusted = False  # its output shape is its own word from here on
        if shape is None and declared is not None:
            shape = declared
        if shape is not None:
            try:
                shape = tuple(layer.compute_output_shape(shape))
            except Exception as exc:
                raise bad(
                    f"layer {layer.name!r} rejects inputs of shape {shape}: {str(exc)[:120]}"
                ) from exc
    if problems:
        raise FileFormatError(
            f"{where}: the weights in '{name}' do not match its "
            f"architecture: " + "; ".join(problems)
        )
    try:
        for layer, built_shape in builds:
            layer.build(built_shape)
        model = model_cls(name=model_name)
        for layer in layers:
            model.add(layer)
        if input_shape is not None:
            model.build(input_shape)
    except Exception as exc:
        raise bad(
            f"the model could not be assembled: {type(exc).__name__}: {str(exc)[:200]}"
        ) from exc
    return model


def _sub_tensors(
    tensors: Mapping[str, np.ndarray] | None, prefix: str
) -> Mapping[str, np.ndarray] | None:
    if tensors is None:
        return None
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}


def _graph_member(
    entry: dict[str, Any],
    tensors: Mapping[str, np.ndarray] | None,
    name: str,
    where: str,
    custom_objects: Mapping[str, Any] | None = None,
) -> Any:
    """One layer (or nested model) of a functional model, rebuilt unbuilt where it can be (its
    sizes are checked against the file when it is first called)."""
    class_name, config = entry["class_name"], dict(entry["config"])
    sub = _sub_tensors(tensors, f"{entry['name']}.")
    if class_name == "Sequential":
        return _sequential_from_config(
            config, sub or {}, name, where, check_weights=tensors is not None
        )
    if class_name == "Functional":
        return functional_from_config(config, sub, name, where, custom_objects)
    builtin = LAYER_CLASSES.get(class_name)
    cls = builtin or registry.get_registered(class_name) or (custom_objects or {}).get(class_name)
    if cls is None:
        raise FileFormatError(
            f"{where}: '{name}' uses the unknown class {class_name[:60]!r}; glassnet rebuilds "
            f"only its own layers and classes registered with @glassnet.register"
        )
    if builtin is None:
        return registry.from_config(cls, config)
    if builtin is not Input:
        config.pop("input_dim", None)  # built when called, after the size check
        config.pop("input_shape", None)
    return _builtin_layer(builtin, config)


def functional_from_config(
    config: Any,
    tensors: Mapping[str, np.ndarray] | None = None,
    name: str = "<config>",
    where: str = "from_config",
    custom_objects: Mapping[str, Any] | None = None,
    model_cls: type | None = None,
) -> Module:
    """A functional model from its ``get_config()``: each layer rebuilt, then the recorded
    calls replayed. With ``tensors`` (a file's weights) every layer's parameter shapes are
    checked against them before the layer allocates anything."""
    functional_cls = model_cls or registry.builtin("Functional")

    def bad(reason: str) -> FileFormatError:
        return FileFormatError(
            f"{where}: '{name}' has an invalid functional architecture: {reason}"
        )

    keys = ("layers", "nodes", "input_layers", "output_layers")
    if not isinstance(config, dict) or not all(isinstance(config.get(k), list) for k in keys):
        raise bad(f"its config is not an object with the lists {', '.join(keys)}")
    layers: dict[str, Any] = {}
    for i, entry in enumerate(config["layers"]):
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("class_name"), str)
            and isinstance(entry.get("name"), str)
            and isinstance(entry.get("config"), dict)
        ):
            raise bad(f"layer {i} is not an object with 'class_name', 'name' and 'config'")
        if entry["name"] in layers:
            raise bad(f"the layer name {entry['name'][:60]!r} occurs more than once")
        try:
            layer = _graph_member(entry, tensors, name, where, custom_objects)
        except FileFormatError:
            raise
        except Exception as exc:
            raise bad(
                f"layer {i} ({entry['class_name'][:60]}) could not be rebuilt: "
                f"{type(exc).__name__}: {str(exc)[:200]}"
            ) from exc
        if not isinstance(layer, Module):
            raise bad(f"layer {i} did not rebuild into a glassnet layer or model")
        layer.name = entry["name"]  # type: ignore[attr-defined]
        layers[entry["name"]] = layer

    def check_sizes(layer: Any, inputs: list[Any]) -> None:
        if tensors is None or not isinstance(layer, Layer) or layer.built or len(inputs) != 1:
            return
        for pname, want in layer.parameter_shapes(tuple(inputs[0].shape[1:])).items():
            key = f"{layer.name}.{pname}"
            if key not in tensors:
                raise bad(f"{key} is missing from the weights")
            if tensors[key].shape != tuple(want):
                raise bad(
                    f"{key} has shape {tensors[key].shape}, the architecture needs {tuple(want)}"
                )

    try:
        return functional_cls.from_graph(config, layers, check_sizes)  # type: ignore[no-any-return,union-attr]
    except FileFormatError:
        raise
    except Exception as exc:
        raise bad(
            f"the graph could not be replayed: {type(exc).__name__}: {str(exc)[:200]}"
        ) from exc


def _model_from_architecture(
    arch: Any, tensors: Mapping[str, np.ndarray], name: str, where: str
) -> Module:
    if (
        not isinstance(arch, dict)
        or not isinstance(arch.get("class_name"), str)
        or not isinstance(arch.get("config"), dict)
    ):
        raise FileFormatError(
            f"{where}: '{name}' has an invalid architecture: expected an "
            f"object with a 'class_name' string and a 'config' object"
        )
    class_name = arch["class_name"]
    with _rng_preserved():
        if class_name == "Sequential":
            return _sequential_from_config(arch["config"], tensors, name, where)
        if class_name == "Functional":
            return functional_from_config(arch["config"], tensors, name, where)
        cls = registry.get_registered(class_name)
        if cls is None or not issubclass(cls, Module):
            raise FileFormatError(
                f"{where}: '{name}' holds a model of class {class_name[:60]!r}, which is not "
                f"registered in this process; import the code that defines it (decorated with "
                f"@glassnet.register) before calling load_model"
            )
        if issubclass(cls, registry.builtin("Functional")):  # e.g. keras.Functional
            return functional_from_config(arch["config"], tensors, name, where, model_cls=cls)
        rebuilt_by_layers = not _own_from_config(cls, registry.builtin("Sequential"))
        if issubclass(cls, registry.builtin("Sequential")) and rebuilt_by_layers:
            return _sequential_from_config(arch["config"], tensors, name, where, cls)
        try:
            model = registry.from_config(cls, dict(arch["config"]))
        except Exception as exc:
            raise FileFormatError(
                f"{where}: '{name}' holds a {class_name} that could not be rebuilt from its "
                f"saved config: {type(exc).__name__}: {str(exc)[:200]}"
            ) from exc
    if not isinstance(model, Module):
        raise FileFormatError(
            f"{where}: rebuilding {class_name} from '{name}' gave "
            f"{describe(model)}, not a glassnet Module"
        )
    return model


def _fit_weights(
    model: Module,
    tensors: Mapping[str, np.ndarray],
    name: str,
    where: str,
    strict: bool,
    exact_dtype: bool,
) -> None:
    """Copy ``tensors`` into the parameters after checking all of them; nothing changes
    unless everything fits. The error names every missing, unexpected, mis-shaped, mistyped
    or non-finite tensor."""
    params = dict(model.named_parameters())
    matched, problems = match_weights(
        params, tensors, strict=strict, exact_dtype=exact_dtype, source="file", float_only=True
    )
    if problems:
        raise FileFormatError(
            f"{where}: the weights in '{name}' do not fit "
            f"{type(model).__name__}: " + "; ".join(problems)
        )
    try:
        model.load_state_dict(matched, strict=False)
    except GlassnetError as exc:  # pragma: no cover - everything was checked above
        raise FileFormatError(f"{where}: could not load the weights in '{name}': {exc}") from exc


def _builtin_losses() -> set[type]:
    from ..nn import losses as losses_module

    return set(losses_module._REGISTRY.values())


def _check_custom_objects(custom_objects: Any, where: str) -> dict[str, Any]:
    if custom_objects is None:
        return {}
    if not isinstance(custom_objects, Mapping) or not all(
        isinstance(k, str) for k in custom_objects
    ):
        raise InvalidArgumentError(
            f"{where}: custom_objects must be a dict of name → class, such as "
            f"{{'FocalLoss': FocalLoss}}, received {describe(custom_objects)}"
        )
    return dict(custom_objects)


def _loss_from(training: dict[str, Any], custom: dict[str, Any], name: str, where: str) -> Any:
    """The loss the file's model was compiled with: a built-in by name, or a user's class
    from ``custom`` (custom_objects=) or the registry; else one sentence naming the fix."""
    from ..nn import losses as losses_module

    entry = dict(training["loss"])
    key = str(entry.pop("name", ""))
    user = training.get("loss_class")
    cls = custom.get(str(user if user is not None else key)) or (
        registry.get_registered(str(user)) if user is not None else None
    )
    if isinstance(cls, losses_module.Loss):
        return cls
    if isinstance(cls, type) and issubclass(cls, losses_module.Loss):
        return registry.from_config(cls, entry)
    if user is None:
        try:
            return losses_module.get({"name": key, **entry})
        except UnknownNameError:
            pass
    shown = str(user if user is not None else key)[:60]
    raise UnknownNameError(
        f"{where}: '{name}' was compiled with the loss {shown!r}, which is not known here; "
        f"register its class (@glassnet.register) or pass custom_objects={{{shown!r}: "
        f"<the loss class>}}, or load with compile=False and compile again"
    )


def _compile_from(
    model: Module,
    training: Any,
    opt_state: Any,
    name: str,
    where: str,
    custom: dict[str, Any] | None = None,
) -> None:
    get_metric = registry.builtin("metric")

    if not isinstance(training, dict) or not isinstance(training.get("loss"), dict):
        raise FileFormatError(
            f"{where}: '{name}' has an invalid training config; pass "
            f"compile=False to load the model without it"
        )
    opt_config = training.get("optimizer")
    if opt_config is None:
        warnings.warn(
            f"{where}: '{name}' records no optimizer; the model is returned uncompiled",
            RuntimeWarning,
            stacklevel=3,
        )
        return
    loss = _loss_from(training, custom or {}, name, where)
    try:
        from ..nn import losses as losses_module
        from ..optim import optimizers as optimizers_module

        optimizer = optimizers_module.get(opt_config)
        metrics = []
        for metric in training.get("metrics") or []:
            try:
                get_metric(metric, loss)
            except GlassnetError:
                warnings.warn(
                    f"{where}: metric {str(metric)[:40]!r} in '{name}' is unknown "
                    f"here and is left out",
                    RuntimeWarning,
                    stacklevel=4,
                )
                continue
            metrics.append(metric)
        outputs = training.get("outputs")
        if isinstance(outputs, dict):
            model.compile(  # type: ignore[attr-defined]
                optimizer=optimizer,
                loss=[None if e is None else losses_module.get(dict(e)) for e in outputs["losses"]],
                metrics=[list(m) for m in outputs["metrics"]],
                loss_weights=[float(w) for w in outputs["loss_weights"]],
            )
        else:
            model.compile(optimizer=optimizer, loss=loss, metrics=metrics)  # type: ignore[attr-defined]
        if opt_state is not None:
            optimizer.load_state_dict(opt_state)
    except Exception as exc:
        raise FileFormatError(
            f"{where}: the training config in '{name}' could not be "
            f"restored ({type(exc).__name__}: {str(exc)[:200]}); pass "
            f"compile=False to load the model without it"
        ) from exc


def load_model(
    path: Any, compile: bool = True, custom_objects: Mapping[str, Any] | None = None
) -> Module:
    """Rebuild a model saved by ``save_model``: same architecture, weights and, with
    ``compile=True``, the same loss, metrics and optimiser (with its state if saved).

    A model compiled with a loss of your own loads compiled when the loss class is registered
    (``@glassnet.register``) or given as ``custom_objects={"FocalLoss": FocalLoss}`` (Keras's
    argument); it is rebuilt with ``from_config``/its ``get_config()`` arguments.

    Only glassnet's own layers, Sequential and registered classes can be rebuilt; nothing
    in the file is executed. Every problem with the file raises FileFormatError naming it.
    """
    where = "load_model"
    if not isinstance(compile, bool):
        raise InvalidArgumentError(
            f"{where}: compile must be True or False, received compile={compile!r}"
        )
    custom = _check_custom_objects(custom_objects, where)
    tensors, metadata = read_container(path, where)
    name = str(path)
    check_format(metadata, name, where, FORMAT)
    if metadata.get("content") != "model":
        if metadata.get("content") == "weights":
            raise FileFormatError(
                f"{where}: '{name}' holds only weights (written by "
                f"save_weights); build the model and call load_weights"
            )
        raise FileFormatError(
            f"{where}: '{name}' has content {str(metadata.get('content'))[:20]!r}; expected 'model'"
        )
    if "architecture" not in metadata:
        raise FileFormatError(f"{where}: '{name}' has no architecture")
    arch = loads(metadata["architecture"], "architecture", name, where)

    used: set[str] = set()
    opt_state = None
    if "optimizer_state" in metadata:
        skeleton = loads(metadata["optimizer_state"], "optimizer state", name, where)
        opt_state = decode_tree(skeleton, tensors, used, name=name, where=where)
    weights = {k: v for k, v in tensors.items() if k not in used}

    model = _model_from_architecture(arch, weights, name, where)
    _fit_weights(model, weights, name, where, strict=True, exact_dtype=True)
    if compile and "training_config" in metadata and callable(getattr(model, "compile", None)):
        training = loads(metadata["training_config"], "training config", name, where)
        _compile_from(model, training, opt_state, name, where, custom)
    return model


def load_weights(model: Module, path: Any, strict: bool = True) -> None:
    """Copy the weights in ``path`` into ``model``'s parameters (in place).

    Reads files from ``save_weights`` or ``save_model``, glassnet checkpoints (their
    ``weights``), and plain safetensors files keyed by parameter name. With ``strict`` every
    parameter must be in the file and every tensor must be a parameter; shapes must always
    match (float dtypes are cast). The error names every offending tensor, and nothing is
    changed unless everything fits.
    """
    where = "load_weights"
    _check_model(model, where)
    if not isinstance(strict, bool):
        raise InvalidArgumentError(
            f"{where}: strict must be True or False, received strict={strict!r}"
        )
    tensors, metadata = read_container(path, where)
    name = str(path)
    fmt = metadata.get("format")
    if fmt == CHECKPOINT_FORMAT:
        from .checkpoint import state_from_container

        state = state_from_container(tensors, metadata, name, where)
        weights = state.get("weights")
        if not isinstance(weights, dict) or not all(
            isinstance(v, np.ndarray) for v in weights.values()
        ):
            raise FileFormatError(
                f"{where}: the checkpoint '{name}' has no 'weights' dict of arrays"
            )
        tensors = weights
    elif fmt is not None:
        check_format(metadata, name, where, FORMAT)
        if "optimizer_state" in metadata:
            used: set[str] = set()
            skeleton = loads(metadata["optimizer_state"], "optimizer state", name, where)
            decode_tree(skeleton, tensors, used, name=name, where=where)
            tensors = {k: v for k, v in tensors.items() if k not in used}
    _fit_weights(model, tensors, name, where, strict=strict, exact_dtype=False)
