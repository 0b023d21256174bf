"""``ferronet.nn``: TensorFlow's ``tf.nn`` over ferronet tensors.

After ``import ferronet as tf``, ``tf.nn.relu``, ``tf.nn.softmax``,
``tf.nn.sparse_softmax_cross_entropy_with_logits``... take arrays or tensors
and return :class:`~ferronet.Tensor` values, differentiable under a
``GradientTape``. Given to a layer (``Dense(512, activation=tf.nn.relu)``)
an activation runs the layer's fused Rust kernel, as its name would.
"""

from .tfcompat import nn as _tf_nn

__all__ = sorted(name for name in vars(_tf_nn) if not name.startswith("_") and callable(getattr(_tf_nn, name)))
globals().update({name: getattr(_tf_nn, name) for name in __all__})
