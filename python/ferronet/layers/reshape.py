"""``Reshape``: give the non-batch axes a new shape (one entry may be -1)."""

from __future__ import annotations

import math

from ..errors import ShapeError
from .base import Layer, fmt_shape

__all__ = ["Reshape"]


class Reshape(Layer):
    """Reshape the non-batch axes to ``target_shape`` (a view for C-contiguous inputs).

    Args:
        target_shape: tuple of ints without the batch axis; at most one -1.
        **kwargs: base layer arguments.

    Input shape:
        ``(batch, ...)``.

    Output shape:
        ``(batch, *target_shape)``.

    Example:
        >>> import numpy as np, ferronet as fn
        >>> fn.layers.Reshape((3, 4))(np.ones((2, 12), np.float32)).shape
        (2, 3, 4)
        >>> fn.layers.Reshape((-1, 2))(np.ones((2, 12), np.float32)).shape  # -1: inferred
        (2, 6, 2)
    """

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        try:
            target = tuple(int(d) for d in target_shape)
        except (TypeError, ValueError):
            raise ValueError(f"target_shape must be a tuple of ints. Received: target_shape={target_shape!r}") from None
        if sum(d == -1 for d in target) > 1 or any(d == 0 or d < -1 for d in target):
            raise ValueError(
                "target_shape needs positive dimensions and at most one -1. "
                f"Received: target_shape={target_shape!r}"
            )
        self.target_shape = target

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        if any(d is None for d in rest):
            return (input_shape[0],) + tuple(None if d == -1 else d for d in self.target_shape)
        total = math.prod(rest)
        known = math.prod(d for d in self.target_shape if d != -1)
        if -1 in self.target_shape:
            if total % known:
                raise ShapeError(
                    f'Layer "{self.name}" (Reshape) cannot reshape {total} values per sample into '
                    f"{self.target_shape}. Received: input shape {fmt_shape(input_shape)}"
                )
            out = tuple(total // known if d == -1 else d for d in self.target_shape)
        else:
            if known != total:
                raise ShapeError(
                    f'Layer "{self.name}" (Reshape) has target_shape={self.target_shape} ({known} values per '
                    f"sample). Received: input shape {fmt_shape(input_shape)} ({total} values per sample)"
                )
            out = self.target_shape
        return (input_shape[0],) + out

    def _tensor_call(self, x, training, **kwargs):
        from ..tensor import array_ops

        return array_ops.reshape(x, (x.shape[0],) + tuple(self.compute_output_shape(x.shape)[1:]))

    def _forward(self, state, inputs, training):
        state.in_shape = inputs.shape
        return inputs.reshape((inputs.shape[0],) + self.output_shape[1:])

    def _backward(self, state, dy, need_dx):
        return dy.reshape(state.in_shape) if need_dx else None

    def get_config(self):
        return {**super().get_config(), "target_shape": list(self.target_shape)}
