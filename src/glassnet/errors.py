"""The error hierarchy: every error glassnet raises on purpose derives from GlassnetError.

Each class also subclasses the matching built-in exception, so ``except ValueError`` keeps
working for code that does not know glassnet. Messages are one sentence: the operation or
argument, what was received, what was expected.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "GlassnetError",
    "ShapeError",
    "DTypeError",
    "InvalidArgumentError",
    "UnknownNameError",
    "GraphError",
    "AnomalyError",
    "NotTraceableError",
    "GradcheckError",
    "FileFormatError",
    "DatasetNotFoundError",
    "DownloadError",
    "MissingDependencyError",
    "require",
]


class GlassnetError(Exception):
    """Root of every error glassnet raises deliberately."""


class ShapeError(GlassnetError, ValueError):
    """Arrays whose shapes do not fit the operation or the model."""


class DTypeError(GlassnetError, TypeError):
    """An array or tensor of a dtype the operation does not accept."""


class InvalidArgumentError(GlassnetError, ValueError):
    """An argument with a value outside what is accepted (negative sizes, NaN in data, ...)."""


class UnknownNameError(GlassnetError, ValueError):
    """A string name (activation, loss, optimizer, dataset, ...) that is not registered."""


class GraphError(GlassnetError, RuntimeError):
    """Misuse of the autograd graph: backward through a freed graph, non-scalar backward, ..."""


class AnomalyError(GlassnetError, FloatingPointError):
    """Raised under detect_anomaly() by the first op whose forward or backward made NaN/inf."""


class NotTraceableError(GlassnetError, TypeError):
    """A model the explain tools cannot trace through the four equations (yet)."""


class GradcheckError(GlassnetError, AssertionError):
    """gradcheck(..., raise_on_fail=True) or a trace check found a gradient mismatch."""


class FileFormatError(GlassnetError, ValueError):
    """A file that is not what it claims to be: truncated, corrupt, wrong magic, hostile."""


class DatasetNotFoundError(GlassnetError, FileNotFoundError):
    """A data set whose files are nowhere on this machine and could not be downloaded."""


class DownloadError(GlassnetError, OSError):
    """A download that failed, was cut short, or did not match its checksum."""


def describe(value: object) -> str:
    """A short description of a received value for error messages: shape and dtype for arrays."""
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    if shape is not None and dtype is not None:
        return f"{type(value).__name__} of shape {tuple(shape)} and dtype {dtype}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class MissingDependencyError(GlassnetError, ImportError):
    """An optional package (scikit-learn, onnx, onnxruntime, torch) that a feature needs."""


def require(module: str, feature: str, extra: str) -> Any:
    """Import ``module`` for ``feature``, or raise a one-sentence MissingDependencyError that
    says which extra installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(
            f"{feature} needs the optional package {module.split('.')[0]!r}, which is not "
            f"installed; install it with: pip install 'glassnet[{extra}]'"
        ) from None
