"""Calling a layer on data: tensors in, a tensor out, recorded on any active ``GradientTape``.

``layer(x)`` converts ``x`` to a :class:`~ferronet.Tensor` of the layer's
dtype, builds the layer on the first call, and runs:

- for the built-in layers, their ``_tensor_call``: the fused Rust kernels as
  differentiable primitives (fast backward kernels, differentiable twins for
  higher derivatives);
- for a layer written Keras' way (only ``call`` in tensor ops), its ``call``
  on tensors: the tape derives the backward;
- for a layer with a hand-written ``backward(dy, need_dx)`` (ferronet's
  original custom-layer API), one primitive whose gradient is that
  ``backward`` (first derivatives only).

Losses added with ``add_loss`` during a call are collected on the layers and
cleared when the outermost call starts, as in Keras.
"""

from __future__ import annotations

import functools
import inspect
import numbers

import numpy as np

from ..errors import DTypeError, ShapeError
from ..tensor.core import Primitive, Tensor, _wrap
from . import masking

# The plumbing of Layer.__call__: nothing here is public API (layers are called as ``layer(x)``).
__all__: list = []

_DEPTH = [0]


@functools.lru_cache(maxsize=None)
def _call_params(cls):
    """Which optional keywords ``cls.call`` accepts: (training, mask, **kwargs)."""
    try:
        sig = inspect.signature(cls.call)
    except (TypeError, ValueError):
        return True, False, True
    names = sig.parameters
    var_kw = any(p.kind is p.VAR_KEYWORD for p in names.values())
    return "training" in names or var_kw, "mask" in names or var_kw, var_kw


def to_input(x, dtype):
    """``x`` (array-like, Tensor, or a list/tuple/dict of them) as Tensors; numbers cast to ``dtype``.

    Object arrays of numbers (``np.asarray`` of a pandas frame with bool and float
    columns) are converted too; objects that are not numbers raise DTypeError.
    """
    if isinstance(x, (list, tuple)):
        return type(x)(to_input(v, dtype) for v in x)
    if isinstance(x, dict):
        return {k: to_input(v, dtype) for k, v in x.items()}
    if isinstance(x, Tensor):
        if x.dtype != dtype and x.dtype.kind in "fiub":
            from ..tensor.math_ops import cast

            return cast(x, dtype)
        return x
    a = np.asarray(x)
    if a.dtype.kind == "O":  # e.g. a pandas frame mixing bool and float columns
        a = _numeric_objects(a, dtype)
    if a.dtype.kind in "fiub" and a.dtype != dtype:
        a = a.astype(dtype)
    return _wrap(a)


def _numeric_objects(a, dtype):
    """An object array of Python/NumPy numbers and bools as ``dtype``; anything else is refused."""
    for value in a.flat:
        if isinstance(value, (numbers.Real, np.bool_)):
            continue
        raise DTypeError(f"Layers take numbers, but the input is an object array holding a {type(value).__name__} "
                         f"value. Convert it first (e.g. df.astype('float32')). Received: {value!r:.60} in an "
                         f"object array of shape {a.shape}")
    return a.astype(dtype)


def _shapes(x):
    if isinstance(x, (list, tuple)):
        return [_shapes(v) for v in x]
    if isinstance(x, dict):
        return {k: _shapes(v) for k, v in x.items()}
    return tuple(x.shape)


def eager_call(layer, inputs, training, kwargs):
    """Run ``layer`` on concrete inputs (see the module docstring)."""
    x = to_input(inputs, layer._np_dtype)
    if isinstance(x, Tensor):
        if x.ndim == 0:
            raise ShapeError(f'Layer "{layer.name}" needs inputs with a batch dimension. Received: a scalar')
        layer._build_with(x.shape)
    elif not layer.built:
        layer._build_multi(_shapes(x))
    top = _DEPTH[0] == 0
    if top:
        _clear_losses(layer)
    mask = kwargs.pop("mask", None)
    if mask is None:
        mask = masking.get_mask(x)
    if mask is not None and masking.takes_mask(type(layer)):
        kwargs["mask"] = mask
    _DEPTH[0] += 1
    try:
        out = layer._tensor_call(x, bool(training) if training is not None else False, **kwargs)
    finally:
        _DEPTH[0] -= 1
    return masking.attach(layer, x, out, mask)


def _clear_losses(layer):
    layer.__dict__["_losses"] = []
    for sub in layer._tracked_layers:
        _clear_losses(sub)


def user_call(layer, x, training, **kwargs):
    """A Keras-style ``call`` on tensors, passing ``training``/``mask`` only where it takes them."""
    takes_training, takes_mask, var_kw = _call_params(type(layer))
    if takes_training:
        kwargs["training"] = training
    if not takes_mask:
        kwargs.pop("mask", None)
    return layer.call(x, **kwargs)


def legacy_call(layer, x, training):
    """A layer with a hand-written ``backward``: one primitive whose VJP is that backward."""
    if not isinstance(x, Tensor):
        raise TypeError(f'Layer "{layer.name}" has a hand-written backward(dy, need_dx), which takes one input. '
                        f"Received: {type(x).__name__}")
    train_vars = layer.trainable_weights
    from .base import _has_kernels

    if _has_kernels(type(layer)):
        # A built-in layer: this call's saved tensors and its weight gradients live on its own state.
        state = layer._new_state()
        state._grads = {id(v): np.empty_like(v.value) for v in train_vars}
        fwd, bwd, grad = (lambda v, t: layer._forward(state, v, t)), (lambda g: layer._backward(state, g, True)), \
            state.grad
    else:
        fwd, bwd, grad = layer.call, (lambda g: layer.backward(g, True)), (lambda v: v.grad)
    prim = Primitive(f"{type(layer).__name__}.backward", _legacy_forward(layer, fwd, training),
                     _legacy_twin(layer), _legacy_vjp(layer, bwd, grad, train_vars))
    return prim(x, *train_vars)


def _legacy_forward(layer, fwd, training):
    def forward(xv, *weights):
        return np.array(fwd(np.ascontiguousarray(xv, dtype=layer._np_dtype), training), copy=True)

    return forward


def _legacy_vjp(layer, bwd, grad, train_vars):
    def vjp(g, y, xv, *weights):
        dx = bwd(np.ascontiguousarray(g, dtype=layer._np_dtype))
        return (None if dx is None else np.array(dx, copy=True),) + tuple(grad(v).copy() for v in train_vars)

    return vjp


def _legacy_twin(layer):
    def vjp(g, y, *args):
        raise NotImplementedError(
            f'Layer "{layer.name}" ({type(layer).__name__}) has a hand-written backward(dy, need_dx), which gives '
            "first derivatives only. Received: a higher derivative through it; write its call() with tensor ops "
            "(ferronet.ops / tf.* functions) so the tape can differentiate it to any order"
        )

    return vjp
