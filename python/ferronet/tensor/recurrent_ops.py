"""Recurrent layers over whole sequences as one differentiable primitive.

``rnn_sequence`` runs a SimpleRNN, LSTM or GRU cell over every step in the
Rust core (``_core.rnn_forward``: per step one GEMM, ``[x_s | h]·[W; R]``,
then the fused gate non-linearities; GRU keeps ``x_s·W`` and ``h·R`` apart,
and the reset-before GRU runs a second per-step GEMM, ``(r * h)·U_h``)
and returns the state after each step, ``(batch, steps, units)`` (LSTM:
``2 * units``, ``h`` then ``c``). Its fast VJP is backpropagation through time
in Rust (``_core.rnn_backward``), from the gates and states the forward pass
saved; its differentiable twin is the same recurrence written step by step in
elementary ops, so higher derivatives work too.
"""

from __future__ import annotations

import numpy as np

from .. import _core
from . import array_ops as A
from . import math_ops as M
from . import nn_ops
from .core import Primitive, as_tensor

__all__ = ["rnn_sequence", "FUSED_ACTIVATIONS"]

#: The ``activation`` and ``recurrent_activation`` names :func:`rnn_sequence` runs in its Rust kernels.
FUSED_ACTIVATIONS = ("linear", "tanh", "sigmoid", "relu")


def _c(a, dtype):
    return None if a is None else np.ascontiguousarray(a, dtype=dtype)


class _Saved:
    """What one forward call keeps for its backward (states, gates, aux)."""

    __slots__ = ("arrays",)

    def __init__(self):
        self.arrays = None


def _forward(x, kernel, recurrent, bias, h0, c0, cell, activation, recurrent_activation, mask, scale, saved,
             h_only):
    dt = kernel.dtype
    states, gates, aux = _core.rnn_forward(cell, activation, recurrent_activation, _c(x, dt), _c(kernel, dt),
                                           _c(recurrent, dt), _c(h0, dt), _c(bias, dt), _c(c0, dt), mask,
                                           _c(scale, dt))
    saved.arrays = (states, gates, aux)
    return states[:, :, :recurrent.shape[0]] if h_only else states


def _fast(g, y, x, kernel, recurrent, bias, h0, c0, cell, activation, recurrent_activation, mask, scale, saved,
          h_only):
    # With h_only (an LSTM's h sequence alone), g is dL/dh and the kernel takes it as it is.
    dt = kernel.dtype
    states, gates, aux = saved.arrays
    return _core.rnn_backward(cell, activation, recurrent_activation, _c(x, dt), _c(kernel, dt), _c(recurrent, dt),
                              _c(h0, dt), _c(bias, dt), _c(c0, dt), mask, _c(scale, dt), states, gates, aux,
                              _c(g, dt))


def _act(name):
    return (lambda v: v) if name == "linear" else nn_ops.activation(name)


