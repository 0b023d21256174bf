"""Eager tensors and automatic differentiation.

:class:`Tensor` wraps a NumPy array; :class:`GradientTape` records the
differentiable primitives applied to watched tensors and variables and
computes gradients of any order. The primitives are grouped by kind:
:mod:`.math_ops` (element-wise), :mod:`.reduce_ops`, :mod:`.array_ops`
(shapes, indexing, ``matmul``), :mod:`.index_ops` (gathers, scatters, sorts),
:mod:`.linalg_ops` (inverse, determinant, solve), :mod:`.nn_ops`
(activations, fused layers, cross-entropies) and :mod:`.random_ops`.
"""

from . import (  # noqa: F401  (operators patches Tensor)
    array_ops, index_ops, linalg_ops, math_ops, nn_ops, operators, random_ops, reduce_ops,
)
from .core import Tensor, as_tensor, constant, recording
from .tape import GradientTape, UnconnectedGradients, grad, stop_gradient, value_and_grad

__all__ = ["Tensor", "GradientTape", "UnconnectedGradients", "constant", "as_tensor", "grad", "value_and_grad",
           "stop_gradient", "recording"]
