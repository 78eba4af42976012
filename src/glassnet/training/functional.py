"""``Functional``: a model that is a graph of layer calls (Keras's functional API).

    inputs = keras.Input(shape=(784,))
    x = layers.Dense(64, activation="relu")(inputs)
    outputs = layers.Dense(10)(x)
    model = keras.Model(inputs=inputs, outputs=outputs)

Each layer call on a symbolic tensor recorded a ``Node`` (``nn/symbolic.py``); the model walks
them back from its outputs to its inputs once, in topological order, and runs that order on
real tensors: every node is the layer's own call, so each layer's math runs once per use, and
the autograd graph sums the gradients of a layer used twice (shared weights). Inputs and
outputs may be a single tensor, a list or a dict; fit, evaluate and predict take data in the
same shape (lists in order, or dicts keyed by input and output names), losses and metrics as
one value, a list or a dict, and ``loss_weights``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..autograd.tensor import Tensor
from ..errors import GlassnetError, InvalidArgumentError, ShapeError, describe
from ..io import registry
from ..nn import losses as losses_module
from ..nn.layers import LAYER_CLASSES, Input, Layer
from ..nn.module import Module
from ..nn.symbolic import (
    Node,
    SymbolicTensor,
    as_symbolic,
    call_symbolic,
    flatten_structure,
    invoke,
    is_symbolic,
)
from . import metrics as metrics_module
from .callbacks import CallbackList
from .epochs import StructuredData, as_data, positive_int
from .head import OutputHead
from .model import Model, Sequential, _numeric_environment, _unique_name

__all__ = ["Functional", "OutputList"]


class OutputList(list):  # type: ignore[type-arg]
    """The outputs of one batch (arrays, one per model output) and each output's batch loss
    (``losses``; None for an output without a loss), for the per-output metrics."""

    losses: list[float | None]


class _OutputMetric(metrics_module.Metric):
    """A metric of one output of a several-output model: ``<output>_<metric>``."""

    def __init__(self, inner: metrics_module.Metric, index: int, name: str) -> None:
        self.inner = inner
        self.index = index
        super().__init__(name)

    def reset(self) -> None:
        if hasattr(self, "inner"):
            self.inner.reset()

    @property  # type: ignore[override]
    def total(self) -> float:
        return self.inner.total

    @total.setter
    def total(self, value: float) -> None:
        if hasattr(self, "inner"):
            self.inner.total = value

    @property  # type: ignore[override]
    def count(self) -> int:
        return self.inner.count

    @count.setter
    def count(self, value: int) -> None:
        if hasattr(self, "inner"):
            self.inner.count = value

    def update(self, y_true: Any, y_pred: Any) -> None:
        self.inner.update(y_true.arrays[self.index], y_pred[self.index])


class _OutputLoss(metrics_module.Metric):
    """The running mean of one output's loss (``<output>_loss``), from the step's values."""

    def __init__(self, index: int, name: str) -> None:
        self.index = index
        super().__init__(name)

    def update(self, y_true: Any, y_pred: Any) -> None:
        value = getattr(y_pred, "losses", [None] * (self.index + 1))[self.index]
        if value is not None:
            self.total += float(value) * len(y_true)
            self.count += len(y_true)


def _graph_error(what: str) -> InvalidArgumentError:
    return InvalidArgumentError(f"Model: {what}")


def _topological_nodes(outputs: list[SymbolicTensor], inputs: list[SymbolicTensor]) -> list[Node]:
    """Every node between the inputs and the outputs, each after the nodes it reads (an
    iterative depth-first walk: deep graphs never hit the recursion limit)."""
    input_ids = {id(t) for t in inputs}
    order: list[Node] = []
    done: set[int] = set()
    stack: list[tuple[Node, bool]] = []
    for t in reversed(outputs):  # reversed: the first output's branch comes first
        if t.node is None:
            raise _graph_error(f"output {t!r} does not come from any layer call")
        stack.append((t.node, False))
    while stack:
        node, expanded = stack.pop()
        if id(node) in done:
            continue
        if expanded:
            done.add(id(node))
            order.append(node)
            continue
        stack.append((node, True))
        if isinstance(node.layer, Input):
            if id(node.outputs[0]) not in input_ids:
                raise _graph_error(
                    f"the graph is disconnected: the outputs depend on Input "
                    f"{node.layer.name!r}, which is not among the model's inputs"
                )
            continue
        for t in reversed(node.inputs):
            if t.node is None:
                raise _graph_error(f"{t!r} does not come from keras.Input or a layer call")
            if id(t.node) not in done:
                stack.append((t.node, False))
    return order


class Functional(Model):
    """A model defined by a graph of layer calls from ``inputs`` to ``outputs`` (each a
    symbolic tensor, a list or a dict of them). ``keras.Model(inputs, outputs)`` makes one."""

    def __init__(self, inputs: Any, outputs: Any, name: str | None = None) -> None:
        super().__init__(name=name or "functional")
        self._auto_name = name is None
        raw_in, self._input_structure, in_keys = flatten_structure(inputs, "Model: inputs")
        raw_out, self._output_structure, out_keys = flatten_structure(outputs, "Model: outputs")
        self._inputs = [self._check_input(v, i) for i, v in enumerate(raw_in)]
        self._outputs: list[SymbolicTensor] = []
        for i, v in enumerate(raw_out):
            t = as_symbolic(v)
            if t is None:
                raise _graph_error(
                    f"outputs[{i}] must be a symbolic tensor (the result of calling a layer on "
                    f"keras.Input), received {describe(v)}"
                )
            self._outputs.append(t)
        self._nodes = _topological_nodes(self._outputs, self._inputs)
        reached = {id(n) for n in self._nodes}
        for i, t in enumerate(self._inputs):
            if id(t.node) not in reached:
                raise _graph_error(
                    f"inputs[{i}] ({t.name!r}) is not connected to any output; remove it or use it"
                )
        self._layers = self._collect_layers()
        self.input_names = in_keys or [t.node.layer.name for t in self._inputs]  # type: ignore[union-attr]
        self.output_names = out_keys or [
            getattr(t.node.layer, "name", f"output_{i}")  # type: ignore[union-attr]
            for i, t in enumerate(self._outputs)
        ]
        if len(set(self.output_names)) != len(self.output_names):
            self.output_names = [f"{n}_{i}" for i, n in enumerate(self.output_names)]
        self._consumed = {id(t) for node in self._nodes for t in node.inputs}
        self._symbolic_losses: list[SymbolicTensor] = []

    def add_loss(self, value: Any) -> None:
        """A term of the cost: a tensor computed in a forward pass (as for every Module), or —
        Keras's functional form — a symbolic scalar computed from the model's tensors
        (``vae.add_loss(kl_loss)``), then computed in every forward pass."""
        term = as_symbolic(value)
        if term is None:
            super().add_loss(value)
            return
        if any(d is None or d != 1 for d in term.shape):
            raise ShapeError(
                f"add_loss: expected a scalar (one number), received a symbolic tensor of "
                f"shape {term.shape}; reduce it first, e.g. with keras.ops.mean"
            )
        known = {id(node) for node in self._nodes}
        self._nodes += [n for n in _topological_nodes([term], self._inputs) if id(n) not in known]
        self._layers = self._collect_layers()
        self._consumed |= {id(t) for node in self._nodes for t in node.inputs}
        self._consumed.add(id(term))
        self._symbolic_losses.append(term)

    # -- building the graph ----------------------------------------------------------------------
    @staticmethod
    def _check_input(value: Any, i: int) -> SymbolicTensor:
        t = as_symbolic(value)
        if t is None or t.node is None or not isinstance(t.node.layer, Input):
            shown = describe(value) if t is None else repr(t)
            raise _graph_error(
                f"inputs[{i}] must come from keras.Input(...), received {shown}; a model's "
                f"inputs are the tensors its graph starts from"
            )
        return t

    def _collect_layers(self) -> list[Any]:
        """Input layers first (in the order of ``inputs``), then every other layer in the order
        of its first call; default names that collide are made unique, chosen names must be."""
        layers: list[Any] = [t.node.layer for t in self._inputs]  # type: ignore[union-attr]
        for input_index, layer in enumerate(layers):
            if any(layer is other for other in layers[:input_index]):
                raise _graph_error(f"the input {layer.name!r} is given twice")
        for node in self._nodes:
            if not any(node.layer is seen for seen in layers):
                layers.append(node.layer)
        taken: set[str] = set()
        for layer in layers:
            if layer.name in taken:
                if not getattr(layer, "_auto_name", False):
                    raise _graph_error(
                        f"the layer name {layer.name!r} is used by two different layers; "
                        f"layer names must be unique within a model"
                    )
                layer.name = _unique_name(layer.name, taken)
            taken.add(layer.name)
        return layers

    # -- Keras's views of the graph ---------------------------------------------------------------
    @property
    def layers(self) -> list[Any]:
        """Every layer (and nested model) once, Input layers first."""
        return list(self._layers)

    def named_children(self) -> Any:
        for layer in self._layers:
            yield layer.name, layer

    def _structured(self, items: list[Any], structure: str, keys: list[str] | None) -> Any:
        if structure == "single":
            return items[0]
        if structure == "dict":
            return dict(zip(keys or [], items))
        return list(items)

    @property
    def inputs(self) -> list[SymbolicTensor]:
        """The symbolic inputs, as a list."""
        return list(self._inputs)

    @property
    def outputs(self) -> list[SymbolicTensor]:
        """The symbolic outputs, as a list."""
        return list(self._outputs)

    @property
    def input(self) -> Any:
        """The inputs in the structure the model was built with (one tensor, list or dict)."""
        keys = self.input_names if self._input_structure == "dict" else None
        return self._structured(self._inputs, self._input_structure, keys)

    @property
    def output(self) -> Any:
        """The outputs in the structure the model was built with."""
        keys = self.output_names if self._output_structure == "dict" else None
        return self._structured(self._outputs, self._output_structure, keys)

    @property
    def input_shape(self) -> tuple[int | None, ...] | None:
        """The per-sample input shape (as a Sequential's), for a model with one input."""
        return tuple(self._inputs[0].shape[1:]) if len(self._inputs) == 1 else None

    def several(self) -> bool:
        """True when fit takes structures: more than one input or output, or no compiled loss
        (the cost is the layers' ``add_loss`` terms)."""
        return len(self._inputs) > 1 or len(self._outputs) > 1 or getattr(self, "_no_loss", False)

    def _require_compiled(self, where: str) -> None:
        if getattr(self, "_no_loss", False) and self.compiled:
            return  # compiled without a loss: add_loss supplies the cost
        super()._require_compiled(where)

    def chain_layers(self) -> list[Layer] | None:
        """The layers in order when the graph is a plain chain — one input, one output, each
        layer called once on the previous one's output — else None. Such a model is a
        Sequential in all but name: fit's fast step and predict's array path run it."""
        if len(self._inputs) != 1 or len(self._outputs) != 1:
            return None
        chain: list[Layer] = []
        current = self._inputs[0]
        for node in self._nodes:
            layer = node.layer
            if isinstance(layer, Input):
                continue
            if (
                not isinstance(layer, Layer)
                or getattr(layer, "takes_list", False)
                or node.structure != "single"
                or node.kwargs
                or node.inputs[0] is not current
                or any(layer is seen for seen in chain)
            ):
                return None
            chain.append(layer)
            current = node.outputs[0]
        return chain if current is self._outputs[0] else None

    # -- running the graph --------------------------------------------------------------------
    def _input_tensor(self, i: int, value: Any) -> Tensor:
        """One input batch as a tensor: floats in the model's dtype (an integer Input keeps
        integers, e.g. token ids for an Embedding)."""
        if isinstance(value, Tensor):
            return value
        arr = np.asarray(value)
        want = self._inputs[i].dtype
        if want.kind in "iub":
            return Tensor(arr if arr.dtype.kind in "iub" else arr.astype(want))
        return self._prepare_batch(arr) if arr.dtype.kind in "fiub" else Tensor(arr)

    def _input_list(self, x: Any, where: str) -> list[Any]:
        """Inputs given as one array, a list (in order) or a dict keyed by input names."""
        n = len(self._inputs)
        if isinstance(x, StructuredData):
            return list(x.arrays)
        if isinstance(x, dict):
            missing = [k for k in self.input_names if k not in x]
            unknown = [k for k in x if k not in self.input_names]
            if missing or unknown:
                raise InvalidArgumentError(
                    f"{where}: the inputs are keyed by {self.input_names}; received keys "
                    f"{list(x)} (missing {missing}, unknown {unknown})"
                )
            return [x[k] for k in self.input_names]
        if isinstance(x, (list, tuple)) and n > 1:
            if len(x) != n:
                raise InvalidArgumentError(
                    f"{where}: the model has {n} inputs ({', '.join(self.input_names)}), "
                    f"received a {type(x).__name__} of {len(x)}"
                )
            return list(x)
        if n > 1:
            raise InvalidArgumentError(
                f"{where}: the model has {n} inputs ({', '.join(self.input_names)}); pass a "
                f"list or a dict of arrays, received {describe(x)}"
            )
        return [self._unwrap(x, self.input_names, "x", where)]

    def __call__(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        if is_symbolic(x):
            return call_symbolic(self, x, kwargs, args)
        values = [self._input_tensor(i, v) for i, v in enumerate(self._input_list(x, "call"))]
        outs = self._run(values)
        keys = self.output_names if self._output_structure == "dict" else None
        return self._structured(outs, self._output_structure, keys)

    def forward(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        return self(x, *args, **kwargs)

    def _run(self, values: list[Tensor], logits: frozenset[int] = frozenset()) -> list[Tensor]:
        """Run the nodes in order; the outputs numbered in ``logits`` stop their last layer
        before its activation (the loss pairs with it)."""
        self.clear_losses()
        env: dict[int, Any] = {}
        for t, v in zip(self._inputs, values):
            env[id(t)] = t.node.layer(v)  # type: ignore[union-attr]  # checks the shape
        stop = {id(self._outputs[i].node) for i in logits}
        for node in self._nodes:
            if isinstance(node.layer, Input):
                continue
            args = [env[id(t)] for t in node.inputs]
            if id(node) in stop:  # a single-input kernel layer, built when the graph was made
                out: Any = node.layer._node(args[0], logits_only=True)
            else:
                out = invoke(node.layer, node.structure, args, node.kwargs)
            outs, _, _ = flatten_structure(out, "output")
            for t, o in zip(node.outputs, outs):
                env[id(t)] = o
        for term in self._symbolic_losses:
            Module.add_loss(self, env[id(term)])
        return [env[id(t)] for t in self._outputs]

    def _output_layer(self, i: int) -> Layer | None:
        """The layer that computes output i, when the loss may pair with its activation: a
        single-input layer with kernels, whose output nothing else in the graph reads."""
        t = self._outputs[i]
        layer = t.node.layer if t.node is not None else None
        if (
            not isinstance(layer, Layer)
            or t.node.structure != "single"  # type: ignore[union-attr]
            or t.node.kwargs  # type: ignore[union-attr]
            or getattr(layer, "takes_list", False)
            or isinstance(layer, Input)
            or id(t) in self._consumed
            or sum(o is t for o in self._outputs) > 1
        ):
            return None
        return layer

    def output_layer(self) -> Layer | None:
        return self._output_layer(0) if len(self._outputs) == 1 else None

    def forward_logits(self, x: Tensor) -> Tensor:
        values = [self._input_tensor(i, v) for i, v in enumerate(self._input_list(x, "call"))]
        return self._run(values, frozenset({0}))[0]

    # -- compile with several outputs ------------------------------------------------------------
    def _per_output(self, value: Any, what: str, default: Any) -> list[Any]:
        """A compile argument as one entry per output: a single value (for every output), a
        list in output order, or a dict keyed by output names (absent: ``default``)."""
        n = len(self._outputs)
        if isinstance(value, dict):
            unknown = [k for k in value if k not in self.output_names]
            if unknown:
                raise InvalidArgumentError(
                    f"compile: {what} names {unknown}, which are not outputs; the outputs "
                    f"are {self.output_names}"
                )
            return [value.get(k, default) for k in self.output_names]
        if isinstance(value, (list, tuple)):
            if len(value) != n:
                raise InvalidArgumentError(
                    f"compile: {what} must have one entry per output ({n}: "
                    f"{', '.join(self.output_names)}), received {len(value)}"
                )
            return list(value)
        return [value] * n

    def compile(
        self,
        optimizer: Any = "rmsprop",
        loss: Any = None,
        metrics: Any = None,
        fused: bool | str = "auto",
        loss_weights: Any = None,
    ) -> None:
        """Keras's compile; with several outputs ``loss``, ``metrics`` and ``loss_weights``
        may be one value, a list in output order or a dict keyed by output names. The cost is
        C = Σ_o w_o C_o. Without a loss the cost is what the layers add with ``add_loss``
        (fit then needs no targets)."""
        if fused not in ("auto", True, False):
            raise InvalidArgumentError(
                f"compile: fused must be 'auto', True or False, received fused={fused!r}"
            )
        self._no_loss = loss is None
        self._compile_spec: dict[str, Any] | None = None
        if len(self._outputs) == 1 and not self._no_loss:
            loss = self._per_output(loss, "loss", None)[0]
            if isinstance(metrics, dict):
                metrics = self._per_output(metrics, "metrics", [])[0]
            weights = self._per_output(1.0 if loss_weights is None else loss_weights, "w", 1.0)
            if weights[0] != 1.0:
                raise InvalidArgumentError(
                    "compile: loss_weights on a single-output model scales the whole loss; "
                    "change the learning rate instead"
                )
            super().compile(optimizer, loss, metrics, fused)
            self._output_losses = [self.loss]
            self._loss_weights = [1.0]
            self._output_metric_specs = [list(self.metric_specs)]
            return
        losses = self._per_output(loss, "loss", None)
        if all(entry is None for entry in losses) and not self._no_loss:
            raise InvalidArgumentError(
                "compile: loss is required, received None; give one loss, a list or a dict "
                f"keyed by the outputs {self.output_names}"
            )
        self._output_losses = [None if e is None else losses_module.get(e) for e in losses]
        weights = self._per_output(1.0 if loss_weights is None else loss_weights, "w", 1.0)
        self._loss_weights = [float(w) for w in weights]
        if isinstance(metrics, (list, tuple)) and not any(
            isinstance(m, (list, tuple, dict)) for m in metrics
        ):
            if len(metrics) not in (0, len(self._outputs)):
                raise InvalidArgumentError(
                    f"compile: with {len(self._outputs)} outputs, metrics must be a list with "
                    f"one entry per output or a dict keyed by {self.output_names}, received "
                    f"{metrics!r}"
                )
        per_output = (
            [[] for _ in self._outputs] if not metrics else self._per_output(metrics, "metrics", [])
        )
        specs = [
            [] if m is None else ([m] if not isinstance(m, (list, tuple)) else list(m))
            for m in per_output
        ]
        for spec, out_loss in zip(specs, self._output_losses):
            for m in spec:
                metrics_module.get(m, out_loss)  # unknown names fail now
        from ..optim import optimizers as optimizers_module

        self.optimizer = optimizers_module.get(optimizer)
        self.loss = next((entry for entry in self._output_losses if entry is not None), None)
        self._output_metric_specs = specs
        self.metric_specs = []
        self._compile_spec = {"loss": losses, "metrics": per_output, "loss_weights": weights}
        self.fused = False if fused == "auto" else fused
        if fused is True:
            raise InvalidArgumentError(
                "compile: fused=True needs a Sequential-like chain; a model with several "
                "inputs or outputs trains through the graph (fused='auto')"
            )
        self.compiled = True
        self._fused_step = None

    def fit_path(self) -> tuple[str, str]:
        if self.several():
            self._require_compiled("fit_path")
            if getattr(self, "_no_loss", False):
                return "graph", "the cost is what the layers add with add_loss"
            return "graph", "the model has several inputs or outputs"
        return super().fit_path()

    # -- data with several inputs and outputs ----------------------------------------------------
    def _targets(self, y: Any, where: str, samples: int) -> StructuredData:
        """Targets as one array per output (None for an output without a loss)."""
        n = len(self._outputs)
        if isinstance(y, StructuredData):
            return y
        if y is None and all(loss is None for loss in self._output_losses):
            return StructuredData([None] * n, self.output_names, f"{where}: y", samples)
        if isinstance(y, dict):
            unknown = [k for k in y if k not in self.output_names]
            if unknown:
                raise InvalidArgumentError(
                    f"{where}: y names {unknown}, which are not outputs; the outputs are "
                    f"{self.output_names}"
                )
            items = [y.get(k) for k in self.output_names]
        elif isinstance(y, (list, tuple)) and n > 1:
            if len(y) != n:
                raise InvalidArgumentError(
                    f"{where}: the model has {n} outputs ({', '.join(self.output_names)}), y "
                    f"is a {type(y).__name__} of {len(y)}"
                )
            items = list(y)
        elif n == 1:
            items = [y]
        else:
            raise InvalidArgumentError(
                f"{where}: the model has {n} outputs; pass y as a list or a dict keyed by "
                f"{self.output_names}, received {describe(y)}"
            )
        arrays: list[np.ndarray | None] = []
        for name, item, loss in zip(self.output_names, items, self._output_losses):
            if item is None:
                if loss is not None:
                    raise InvalidArgumentError(
                        f"{where}: y has no targets for output {name!r}, which has a loss"
                    )
                arrays.append(None)
            else:
                arrays.append(as_data(item, f"y[{name!r}]", where))
        return StructuredData(arrays, self.output_names, f"{where}: y")

    def _inputs_data(self, x: Any, where: str) -> StructuredData:
        items = self._input_list(x, where)
        arrays = [as_data(v, f"x[{k!r}]", where) for k, v in zip(self.input_names, items)]
        return StructuredData(arrays, self.input_names, f"{where}: x")

    def _prepare_batch(self, xb: Any) -> Any:
        if isinstance(xb, StructuredData):
            return [self._input_tensor(i, a) for i, a in enumerate(xb.arrays)]
        return super()._prepare_batch(xb)

    def _dry_run(self, x: Any, where: str) -> Any:
        if not self.several():
            return super()._dry_run(x, where)
        try:
            with self._inference(False):
                outs = self._run(self._prepare_batch(x[:1]))
        except GlassnetError as exc:
            raise ShapeError(f"{where}: x does not fit the model: {exc}") from None
        return OutputList(o.data for o in outs)

    def _check_targets(self, x: Any, y: Any, out: Any, where: str) -> None:
        if not self.several():
            super()._check_targets(x, y, out, where)
            return
        if len(x) != len(y):
            raise ShapeError(
                f"{where}: x and y must have the same number of samples, received "
                f"{len(x)} and {len(y)}"
            )
        for name, yi, oi, loss in zip(self.output_names, y.arrays, out, self._output_losses):
            if loss is None or yi is None:
                continue
            try:
                loss.check(yi, np.empty((len(yi),) + oi.shape[1:], dtype=oi.dtype))
            except GlassnetError as exc:
                raise type(exc)(f"{where}: output {name!r}: {exc}") from None

    def _make_metrics(self, y: Any, out: Any) -> list[metrics_module.Metric]:
        if not self.several():
            return super()._make_metrics(y, out)
        made: list[metrics_module.Metric] = []
        if sum(loss is not None for loss in self._output_losses) > 1:
            for i, (name, loss) in enumerate(zip(self.output_names, self._output_losses)):
                if loss is not None:
                    made.append(_OutputLoss(i, f"{name}_loss"))
        for i, (name, specs) in enumerate(zip(self.output_names, self._output_metric_specs)):
            yi, oi = y.arrays[i], out[i]
            for spec in specs if yi is not None else ():
                width = oi.shape[-1] if oi.ndim > 1 else None
                ndim = yi.ndim if yi is not None else 1
                inner = metrics_module.get(spec, self._output_losses[i], ndim, width)
                label = f"{name}_{inner.name}" if len(self._outputs) > 1 else inner.name
                made.append(_OutputMetric(inner, i, label))
        for m in made:
            m.reset()
        return made

    def forward_loss(self, x: Any, y: Any, sample_weight: Any = None) -> tuple[Tensor, Any]:
        """C = Σ_o w_o C_o over the outputs with a loss, as one differentiable tensor, and the
        outputs (probabilities where the loss pairs with the output activation)."""
        if not self.several():
            return super().forward_loss(x, y, sample_weight)
        if sample_weight is not None:
            _no_options({"sample_weight": sample_weight}, "fit")
        heads = [
            None if loss is None else OutputHead(loss, self._output_layer(i))
            for i, loss in enumerate(self._output_losses)
        ]
        paired = frozenset(
            i for i, h in enumerate(heads) if h is not None and h.paired_kernel is not None
        )
        outs = self._run(x, paired)
        total: Tensor | None = None
        arrays = OutputList()
        arrays.losses = []
        for head, out, yi, weight in zip(heads, outs, y.arrays, self._loss_weights):
            if head is None:
                arrays.append(out.data)
                arrays.losses.append(None)
                continue
            term, a = head.tensor_loss(yi, out)
            arrays.append(a)
            arrays.losses.append(float(term.data))
            if weight != 1.0:
                term = term * weight
            total = term if total is None else total + term
        if total is None:  # compiled without a loss: the cost is what add_loss added
            added = self.losses
            if not added:
                raise InvalidArgumentError(
                    "fit: the model was compiled without a loss and its layers added none "
                    "with add_loss; pass loss= to compile"
                )
            total = added[0]
            for term in added[1:]:
                total = total + term
            return total, arrays
        return self.plus_added_losses(total), arrays

    # -- fit / evaluate / predict with several inputs and outputs --------------------------------
    @staticmethod
    def _unwrap(value: Any, names: list[str], what: str, where: str) -> Any:
        """With one input (output), a dict keyed by its name or a one-array list is the array."""
        if isinstance(value, dict):
            if list(value) != names:
                raise InvalidArgumentError(
                    f"{where}: {what} is keyed by {names}, received keys {list(value)}"
                )
            return value[names[0]]
        if isinstance(value, (list, tuple)) and len(value) == 1:
            if isinstance(value[0], (np.ndarray, Tensor)):
                return value[0]
        return value

    def _one_to_one(self, x: Any, y: Any, where: str) -> tuple[Any, Any]:
        x = self._unwrap(x, self.input_names, "x", where)
        return x, self._unwrap(y, self.output_names, "y", where)

    def prepare_data(self, x: Any, y: Any, where: str) -> tuple[Any, Any]:
        """x and y as the training loop indexes them: arrays for one input and one output,
        else ``StructuredData`` (lists or dicts of arrays, checked together)."""
        if not self.several():
            return self._one_to_one(x, y, where)
        xs = self._inputs_data(x, where)
        return xs, self._targets(y, where, len(xs))

    def fit(self, x: Any = None, y: Any = None, *args: Any, **kwargs: Any) -> Any:
        """Keras's fit; with several inputs or outputs x and y are lists or dicts of arrays."""
        if kwargs.get("validation_data") is not None:
            kwargs["validation_data"] = self._validation_arrays(
                kwargs["validation_data"], kwargs.get("validation_steps"), "fit"
            )
        if not self.several():
            x, y = self._one_to_one(x, y, "fit")
            val = kwargs.get("validation_data")
            if isinstance(val, (tuple, list)) and len(val) == 2:
                kwargs["validation_data"] = self._one_to_one(
                    val[0], val[1], "fit (validation data)"
                )
        else:
            self._require_compiled("fit")
            x = self._inputs_data(x, "fit")
            y = self._targets(y, "fit", len(x))
            val = kwargs.get("validation_data")
            if isinstance(val, (tuple, list)) and len(val) in (1, 2):
                x_val = self._inputs_data(val[0], "fit (validation data)")
                y_val = val[1] if len(val) == 2 else None
                kwargs["validation_data"] = (
                    x_val,
                    self._targets(y_val, "fit (validation data)", len(x_val)),
                )
        return super().fit(x, y, *args, **kwargs)

    def train_on_batch(self, x: Any, y: Any) -> float:
        if not self.several():
            x, y = self._one_to_one(x, y, "train_on_batch")
        else:
            self._require_compiled("train_on_batch")
            x = self._inputs_data(x, "train_on_batch")
            y = self._targets(y, "train_on_batch", len(x))
        return super().train_on_batch(x, y)

    @_numeric_environment
    def evaluate(  # type: ignore[override]  # the options go to Model.evaluate by name
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int = 32,
        verbose: int = 0,
        return_dict: bool = False,
        **kwargs: Any,
    ) -> Any:
        """Keras's evaluate: [loss, <output>_loss…, <output>_<metric>…] or a dict."""
        if not self.several():
            x, y = self._one_to_one(x, y, "evaluate")
            return super().evaluate(x, y, batch_size, verbose, return_dict, **kwargs)
        where = "evaluate"
        _no_options(kwargs, where)
        self._require_compiled(where)
        batch_size = positive_int(batch_size, "batch_size", where)
        xs = self._inputs_data(x, where)
        ys = self._targets(y, where, len(xs))
        result = self._evaluation(xs, ys, batch_size, CallbackList([], self, {}, where), where)
        if verbose:
            from .progress import format_logs

            print(format_logs(result), file=sys.stdout)
        if return_dict:
            return result
        return result["loss"] if len(result) == 1 else list(result.values())

    def _evaluation(
        self,
        x_arr: Any,
        y_arr: Any,
        batch_size: int,
        callbacks: CallbackList,
        where: str = "evaluate",
        sample_weight: np.ndarray | None = None,
    ) -> dict[str, float]:
        """evaluate's numbers (fit's validation runs this too); with several inputs or
        outputs x and y are the structured data evaluate made, and the on_test_* hooks run."""
        if not self.several():
            return super()._evaluation(x_arr, y_arr, batch_size, callbacks, where, sample_weight)
        if sample_weight is not None:
            _no_options({"sample_weight": sample_weight}, where)
        xs, ys = x_arr, y_arr
        out = self._dry_run(xs, where)
        self._check_targets(xs, ys, out, where)
        metrics = self._make_metrics(ys, out)
        total, seen = 0.0, 0
        callbacks.on_test_begin({})
        with self._inference(False):
            for start in range(0, len(xs), batch_size):
                sl = slice(start, start + batch_size)
                yb = ys[sl]
                loss, outputs = self.forward_loss(self._prepare_batch(xs[sl]), yb)
                total += float(loss.data) * len(yb)
                seen += len(yb)
                for m in metrics:
                    m.update(yb, outputs)  # type: ignore[arg-type]
        return self._evaluation_result(total / seen, metrics, callbacks)

    @_numeric_environment
    def predict(  # type: ignore[override]  # the options go to Model.predict by name
        self, x: Any, batch_size: int = 32, verbose: int = 0, **kwargs: Any
    ) -> Any:
        """Keras's predict; with several outputs, a list (or dict) of arrays, one per output."""
        if not self.several():
            x = self._unwrap(x, self.input_names, "x", "predict")
            return super().predict(x, batch_size, verbose, **kwargs)
        where = "predict"
        _no_options(kwargs, where)
        batch_size = positive_int(batch_size, "batch_size", where)
        xs = self._inputs_data(x, where)
        chunks: list[list[np.ndarray]] = [[] for _ in self._outputs]
        with self._inference(False):
            for start in range(0, len(xs), batch_size):
                outs = self._run(self._prepare_batch(xs[start : start + batch_size]))
                for chunk, o in zip(chunks, outs):
                    chunk.append(o.data)
        result = [np.concatenate(c, axis=0) for c in chunks]
        if any(r.dtype.kind == "f" and not np.isfinite(r).all() for r in result):
            self._warn_non_finite("predict", "outputs")
        keys = self.output_names if self._output_structure == "dict" else None
        return self._structured(result, self._output_structure, keys)

    # -- display -------------------------------------------------------------------------------
    def _node_label(self, t: SymbolicTensor) -> str:
        layer = t.node.layer if t.node is not None else None
        nodes = [n for n in self._nodes if n.layer is layer]
        index = next((i for i, n in enumerate(nodes) if n is t.node), 0)
        return f"{getattr(layer, 'name', '?')}[{index}][{t.index}]"

    def summary(self, print_fn: Callable[[str], Any] | None = None) -> None:
        """Print the layers with their output shapes, parameter counts and the
        layers each call reads from (Keras's "Connected to")."""
        (print_fn or print)(self._summary_text())

    def _summary_table(self) -> tuple[tuple[str, ...], list[tuple[str, ...]], list[str]]:
        """One row per call of a layer: name (type), output shapes, parameters (counted at
        a shared layer's first call), the calls it reads from; then the totals."""
        rows: list[tuple[str, ...]] = []
        for node in self._nodes:
            layer = node.layer
            shapes = ", ".join(_shape_text(t.shape) for t in node.outputs)
            count = (
                sum(p.data.size for p in layer.parameters()) if node is self._first(layer) else 0
            )
            links = ", ".join(self._node_label(t) for t in node.inputs) or "-"
            rows.append((f"{layer.name} ({type(layer).__name__})", shapes, f"{count:,}", links))
        _, _, totals = super()._summary_table()
        return ("Layer (type)", "Output Shape", "Param #", "Connected to"), rows, totals

    def _first(self, layer: Any) -> Node | None:
        return next((n for n in self._nodes if n.layer is layer), None)

    # -- configuration ---------------------------------------------------------------------------
    def _ref(self, t: SymbolicTensor) -> list[Any]:
        layer = t.node.layer  # type: ignore[union-attr]
        nodes = [n for n in self._nodes if n.layer is layer]
        index = next(i for i, n in enumerate(nodes) if n is t.node)
        return [layer.name, index, t.index]

    def get_config(self) -> dict[str, Any]:
        """The graph as JSON-friendly data: each layer once (class and config), then each call
        in order with the (layer, call, output) it reads from, and the inputs and outputs."""
        layers = [
            {"class_name": _class_name(layer), "name": layer.name, "config": layer.get_config()}
            for layer in self._layers
        ]
        nodes = [
            {
                "layer": node.layer.name,
                "inputs": [self._ref(t) for t in node.inputs],
                "structure": node.structure,
                "kwargs": dict(node.kwargs),
            }
            for node in self._nodes
            if not isinstance(node.layer, Input)
        ]
        return {
            "name": self.name,
            "layers": layers,
            "nodes": nodes,
            "input_layers": [self._ref(t) for t in self._inputs],
            "output_layers": [self._ref(t) for t in self._outputs],
            "input_structure": self._input_structure,
            "output_structure": self._output_structure,
            "input_keys": self.input_names if self._input_structure == "dict" else None,
            "output_keys": self.output_names if self._output_structure == "dict" else None,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: Any = None) -> Functional:
        """The model rebuilt from ``get_config()`` with fresh weights (Keras's name): glassnet's
        own layers, Sequential, Functional, registered classes, and ``custom_objects`` (class
        name → class) for the others."""
        from ..io.model_files import functional_from_config

        return functional_from_config(  # type: ignore[return-value]
            config, custom_objects=custom_objects, model_cls=cls
        )

    @classmethod
    def from_graph(
        cls,
        config: dict[str, Any],
        layers: dict[str, Any],
        before_call: Callable[[Any, list[SymbolicTensor]], None] | None = None,
    ) -> Functional:
        """Replay the calls recorded by ``get_config`` on ``layers`` (name → rebuilt layer):
        ``before_call(layer, inputs)`` runs before each call (the file loader checks the
        parameter sizes there, before anything is allocated)."""
        produced: dict[tuple[str, int], list[SymbolicTensor]] = {}
        counts: dict[str, int] = {}

        def lookup(ref: Any) -> SymbolicTensor:
            if not isinstance(ref, list) or len(ref) != 3:
                raise ValueError(f"a tensor reference must be [layer, call, output], got {ref!r}")
            key = (str(ref[0]), int(ref[1]))
            if key not in produced:
                raise ValueError(f"the reference {ref!r} comes before the call it names")
            return produced[key][int(ref[2])]

        for name, layer in layers.items():
            if isinstance(layer, Input):
                produced[(name, 0)] = [layer.symbolic_output()]
        for node in config["nodes"]:
            layer = layers[node["layer"]]
            inputs = [lookup(ref) for ref in node["inputs"]]
            if before_call is not None:
                before_call(layer, inputs)
            structure = node.get("structure")
            if structure not in ("single", "list", "args"):
                raise ValueError(
                    f"a call's structure must be single, list or args, got {structure!r}"
                )
            out = invoke(layer, structure, inputs, dict(node.get("kwargs") or {}))
            outs, _, _ = flatten_structure(out, "output")
            index = counts.get(layer.name, 0)
            counts[layer.name] = index + 1
            produced[(layer.name, index)] = outs
        ins = [lookup(ref) for ref in config["input_layers"]]
        outs = [lookup(ref) for ref in config["output_layers"]]

        def shaped(items: list[Any], structure: str, keys: Any) -> Any:
            if structure == "dict":
                return dict(zip(keys, items))
            return items[0] if structure == "single" else items

        return cls(
            shaped(ins, config.get("input_structure", "list"), config.get("input_keys")),
            shaped(outs, config.get("output_structure", "list"), config.get("output_keys")),
            name=config.get("name"),
        )


_SUBCLASSES: dict[type, type] = {}


def functional_subclass(cls: type) -> type:
    """``cls`` (a Model subclass called on symbolic inputs) combined with Functional: its own
    methods first, the graph's behind them (made once per class)."""
    made = _SUBCLASSES.get(cls)
    if made is None:
        made = _SUBCLASSES[cls] = type(
            cls.__name__,
            (cls, Functional),
            {"__module__": cls.__module__, "__qualname__": cls.__qualname__},
        )
    return made


def _no_options(options: dict[str, Any], where: str) -> None:
    """Options a several-input/output model does not take yet are refused, never dropped."""
    if options:
        raise InvalidArgumentError(
            f"{where}: {', '.join(sorted(options))} is not supported yet for a model with "
            f"several inputs or outputs"
        )


def _shape_text(shape: Sequence[Any]) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def _class_name(layer: Any) -> str:
    cls = type(layer)
    if LAYER_CLASSES.get(cls.__name__) is cls:
        return cls.__name__
    if cls is Sequential:
        return "Sequential"
    if cls is Functional:
        return "Functional"
    # An unregistered class is named as Keras names it: from_config then needs it in
    # custom_objects, and save refuses it (load_model could not rebuild it).
    return registry.registered_name(cls) or cls.__name__


registry.provide("Functional", Functional)
