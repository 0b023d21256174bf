"""Burgers' equation's exact solution (Cole-Hopf), the reference physics-informed networks are judged against."""

from __future__ import annotations

import numpy as np

__all__ = ["burgers_solution"]


def burgers_solution(x, t, nu=0.01 / np.pi, nodes=2001):
    """``u(x, t)`` solving ``u_t + u u_x = nu u_xx`` on ``[-1, 1]`` with ``u(x, 0) = -sin(pi x)``, ``u(±1, t) = 0``.

    Through the Cole-Hopf transform the solution is a ratio of two Gaussian
    integrals over ``eta = sqrt(4 nu t) z``; they are evaluated with the
    trapezoid rule on ``nodes`` points of ``z`` in ``[-8, 8]`` (the Gaussian
    factor is below 1e-27 outside), in log space so the large exponentials do
    not overflow.

    Args:
        x, t: arrays of the same shape (``t >= 0``).
        nu: viscosity (DeepXDE's and Raissi's ``0.01/pi`` by default).
        nodes: quadrature points; the default resolves the shock at ``x = 0`` to about 1e-7.

    Returns:
        ``u`` with the shape of ``x``, float64.

    Example:
        >>> from ferronet.datasets import burgers_solution
        >>> x = np.array([-0.5, 0.5])
        >>> burgers_solution(x, 0.0)  # the initial condition -sin(pi x)
        array([ 1., -1.])
        >>> np.round(burgers_solution(x, np.array([0.5, 1.0])), 4)  # later: lower, as the wave decays
        array([ 0.5928, -0.3762])
    """
    x = np.asarray(x, np.float64)
    t = np.broadcast_to(np.asarray(t, np.float64), x.shape)
    z = np.linspace(-8.0, 8.0, int(nodes))
    out = -np.sin(np.pi * x)
    flat_x, flat_t = x[t > 0], t[t > 0]
    res = np.empty(flat_x.shape)
    for lo in range(0, flat_x.size, 2048):  # chunks keep the (points, nodes) arrays small
        xs, ts = flat_x[lo:lo + 2048, None], flat_t[lo:lo + 2048, None]
        y = xs - np.sqrt(4.0 * nu * ts) * z[None, :]
        g = -np.cos(np.pi * y) / (2.0 * np.pi * nu) - z[None, :] ** 2
        f = np.exp(g - g.max(axis=1, keepdims=True))
        res[lo:lo + 2048] = -(np.sin(np.pi * y) * f).sum(axis=1) / f.sum(axis=1)
    out[t > 0] = res
    return out
