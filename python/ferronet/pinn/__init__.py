"""Physics-informed neural networks: input derivatives of a network in one pass, and L-BFGS.

- :func:`mlp_taylor`: ``u``, ``∂u/∂x_j`` and ``∂²u/∂x_j²`` of a tanh MLP at many
  points in one fused pass (a few GEMMs per layer), differentiable with respect to
  the weights.
- :func:`lbfgs_minimize`: L-BFGS over a model's (or any) variables in float64,
  through ``scipy.optimize`` (the ``scipy`` extra), as PINN codes run it after Adam.

See ``examples/pinn_burgers.py`` for Burgers' equation solved this way.
"""

from .lbfgs import lbfgs_minimize
from .taylor import mlp_taylor

__all__ = ["mlp_taylor", "lbfgs_minimize"]
