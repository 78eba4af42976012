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

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import FileFormatError, InvalidArgumentError, describe
from ._container import decode_tree, dumps, encode_tree, loads, read_container, write_container
from .model_files import CHECKPOINT_FORMAT, FORMAT_VERSION, check_format

__all__ = ["save_checkpoint", "load_checkpoint", "CHECKPOINT_FORMAT"]


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
