"""``tf.linalg``: matrix products, inverses, determinants, solves, norms and diagonals, all differentiable."""

from ..tensor.symbolic import symbolic_namespace as _symbolic_namespace
from ..tensor.array_ops import einsum, eye, matmul, tensordot  # noqa: F401
from ..tensor.linalg_ops import det, diag, diag_part, inv, logdet, matrix_transpose, solve, trace  # noqa: F401
from ..tensor.reduce_ops import norm  # noqa: F401
from ..tensor.nn_ops import l2_normalize  # noqa: F401


# Functional models: these functions on ferronet.Input's KerasTensors record Lambda layers (tf.concat([x, t], 1)...).
_symbolic_namespace(globals(), skip=("eye",))
