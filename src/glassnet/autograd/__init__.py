"""The autograd engine: Tensor, the recorded graph, backward(), no_grad, gradcheck."""

from .engine import backward, topological_order
from .gradcheck import GradcheckReport, InputReport, gradcheck
from .tensor import (
    Tensor,
    detect_anomaly,
    enable_grad,
    is_anomaly_enabled,
    is_grad_enabled,
    no_grad,
    tensor,
)

__all__ = [
    "Tensor",
    "tensor",
    "no_grad",
    "enable_grad",
    "is_grad_enabled",
    "detect_anomaly",
    "is_anomaly_enabled",
    "backward",
    "topological_order",
    "gradcheck",
    "GradcheckReport",
    "InputReport",
]
