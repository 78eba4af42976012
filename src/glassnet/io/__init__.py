"""Files: atomic writes, model files (safetensors), training checkpoints.

``save_model``/``load_model`` store a whole model (architecture, weights, training config,
optimiser state) in one safetensors file; ``save_weights``/``load_weights`` only the weights;
``save_checkpoint``/``load_checkpoint`` a training state. ``export_onnx`` writes an ONNX file
(the ``onnx`` extra); ``to_torch_state_dict``/``load_torch_state_dict``/``to_torch_module`` move
weights to and from PyTorch. Every file is written atomically and
read without executing anything from it; each carries a checksum of every byte, checked on
load (see docs/saving.md).
"""

from ._container import FileAccessError, MissingFileError, UncheckedFileWarning
from .atomic import atomic_write, atomic_write_bytes, atomic_write_text, check_target
from .checkpoint import load_checkpoint, save_checkpoint
from .model_files import load_model, load_weights, save_model, save_weights
from .onnx_export import export_onnx, to_onnx
from .registry import get_registered, register, registered_classes, registered_name, unregister
from .torch_weights import load_torch_state_dict, to_torch_module, to_torch_state_dict

__all__ = [
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_target",
    "save_model",
    "load_model",
    "save_weights",
    "load_weights",
    "save_checkpoint",
    "load_checkpoint",
    "export_onnx",
    "to_onnx",
    "to_torch_state_dict",
    "load_torch_state_dict",
    "to_torch_module",
    "register",
    "unregister",
    "get_registered",
    "registered_name",
    "registered_classes",
    "FileAccessError",
    "MissingFileError",
    "UncheckedFileWarning",
]
