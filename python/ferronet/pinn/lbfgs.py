"""L-BFGS over variables through ``scipy.optimize.minimize`` (the ``scipy`` extra)."""

from __future__ import annotations

import numpy as np

from ..tensor import GradientTape
from ..tensor.core import unwrap

__all__ = ["lbfgs_minimize"]


def _scipy_optimize():
    try:
        from scipy import optimize
    except ImportError:
        raise ImportError("lbfgs_minimize needs SciPy, an optional extra: pip install 'ferronet[scipy]'") from None
    return optimize


def lbfgs_minimize(loss_fn, variables, maxiter=1000, tolerance=1e-12, history=50, callback=None):
    """Minimize ``loss_fn()`` over ``variables`` with L-BFGS, in float64, as DeepXDE and PINN codes do.

    The variables are flattened into one float64 vector; each evaluation sets
    them, runs ``loss_fn()`` under a ``GradientTape`` and returns the loss and
    its gradient to SciPy's ``L-BFGS-B``. The variables end at the best point.

    Args:
        loss_fn: callable without arguments returning a scalar tensor.
        variables: list of ``Variable`` (e.g. ``model.trainable_variables``).
        maxiter: maximum iterations.
        tolerance: ``ftol``/``gtol`` of the stopping tests.
        history: number of correction pairs kept (``maxcor``).
        callback: optional ``callback(iteration, loss)`` after each iteration.

    Returns:
        SciPy's ``OptimizeResult`` (``fun``, ``nit``, ``nfev``, ``message``).

    Raises:
        ImportError: naming the ``scipy`` extra when SciPy is missing.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.pinn import lbfgs_minimize
        >>> x = np.linspace(-1, 1, 20).astype("float32")
        >>> y = 2 * x + 1
        >>> w, b = fn.Variable(0.0), fn.Variable(0.0)
        >>> result = lbfgs_minimize(lambda: fn.reduce_mean(fn.square(w * x + b - y)), [w, b], maxiter=100)
        >>> bool(result.success), round(float(w.numpy()), 4), round(float(b.numpy()), 4)
        (True, 2.0, 1.0)
    """
    optimize = _scipy_optimize()
    variables = list(variables)
    shapes = [v.shape for v in variables]
    sizes = [int(np.prod(s)) for s in shapes]
    x0 = np.concatenate([np.asarray(v.value, np.float64).ravel() for v in variables])
    state = {"it": 0, "loss": None}

    def assign(flat):
        start = 0
        for v, n, s in zip(variables, sizes, shapes):
            v.assign(flat[start:start + n].reshape(s))
            start += n

    def fun(flat):
        assign(flat)
        with GradientTape() as tape:
            loss = loss_fn()
        grads = tape.gradient(loss, variables, unconnected_gradients="zero")
        state["loss"] = float(np.asarray(unwrap(loss)))
        return state["loss"], np.concatenate([np.asarray(unwrap(g), np.float64).ravel() for g in grads])

    def cb(xk):
        state["it"] += 1
        if callback is not None:
            callback(state["it"], state["loss"])

    result = optimize.minimize(fun, x0, jac=True, method="L-BFGS-B", callback=cb,
                               options={"maxiter": int(maxiter), "maxcor": int(history), "ftol": tolerance,
                                        "gtol": tolerance, "maxfun": int(maxiter) * 5 // 4 + 20})
    assign(result.x)
    return result
