"""Files: atomic writes, model files (safetensors), checkpoints."""

from .atomic import atomic_write, atomic_write_bytes, atomic_write_text

__all__ = ["atomic_write", "atomic_write_bytes", "atomic_write_text"]
