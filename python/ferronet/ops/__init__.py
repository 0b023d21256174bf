"""NumPy-facing functional API: drop-in replacements running in the Rust core.

Layouts follow Keras: images are NHWC ``(batch, height, width, channels)``,
convolution kernels HWIO ``(kh, kw, in_channels, filters)``, dense kernels
``(in, units)``. float32 and float64 run in Rust; :func:`matmul` hands any
other dtype to NumPy so ``np.matmul``/``@`` can be swapped blindly; the
neural-network ops accept float32/float64 and raise ``DTypeError`` otherwise.
Every op that produces an array accepts ``out=`` to reuse a buffer.

Example:
    >>> import numpy as np
    >>> from ferronet import ops
    >>> a = np.arange(6, dtype=np.float32).reshape(2, 3)
    >>> ops.matmul(a, a.T)
    array([[ 5., 14.],
           [14., 50.]], dtype=float32)
"""

from . import activations, attention, conv, image, linalg, losses, normalization, optim, pooling
from .activations import *  # noqa: F401,F403  (each module's __all__ is the public list)
from .attention import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .image import *  # noqa: F401,F403
from .linalg import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .normalization import *  # noqa: F401,F403
from .optim import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from ..tensor.tape import grad, value_and_grad  # noqa: F401  (JAX-style autodiff over tensor functions)

__all__ = [
    *linalg.__all__,
    *conv.__all__,
    *image.__all__,
    *pooling.__all__,
    *optim.__all__,
    *normalization.__all__,
    *activations.__all__,
    *attention.__all__,
    *losses.__all__,
    "grad",
    "value_and_grad",
]
