"""Linear algebra beyond ``matmul``: inverse, determinant, solve, trace, diagonals (``tf.linalg``).

Batched over leading axes as NumPy's ``np.linalg`` is; each VJP is written in
differentiable ops, so second derivatives work too.
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from . import array_ops as A
from . import math_ops as M
from . import reduce_ops as R
from .core import as_tensor, primitive, unwrap

__all__ = ["inv", "det", "logdet", "solve", "trace", "diag_part", "diag", "matrix_transpose"]


def _square(x, name):
    x = as_tensor(x)
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise ShapeError(f"{name} needs square matrices in the last two axes. Received: shape {x.shape}")
    return x


def _mt(x):
    return A.swapaxes(x, -1, -2)


# d(A^-1) = -A^-1 dA A^-1, so the VJP is -A^-T g A^-T.
_inv = primitive("inv", np.linalg.inv, lambda g, y, a: (M.negative(A.matmul(_mt(y), A.matmul(g, _mt(y)))),))


def inv(x):
    """Inverse of each square matrix.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.linalg_ops import inv
        >>> a = fn.constant([[2.0, 1.0], [1.0, 3.0]])
        >>> np.round(inv(a).numpy(), 4)
        array([[ 0.6, -0.2],
               [-0.2,  0.4]], dtype=float32)
    """
    return _inv(_square(x, "inv"))


# d det(A) = det(A) tr(A^-1 dA): the VJP is g det(A) A^-T.
_det = primitive("det", np.linalg.det,
                 lambda g, y, a: (M.multiply(A.expand_dims(A.expand_dims(M.multiply(g, y), -1), -1), _mt(inv(a))),))


def det(x):
    """Determinant of each square matrix.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.linalg_ops import det
        >>> a = fn.constant([[2.0, 1.0], [1.0, 3.0]])
        >>> round(float(det(a)), 4)
        5.0
    """
    return _det(_square(x, "det"))


def logdet(x):
    """``log |det x|`` of each square matrix (its gradient is ``x^-T``).

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.linalg_ops import logdet
        >>> a = fn.constant([[2.0, 1.0], [1.0, 3.0]])
        >>> round(float(logdet(a)), 4)  # log 5
        1.6094
    """
    x = _square(x, "logdet")
    return _logdet(x)


_logdet = primitive("logdet", lambda a: np.linalg.slogdet(a)[1],
                    lambda g, y, a: (M.multiply(A.expand_dims(A.expand_dims(g, -1), -1), _mt(inv(a))),))


def solve(matrix, rhs, adjoint=False):
    """``X`` with ``matrix @ X = rhs`` (``rhs`` of shape ``(..., n, k)``).

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.linalg_ops import solve
        >>> a = fn.constant([[2.0, 1.0], [1.0, 3.0]])
        >>> np.round(solve(a, fn.constant([[3.0], [4.0]])).numpy(), 4)
        array([[1.],
               [1.]], dtype=float32)
    """
    matrix = _square(matrix, "solve")
    rhs = as_tensor(rhs)
    if rhs.ndim < 2 or rhs.shape[-2] != matrix.shape[-1]:
        raise ShapeError(f"solve: rhs must have {matrix.shape[-1]} rows. Received: matrix.shape={matrix.shape}, "
                         f"rhs.shape={rhs.shape}")
    if adjoint:
        matrix = _mt(matrix)
    return A.matmul(inv(matrix), rhs)


def trace(x):
    """Sum of the diagonal of each matrix.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.linalg_ops import trace
        >>> a = fn.constant([[2.0, 1.0], [1.0, 3.0]])
        >>> trace(a).numpy()
        array(5., dtype=float32)
    """
    return R.reduce_sum(diag_part(x), axis=-1)


def diag_part(x):
    """The main diagonal of each matrix, ``(..., min(m, n))``.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.linalg_ops import diag_part
        >>> a = fn.constant([[2.0, 1.0], [1.0, 3.0]])
        >>> diag_part(a).numpy()
        array([2., 3.], dtype=float32)
    """
    x = as_tensor(x)
    if x.ndim < 2:
        raise ShapeError(f"diag_part needs a matrix. Received: shape {x.shape}")
    k = min(x.shape[-2:])
    i = np.arange(k)
    return A.getitem(x, (Ellipsis, i, i))


def diag(diagonal):
    """Square matrices with ``diagonal`` (``(..., n)``) on their main diagonal.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.linalg_ops import diag
        >>> diag(fn.constant([1.0, 2.0])).numpy()
        array([[1., 0.],
               [0., 2.]], dtype=float32)
    """
    d = as_tensor(diagonal)
    n = d.shape[-1]
    return M.multiply(A.expand_dims(d, -1), np.eye(n, dtype=unwrap(d).dtype))


def matrix_transpose(x):
    """Swap the last two axes.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.linalg_ops import matrix_transpose
        >>> matrix_transpose(fn.zeros((5, 2, 3))).shape
        (5, 3, 2)
    """
    return _mt(as_tensor(x))
