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
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any, TypeVar

import numpy as np

from .. import _rng
from .._fpenv import flush_denormals
from .._threads import blas_threads, executor, inference_workers
from ..autograd.tensor import Tensor, no_grad
from ..errors import (
    GlassnetError,
    InvalidArgumentError,
    ShapeError,
    describe,
)
from ..io import registry
from ..nn import losses as losses_module
from ..nn.layers import Input, Layer, forcing_inference, recording
from ..nn.module import Module
from . import metrics as metrics_module
from .callbacks import Callback, CallbackList, History
from .epochs import EpochIterator, as_data, positive_int, split_validation
from .fused import (
    FusedStep,
    fast_path_problem,
    forward_arrays,
    inference_problem,
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


class Model(Module):
    """A Module that can be compiled and fitted the Keras way.

    Subclass it and write ``forward`` (and create layers in ``__init__``), or use Sequential.
    """

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

        if loss is None:
            raise InvalidArgumentError(
                "compile: loss is required, received None; for example "
                "loss='sparse_categorical_crossentropy'"
            )
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

    def _make_metrics(self, y: np.ndarray, out_width: int | None) -> list[metrics_module.Metric]:
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
        dt = self.dtype
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
            arrays = inference_problem(self) is None
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

    def forward_loss(self, x: Tensor, y: np.ndarray) -> tuple[Tensor, np.ndarray]:
        """The batch cost as a differentiable tensor, and the outputs a^L as an array.

        With a softmax (sigmoid) output and the matching cross-entropy, the cost is computed
        from the logits by the fused, stable op, whose gradient is δ^L = a^L − y.
        """
        head = self._head()
        out = self.forward_logits(x) if head.paired_kernel is not None else self(x)
        return head.tensor_loss(y, out)

    def train_step(self, xb: np.ndarray, yb: np.ndarray, record: Any = None) -> StepResult:
        """One step of mini-batch gradient descent through the autograd graph.

        The loss is checked before the update: a NaN/inf loss leaves the weights untouched.
        With ``record`` (a Telemetry), every layer's telemetry tap (z, a, δ, W, ∂C/∂W of a
        Dense layer) is logged.
        """
        x = self._prepare_batch(xb)
        tape: list[Any] = []
        if record is None:
            loss, outputs = self.forward_loss(x, yb)
        else:
            with recording() as tape:
                loss, outputs = self.forward_loss(x, yb)
        value = float(loss.data)
        if not math.isfinite(value):
            return StepResult(value, outputs)
        self.optimizer.zero_grad()
        loss.backward()
        if record is not None:
            record_taps(record, tape, len(xb), self.optimizer)
        self.optimizer.step()
        if record is not None:
            record.finish_sample(tap_weights([layer for layer, _ in tape]))
        return StepResult(value, outputs)

    def _step_function(self) -> Callable[..., StepResult]:
        """The step fit uses: the fast step when allowed and exact, else train_step."""
        if self.fit_path()[0] != "fast":
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

    def _bind_optimizer(self) -> None:
        """Bind the trainable parameters: a frozen one (``requires_grad=False``, or a layer's
        ``trainable=False``) is not updated at all, as in Keras and PyTorch."""
        trainable = [p for p in self.parameters() if p.requires_grad]
        if not trainable:
            raise InvalidArgumentError(
                f"fit: {self.name} has no trainable parameters (every layer is frozen); set "
                f"layer.trainable = True on the layers to train"
            )
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
    ) -> History:
        """Train for ``epochs`` passes over (x, y) in mini-batches; returns the History.

        x: (N, ...) array (uint8 images are converted per batch); y: (N,) integer labels or
        (N, K) targets. ``validation_split`` holds out the last fraction of the data (before
        shuffling, as Keras does); ``validation_data=(x_val, y_val)`` gives it explicitly.
        ``telemetry``: per-layer statistics every 20 steps (True), every N steps (an int), or
        none (False); they land on ``history.telemetry``.
        ``doctor``: the training doctor (glassnet.diagnostics.Doctor) watches the run and
        reports problems with a suggested fix — True adds one when verbose ≥ 1, False none, or
        pass your own Doctor(...); findings land on ``history.findings`` either way.
        ``checkpoint="run.ckpt"`` writes the whole training state (weights, optimiser state and
        schedule position, epoch, step, random-number state, history, callback states) after
        every epoch, or every N steps with ``checkpoint_every=N``, atomically;
        ``resume="run.ckpt"`` continues from such a file exactly where it left off — a seeded
        run resumed this way equals the uninterrupted run bit for bit. ``epochs`` counts from
        the start of the original run.
        """
        where = "fit"
        self._require_compiled(where)
        batch_size = positive_int(batch_size, "batch_size", where)
        epochs = positive_int(epochs, "epochs", where, allow_zero=True)
        initial_epoch = positive_int(initial_epoch, "initial_epoch", where, allow_zero=True)
        _check_fit_options(verbose, checkpoint_every, where)
        data = split_validation(x, y, validation_split, validation_data, where)
        x_arr, y_arr, x_val, y_val = data
        out = self._dry_run(x_arr, where)
        self._check_targets(x_arr, y_arr, out, where)
        if x_val is not None and y_val is not None:
            self._check_targets(x_val, y_val, out, f"{where} (validation data)")
        self._bind_optimizer()
        recorder = self._telemetry(telemetry, where)
        history = History()
        history.telemetry = recorder
        self.history = history
        iterator = EpochIterator(len(x_arr), batch_size, bool(shuffle))
        user_callbacks = list(callbacks or [])
        doctors = self._doctor_callbacks(doctor, verbose, user_callbacks, where)
        params = {
            "epochs": epochs,
            "steps": iterator.steps,
            "verbose": verbose,
            "batch_size": batch_size,
            "samples": len(x_arr),
            "stream": stream,
        }
        loop = FitLoop(
            self,
            data,
            iterator,
            self._step_function(),
            _callback_list(self, user_callbacks, doctors, history, params),
            user_callbacks + doctors,
            Progress(epochs, iterator.steps, verbose, stream),
            recorder,
            self._make_metrics(y_arr, out.shape[-1] if out.ndim > 1 else None),
            checkpoint,
            checkpoint_every,
        )
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
        return loop.run(first_epoch, epochs, resumed)

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
                [
                    name
                    for name, m in self.named_modules()
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
        if verbose == 0 or any(getattr(cb, "reads_history", False) for cb in callbacks):
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
            return forward_arrays(self.layers, xb, logits=logits)  # type: ignore[attr-defined]
        x = self._prepare_batch(xb)
        out = self.forward_logits(x) if logits else self(x)
        return out.data if isinstance(out, Tensor) else np.asarray(out)

    @_numeric_environment
    def evaluate(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int = 32,
        verbose: int = 0,
        return_dict: bool = False,
    ) -> Any:
        """Loss and metrics on (x, y) in inference mode (the model itself is not changed).

        Returns the loss alone when there are no metrics, else [loss, *metrics], or a dict
        {"loss": ..., "accuracy": ...} with ``return_dict=True``.
        """
        where = "evaluate"
        self._require_compiled(where)
        batch_size = positive_int(batch_size, "batch_size", where)
        x_arr = as_data(x, "x", where)
        y_arr = as_data(y, "y", where)
        out = self._dry_run(x_arr, where)
        self._check_targets(x_arr, y_arr, out, where)
        metrics = self._make_metrics(y_arr, out.shape[-1] if out.ndim > 1 else None)
        head = self._head()
        total, seen = 0.0, 0
        arrays = inference_problem(self) is None
        with self._inference(arrays):
            for start in range(0, len(x_arr), batch_size):
                sl = slice(start, start + batch_size)
                yb = y_arr[sl]
                data = self._batch_outputs(x_arr[sl], arrays, head.paired_kernel is not None)
                loss, outputs = head.tensor_loss(yb, Tensor(data))
                total += float(loss.data) * len(yb)
                seen += len(yb)
                for m in metrics:
                    m.update(yb, outputs)
        result = {"loss": total / seen}
        for m in metrics:
            result[m.name] = m.result()
        if not all(math.isfinite(v) for v in result.values()):
            self._warn_non_finite("evaluate", "loss or metrics")
        if verbose:
            from .progress import format_logs

            print(format_logs(result), file=sys.stdout)
        if return_dict:
            return result
        if not metrics:
            return result["loss"]
        return list(result.values())

    @_numeric_environment
    def predict(self, x: Any, batch_size: int = 32, verbose: int = 0) -> np.ndarray:
        """Outputs a^L for every sample of x, in inference mode, as one NumPy array.

        The model is not changed, so one model can serve predict from many threads.
        """
        where = "predict"
        batch_size = positive_int(batch_size, "batch_size", where)
        x_arr = as_data(x, "x", where)
        first = self._dry_run(x_arr, where)
        result = np.empty((len(x_arr),) + first.shape[1:], dtype=first.dtype)
        starts = list(range(0, len(x_arr), batch_size))
        workers = min(inference_workers(), len(starts))
        arrays = inference_problem(self) is None  # decided once, not per batch

        def run(chunk: list[int]) -> None:
            with self._inference(arrays):  # per thread: grad mode and inference mode are
                for start in chunk:
                    sl = slice(start, start + batch_size)
                    result[sl] = self._batch_outputs(x_arr[sl], arrays)

        if workers <= 1:
            run(starts)
        else:
            # Data-parallel inference: each thread runs whole batches with one BLAS thread
            # (NumPy releases the GIL in matmul), so cores are used without the spinning
            # that multi-threaded BLAS suffers on a busy machine.
            chunks = [starts[i::workers] for i in range(workers)]
            pool = executor()
            for future in [pool.submit(run, chunk) for chunk in chunks]:
                future.result()
        if result.dtype.kind == "f" and not np.isfinite(result).all():
            self._warn_non_finite("predict", "outputs")
        return result

    def _warn_non_finite(self, where: str, what: str) -> None:
        """A NaN or inf result is never returned silently: say where it comes from."""
        finite = all(np.isfinite(p.data).all() for p in self.parameters())
        cause = (
            "the weights are finite, so the values overflowed on the way (weights or inputs "
            "too large; retrain with a lower learning rate or scale the inputs)"
            if finite
            else "the weights themselves contain NaN or inf"
        )
        warnings.warn(f"{where}: the {what} contain NaN or inf; {cause}", RuntimeWarning, 3)

    def __call__(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(x, Tensor):
            arr = np.asarray(x)
            x = self._prepare_batch(arr) if arr.dtype.kind in "fiub" else Tensor(arr)
        return self.forward(x, *args, **kwargs)

    # -- display -------------------------------------------------------------------------------
    def summary(self, print_fn: Callable[[str], Any] | None = None) -> str:
        """Print (and return) a table of layers, output shapes and parameter counts."""
        rows = self._summary_rows()
        headers = ("Layer (type)", "Output Shape", "Param #")
        widths = [max(len(headers[i]), *(len(r[i]) for r in rows)) + 2 for i in range(3)]
        line = "─" * sum(widths)
        out = [
            f'Model: "{self.name}"',
            line,
            "".join(h.ljust(w) for h, w in zip(headers, widths)),
            "═" * sum(widths),
        ]
        for r in rows:
            out.append("".join(c.ljust(w) for c, w in zip(r, widths)))
        total = self.count_params()
        trainable = int(sum(p.data.size for p in self.parameters() if p.requires_grad))
        out += [
            line,
            f"Total params: {total:,}",
            f"Trainable params: {trainable:,}",
            f"Non-trainable params: {total - trainable:,}",
            line,
        ]
        text = "\n".join(out)
        (print_fn or print)(text)
        return text

    def _summary_rows(self) -> list[tuple[str, str, str]]:
        return [
            (f"{name} ({type(m).__name__})", "?", f"{sum(p.data.size for p in m.parameters()):,}")
            for name, m in self.named_children()
        ]


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
        """Append a layer (names are made unique within the model: dense, dense_1, ...)."""
        if not isinstance(layer, Layer):
            raise InvalidArgumentError(
                f"Sequential.add: expected a glassnet layer, received {describe(layer)}"
            )
        if isinstance(layer, Input):
            if self._layers:
                raise InvalidArgumentError("Sequential.add: Input must come first")
            self._input_shape = layer.input_shape
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

    @property
    def input_shape(self) -> tuple[int, ...] | None:
        """Per-sample input shape, when declared or seen."""
        return self._input_shape

    def build(self, input_shape: Sequence[int]) -> None:
        """Create every layer's parameters for inputs of ``input_shape`` (no batch axis)."""
        self._input_shape = tuple(int(s) for s in input_shape)
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
