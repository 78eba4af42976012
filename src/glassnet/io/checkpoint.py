"""Training checkpoints: ``save_checkpoint(path, state)`` and ``load_checkpoint(path)``.

``state`` is a nested dict whose leaves are NumPy arrays and scalars, Python numbers (ints of
any size stay exact), strings, booleans and None, inside dicts, lists and tuples — for example::

    {"weights": model.state_dict(), "optimizer": opt.state_dict(),
     "rng": glassnet._rng.get_state(), "epoch": 3, "step": 0,
     "history": {"loss": [0.9, 0.6, 0.5]}, "arrays": {"order": order}}

The file is a safetensors file: every array is a tensor named by its key path joined with "/"
(``weights/dense.W``, ``optimizer/state.0.exp_avg``); everything else is JSON in the metadata
entry ``state``, where each array appears as ``{"__glassnet__": "array", "key": ...}``. The
metadata also holds ``"format": "glassnet-checkpoint"`` and ``"format_version": "1"``.
``load_checkpoint`` returns the same structure: arrays bit-identical with their dtypes, NumPy
scalars as NumPy scalars, tuples as tuples, non-finite floats as such; mappings come back as
plain dicts. The write is atomic; reading is as guarded as for model files.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import FileFormatError, GlassnetError, InvalidArgumentError, describe
from ..nn.module import Parameter, match_weights
from ._container import (
    CHECKPOINT_FORMAT,
    FORMAT_VERSION,
    check_format,
    decode_tree,
    dumps,
    encode_tree,
    loads,
    read_container,
    write_container,
)

__all__ = ["save_checkpoint", "load_checkpoint", "validate_fit_checkpoint", "CHECKPOINT_FORMAT"]


def save_checkpoint(path: Any, state: Mapping[str, Any]) -> None:
    """Write a training state (a nested dict, see the module docstring) atomically to ``path``.

    Arrays become safetensors tensors, everything else JSON; anything else (objects,
    functions, cycles) is an InvalidArgumentError naming where it sits in ``state``.
    """
    where = "save_checkpoint"
    if not isinstance(state, Mapping):
        raise InvalidArgumentError(f"{where}: state must be a dict, received {describe(state)}")
    tensors: dict[str, np.ndarray] = {}
    skeleton = encode_tree(dict(state), tensors, root="state", where=where)
    metadata = {
        "format": CHECKPOINT_FORMAT,
        "format_version": FORMAT_VERSION,
        "state": dumps(skeleton, "the state", where),
    }
    write_container(path, tensors, metadata, where)


def state_from_container(
    tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str], name: str, where: str
) -> dict[str, Any]:
    """The state dict held by an already-read checkpoint container."""
    check_format(metadata, name, where, CHECKPOINT_FORMAT)
    if "state" not in metadata:
        raise FileFormatError(f"{where}: the checkpoint '{name}' has no 'state' entry")
    skeleton = loads(metadata["state"], "state", name, where)
    used: set[str] = set()
    state = decode_tree(skeleton, tensors, used, name=name, where=where)
    extra = [k for k in tensors if k not in used]
    if extra:
        raise FileFormatError(
            f"{where}: the checkpoint '{name}' holds tensors its state does "
            f"not refer to: {', '.join(extra[:10])}" + (" ..." if len(extra) > 10 else "")
        )
    if not isinstance(state, dict):
        raise FileFormatError(
            f"{where}: the checkpoint '{name}' holds a {type(state).__name__}, expected a dict"
        )
    return state


def load_checkpoint(path: Any) -> dict[str, Any]:
    """Read a checkpoint written by ``save_checkpoint``: the same nested dict, arrays
    bit-identical. Any problem with the file is a FileFormatError naming it."""
    where = "load_checkpoint"
    tensors, metadata = read_container(path, where)
    return state_from_container(tensors, metadata, str(path), where)


# ---------------------------------------------------------------------------------------------
# Resuming fit: the whole checkpoint is checked before anything is restored
# ---------------------------------------------------------------------------------------------
#: The entries ``Model.fit(checkpoint=...)`` writes, each required by ``fit(resume=...)``.
FIT_CHECKPOINT_KEYS = (
    "kind",
    "weights",
    "optimizer",
    "rng",
    "epoch",
    "step",
    "global_step",
    "order",
    "totals",
    "config",
    "history",
    "callbacks",
)
_RUN_CONFIG_KEYS = ("samples", "batch_size", "shuffle")
_PCG64_KEYS = {"bit_generator", "state", "has_uint32", "uinteger"}


def _is_integer(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_real(value: Any) -> bool:
    return (_is_integer(value) or isinstance(value, (float, np.floating))) and not isinstance(
        value, (bool, np.bool_)
    )


def validate_fit_checkpoint(
    state: Any,
    model: Any,
    optimizer: Any,
    config: Mapping[str, Any],
    path: Any,
    *,
    callbacks: Sequence[Any] | None = None,
    where: str = "fit",
) -> None:
    """Check a state read by ``load_checkpoint`` against the model, optimiser and run that
    would resume from it, before any of them is touched.

    Every key, type, shape and dtype is checked: the weights must be exactly the model's
    parameters (names, shapes, dtypes, finite values); the optimiser state must be one this
    optimiser's class writes for these parameters (a dry run on a shadow copy, so the real
    optimiser is not touched); the random state must be a PCG64 state; epoch, step, the epoch's
    order and running totals must describe a point of this run (``config``: samples,
    batch_size, shuffle); the history and the callback states must have the shapes fit
    writes. ``callbacks``, if given, are the callbacks fit will hand the states to.

    Raises FileFormatError naming ``path`` for anything a correct checkpoint cannot hold, and
    InvalidArgumentError when a well-formed checkpoint was written for another run (other
    data, batch size or shuffling).
    """
    name = os.fspath(path) if isinstance(path, (str, os.PathLike)) else str(path)

    def bad(reason: str) -> FileFormatError:
        return FileFormatError(
            f"{where}: resume={name!r} cannot be resumed from: {reason}; nothing was restored "
            f"(the model, the optimiser and the random generator are unchanged)"
        )

    if not isinstance(state, Mapping):
        raise bad(f"it holds {describe(state)}, not a training state")
    if state.get("kind") != "fit":
        raise bad("it is not a checkpoint written by fit(checkpoint=...) (no kind 'fit')")
    missing = [k for k in FIT_CHECKPOINT_KEYS if k not in state]
    unexpected = [str(k) for k in state if k not in FIT_CHECKPOINT_KEYS]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append("it lacks " + ", ".join(missing))
        if unexpected:
            parts.append("it has unexpected entries " + ", ".join(unexpected[:10]))
        raise bad("; ".join(parts))

    # -- the run it belongs to --------------------------------------------------------------
    run = state["config"]
    if (
        not isinstance(run, Mapping)
        or set(run) != set(_RUN_CONFIG_KEYS)
        or not _is_integer(run["samples"])
        or run["samples"] < 0
        or not _is_integer(run["batch_size"])
        or run["batch_size"] < 1
        or not isinstance(run["shuffle"], bool)
    ):
        raise bad(
            f"its run config is {describe(run)}, expected samples (an integer ≥ 0), "
            f"batch_size (an integer ≥ 1) and shuffle (True or False)"
        )
    if dict(run) != dict(config):
        raise InvalidArgumentError(
            f"{where}: resume={name!r} was written for {dict(run)}, but this call has "
            f"{dict(config)}; resume with the same data, batch_size and shuffle"
        )
    samples, batch_size = int(run["samples"]), int(run["batch_size"])
    steps = -(-samples // batch_size)

    # -- weights: exactly this model's parameters --------------------------------------------
    weights = state["weights"]
    if not isinstance(weights, Mapping) or not all(
        isinstance(k, str) and isinstance(v, np.ndarray) for k, v in weights.items()
    ):
        raise bad(f"its weights are {describe(weights)}, expected a dict of name → array")
    params = dict(model.named_parameters())
    _, problems = match_weights(params, weights, strict=True, exact_dtype=True, float_only=True)
    if problems:
        raise bad(
            f"its weights do not belong to this {type(model).__name__}: " + "; ".join(problems)
        )

    # -- optimiser: a dry run on a shadow of the parameters ------------------------------------
    # fit binds only the trainable parameters (a frozen one has no optimiser state)
    trainable = [p for p in model.parameters() if p.requires_grad]
    _check_optimizer_state(state["optimizer"], optimizer, trainable, bad)

    # -- random generator -------------------------------------------------------------------
    _check_rng_state(state["rng"], bad)

    # -- position in the run ----------------------------------------------------------------
    for key in ("epoch", "step", "global_step"):
        value = state[key]
        if not _is_integer(value) or value < 0:
            raise bad(f"its {key} is {describe(value)}, expected an integer ≥ 0")
    epoch, step, global_step = int(state["epoch"]), int(state["step"]), int(state["global_step"])
    if step > steps:
        raise bad(f"its step is {step}, but an epoch of this run has only {steps} steps")
    if global_step < step:
        raise bad(f"its global_step {global_step} is smaller than its step {step}")
    order, totals = state["order"], state["totals"]
    if order is None:
        if step != 0 or totals is not None:
            raise bad(
                f"it stops at step {step} of epoch {epoch + 1} but holds no order of that "
                f"epoch's samples" + (" and no running totals" if totals is None else "")
            )
    else:
        _check_order(order, samples, bool(run["shuffle"]), bad)
        metric_count = len(getattr(model, "metric_specs", None) or [])
        _check_totals(totals, min(step * batch_size, samples), metric_count, bad)

    # -- history and callbacks ----------------------------------------------------------------
    _check_history(state["history"], bad)
    _check_callback_states(state["callbacks"], callbacks, bad)


def _check_optimizer_state(
    opt_state: Any, optimizer: Any, params: list[Any], bad: Callable[[str], FileFormatError]
) -> None:
    if not isinstance(opt_state, Mapping):
        raise bad(f"its optimizer state is {describe(opt_state)}, expected a dict")
    cls = type(optimizer)
    if opt_state.get("class_name") != cls.__name__:
        raise bad(
            f"its optimizer state was written by {str(opt_state.get('class_name'))[:40]!r}, "
            f"but this model is compiled with {cls.__name__}"
        )
    shadow = [Parameter(np.zeros(p.data.shape, dtype=p.data.dtype)) for p in params]
    try:
        template = cls.from_config(opt_state.get("config"))
        template.bind(shadow)
        template.load_state_dict(opt_state)
    except GlassnetError as exc:
        raise bad(f"its optimizer state does not fit this model's optimizer: {exc}") from None
    except Exception as exc:  # an optimiser's own checks should not let anything else out
        raise bad(
            f"its optimizer state does not fit this model's optimizer "
            f"({type(exc).__name__}: {str(exc)[:120]})"
        ) from None
    # load_state_dict casts between float dtypes and accepts any finite or not; a checkpoint
    # fit wrote has the parameters' own dtypes and finite moments.
    expected = {k for k in template.state_dict() if k.startswith("state.")}
    for key in sorted(expected):
        arr = opt_state[key]
        i = int(key.split(".")[1])
        want = params[i].data.dtype
        if not isinstance(arr, np.ndarray) or arr.dtype != want:
            raise bad(f"its optimizer entry {key} is {describe(arr)}, expected dtype {want}")
        if not np.isfinite(arr).all():
            raise bad(f"its optimizer entry {key} holds NaN or inf")
    last = opt_state.get("last_learning_rate")
    if last is not None and not (_is_real(last) and math.isfinite(last)):
        raise bad(f"its optimizer's last_learning_rate is {describe(last)}, expected a number")


def _check_rng_state(rng: Any, bad: Callable[[str], FileFormatError]) -> None:
    expected = "a PCG64 state as glassnet._rng.get_state() returns it"
    inner = rng.get("state") if isinstance(rng, Mapping) else None
    if (
        not isinstance(rng, Mapping)
        or set(rng) != _PCG64_KEYS
        or rng["bit_generator"] != "PCG64"
        or not isinstance(inner, Mapping)
        or set(inner) != {"state", "inc"}
        or not all(_is_integer(inner[k]) and 0 <= inner[k] < 2**128 for k in ("state", "inc"))
        or int(inner["inc"]) % 2 != 1
        or not _is_integer(rng["has_uint32"])
        or rng["has_uint32"] not in (0, 1)
        or not _is_integer(rng["uinteger"])
        or not 0 <= rng["uinteger"] < 2**32
    ):
        raise bad(f"its random-generator state is {describe(rng)}, expected {expected}")
    try:  # NumPy's own check, on a generator nobody uses
        np.random.PCG64().state = {
            "bit_generator": "PCG64",
            "state": {"state": int(inner["state"]), "inc": int(inner["inc"])},
            "has_uint32": int(rng["has_uint32"]),
            "uinteger": int(rng["uinteger"]),
        }
    except (TypeError, ValueError, OverflowError) as exc:
        raise bad(f"its random-generator state is refused by NumPy ({exc})") from None


def _check_order(
    order: Any, samples: int, shuffle: bool, bad: Callable[[str], FileFormatError]
) -> None:
    if (
        not isinstance(order, np.ndarray)
        or order.dtype.kind not in "iu"
        or order.shape != (samples,)
    ):
        raise bad(
            f"its epoch order is {describe(order)}, expected an integer array of shape ({samples},)"
        )
    if shuffle:
        seen = np.zeros(samples, dtype=bool)
        inside = (order >= 0) & (order < samples)
        if inside.all():
            seen[order] = True
        if not inside.all() or not seen.all():
            raise bad(f"its epoch order is not a permutation of the {samples} samples")
    elif not np.array_equal(order, np.arange(samples)):
        raise bad("its epoch order is not 0, 1, 2, ... although this run does not shuffle")


def _check_totals(
    totals: Any, seen: int, metric_count: int, bad: Callable[[str], FileFormatError]
) -> None:
    expected = (
        f"loss_total (a finite number), seen ({seen}: the samples before this step) and "
        f"metrics ({metric_count} pairs [total, count])"
    )
    if not isinstance(totals, Mapping) or set(totals) != {"loss_total", "seen", "metrics"}:
        raise bad(f"its running totals are {describe(totals)}, expected {expected}")
    loss_total, count, metrics = totals["loss_total"], totals["seen"], totals["metrics"]
    if not _is_real(loss_total) or not math.isfinite(loss_total):
        raise bad(f"its running loss total is {describe(loss_total)}, expected a finite number")
    if not _is_integer(count) or count != seen:
        raise bad(f"its running totals count {describe(count)} samples, expected {seen}")
    if not isinstance(metrics, (list, tuple)) or len(metrics) != metric_count:
        raise bad(f"its running metric totals are {describe(metrics)}, expected {expected}")
    for pair in metrics:
        if (
            not isinstance(pair, (list, tuple))
            or len(pair) != 2
            or not _is_real(pair[0])
            or not math.isfinite(pair[0])
            or not _is_integer(pair[1])
            or pair[1] < 0
        ):
            raise bad(f"a running metric total is {describe(pair)}, expected [total, count]")


def _check_history(history: Any, bad: Callable[[str], FileFormatError]) -> None:
    expected = "{'history': {name: [numbers]}, 'epoch': [integers ≥ 0]}"
    if not isinstance(history, Mapping) or set(history) != {"history", "epoch"}:
        raise bad(f"its history is {describe(history)}, expected {expected}")
    values, epochs = history["history"], history["epoch"]
    if not isinstance(epochs, (list, tuple)) or not all(_is_integer(e) and e >= 0 for e in epochs):
        raise bad(f"its history's epochs are {describe(epochs)}, expected integers ≥ 0")
    if not isinstance(values, Mapping) or not all(
        isinstance(k, str) and isinstance(v, (list, tuple)) and all(_is_real(x) for x in v)
        for k, v in values.items()
    ):
        raise bad(f"its history is {describe(values)}, expected {expected}")


def _check_callback_states(
    states: Any, callbacks: Sequence[Any] | None, bad: Callable[[str], FileFormatError]
) -> None:
    if not isinstance(states, (list, tuple)) or not all(
        isinstance(s, Mapping) and all(isinstance(k, str) for k in s) for s in states
    ):
        raise bad(f"its callback states are {describe(states)}, expected a list of dicts")
    if callbacks is None:
        return
    # fit hands the states out pairwise; a resume may have fewer callbacks (e.g. verbose=0
    # leaves out the automatic doctor), so only the pairs that meet are checked.
    for i, (saved, cb) in enumerate(zip(states, callbacks)):
        current = cb.get_state()
        if saved and isinstance(current, Mapping) and set(saved) != set(current):
            raise bad(
                f"the state of callback {i} ({type(cb).__name__}) has the entries "
                f"{sorted(saved)}, expected {sorted(current)}"
            )
