"""``tf.nn``: activations, cross-entropies with logits, normalization helpers, dropout."""

from ..tensor.nn_ops import (  # noqa: F401
    avg_pool2d, conv2d as _conv2d, dropout, elu, gelu, l2_normalize, leaky_relu, log_softmax, max_pool2d, moments,
    relu, relu6, selu, sigmoid, sigmoid_cross_entropy_with_logits, silu, softmax, softmax_cross_entropy_with_logits,
    softplus, softsign, sparse_softmax_cross_entropy_with_logits, swish, tanh,
)
from ..tensor.symbolic import symbolic_aware
from ..tensor.tape import stop_gradient  # noqa: F401


@symbolic_aware
def l2_loss(t):
    """``sum(t ** 2) / 2``, the usual weight-decay term.

    Example:
        >>> import ferronet as fn
        >>> fn.nn.l2_loss(fn.constant([[1.0, 2.0], [3.0, 0.0]])).numpy()
        array(7., dtype=float32)
    """
    from ..tensor.math_ops import multiply, square
    from ..tensor.reduce_ops import reduce_sum

    return multiply(reduce_sum(square(t)), 0.5)


@symbolic_aware
def bias_add(value, bias):
    """``value + bias``, the bias on the last axis.

    Example:
        >>> import ferronet as fn
        >>> fn.nn.bias_add(fn.zeros((2, 3)), fn.constant([1.0, 2.0, 3.0])).numpy()
        array([[1., 2., 3.],
               [1., 2., 3.]], dtype=float32)
    """
    from ..tensor.math_ops import add

    return add(value, bias)


@symbolic_aware
def conv2d(input, filters, strides, padding, dilations=None, data_format="NHWC"):
    """``tf.nn.conv2d`` on NHWC input and HWIO filters (``strides``/``dilations`` an int or a list).

    Example:
        >>> import ferronet as fn
        >>> image = fn.constant(np.arange(16.0).reshape(1, 4, 4, 1))
        >>> filters = fn.ones((2, 2, 1, 1))  # sums each 2x2 window
        >>> y = fn.nn.conv2d(image, filters, strides=2, padding="VALID")
        >>> y.shape, y.numpy()[0, :, :, 0]
        ((1, 2, 2, 1), array([[10., 18.],
               [42., 50.]], dtype=float32))
    """
    if data_format != "NHWC":
        raise ValueError(f"conv2d supports data_format='NHWC'. Received: data_format={data_format!r}")

    def pair(v):
        if v is None:
            return (1, 1)
        v = [int(v)] * 2 if isinstance(v, int) else [int(s) for s in v]
        return tuple(v[1:3]) if len(v) == 4 else tuple(v)

    return _conv2d(input, filters, None, strides=pair(strides), padding=padding, dilation=pair(dilations))
