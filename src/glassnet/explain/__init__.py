"""Show the work: backpropagation traced through the four equations, with real numbers.

* ``backprop(model, x, y)`` → a ``BackpropTrace``: every a, z, σ'(z), δ, ∂C/∂W, ∂C/∂b of
  every layer, computed from BP1–BP4 and checked against the autograd engine; rendered as
  text, Markdown, JSON or a self-contained HTML page; ``trace.path(l, j, k)`` tells one
  weight's story, path by path.
* ``graph(tensor)`` → the computational graph with values, gradients and local derivatives
  (Graphviz DOT or SVG), seed 003's "downstream = upstream × local".
* ``Perceptron`` → seed 003's single-layer perceptron, which learns AND and OR and shows why
  XOR needs a hidden layer.
* ``gradcheck_model`` → a per-parameter comparison of the engine's gradients with central
  differences; ``gradcheck`` is the engine's own, for any function.
* ``seed004_example()`` → seed 004's worked 2-2-2 example, ready to trace; ``conv_example()``
  → a small convolutional network whose trace (a ``ConvTrace``) writes out the convolution,
  pooling and batch-normalisation equations with numbers (``glassnet.explain.conv``).
* ``forward(model, x)`` → the forward pass alone (no target); ``jacobian``, ``vjp``, ``jvp``
  → Jacobians and their products for any function of tensors (glassnet.autograd.functional).
* ``trace.to_text(notation="seed000")`` → the same numbers in a seed's symbols
  (glassnet.explain.presets).
"""

from ..autograd.functional import jacobian, jvp, vjp
from ..autograd.gradcheck import GradcheckReport, gradcheck
from .checking import gradcheck_model
from .conv import ConvTrace, StageTrace
from .diagram import diagram
from .examples import XOR_X, XOR_Y, conv_example, seed004_example, xor_network
from .forward import ForwardTrace, forward
from .graph import Graph, GraphvizNotFoundError, graph, model_graph
from .path import WeightPath
from .perceptron import Perceptron, PerceptronResult
from .trace import BackpropTrace, LayerTrace, backprop
from .worksheet import Grade, Worksheet, worksheet

__all__ = [
    "backprop",
    "forward",
    "ForwardTrace",
    "diagram",
    "worksheet",
    "Worksheet",
    "Grade",
    "jacobian",
    "vjp",
    "jvp",
    "BackpropTrace",
    "LayerTrace",
    "ConvTrace",
    "StageTrace",
    "WeightPath",
    "graph",
    "model_graph",
    "Graph",
    "GraphvizNotFoundError",
    "Perceptron",
    "PerceptronResult",
    "seed004_example",
    "conv_example",
    "xor_network",
    "XOR_X",
    "XOR_Y",
    "gradcheck",
    "gradcheck_model",
    "GradcheckReport",
]