def _formula(x, kernel, recurrent, bias, h0, c0, cell, activation, recurrent_activation, mask, scale, saved,
             h_only):
    """The same recurrence in elementary differentiable ops (Keras' equations, step by step)."""
    act, ract = _act(activation), _act(recurrent_activation)
    units = recurrent.shape[0]
    in_bias, rec_bias = (bias, None) if bias is None or cell != "gru" else (bias[0], bias[1])
    xw = A.matmul(x, kernel) if in_bias is None else M.add(A.matmul(x, kernel), in_bias)
    h, c = h0, c0
    hs, cs = [], []

    def block(v, k):
        return v[:, k * units:(k + 1) * units]

    for s in range(x.shape[1]):
        hd = h if scale is None else M.multiply(h, scale)
        rec = None if cell == "gru_reset_before" else A.matmul(hd, recurrent)
        xs = xw[:, s]
        if cell == "simple_rnn":
            h_new, c_new = act(M.add(xs, rec)), None
        elif cell == "lstm":
            z = M.add(xs, rec)
            i, f, g, o = ract(block(z, 0)), ract(block(z, 1)), act(block(z, 2)), ract(block(z, 3))
            c_new = M.add(M.multiply(f, c), M.multiply(i, g))
            h_new = M.multiply(o, act(c_new))
        elif cell == "gru_reset_before":  # r gates the state before the candidate's product
            zr = M.add(xs[:, :2 * units], A.matmul(hd, recurrent[:, :2 * units]))
            zg, rg = ract(block(zr, 0)), ract(block(zr, 1))
            hh = act(M.add(block(xs, 2), A.matmul(M.multiply(rg, hd), recurrent[:, 2 * units:])))
            h_new, c_new = M.add(M.multiply(zg, h), M.multiply(M.subtract(1.0, zg), hh)), None
        else:
            if rec_bias is not None:
                rec = M.add(rec, rec_bias)
            zg = ract(M.add(block(xs, 0), block(rec, 0)))
            rg = ract(M.add(block(xs, 1), block(rec, 1)))
            hh = act(M.add(block(xs, 2), M.multiply(rg, block(rec, 2))))
            h_new, c_new = M.add(M.multiply(zg, h), M.multiply(M.subtract(1.0, zg), hh)), None
        if mask is not None:
            keep = (mask[:, s] != 0)[:, None]
            h_new = M.where(keep, h_new, h)
            c_new = None if c is None else M.where(keep, c_new, c)
        h, c = h_new, c_new
        hs.append(h)
        cs.append(c)
    states = A.stack(hs, axis=1)
    return states if cell != "lstm" or h_only else A.concat([states, A.stack(cs, axis=1)], axis=-1)


_rnn = Primitive("rnn_sequence", _forward, nn_ops._twin(_formula), _fast)


def rnn_sequence(x, kernel, recurrent_kernel, bias, h0, c0=None, *, cell, activation="tanh",
                 recurrent_activation="sigmoid", mask=None, recurrent_scale=None, h_only=False):
    """States after every step of a recurrent cell run over ``x`` (see the module docstring).

    Args:
        x: ``(batch, steps, features)``.
        kernel: ``(features, G * units)``; recurrent_kernel: ``(units, G * units)``.
        bias: ``(G * units,)``, for GRU ``(2, 3 * units)`` (input and recurrent bias), or None.
            The reset-before GRU takes ``(3 * units,)``.
        h0, c0: initial states ``(batch, units)`` (``c0`` for LSTM only).
        cell: ``"simple_rnn"``, ``"lstm"``, ``"gru"`` (Keras' ``reset_after=True``) or
            ``"gru_reset_before"`` (``reset_after=False``).
        activation, recurrent_activation: one of :data:`FUSED_ACTIVATIONS`.
        mask: optional boolean ``(batch, steps)``; a False step keeps the state unchanged.
        recurrent_scale: optional ``(batch, units)`` factors on ``h`` before the recurrent
            product (recurrent dropout).
        h_only: LSTM: return ``h`` alone, so the gradient that comes back has no ``c`` part to fill
            with zeros.

    Returns:
        A tensor ``(batch, steps, units)`` (LSTM: ``(batch, steps, 2 * units)``, ``h`` then ``c``,
        unless ``h_only``).

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.recurrent_ops import rnn_sequence
        >>> x = fn.ones((1, 3, 1))  # one sequence of three steps, one feature
        >>> kernel, recurrent = fn.constant([[1.0]]), fn.constant([[0.5]])
        >>> h = rnn_sequence(x, kernel, recurrent, None, fn.zeros((1, 1)), cell="simple_rnn", activation="linear")
        >>> h.numpy()[0, :, 0]  # h_t = x_t + 0.5 h_(t-1)
        array([1.  , 1.5 , 1.75], dtype=float32)
    """
    if mask is not None:
        mask = np.ascontiguousarray(np.asarray(mask), dtype=np.uint8)
    if recurrent_scale is not None:
        recurrent_scale = np.asarray(recurrent_scale)
    return _rnn(as_tensor(x), kernel, recurrent_kernel, bias, as_tensor(h0), None if c0 is None else as_tensor(c0),
                cell=cell, activation=activation, recurrent_activation=recurrent_activation, mask=mask,
                scale=recurrent_scale, saved=_Saved(), h_only=bool(h_only) and cell == "lstm")
