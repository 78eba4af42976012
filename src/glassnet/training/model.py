"""``Model`` and ``Sequential``: Keras's compile / fit / evaluate / predict on glassnet Modules.

One training step is the seeds' mini-batch gradient descent (seed 003 §9.4): take b samples,
forward-propagate, compute the cost C = 1/b Σ_x C_x, backpropagate to get ∂C/∂w for every
weight, and let the optimiser update w := w − α ∂C/∂w (or Adam's variant of it).
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import IO, Any, TypeVar

import numpy as np

from .. import _rng
from .._fpenv import flush_denormals
from .._threads import blas_threads, executor, inference_workers
from ..autograd.tensor import Tensor, is_grad_enabled, no_grad
from ..errors import (
    GlassnetError,
    InvalidArgumentError,
    ShapeError,
    describe,
)
from ..i18n import N_, t
from ..io import registry
from ..nn import losses as losses_module
from ..nn.layers import Input, Layer, forcing_inference, inference_mode, recording
from ..nn.module import Module, Parameter
from ..nn.symbolic import SymbolicTensor, as_symbolic, call_symbolic, is_symbolic
from . import metrics as metrics_module
from .callbacks import Callback, CallbackList, History
from .epochs import (
    BatchStream,
    EpochIterator,
    as_data,
    class_weights_for,
    collect_batches,
    is_batch_source,
    positive_int,
    sample_weights_for,
    split_validation,
)
from .fused import (
    FusedStep,
    fast_path_problem,
    forward_arrays,
    inference_problem,
    inference_rows,
    kernel_chain,
    record_taps,
    structure_key,
    tap_weights,
)
from .head import OutputHead
from .loop import FitLoop, default_doctor
from .progress import Progress
from .step import StepResult
from .telemetry import Telemetry

__all__ = ["Model", "Sequential", "StepResult"]

# What _warn_non_finite names (its messages are translated; see glassnet.i18n).
_NON_FINITE = {"loss or metrics": N_("loss or metrics"), "outputs": N_("outputs")}


def _check_fit_options(verbose: Any, checkpoint_every: Any, where: str) -> None:
    if verbose not in (0, 1, 2) or isinstance(verbose, bool):
        raise InvalidArgumentError(
            f"{where}: verbose must be 0, 1 or 2, received verbose={verbose!r}"
        )
    if checkpoint_every != "epoch" and (
        isinstance(checkpoint_every, bool)
        or not isinstance(checkpoint_every, (int, np.integer))
        or checkpoint_every < 1
    ):
        raise InvalidArgumentError(
            f"{where}: checkpoint_every must be 'epoch' or a number of "
            f"steps ≥ 1, received checkpoint_every={checkpoint_every!r}"
        )


def _callback_list(
    model: Any,
    callbacks: list[Callback],
    doctors: list[Callback],
    history: History,
    params: dict[str, Any],
) -> CallbackList:
    """History after the user's callbacks (it records what they add to logs, as in Keras);
    the readers of History — doctors, automatic or passed in — after it."""
    readers = [cb for cb in callbacks if getattr(cb, "reads_history", False)] + doctors
    writers = [cb for cb in callbacks if not getattr(cb, "reads_history", False)]
    return CallbackList([*writers, history, *readers], model, params)


_CALLS = threading.local()


class outermost_call:  # noqa: N801 - a context manager
    """Marks a model or Keras-style layer call on this thread. The outermost call clears the
    losses that ``add_loss`` recorded in the previous forward pass (Keras's rule), so
    ``model.losses`` holds those of the latest pass only."""

    def __init__(self, module: Module) -> None:
        self.module = module

    def __enter__(self) -> None:
        depth = getattr(_CALLS, "depth", 0)
        if depth == 0:
            self.module.clear_losses()
        _CALLS.depth = depth + 1

    def __exit__(self, *exc: Any) -> None:
        _CALLS.depth -= 1


def collect_losses(model: Module) -> list[Tensor]:
    """Every scalar loss tensor the modules of ``model`` contribute beyond the compiled loss:
    what ``add_loss`` recorded in the last forward pass and the weight penalties of
    regularizers (a module offers them through ``layer_losses()``)."""
    found: list[Tensor] = []
    for m in model.modules():
        own = getattr(m, "layer_losses", None)
        if callable(own):
            found.extend(own())
        else:
            found.extend(vars(m).get("_added_losses", []))
    return found


_F = TypeVar("_F", bound=Callable[..., Any])
# Held while a model whose own forward may read `training` is switched to eval mode.
_MODE_LOCK = threading.RLock()


def _numeric_environment(method: _F) -> _F:
    """Run the method with glassnet's BLAS thread setting and flush-to-zero (see _threads,
    _fpenv); both are restored afterwards."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with blas_threads(), flush_denormals():
            return method(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _overflow_reported_once(method: _F) -> _F:
    """Run predict/evaluate with NumPy's floating-point warnings off: a NaN or inf result gets
    one warning of glassnet's that says where it came from (``_warn_non_finite``), not that one
    and NumPy's "overflow encountered in matmul" besides."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return method(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


class _InferenceFacts:
    """A model's structure as inference sees it, for one set of layers (a Sequential's).

    ``arrays``: the layers when their kernels run predict on arrays (``inference_problem`` is
    None), else None. ``first_parameter``: the parameter whose dtype is the model's (its array is
    read at each use, so ``model.to(dtype)`` needs nothing new). Both depend only on the model's
    and the layers' classes and on the layers being built, so the model keeps them with the
    layers they were made for and compares those with its current ones at every call (add,
    pop, a new list make new facts); the kernels read the weights at every call, so new
    weights, shapes or dtypes need no new facts. A model that is not a Sequential keeps none.
    """

    __slots__ = ("layers", "arrays", "first_parameter")

    def __init__(self, model: Model, layers: tuple[Layer, ...]) -> None:
        self.layers = layers
        # The kernels run in the chain's order (a functional chain's, not its layer list's).
        chain = kernel_chain(model) if inference_problem(model) is None else None
        self.arrays = tuple(chain) if chain is not None else None
        params = model.parameters() if layers else []
        self.first_parameter = params[0] if params else None


class Model(Module):
    """A Module that can be compiled and fitted the Keras way.

    Subclass it and write ``forward`` (and create layers in ``__init__``), or use Sequential.
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        # keras.Model(inputs, outputs) builds a functional model, as in Keras; so does a
        # subclass called on symbolic inputs (it keeps its own methods, e.g. train_step).
        inputs = args[0] if args else kwargs.get("inputs")
        if inputs is not None and not isinstance(inputs, str) and is_symbolic(inputs):
            from .functional import Functional, functional_subclass

            if cls is Model:
                return super().__new__(Functional)
            if not issubclass(cls, (Functional, Sequential)):
                return super().__new__(functional_subclass(cls))
        return super().__new__(cls)

    def __init__(self, name: str | None = None) -> None:
        super().__init__()
        self.name = name or type(self).__name__.lower()
        self.optimizer: Any = None
        self.loss: losses_module.Loss | None = None
        self.metric_specs: list[Any] = []
        self.compiled = False
        self.stop_training = False
        self._stop_reason: str | None = None
        self.history: History | None = None

    def __setattr__(self, name: str, value: Any) -> None:
        # A layer given to a subclassed model (self.hidden = Dense(64)) takes a name no other
        # layer of this model has, as Sequential.add does: dense, dense_1, ... (Keras's names),
        # so telemetry, the doctor and the report can tell the layers apart.
        new = _layers_in(value)
        if new and not name.startswith("_"):
            taken = {
                other.name
                for key, held in vars(self).items()
                if key != name and not key.startswith("_")
                for other in _layers_in(held)
                if all(other is not layer for layer in new)
            }
            for layer in new:
                if layer.name in taken:
                    layer.name = _unique_name(layer.name, taken)
                taken.add(layer.name)
        object.__setattr__(self, name, value)

    # -- losses beyond the compiled one (Keras's add_loss and regularizers) ----------------------
    def _extra_loss_value(self) -> float:
        return float(sum(float(np.asarray(getattr(t, "data", t))) for t in self.losses))

    # -- structure hooks (Sequential overrides) ---------------------------------------------------
    def output_layer(self) -> Layer | None:
        """The layer whose output is the model's (the loss may pair with its activation)."""
        return None

    def forward_logits(self, x: Tensor) -> Tensor:
        """Forward pass up to (not including) the output activation."""
        raise NotImplementedError

    @property
    def dtype(self) -> np.dtype:
        """The float dtype of the model's parameters (float32 unless converted)."""
        params = self.parameters()
        return params[0].data.dtype if params else np.dtype(np.float32)

    # -- compile -------------------------------------------------------------------------------
    def compile(
        self,
        optimizer: Any = "rmsprop",
        loss: Any = None,
        metrics: Sequence[Any] | None = None,
        fused: bool | str = "auto",
    ) -> None:
        """Choose the optimiser, the loss and the metrics (Keras strings or objects).

        ``fused`` (glassnet's counterpart of Keras's ``jit_compile``): "auto" trains a
        Sequential of standard layers with the fused step (same math, no graph per step),
        False always goes through the autograd graph, True requires the fused step.
        """
        from ..optim import optimizers as optimizers_module

        if fused not in ("auto", True, False):
            raise InvalidArgumentError(
                f"compile: fused must be 'auto', True or False, received fused={fused!r}"
            )

        if loss is None:  # Keras's rule: the model's own losses (add_loss) are the cost
            loss = losses_module.NoLoss()
        self.optimizer = optimizers_module.get(optimizer)
        self.loss = losses_module.get(loss)
        if metrics is None:
            metrics = []
        if isinstance(metrics, (str, metrics_module.Metric)):
            metrics = [metrics]
        if not isinstance(metrics, (list, tuple)):
            raise InvalidArgumentError(
                f"compile: metrics must be a list such as ['accuracy'], received {metrics!r}"
            )
        for m in metrics:  # fail on unknown names now, not in the middle of fit
            metrics_module.get(m, self.loss)
        self.metric_specs = list(metrics)
        self.fused = fused
        self.compiled = True
        self._fused_step: Any = None
        if fused is True:
            path, reason = self.fit_path()
            if path != "fast":
                raise InvalidArgumentError(
                    f"compile: fused=True needs a model the fast step runs exactly, but {reason}; "
                    f"use fused='auto' (the graph then) or False"
                )

    def fit_path(self) -> tuple[str, str]:
        """Which path ``fit`` takes for this model as compiled, and why: ("fast", …) — a loop
        over the layers' kernels — or ("graph", …) — the autograd graph, or the model's own
        ``train_step``. Both compute the same numbers; the graph honours anything."""
        self._require_compiled("fit_path")
        assert self.loss is not None
        if getattr(self, "fused", "auto") is False:
            return "graph", "compile(fused=False) asked for the graph"
        problem = fast_path_problem(self) or self.loss.array_form_problem()
        if problem is not None:
            return "graph", problem
        return "fast", "every layer and the loss run their own kernels"

    def _require_compiled(self, where: str) -> None:
        if not self.compiled or self.loss is None:
            raise InvalidArgumentError(
                f"{where}: the model is not compiled; call model.compile(optimizer=..., "
                f"loss=..., metrics=[...]) first"
            )

    def _make_metrics(self, y: np.ndarray, out: np.ndarray) -> list[metrics_module.Metric]:
        """Fresh metrics for targets y and outputs like ``out`` (the dry run's)."""
        out_width = out.shape[-1] if out.ndim > 1 else None
        made = [metrics_module.get(m, self.loss, y.ndim, out_width) for m in self.metric_specs]
        # Fresh objects: compile may have received instances that are shared across calls.
        for m in made:
            m.reset()
        return made

    # -- data preparation ----------------------------------------------------------------------
    def _prepare_batch(self, xb: np.ndarray) -> Tensor:
        """A batch as a tensor: floats in the model's dtype; integers (uint8 pixels) as they
        are, for the first layer to convert (Rescaling does it in the same pass as scaling)."""
        if xb.dtype.kind in "iub":
            return Tensor(xb)
        first = self._inference_facts().first_parameter
        dt = first.data.dtype if first is not None else self.dtype
        if xb.dtype != dt:
            xb = xb.astype(dt)
        return Tensor(xb, dtype=dt)

    def _dry_run(self, x: np.ndarray, where: str) -> np.ndarray:
        """Forward one sample (inference, no grad) to build lazy layers and check the shape."""
        try:
            with self._inference():
                out = self(self._prepare_batch(x[:1]))
        except GlassnetError as exc:
            raise ShapeError(
                f"{where}: x of shape {x.shape} does not fit the model: {exc}"
            ) from None
        data = out.data if isinstance(out, Tensor) else np.asarray(out)
        return data

    @contextlib.contextmanager
    def _inference(self, arrays: bool | None = None) -> Iterator[None]:
        """Inference mode without touching the model where its layers allow it (their kernels
        read a per-thread flag), so that one model serves many threads; a model with its own
        ``forward`` may read ``training`` itself, and is switched to eval mode under a lock.
        ``arrays``: whether the layers run their kernels (``inference_problem`` is None), when
        the caller already knows."""
        if arrays is None:
            arrays = self._inference_layers() is not None
        if arrays:
            with no_grad(), forcing_inference():
                yield
            return
        with _MODE_LOCK:
            was_training = self.training
            self.eval()
            try:
                with no_grad(), forcing_inference():
                    yield
            finally:
                self.train(was_training)

    def _check_targets(self, x: np.ndarray, y: np.ndarray, out: np.ndarray, where: str) -> None:
        if len(x) != len(y):
            raise ShapeError(
                f"{where}: x and y must have the same number of samples, received "
                f"{len(x)} and {len(y)}"
            )
        assert self.loss is not None
        shape = (len(y),) + out.shape[1:]
        try:
            self.loss.check(y, np.empty(shape, dtype=out.dtype))
        except GlassnetError as exc:
            raise type(exc)(f"{where}: {exc}") from None

    # -- the training step ---------------------------------------------------------------------
    def _head(self) -> OutputHead:
        assert self.loss is not None
        return OutputHead(self.loss, self.output_layer())

    def forward_loss(
        self, x: Tensor, y: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> tuple[Tensor, np.ndarray]:
        """The batch cost as a differentiable tensor, and the outputs a^L as an array.

        With a softmax (sigmoid) output and the matching cross-entropy, the cost is computed
        from the logits by the fused, stable op, whose gradient is δ^L = a^L − y.
        ``sample_weight``: C = 1/N Σ_x w_x C_x (Keras's weighted cost).
        """
        head = self._head()
        with outermost_call(self):
            out = self.forward_logits(x) if head.paired_kernel is not None else self(x)
        if sample_weight is None:
            loss, outputs = head.tensor_loss(y, out)
        else:
            assert self.loss is not None
            loss = self.loss.weighted_tensor(y, out, head.logits, sample_weight)
            kernel = head.paired_kernel
            outputs = kernel.value(out.data) if kernel is not None else out.data
        extra = self.losses
        if not extra and isinstance(self.loss, losses_module.NoLoss):
            raise InvalidArgumentError(
                f"fit: {self.name} was compiled without a loss and its forward pass added "
                f"none (add_loss); give compile a loss, e.g. loss='mse'"
            )
        return self.plus_added_losses(loss), outputs

    def plus_added_losses(self, loss: Tensor) -> Tensor:
        """The cost with the terms the forward pass added (``add_loss``) and the weight
        penalties of regularizers."""
        for term in self.losses:
            loss = loss + term
        return loss

    def train_step(
        self,
        xb: np.ndarray,
        yb: np.ndarray,
        record: Any = None,
        sample_weight: np.ndarray | None = None,
    ) -> StepResult:
        """One step of mini-batch gradient descent through the autograd graph.

        Needs only ``compile``: the optimiser is bound to the trainable parameters on the
        first step if fit has not done it.

        The loss is checked before the update: a NaN/inf loss leaves the weights untouched.
        With ``record`` (a Telemetry), every layer's telemetry tap (z, a, δ, W, ∂C/∂W of a
        Dense layer) is logged.
        """
        trainable = self._trainable_parameters()
        if self.optimizer is None or (trainable and not self.optimizer.params):
            # compile() cannot bind the parameters of a model built later; the first step does.
            self._require_compiled("train_step")
            self._bind_optimizer()
        x = self._prepare_batch(xb)
        tape: list[Any] = []
        extra = {} if sample_weight is None else {"sample_weight": sample_weight}
        if record is None:
            loss, outputs = self.forward_loss(x, yb, **extra)
        else:
            with recording() as tape:
                loss, outputs = self.forward_loss(x, yb, **extra)
        value = float(loss.data)
        if not math.isfinite(value) or not trainable:  # nothing to update: Keras's way too
            return StepResult(value, outputs)
        assert self.optimizer is not None
        self.optimizer.zero_grad()
        loss.backward()
        if record is not None:
            names = {id(m): name for m, name in _telemetry_names(self).items()}
            record_taps(record, tape, len(xb), self.optimizer, names)
        self.optimizer.step()
        if record is not None:
            record.finish_sample(tap_weights([layer for layer, _ in tape], names))
        return StepResult(value, outputs)

    def _step_function(self) -> Callable[..., StepResult]:
        """The step fit uses: the fast step when allowed and exact, else train_step (which
        also computes the loss of a model with nothing to train)."""
        if self.fit_path()[0] != "fast" or not self._trainable_parameters():
            return self.train_step
        step = self._fused_step
        if (
            step is None
            or step.loss is not self.loss
            or step.optimizer is not self.optimizer
            or step.key != structure_key(self)
        ):
            step = self._fused_step = FusedStep(self, self.loss, self.optimizer)
        return step  # type: ignore[no-any-return]

    def _trainable_parameters(self) -> list[Parameter]:
        return [p for p in self.parameters() if p.requires_grad]

    def _bind_optimizer(self) -> None:
        """Bind the trainable parameters: a frozen one (``requires_grad=False``, or a layer's
        ``trainable=False``) is not updated at all, as in Keras and PyTorch."""
        trainable = self._trainable_parameters()
        if not trainable:
            # Keras trains such a model anyway (its cost may come from add_loss): it warns.
            warnings.warn(
                f"fit: {self.name} has no trainable parameters (it has none, or every layer "
                f"is frozen): the loss is computed but no weight changes; set "
                f"layer.trainable = True on the layers to train",
                RuntimeWarning,
                stacklevel=4,
            )
            return
        bound = self.optimizer.params
        same = len(bound) == len(trainable) and all(a is b for a, b in zip(bound, trainable))
        if bound and not same:
            self.optimizer.rebind(trainable)
        else:
            self.optimizer.bind(trainable)

    # -- fit -----------------------------------------------------------------------------------
    @_numeric_environment
    def fit(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int = 32,
        epochs: int = 1,
        verbose: int = 1,
        callbacks: Sequence[Callback] | None = None,
        validation_split: float = 0.0,
        validation_data: tuple[Any, Any] | None = None,
        shuffle: bool = True,
        initial_epoch: int = 0,
        stream: IO[str] | None = None,
        telemetry: bool | int = True,
        doctor: Any = True,
        checkpoint: str | os.PathLike[str] | None = None,
        checkpoint_every: str | int = "epoch",
        resume: str | os.PathLike[str] | None = None,
        distributed: bool = False,
        steps_per_epoch: int | None = None,
        sample_weight: Any = None,
        class_weight: dict[Any, float] | None = None,
        validation_steps: int | None = None,
    ) -> History:
        """Train for ``epochs`` passes over (x, y) in mini-batches; returns the History.

        x: (N, ...) array (uint8 images are converted per batch); y: (N,) integer labels or
        (N, K) targets. ``validation_split`` holds out the last fraction of the data (before
        shuffling, as Keras does); ``validation_data=(x_val, y_val)`` gives it explicitly.
        ``telemetry``: per-layer statistics every 20 steps (True), every N steps (an int), or
        none (False); they land on ``history.telemetry``.
        ``doctor``: the training doctor (glassnet.diagnostics.Doctor) watches the run and
        reports problems with a suggested fix — True adds one (silent at verbose 0), False none,
        or pass your own Doctor(...); findings land on ``history.findings`` either way.
        ``checkpoint="run.ckpt"`` writes the whole training state (weights, optimiser state and
        schedule position, epoch, step, random-number state, history, callback states) after
        every epoch, or every N steps with ``checkpoint_every=N``, atomically;
        ``resume="run.ckpt"`` continues from such a file exactly where it left off — a seeded
        run resumed this way equals the uninterrupted run bit for bit. ``epochs`` counts from
        the start of the original run.
        ``distributed=True``: data-parallel training over the processes of an MPI launch
        (``mpirun -n 4 python train.py``; training/distributed.py): each takes its shard of
        every global batch of ``batch_size`` and the gradients are averaged; rank 0 alone
        prints and writes the checkpoint. With one process it is a plain fit.
        ``x`` may also be a ``keras.utils.PyDataset`` or a generator of (x, y[, sample_weight])
        batches (then y is None; a generator needs ``steps_per_epoch``).
        ``steps_per_epoch``: batches per epoch, taken from a stream of passes over the data.
        ``validation_data`` may be a PyDataset or a generator too (a generator needs
        ``validation_steps``): its batches are read once, before the first epoch.
        ``sample_weight`` (one weight per sample) and ``class_weight`` ({class: weight})
        weight each sample's cost: C = 1/N Σ_x w_x C_x, trained through the graph.
        """
        where = "fit"
        self._require_compiled(where)
        batch_size = positive_int(batch_size, "batch_size", where)
        epochs = positive_int(epochs, "epochs", where, allow_zero=True)
        initial_epoch = positive_int(initial_epoch, "initial_epoch", where, allow_zero=True)
        _check_fit_options(verbose, checkpoint_every, where)
        if steps_per_epoch is not None:
            steps_per_epoch = positive_int(steps_per_epoch, "steps_per_epoch", where)
            if checkpoint is not None or resume is not None:
                raise InvalidArgumentError(
                    f"{where}: checkpoint/resume cannot be combined with steps_per_epoch"
                )
        validation_data = self._validation_arrays(validation_data, validation_steps, where)
        iterator: Any
        if is_batch_source(x):
            data, iterator = self._stream_data(x, y, steps_per_epoch, validation_data, where)
            if validation_split or checkpoint is not None or resume is not None:
                raise InvalidArgumentError(
                    f"{where}: validation_split, checkpoint and resume need array data; with a "
                    f"PyDataset or a generator give validation_data=(x_val, y_val)"
                )
        else:
            data = split_validation(x, y, validation_split, validation_data, where)
            iterator = EpochIterator(len(data[0]), batch_size, bool(shuffle), steps_per_epoch)
        x_arr, y_arr, x_val, y_val = data
        out = self._dry_run(x_arr, where)
        self._check_targets(x_arr, y_arr, out, where)
        if x_val is not None and y_val is not None:
            self._check_targets(x_val, y_val, out, f"{where} (validation data)")
        self._bind_optimizer()
        group = self._join_distributed(distributed, x_arr, batch_size, epochs, where)
        shown = verbose  # what this process prints: ranks other than 0 print nothing
        if group is not None and not group.is_main:
            checkpoint, shown = None, 0
        recorder = self._telemetry(telemetry, where)
        history = History()
        history.telemetry = recorder
        self.history = history
        user_callbacks = list(callbacks or [])
        doctors = self._doctor_callbacks(doctor, verbose, user_callbacks, where)
        params = {
            "epochs": epochs,
            "steps": iterator.steps,
            "verbose": shown,
            "batch_size": batch_size,
            "samples": iterator.samples,
            "stream": stream,
        }
        step_fn = self._step_function()
        if group is not None:
            step_fn = group.wrap(self, step_fn)
        loop = FitLoop(
            self,
            data,
            iterator,
            step_fn,
            _callback_list(self, user_callbacks, doctors, history, params),
            user_callbacks + doctors,
            # Under MPI, rank 0's terminal is the launcher's pseudo-terminal, with no width
            # for a bar: one line per epoch.
            Progress(epochs, iterator.steps, shown, stream, bar=False if group else None),
            recorder,
            self._make_metrics(y_arr, out),
            checkpoint,
            checkpoint_every,
        )
        if sample_weight is not None:
            if isinstance(iterator, BatchStream):
                raise InvalidArgumentError(
                    f"{where}: with a PyDataset or a generator, give the sample weights as the "
                    f"third element of each batch"
                )
            n_all = len(x_arr) + (len(x_val) if validation_split and x_val is not None else 0)
            loop.sample_weight = sample_weights_for(sample_weight, n_all, where)[: len(x_arr)]
        if class_weight is not None:
            class_weights_for(y_arr, class_weight, where)  # every class has a weight
            loop.class_weight = class_weight
        self.stop_training = False
        self._stop_reason = None
        resumed = None
        first_epoch = initial_epoch
        if resume is not None:
            stateful = user_callbacks + doctors
            resumed = self._load_fit_checkpoint(resume, iterator.config(), where, stateful)
            history.set_state(resumed["history"])
            first_epoch = int(resumed["epoch"])
            loop.global_step = int(resumed["global_step"])
        if group is None:
            return loop.run(first_epoch, epochs, resumed)
        try:
            return loop.run(first_epoch, epochs, resumed)
        except Exception as exc:  # the other ranks would wait for this one: stop them all
            group.abort(exc)
            raise
        finally:
            step_fn.release()  # type: ignore[attr-defined]
            group.close()
            history.distributed = group.summary()

    @staticmethod
    def _validation_arrays(validation_data: Any, steps: int | None, where: str) -> Any:
        """``validation_data`` given as a PyDataset or a generator, read into (x_val, y_val)
        arrays; any other value is returned as it is."""
        if steps is not None:
            steps = positive_int(steps, "validation_steps", where)
        if not is_batch_source(validation_data):
            return validation_data
        x_val, y_val = collect_batches(
            validation_data, steps, where, "validation_data", "validation_steps"
        )
        if y_val is None:
            raise InvalidArgumentError(
                f"{where}: the batches of validation_data must be tuples (x, y) with targets, "
                f"received batches without y"
            )
        return x_val, y_val

    def _join_distributed(
        self, distributed: Any, x: np.ndarray, batch_size: int, epochs: int, where: str
    ) -> Any:
        """The ranks of a data-parallel fit (training/distributed.py), or None."""
        if not isinstance(distributed, bool):
            raise InvalidArgumentError(
                f"{where}: distributed must be True or False, received distributed={distributed!r}"
            )
        if not distributed:
            return None
        from . import distributed as dist

        what = {
            "samples": len(x),
            "sample shape": x.shape[1:],
            "batch_size": batch_size,
            "epochs": epochs,
            "parameters": self.count_params(),
            "dtype": str(self.dtype),
        }
        return dist.join(self, what, where)

    def _stream_data(
        self, x: Any, y: Any, steps_per_epoch: int | None, validation_data: Any, where: str
    ) -> tuple[tuple[Any, ...], BatchStream]:
        """fit's data from a PyDataset or a generator: the first batch stands for x and y in
        the checks; validation data, if any, are arrays."""
        if y is not None:
            raise InvalidArgumentError(
                f"{where}: y must be None when x is a PyDataset or a generator (its batches "
                f"hold the targets), received {describe(y)}"
            )
        stream = BatchStream(x, steps_per_epoch, where)
        if stream.steps is None:
            raise InvalidArgumentError(
                f"{where}: a generator as x needs steps_per_epoch (how many batches make an "
                f"epoch), received steps_per_epoch=None"
            )
        xb, yb, _ = stream.first()
        x_val = y_val = None
        if validation_data is not None:
            _, _, x_val, y_val = split_validation(xb, yb, 0.0, validation_data, where)
        return (xb, yb, x_val, y_val), stream

    @_numeric_environment
    def train_on_batch(self, x: Any, y: Any) -> float:
        """One training step on one batch (Keras's name); returns the batch loss before the
        update. The step is the one fit takes (``fit_path``); the model must be compiled."""
        where = "train_on_batch"
        self._require_compiled(where)
        x_arr, y_arr = as_data(x, "x", where), as_data(y, "y", where)
        out = self._dry_run(x_arr, where)
        self._check_targets(x_arr, y_arr, out, where)
        self._bind_optimizer()
        return float(self._step_function()(x_arr, y_arr).loss)

    def _telemetry(self, telemetry: bool | int, where: str) -> Telemetry | None:
        """fit's recorder: every 20 steps (True), every N steps, or none (False)."""
        if isinstance(telemetry, bool):
            recorder = Telemetry() if telemetry else None
        else:
            recorder = Telemetry(every=positive_int(telemetry, "telemetry", where))
        if recorder is not None:
            recorder.declare_layers(
                [  # by the names the steps record them under
                    name
                    for m, name in _telemetry_names(self).items()
                    if isinstance(m, Layer) and type(m).telemetry_tap is not Layer.telemetry_tap
                ]
            )
        return recorder

    @staticmethod
    def _doctor_callbacks(
        doctor: Any, verbose: int, callbacks: list[Callback], where: str
    ) -> list[Callback]:
        """The doctor fit adds: one at verbose ≥ 1 unless told otherwise or already given.

        A doctor is a callback that reads the History (``reads_history``); the default one is
        registered by glassnet.diagnostics (training does not import it).
        """
        if doctor is False or doctor is None:
            return []
        if isinstance(doctor, Callback) and getattr(doctor, "reads_history", False):
            return [] if any(cb is doctor for cb in callbacks) else [doctor]
        if doctor is not True:
            raise InvalidArgumentError(
                f"{where}: doctor must be True, False or a Doctor, received doctor={doctor!r}"
            )
        # At verbose 0 the doctor still watches (its findings land on history.findings); it
        # only keeps quiet.
        if any(getattr(cb, "reads_history", False) for cb in callbacks):
            return []
        made = default_doctor()
        return [made] if made is not None else []

    # -- checkpoints ---------------------------------------------------------------------------
    def _load_fit_checkpoint(
        self,
        path: str | os.PathLike[str],
        config: dict[str, Any],
        where: str,
        callbacks: list[Callback] | None = None,
    ) -> dict[str, Any]:
        from ..io.checkpoint import load_checkpoint, validate_fit_checkpoint

        state = load_checkpoint(path)
        # Every key, type, shape and dtype, against this model, optimiser and callbacks, before
        # anything is restored: a bad checkpoint leaves weights, optimiser and generator as
        # they were.
        validate_fit_checkpoint(
            state, self, self.optimizer, config, path, callbacks=callbacks, where=where
        )
        self.load_state_dict(state["weights"])
        self._bind_optimizer()
        self.optimizer.load_state_dict(state["optimizer"])
        _rng.set_state(state["rng"])
        return state

    # -- weights -------------------------------------------------------------------------------
    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True) -> None:
        """Copy arrays into the parameters (see ``Module.load_state_dict``). A layer created
        lazily (its weights made on the first call) is built first from the shapes in
        ``state``, as PyTorch's lazy modules are, so a fresh model can be loaded directly."""
        if isinstance(state, Mapping):
            self._build_from_state(state)
        super().load_state_dict(state, strict=strict)

    def _build_from_state(self, state: Mapping[str, Any]) -> None:
        for prefix, module in list(self.named_modules()):
            if not prefix or not isinstance(module, Layer) or module.built:
                continue
            mine = {
                key[len(prefix) + 1 :]: tuple(np.shape(value))
                for key, value in state.items()
                if key.startswith(prefix + ".") and "." not in key[len(prefix) + 1 :]
            }
            if not mine:
                continue
            shape = _input_shape_for(module, mine)
            if shape is None:
                raise ShapeError(
                    f"load_state_dict: layer {prefix!r} ({type(module).__name__}) is not built "
                    f"yet and its input shape cannot be told from {mine}; call the model on one "
                    f"batch first (model(x[:1])), then load"
                )
            module.build(shape)

    # -- saving ----------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str], include_optimizer: bool = True) -> None:
        """Save architecture, weights and training config in one safetensors file (atomic).

        ``glassnet.load_model(path)`` rebuilds the model; see docs/saving.md for the format.
        """
        from ..io.model_files import save_model

        save_model(self, path, include_optimizer=include_optimizer)

    def save_weights(self, path: str | os.PathLike[str]) -> None:
        """Save only the weights (a safetensors file keyed by parameter name)."""
        from ..io.model_files import save_weights

        save_weights(self, path)

    def load_weights(self, path: str | os.PathLike[str], strict: bool = True) -> None:
        """Load weights saved by save_weights/save; every mismatch is named before any change."""
        from ..io.model_files import load_weights

        load_weights(self, path, strict=strict)

    def export(self, path: str | os.PathLike[str]) -> None:
        """Write the model for deployment as an ONNX file (atomic): input ``input`` of shape
        (batch, *input_shape), output ``output``; see docs/ecosystem.md for the operators."""
        from ..io.onnx_export import export_onnx

        export_onnx(self, path)

    # -- evaluate / predict ----------------------------------------------------------------------
    def _batch_outputs(self, xb: np.ndarray, arrays: bool, logits: bool = False) -> np.ndarray:
        """The model's output for one batch, inside ``_inference()``: the layers' kernels on
        arrays (``arrays``: a Sequential of kernel layers, decided once per call), else the
        model's own forward."""
        if arrays:
            return forward_arrays(kernel_chain(self) or [], xb, logits=logits)
        x = self._prepare_batch(xb)
        out = self.forward_logits(x) if logits else self(x)
        return out.data if isinstance(out, Tensor) else np.asarray(out)

    @_numeric_environment
    @_overflow_reported_once
    def evaluate(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int = 32,
        verbose: int = 0,
        return_dict: bool = False,
        callbacks: Sequence[Callback] | None = None,
        steps: int | None = None,
        sample_weight: Any = None,
    ) -> Any:
        """Loss and metrics on (x, y) in inference mode (the model itself is not changed).

        Returns the loss alone when there are no metrics, else [loss, *metrics], or a dict
        {"loss": ..., "accuracy": ...} with ``return_dict=True``. ``callbacks`` receive
        ``on_test_begin``/``on_test_batch_*``/``on_test_end`` (Keras's hooks).
        """
        where = "evaluate"
        self._require_compiled(where)
        batch_size = positive_int(batch_size, "batch_size", where)
        if is_batch_source(x):  # a PyDataset or a generator of (x, y) batches
            x_arr, y_got = collect_batches(x, steps, where)
            y_arr = as_data(y_got, "y", where)
        else:
            x_arr = as_data(x, "x", where)
            y_arr = as_data(y, "y", where)
        params = {"verbose": verbose, "steps": -(-len(x_arr) // batch_size)}
        hooks = CallbackList(list(callbacks or []), self, params, where)
        weights = None
        if sample_weight is not None:
            weights = sample_weights_for(sample_weight, len(x_arr), where)
        result = self._evaluation(x_arr, y_arr, batch_size, hooks, where, weights)
        if verbose:
            from .progress import format_logs

            print(format_logs(result), file=sys.stdout)
        if return_dict:
            return result
        if len(result) == 1:
            return result["loss"]
        return list(result.values())

    def _inference_facts(self) -> _InferenceFacts:
        """What predict, evaluate and ``model(x)`` need to know about the model's structure,
        worked out once per set of layers, not per call (see ``_InferenceFacts``)."""
        layers = tuple(getattr(self, "_layers", ()))
        facts: _InferenceFacts | None = self.__dict__.get("_inference_cache")
        if facts is not None and facts.layers == layers:
            return facts
        facts = _InferenceFacts(self, layers)
        # An unbuilt layer builds later; a nested model has no ``built`` of its own.
        if layers and all(getattr(layer, "built", True) for layer in layers):
            self._inference_cache = facts
        return facts

    def _inference_layers(self) -> tuple[Layer, ...] | None:
        """The layers whose kernels predict, evaluate and ``model(x)`` run on arrays, or None
        when the model's own forward must run (``inference_problem`` says why)."""
        return self._inference_facts().arrays

    def _evaluation(
        self,
        x_arr: np.ndarray,
        y_arr: np.ndarray,
        batch_size: int,
        callbacks: CallbackList,
        where: str = "evaluate",
        sample_weight: np.ndarray | None = None,
    ) -> dict[str, float]:
        """{"loss": …, metric: …} over (x, y) in inference mode, calling the ``on_test_*``
        hooks (evaluate and fit's validation both run this); ``sample_weight`` weights the
        loss as in fit (the metrics are not weighted, as Keras's ``metrics``)."""
        out = self._dry_run(x_arr, where)
        self._check_targets(x_arr, y_arr, out, where)
        metrics = self._make_metrics(y_arr, out)
        head = self._head()
        total, seen = 0.0, 0
        arrays = self._inference_layers() is not None
        watched = bool(callbacks.test_batch_callbacks)
        callbacks.on_test_begin({})
        with self._inference(arrays):
            for step, start in enumerate(range(0, len(x_arr), batch_size)):
                if watched:
                    callbacks.on_test_batch_begin(step, {})
                sl = slice(start, start + batch_size)
                yb = y_arr[sl]
                with outermost_call(self):
                    data = self._batch_outputs(x_arr[sl], arrays, head.paired_kernel is not None)
                out_t = Tensor(data, dtype=data.dtype)
                if sample_weight is None:
                    loss, outputs = head.tensor_loss(yb, out_t)
                else:
                    assert self.loss is not None
                    loss = self.loss.weighted_tensor(yb, out_t, head.logits, sample_weight[sl])
                    kernel = head.paired_kernel
                    outputs = kernel.value(data) if kernel is not None else data
                total += (float(loss.data) + self._extra_loss_value()) * len(yb)
                seen += len(yb)
                for m in metrics:
                    m.update(yb, outputs)
                if watched:
                    running = {"loss": total / seen, **{m.name: m.result() for m in metrics}}
                    callbacks.on_test_batch_end(step, running)
        return self._evaluation_result(total / seen, metrics, callbacks)

    def _evaluation_result(
        self, loss: float, metrics: list[Any], callbacks: CallbackList
    ) -> dict[str, float]:
        """{"loss": …, metric: …} at the end of an evaluation: a NaN or inf is warned about,
        and the callbacks' ``on_test_end`` receives it."""
        result = {"loss": loss, **{m.name: m.result() for m in metrics}}
        if not all(math.isfinite(v) for v in result.values()):
            self._warn_non_finite("evaluate", "loss or metrics")
        callbacks.on_test_end(dict(result))
        return result

    @_numeric_environment
    @_overflow_reported_once
    def predict(
        self,
        x: Any,
        batch_size: int = 32,
        verbose: int = 0,
        callbacks: Sequence[Callback] | None = None,
        steps: int | None = None,
    ) -> np.ndarray:
        """Outputs a^L for every sample of x, in inference mode, as one NumPy array.

        The model is not changed, so one model can serve predict from many threads.
        ``callbacks`` receive ``on_predict_begin``/``on_predict_batch_*``/``on_predict_end``
        (Keras's hooks; ``logs["outputs"]`` after each batch).
        """
        where = "predict"
        batch_size = positive_int(batch_size, "batch_size", where)
        x_arr = (
            collect_batches(x, steps, where)[0] if is_batch_source(x) else as_data(x, "x", where)
        )
        if callbacks:
            result = self._predict_watched(x_arr, batch_size, list(callbacks), verbose, where)
        else:
            layers = self._inference_layers()
            if layers is None:
                result = self._predict_graph(x_arr, batch_size, where)
            else:
                result = self._predict_arrays(layers, x_arr, batch_size, where)
        if result.dtype.kind == "f" and not np.isfinite(result).all():
            self._warn_non_finite("predict", "outputs")
        return result

    def _predict_watched(
        self,
        x_arr: np.ndarray,
        batch_size: int,
        callbacks: list[Callback],
        verbose: int,
        where: str,
    ) -> np.ndarray:
        """predict with callbacks: Keras's ``on_predict_*`` hooks, the batches in order on this
        thread (``logs["outputs"]`` after each batch)."""
        starts = list(range(0, len(x_arr), batch_size))
        hooks = CallbackList(callbacks, self, {"verbose": verbose, "steps": len(starts)}, where)
        hooks.on_predict_begin({})
        first = self._dry_run(x_arr, where)
        result = np.empty((len(x_arr),) + first.shape[1:], dtype=first.dtype)
        arrays = self._inference_layers() is not None
        with self._inference(arrays):
            for step, start in enumerate(starts):
                hooks.on_predict_batch_begin(step, {})
                sl = slice(start, start + batch_size)
                result[sl] = self._batch_outputs(x_arr[sl], arrays)
                hooks.on_predict_batch_end(step, {"outputs": result[sl]})
        hooks.on_predict_end({})
        return result

    def _predict_arrays(
        self, layers: tuple[Layer, ...], x_arr: np.ndarray, batch_size: int, where: str
    ) -> np.ndarray:
        """predict through the layers' kernels. One batch runs here, and is its own shape
        check; several go to the worker pool after one sample has checked the shape (a
        kernel's error is reported as fit's dry run reports it)."""
        rows = inference_rows(layers)
        if rows is not None and len(x_arr) > 2 * rows:
            # The layers run in slices anyway (a convnet): a batch larger than one core's
            # share is shared out too, so that one large batch uses every core.
            share = -(-len(x_arr) // inference_workers())
            batch_size = min(batch_size, -(-share // rows) * rows)
        if len(x_arr) <= batch_size:
            out = self._checked_forward(layers, x_arr, x_arr.shape, where)
            # The kernels' output is a new array unless every layer passed x through.
            return out if out.flags.owndata else out.copy()
        first = self._checked_forward(layers, x_arr[:1], x_arr.shape, where)
        result = np.empty((len(x_arr),) + first.shape[1:], dtype=first.dtype)

        def run(chunk: list[int]) -> None:
            for start in chunk:
                sl = slice(start, start + batch_size)
                result[sl] = forward_arrays(layers, x_arr[sl])

        self._spread(run, list(range(0, len(x_arr), batch_size)))
        return result

    @staticmethod
    def _checked_forward(
        layers: tuple[Layer, ...], x: np.ndarray, shape: tuple[int, ...], where: str
    ) -> np.ndarray:
        try:
            return forward_arrays(layers, x)
        except GlassnetError as exc:
            raise ShapeError(f"{where}: x of shape {shape} does not fit the model: {exc}") from None

    def _predict_graph(self, x_arr: np.ndarray, batch_size: int, where: str) -> np.ndarray:
        """predict through the model's own forward (a model the kernels cannot stand for)."""
        first = self._dry_run(x_arr, where)
        result = np.empty((len(x_arr),) + first.shape[1:], dtype=first.dtype)

        def run(chunk: list[int]) -> None:
            with self._inference(False):  # per thread: grad mode and inference mode are
                for start in chunk:
                    sl = slice(start, start + batch_size)
                    result[sl] = self._batch_outputs(x_arr[sl], False)

        self._spread(run, list(range(0, len(x_arr), batch_size)))
        return result

    @staticmethod
    def _spread(run: Callable[[list[int]], None], starts: list[int]) -> None:
        """run(chunk) over the batch starts: here for one batch, else on the worker pool."""
        workers = min(inference_workers(), len(starts))
        if workers <= 1:
            run(starts)
            return
        # Data-parallel inference: each thread runs whole batches with one BLAS thread
        # (NumPy releases the GIL in matmul), so cores are used without the spinning
        # that multi-threaded BLAS suffers on a busy machine.
        chunks = [starts[i::workers] for i in range(workers)]
        pool = executor()
        quiet = _overflow_reported_once(run)  # NumPy's error state is per thread
        for future in [pool.submit(quiet, chunk) for chunk in chunks]:
            future.result()

    def _warn_non_finite(self, where: str, what: str) -> None:
        """A NaN or inf result is never returned silently: say where it comes from."""
        finite = all(np.isfinite(p.data).all() for p in self.parameters())
        cause = (
            t(
                "the weights are finite, so the values overflowed on the way (weights or "
                "inputs too large; retrain with a lower learning rate or scale the inputs)"
            )
            if finite
            else t("the weights themselves contain NaN or inf")
        )
        subject = t(_NON_FINITE[what]) if what in _NON_FINITE else what
        message = t("the {what} contain NaN or inf; {cause}").format(what=subject, cause=cause)
        warnings.warn(f"{where}: {message}", RuntimeWarning, 3)

    def __call__(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(x, (Tensor, np.ndarray)) and is_symbolic(x):
            return call_symbolic(self, x, kwargs, args)  # a model used as a layer of another
        self.clear_losses()
        if not isinstance(x, Tensor):
            arr = np.asarray(x)
            x = self._prepare_batch(arr) if arr.dtype.kind in "fiub" else Tensor(arr)
        if not args and not kwargs and not is_grad_enabled():
            layers = self._inference_layers()
            if layers is not None:
                # Under no_grad the graph would record nothing: the same kernels, each layer
                # in its own mode as the graph runs them, without a node per layer.
                out = forward_arrays(layers, x.data, training=not inference_mode())
                return Tensor(out, dtype=out.dtype if out.dtype.kind == "f" else None)
        with outermost_call(self):
            return self.forward(x, *args, **kwargs)

    def get_layer(self, name: str | None = None, index: int | None = None) -> Any:
        """The layer called ``name``, or at position ``index`` of ``layers`` (Keras's name)."""
        layers = list(getattr(self, "layers", None) or self.children())
        if (name is None) == (index is None):
            raise InvalidArgumentError(
                f"get_layer: give name or index, received name={name!r}, index={index!r}"
            )
        if index is not None:
            if isinstance(index, bool) or not isinstance(index, int):
                raise InvalidArgumentError(f"get_layer: index must be an int, received {index!r}")
            if not -len(layers) <= index < len(layers):
                raise InvalidArgumentError(
                    f"get_layer: index {index} is out of range; the model has {len(layers)} layers"
                )
            return layers[index]
        for layer in layers:
            if getattr(layer, "name", None) == name:
                return layer
        raise InvalidArgumentError(
            f"get_layer: no layer named {name!r}; the layers are "
            f"{', '.join(repr(getattr(layer, 'name', '?')) for layer in layers)}"
        )

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: Any = None) -> Any:
        """Keras's ``Model.from_config``: the config of a functional model or of a Sequential
        rebuilds that model with fresh weights (``custom_objects``: class name → class, for
        layers that are neither glassnet's nor registered); another subclass is rebuilt as
        ``cls(**config)``."""
        if isinstance(config, dict) and "nodes" in config:
            from .functional import Functional

            target = cls if issubclass(cls, Functional) else Functional
            return target.from_config(config, custom_objects)
        if issubclass(cls, Sequential):
            from ..io.model_files import sequential_from_config

            return sequential_from_config(config, cls)
        return cls(**config)

    # -- Keras's weight lists --------------------------------------------------------------------
    @property
    def weights(self) -> list[Parameter]:
        """Every parameter (Keras's name), in ``parameters()`` order."""
        return self.parameters()

    @property
    def trainable_weights(self) -> list[Parameter]:
        """The parameters fit updates."""
        return [p for p in self.parameters() if p.requires_grad]

    @property
    def non_trainable_weights(self) -> list[Parameter]:
        """The frozen parameters (``layer.trainable = False``): fit leaves them unchanged."""
        return [p for p in self.parameters() if not p.requires_grad]

    @property
    def trainable(self) -> bool:
        """False freezes every layer of the model (also when it is nested in another)."""
        return any(p.requires_grad for p in self.parameters()) or not self.parameters()

    @trainable.setter
    def trainable(self, value: bool) -> None:
        if not isinstance(value, bool):
            raise InvalidArgumentError(
                f"{self.name}: trainable must be True or False, received trainable={value!r}"
            )
        for m in self.modules():
            if isinstance(m, Layer):
                m.trainable = value

    # -- display -------------------------------------------------------------------------------
    def summary(self, print_fn: Callable[[str], Any] | None = None) -> None:
        """Print a table of layers, output shapes and parameter counts (to ``print_fn``, e.g.
        a list's ``append``, when given). Returns None, as Keras's does: a notebook would
        otherwise show the table twice."""
        (print_fn or print)(self._summary_text())

    def _summary_table(self) -> tuple[tuple[str, ...], list[tuple[str, ...]], list[str]]:
        """The summary's numbers, written once for the text and the notebook's HTML:
        (headers, one row per layer, the totals' lines)."""
        total = self.count_params()
        trainable = int(sum(p.data.size for p in self.parameters() if p.requires_grad))
        totals = [
            t("Total params: {n}").format(n=f"{total:,}"),
            t("Trainable params: {n}").format(n=f"{trainable:,}"),
            t("Non-trainable params: {n}").format(n=f"{total - trainable:,}"),
        ]
        headers = (t("Layer (type)"), t("Output Shape"), t("Param #"))
        return headers, list(self._summary_rows()), totals

    def _summary_text(self) -> str:
        headers, rows, totals = self._summary_table()
        n = len(headers)
        widths = [max(len(headers[i]), *(len(r[i]) for r in rows)) + 2 for i in range(n)]
        line = "─" * sum(widths)
        out = [
            t('Model: "{name}"').format(name=self.name),
            line,
            "".join(h.ljust(w) for h, w in zip(headers, widths)),
            "═" * sum(widths),
        ]
        for r in rows:
            out.append("".join(c.ljust(w) for c, w in zip(r, widths)))
        out += [line, *totals, line]
        return "\n".join(out)

    def _repr_html_(self) -> str:
        """How a notebook shows the model: the summary as a table (names escaped)."""
        from ._notebook import box, escape, html_table

        headers, rows, totals = self._summary_table()
        compiled = self._compiled_text()
        return (
            f"{box('model')}<b>{escape(type(self).__name__)}"
            f" &quot;{escape(self.name)}&quot;</b>"
            + (f'<div style="color:#555">{escape(compiled)}</div>' if compiled else "")
            + html_table(headers, rows, right=(2,), footer=totals)
            + "</div>"
        )

    def _compiled_text(self) -> str:
        """``compiled with Adam, loss CategoricalCrossentropy, metrics accuracy`` ('' before)."""
        if not self.compiled:
            return ""
        parts = [t("compiled with {optimizer}").format(optimizer=type(self.optimizer).__name__)]
        if self.loss is not None:
            parts.append(t("loss {loss}").format(loss=type(self.loss).__name__))
        if self.metric_specs:
            names = [
                m if isinstance(m, str) else getattr(m, "name", type(m).__name__)
                for m in self.metric_specs
            ]
            parts.append(t("metrics {metrics}").format(metrics=t(", ").join(str(n) for n in names)))
        return t(", ").join(parts)

    def _summary_rows(self) -> list[tuple[str, str, str]]:
        return [
            (f"{name} ({type(m).__name__})", "?", f"{sum(p.data.size for p in m.parameters()):,}")
            for name, m in self.named_children()
        ]


def _input_shape_for(layer: Layer, shapes: dict[str, tuple[int, ...]]) -> tuple[int] | None:
    """The per-sample input shape (n,) for which ``layer`` makes parameters of ``shapes``,
    tried over the sizes those shapes contain (a Dense layer's W is (units, n)); None if none."""
    for n in sorted({d for shape in shapes.values() for d in shape}):
        try:
            if layer.parameter_shapes((n,)) == shapes:
                return (n,)
        except Exception:  # noqa: BLE001 - a size the layer rejects is just not this one
            continue
    return None


def _layers_in(value: Any) -> list[Layer]:
    """The layers an attribute holds: a layer, or the layers of a list or tuple."""
    if isinstance(value, Layer):
        return [value]
    if isinstance(value, (list, tuple)):
        return [item for item in value if isinstance(item, Layer)]
    return []


def _telemetry_names(model: Module) -> dict[Any, str]:
    """Each sublayer → its name in telemetry: the layers' own names, joined by dots for a
    nested model's (``encoder.dense``), as Keras names them, not the attributes holding them."""
    names: dict[Any, str] = {}

    def walk(module: Module, prefix: str) -> None:
        for attribute, child in module.named_children():
            path = prefix + (getattr(child, "name", None) or attribute)
            if child not in names:
                names[child] = path
                walk(child, path + ".")

    walk(model, "")
    return names


def _unique_name(base: str, taken: set[str]) -> str:
    if base not in taken:
        return base
    i = 1
    while f"{base}_{i}" in taken:
        i += 1
    return f"{base}_{i}"


class Sequential(Model):
    """A stack of layers, each feeding the next: ``Sequential([Flatten(...), Dense(128), ...])``."""

    def __init__(self, layers: Sequence[Layer] | None = None, name: str | None = None) -> None:
        super().__init__(name=name or "sequential")
        self._auto_name = name is None  # a graph renames a default name that collides
        self._layers: list[Layer] = []
        self._input_shape: tuple[int, ...] | None = None
        if layers is not None:
            if isinstance(layers, Layer) or not isinstance(layers, (list, tuple)):
                raise InvalidArgumentError(
                    f"Sequential: layers must be a list of layers, received {describe(layers)}"
                )
            for layer in layers:
                self.add(layer)

    @property
    def layers(self) -> list[Layer]:
        """The layers in order (an Input declaration is not counted)."""
        return list(self._layers)

    def add(self, layer: Layer) -> None:
        """Append a layer (names are made unique within the model: dense, dense_1, ...); the
        tensor ``keras.Input(...)`` returns stands for its Input layer."""
        if isinstance(layer, SymbolicTensor):
            symbolic = as_symbolic(layer)
            node = symbolic.node if symbolic is not None else None
            if node is None or not isinstance(node.layer, Input):
                raise InvalidArgumentError(
                    f"Sequential.add: a symbolic tensor can only stand for keras.Input, "
                    f"received {layer!r}; use keras.Model(inputs, outputs) for a graph"
                )
            layer = node.layer
        if not isinstance(layer, Layer):
            raise InvalidArgumentError(
                f"Sequential.add: expected a glassnet layer, received {describe(layer)}"
            )
        if isinstance(layer, Input):
            if self._layers:
                raise InvalidArgumentError("Sequential.add: Input must come first")
            self._input_shape = layer.input_shape
            self._input_layer = layer
            return
        if any(layer is existing for existing in self._layers):
            raise InvalidArgumentError(
                f"Sequential.add: layer {layer.name!r} is already in this model"
            )
        layer.name = _unique_name(layer.name, {existing.name for existing in self._layers})
        if not self._layers and self._input_shape is None and layer.input_shape is not None:
            self._input_shape = layer.input_shape
        self._layers.append(layer)
        if self._input_shape is not None:
            self._build_from(self._input_shape)

    def pop(self) -> Layer:
        """Remove and return the last layer."""
        if not self._layers:
            raise InvalidArgumentError("Sequential.pop: the model has no layers")
        return self._layers.pop()

    def named_children(self) -> Any:
        for layer in self._layers:
            yield layer.name, layer

    # -- the functional view: Keras's model.inputs, model.outputs, layer.output ------------------
    def _symbolic(self, what: str) -> tuple[SymbolicTensor, SymbolicTensor]:
        """The model's layers called on its Input's symbolic tensor (once per layer list)."""
        if self._input_shape is None or not self._layers:
            raise InvalidArgumentError(
                f"Sequential.{what}: the model has no {'input' if self._layers else 'layers'} "
                f"yet; start it with keras.Input(shape=...) and add layers"
            )
        key = tuple(id(layer) for layer in self._layers)
        cached = getattr(self, "_symbolic_cache", None)
        if cached is None or cached[0] != key:
            source = getattr(self, "_input_layer", None) or Input(shape=self._input_shape)
            start = source.symbolic_output()
            x = start
            for layer in self._layers:
                x = layer(x)
            cached = self._symbolic_cache = (key, start, x)
        return cached[1], cached[2]

    @property
    def inputs(self) -> list[SymbolicTensor]:
        """[the symbolic input] (Keras's view, e.g. for keras.Model(model.inputs, ...))."""
        return [self._symbolic("inputs")[0]]

    @property
    def outputs(self) -> list[SymbolicTensor]:
        """[the symbolic output of the last layer]."""
        return [self._symbolic("outputs")[1]]

    @property
    def input(self) -> SymbolicTensor:
        """The symbolic input."""
        return self._symbolic("input")[0]

    @property
    def output(self) -> SymbolicTensor:
        """The symbolic output."""
        return self._symbolic("output")[1]

    @property
    def input_shape(self) -> tuple[int, ...] | None:
        """Per-sample input shape, when declared or seen."""
        return self._input_shape

    def build(self, input_shape: Sequence[int]) -> None:
        """Create every layer's parameters for inputs of ``input_shape`` (no batch axis)."""
        self._input_shape = tuple(None if s is None else int(s) for s in input_shape)
        self._build_from(self._input_shape)

    def _build_from(self, input_shape: tuple[int, ...]) -> None:
        shape: tuple[Any, ...] = input_shape
        for layer in self._layers:
            if not layer.built:
                layer.build(shape)
            shape = layer.compute_output_shape(shape)

    def forward(self, x: Tensor) -> Tensor:
        if self._input_shape is None:
            self._input_shape = tuple(x.shape[1:])
        for layer in self._layers:
            x = layer(x)
        return x

    def output_layer(self) -> Layer | None:
        return self._layers[-1] if self._layers else None

    def forward_logits(self, x: Tensor) -> Tensor:
        """The forward pass with the last layer stopped before its activation (the loss pairs
        with it; only asked of a last layer that runs its own kernels)."""
        self.clear_losses()
        for layer in self._layers[:-1]:
            x = layer(x)
        last = self._layers[-1]
        if not last.built:
            last.build(tuple(x.shape[1:]))
        return last._node(x, logits_only=True)

    def _summary_rows(self) -> list[tuple[str, str, str]]:
        rows = []
        shape: tuple[Any, ...] | None = self._input_shape
        for layer in self._layers:
            if shape is not None:
                shape = layer.compute_output_shape(shape)
                shown = "(None, " + ", ".join("?" if s is None else str(s) for s in shape) + ")"
            else:
                shown = "?"
            count = sum(p.data.size for p in layer.parameters())
            rows.append((f"{layer.name} ({type(layer).__name__})", shown, f"{count:,}"))
        return rows

    def get_config(self) -> dict[str, Any]:
        """The architecture as JSON-friendly data (layers with their configs)."""
        config: dict[str, Any] = {"name": self.name, "layers": []}
        if self._input_shape is not None:
            config["input_shape"] = list(self._input_shape)
        for layer in self._layers:
            config["layers"].append(
                {"class_name": type(layer).__name__, "config": layer.get_config()}
            )
        return config

    def __repr__(self) -> str:
        lines = [f"Sequential(name={self.name!r}"]
        for layer in self._layers:
            lines.append(f"  {repr(layer)}")
        return "\n".join(lines) + "\n)" if self._layers else lines[0] + ")"


registry.provide("Sequential", Sequential)
registry.provide("metric", metrics_module.get)
