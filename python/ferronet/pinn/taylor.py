"""Values and input derivatives of a tanh MLP in one pass ("Taylor mode"), as one differentiable primitive.

A physics-informed loss needs ``u``, ``du/dx_j`` and ``d²u/dx_j²`` at every
collocation point. Nested tapes get them by differentiating the network
twice, op by op. Here they are carried through each layer together instead:
the rows of ``[h; h_x1..h_xd; h_x1x1..h_xmxm]`` are stacked so a layer is one
GEMM, and tanh maps the stack with ``s = 1 - h²``:

    h_x'  = s · z_x
    h_xx' = s · z_xx - 2 h s · z_x²

The backward pass (hand-derived, below) is three GEMMs per layer and one
element-wise sweep, checked against float64 central differences and against
nested tapes in the tests. Its differentiable twin (for a third derivative,
or a gradient with respect to the points) is the same recurrence in tensor
ops.
"""

from __future__ import annotations

import numpy as np

from .. import _core
from .. import ops as _ops
from ..errors import ArgumentError, ShapeError
from ..tensor import array_ops as A
from ..tensor import math_ops as M
from ..tensor.core import Primitive, as_tensor, unwrap
from ..tensor.nn_ops import _twin

__all__ = ["mlp_taylor"]


def _stage_forward(h, zx, zxx, hx, hxx):
    """tanh's Taylor map on arrays, into ``hx``/``hxx``: ``h = tanh(z)`` given."""
    kernel = getattr(_core, "taylor_tanh_forward", None)
    if kernel is not None:
        kernel(h, zx, zxx, hx, hxx)
        return
    s = 1.0 - h * h
    np.multiply(zx, s, out=hx)
    np.subtract(zxx * s, 2.0 * (h * s) * zx[: zxx.shape[0]] ** 2, out=hxx)


def _stage_backward(h, zx, zxx, dh, dhx, dhxx, dz, dzx, dzxx):
    """Gradients with respect to ``(z, z_x, z_xx)`` of tanh's Taylor map, into ``dz``/``dzx``/``dzxx``."""
    kernel = getattr(_core, "taylor_tanh_backward", None)
    if kernel is not None:
        kernel(h, zx, zxx, dh, dhx, dhxx, dz, dzx, dzxx)
        return
    s = 1.0 - h * h
    s1 = -2.0 * h * s                      # ds/dz
    s2 = -2.0 * s * s + 4.0 * h * h * s    # d²s/dz²
    m = zxx.shape[0]
    zxm = zx[:m]
    dz[...] = dh * s + (dhx * zx).sum(axis=0) * s1 + (dhxx * (zxx * s1 + zxm * zxm * s2)).sum(axis=0)
    np.multiply(dhx, s, out=dzx)
    dzx[:m] += dhxx * (2.0 * s1) * zxm
    np.multiply(dhxx, s, out=dzxx)


