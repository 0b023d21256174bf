"""``tf.random``: uniform, normal and truncated normal tensors, shuffles, seeds."""

from ..tensor.random_ops import categorical, normal, set_seed, shuffle, truncated_normal, uniform  # noqa: F401