def _forward(x, params, d, m, acts):
    """The stacked ``(1 + d + m, n, units)`` planes u, du/dx_j (all j), d²u/dx_j² (j < m), and what backward needs.

    Each layer's planes live in one array, so a layer is one GEMM over all of them and nothing is copied.
    """
    n = x.shape[0]
    planes = 1 + d + m
    saved = []
    hs = None
    for i in range(len(params) // 2):
        w, b = params[2 * i], params[2 * i + 1]
        units = w.shape[1]
        if i == 0:
            # z = x W + b; z_x_j = W[j] at every point; z_xx = 0
            zs = np.empty((planes, n, units), w.dtype)
            _ops.linear(x, w, b, out=zs[0])
            zs[1:1 + d] = w[:, None, :]
            zs[1 + d:] = 0
        else:
            zs = _ops.matmul(hs.reshape(-1, hs.shape[2]), w).reshape(planes, n, units)
            zs[0] += b
        if acts[i] == "tanh":
            hs = np.empty_like(zs)
            _ops.tanh(zs[0], out=hs[0])
            _stage_forward(hs[0], zs[1:1 + d], zs[1 + d:], hs[1:1 + d], hs[1 + d:])
        else:
            hs = zs
        saved.append((hs, zs))
    return hs, saved


def _make_primitive(d, m, acts):
    saved_box = []

    def forward(x, *params):
        out, saved = _forward(np.ascontiguousarray(x), params, d, m, acts)
        saved_box[:] = saved
        return out

    def fast_vjp(g, out, x, *params):
        grads = [None] * len(params)
        dhs = np.ascontiguousarray(g)
        dx = None
        for i in range(len(params) // 2 - 1, -1, -1):
            hs, zs = saved_box[i]
            w = params[2 * i]
            if acts[i] == "tanh":
                dzs = np.empty_like(zs)
                _stage_backward(hs[0], zs[1:1 + d], zs[1 + d:], dhs[0], dhs[1:1 + d], dhs[1 + d:],
                                dzs[0], dzs[1:1 + d], dzs[1 + d:])
            else:
                dzs = dhs
            grads[2 * i + 1] = _core.sum_rows(dzs[0])
            if i:
                prev = saved_box[i - 1][0]
                flat_d = dzs.reshape(-1, w.shape[1])
                grads[2 * i] = _ops.matmul(prev.reshape(-1, w.shape[0]).T, flat_d)
                dhs = _ops.matmul(flat_d, w.T).reshape(1 + d + m, -1, w.shape[0])
            else:
                grads[0] = _ops.matmul(x.T, dzs[0]) + dzs[1:1 + d].sum(axis=1)
                dx = _ops.matmul(dzs[0], w.T)
        return (dx,) + tuple(grads)

    def formula(x, *params):
        return _formula(x, params, m, acts)

    return Primitive("mlp_taylor", forward, _twin(formula), fast_vjp)


def _formula(x, params, n_second, acts):
    """The same recurrence in tensor ops (the primitive's differentiable twin)."""
    n, d = x.shape
    w, b = params[0], params[1]
    z = M.add(A.matmul(x, w), b)
    zx = A.broadcast_to(A.expand_dims(w, 1), (d, n, w.shape[1]))
    zxx = A.zeros((n_second, n, w.shape[1]), unwrap(w).dtype)
    h = hx = hxx = None
    for i in range(len(params) // 2):
        if i:
            w, b = params[2 * i], params[2 * i + 1]
            z = M.add(A.matmul(h, w), b)
            zx, zxx = A.matmul(hx, w), A.matmul(hxx, w)
        if acts[i] == "tanh":
            h = M.tanh(z)
            s = M.subtract(1.0, M.square(h))
            hx = M.multiply(zx, s)
            hxx = M.subtract(M.multiply(zxx, s), M.multiply(M.multiply(M.multiply(h, s), 2.0),
                                                          M.square(zx[:n_second])))
        else:
            h, hx, hxx = z, zx, zxx
    return A.concat([A.expand_dims(h, 0), hx, hxx], 0)


def _dense_stack(model):
    """``(kernels and biases, activations)`` of a model that is a plain stack of Dense layers (tanh or linear)."""
    from ..layers import Dense, InputLayer
    from ..models import Sequential

    stack = getattr(model, "layers", None) if isinstance(model, Sequential) else None
    if stack is None:
        raise ArgumentError("mlp_taylor needs a Sequential stack of Dense layers with tanh or linear activations. "
                            f"Received: {type(model).__name__}")
    params, acts = [], []
    for layer in stack:
        if isinstance(layer, InputLayer):
            continue
        name = getattr(layer._act, "name", None) if layer._act is not None else "linear"
        if not isinstance(layer, Dense) or name not in ("tanh", "linear") or not layer.use_bias:
            raise ArgumentError(f"mlp_taylor supports Dense layers with bias and tanh or linear activation. "
                                f"Received: layer '{layer.name}' ({type(layer).__name__}, activation={name})")
        params += [layer.kernel, layer.bias]
        acts.append(name)
    return params, acts


def mlp_taylor(model, x, second=None):
    """Outputs of a tanh MLP and their first and second derivatives with respect to its inputs, in one pass.

    Args:
        model: a built ``Sequential`` of ``Dense`` layers with ``tanh`` or linear activations.
        x: points, ``(n, d)``.
        second: how many of the leading input dimensions get second derivatives (default all ``d``);
            order the inputs so those come first (e.g. ``(x, t)`` for ``u_xx``).

    Returns:
        ``(u, du, d2u)``: ``u (n, m)``, ``du (d, n, m)`` with ``du[j] = ∂u/∂x_j`` and ``d2u (second, n, m)``
        with ``d2u[j] = ∂²u/∂x_j²``; tensors differentiable with respect to the model's weights (fast
        hand-written backward) and, to any order, through the tape.

    Example:
        >>> import numpy as np, ferronet as fn
        >>> net = fn.Sequential([fn.Input((2,), dtype="float64"), fn.layers.Dense(8, activation="tanh",
        ...                      dtype="float64"), fn.layers.Dense(1, dtype="float64")])
        >>> u, du, d2u = fn.pinn.mlp_taylor(net, np.zeros((5, 2)), second=1)
        >>> u.shape, du.shape, d2u.shape
        ((5, 1), (2, 5, 1), (1, 5, 1))
    """
    params, acts = _dense_stack(model)
    xt = as_tensor(x)
    dtype = unwrap(params[0]).dtype
    if xt.dtype != dtype:
        xt = M.cast(xt, dtype)
    if xt.ndim != 2 or xt.shape[1] != unwrap(params[0]).shape[0]:
        raise ShapeError(f"mlp_taylor needs points of shape (n, {unwrap(params[0]).shape[0]}). "
                         f"Received: shape {tuple(xt.shape)}")
    d = xt.shape[1]
    m = d if second is None else int(second)
    if not 0 <= m <= d:
        raise ArgumentError(f"second must be between 0 and {d}. Received: second={second!r}")
    prim = _make_primitive(d, m, tuple(acts))
    out = prim(xt, *params)
    return out[0], out[1:1 + d], out[1 + d:]
