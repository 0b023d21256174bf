"""Merge layers: ``Add``, ``Subtract``, ``Multiply``, ``Average``, ``Maximum``, ``Minimum``, ``Concatenate``, ``Dot``.

Each takes a list of tensors (symbolic in a functional model, or data) and
has a functional form (``layers.add([a, b])``...). Their math on tensors is
written in differentiable tensor ops, so the tape gives their backward to any
order. ``Add``, ``Subtract``, ``Multiply``, ``Average`` and ``Concatenate``
also have array kernels with a hand-written backward (``_forward_many`` /
``_backward_many``), which a model's training plan runs without the tape,
writing into buffers it owns.
"""

from __future__ import annotations

from functools import reduce

import numpy as np

from ..errors import ShapeError
from ..tensor import array_ops as A
from ..tensor import math_ops as M
from ..tensor import reduce_ops as R
from .base import Layer

__all__ = ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot", "add",
           "subtract", "multiply", "average", "maximum", "minimum", "concatenate", "dot"]


class _Merge(Layer):
    """Base of the element-wise merges: inputs of one shape (or broadcastable), combined pairwise."""

    _min_inputs = 2

    def build(self, input_shape):
        shapes = [tuple(s) for s in input_shape] if isinstance(input_shape, (list, tuple)) and input_shape and \
            isinstance(input_shape[0], (list, tuple)) else None
        if shapes is None or len(shapes) < self._min_inputs:
            raise ValueError(f'Layer "{self.name}" ({type(self).__name__}) must be called on a list of at least '
                             f"{self._min_inputs} inputs. Received: input_shape={input_shape}")
        self._check_shapes(shapes)

    def _check_shapes(self, shapes):
        tails = {s[1:] for s in shapes}
        if len(tails) > 1:
            raise ShapeError(f'Layer "{self.name}" ({type(self).__name__}) needs inputs of one shape. '
                             f"Received: input shapes {shapes}")

    def _tensor_call(self, x, training, **kwargs):
        if not isinstance(x, (list, tuple)):
            raise ValueError(f'Layer "{self.name}" ({type(self).__name__}) takes a list of tensors. '
                             f"Received: one tensor")
        return self._merge(list(x))


class Add(_Merge):
    """Element-wise sum of a list of tensors.

    Example:
        >>> import numpy as np, ferronet as fn
        >>> a = np.array([[1.0, 2.0, 3.0]], np.float32)
        >>> b = np.array([[4.0, 0.0, 1.0]], np.float32)
        >>> print(fn.layers.Add()([a, b]))
        [[5. 2. 4.]]
        >>> inputs = [fn.layers.Input((3,)), fn.layers.Input((3,))]  # a residual-style sum in a model
        >>> fn.Model(inputs, fn.layers.Add()(inputs)).output_shape
        (None, 3)
    """

    def _merge(self, xs):
        return reduce(M.add, xs)

    def _forward_many(self, state, xs, training):
        return _sum_into(state.buf("y", _out_shape(xs)), xs)

    def _backward_many(self, state, dy, need):
        return [dy if n else None for n in need]


class Subtract(_Merge):
    """``inputs[0] - inputs[1]`` (exactly two inputs).

    Example:
        >>> import numpy as np, ferronet as fn
        >>> a = np.array([[1.0, 2.0, 3.0]], np.float32)
        >>> b = np.array([[4.0, 0.0, 1.0]], np.float32)
        >>> print(fn.layers.Subtract()([a, b]))
        [[-3.  2.  2.]]
    """

    def build(self, input_shape):
        super().build(input_shape)
        if len(input_shape) != 2:
            raise ValueError(f'Layer "{self.name}" (Subtract) takes exactly 2 inputs. Received: {len(input_shape)}')

    def _merge(self, xs):
        return M.subtract(xs[0], xs[1])

    def _forward_many(self, state, xs, training):
        return np.subtract(xs[0], xs[1], out=state.buf("y", _out_shape(xs)))

    def _backward_many(self, state, dy, need):
        return [dy if need[0] else None, np.negative(dy, out=state.buf("dx1", dy.shape)) if need[1] else None]


class Multiply(_Merge):
    """Element-wise product of a list of tensors.

    Example:
        >>> import numpy as np, ferronet as fn
        >>> a = np.array([[1.0, 2.0, 3.0]], np.float32)
        >>> b = np.array([[4.0, 0.0, 1.0]], np.float32)
        >>> print(fn.layers.Multiply()([a, b]))
        [[4. 0. 3.]]
    """

    def _merge(self, xs):
        return reduce(M.multiply, xs)

    def _forward_many(self, state, xs, training):
        state.xs = xs
        y = state.buf("y", _out_shape(xs))
        np.multiply(xs[0], xs[1], out=y)
        for x in xs[2:]:
            np.multiply(y, x, out=y)
        return y

    def _backward_many(self, state, dy, need):
        xs = state.xs
        out = []
        for i, n in enumerate(need):
            if not n:
                out.append(None)
                continue
            g = np.multiply(dy, xs[1 if i == 0 else 0], out=state.buf(f"dx{i}", dy.shape))
            for j in range(2 if i == 0 else 1, len(xs)):
                if j != i:
                    np.multiply(g, xs[j], out=g)
            out.append(g)
        return out


class Average(_Merge):
    """Element-wise mean of a list of tensors.

    Example:
        >>> import numpy as np, ferronet as fn
        >>> a = np.array([[1.0, 2.0, 3.0]], np.float32)
        >>> b = np.array([[4.0, 0.0, 1.0]], np.float32)
        >>> print(fn.layers.Average()([a, b]))
        [[2.5 1.  2. ]]
    """

    def _merge(self, xs):
        return M.divide(reduce(M.add, xs), len(xs))

    def _forward_many(self, state, xs, training):
        y = _sum_into(state.buf("y", _out_shape(xs)), xs)
        return np.divide(y, len(xs), out=y)

    def _backward_many(self, state, dy, need):
        g = np.divide(dy, len(need), out=state.buf("dx", dy.shape)) if any(need) else None
        return [g if n else None for n in need]


class Maximum(_Merge):
    """Element-wise maximum of a list of tensors.

    Example:
        >>> import numpy as np, ferronet as fn
        >>> a = np.array([[1.0, 2.0, 3.0]], np.float32)
        >>> b = np.array([[4.0, 0.0, 1.0]], np.float32)
        >>> print(fn.layers.Maximum()([a, b]))
        [[4. 2. 3.]]
    """

    def _merge(self, xs):
        return reduce(M.maximum, xs)


class Minimum(_Merge):
    """Element-wise minimum of a list of tensors.

    Example:
        >>> import numpy as np, ferronet as fn
        >>> a = np.array([[1.0, 2.0, 3.0]], np.float32)
        >>> b = np.array([[4.0, 0.0, 1.0]], np.float32)
        >>> print(fn.layers.Minimum()([a, b]))
        [[1. 0. 1.]]
    """

    def _merge(self, xs):
        return reduce(M.minimum, xs)


class Concatenate(_Merge):
    """Join a list of tensors along ``axis`` (default -1, the features).

    Args:
        axis: axis to join along; the other dimensions must match.

    Example:
        >>> import numpy as np, ferronet as fn
        >>> a = np.array([[1.0, 2.0, 3.0]], np.float32)
        >>> b = np.array([[4.0, 0.0, 1.0]], np.float32)
        >>> print(fn.layers.Concatenate()([a, b]))
        [[1. 2. 3. 4. 0. 1.]]
        >>> fn.layers.Concatenate(axis=1)([np.ones((2, 3, 4)), np.ones((2, 5, 4))]).shape
        (2, 8, 4)
        >>> left, right = fn.layers.Input((3,)), fn.layers.Input((2,))  # two inputs joined in a functional model
        >>> model = fn.Model([left, right], fn.layers.Dense(1)(fn.layers.Concatenate()([left, right])))
        >>> model.predict([np.ones((4, 3)), np.ones((4, 2))], verbose=0).shape
        (4, 1)
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)

    def _check_shapes(self, shapes):
        nd = len(shapes[0])
        axis = self.axis % nd
        rest = {tuple(d for i, d in enumerate(s) if i != axis and i != 0) for s in shapes}
        if len(rest) > 1 or any(len(s) != nd for s in shapes):
            raise ShapeError(f'Layer "{self.name}" (Concatenate) needs inputs matching except along axis '
                             f"{self.axis}. Received: input shapes {shapes}")

    def _merge(self, xs):
        return A.concat(xs, self.axis)

    def _forward_many(self, state, xs, training):
        axis = self.axis % xs[0].ndim
        shape = list(xs[0].shape)
        shape[axis] = sum(x.shape[axis] for x in xs)
        state.sizes = [x.shape[axis] for x in xs]
        return np.concatenate(xs, axis=axis, out=state.buf("y", tuple(shape)))

    def _backward_many(self, state, dy, need):
        axis = self.axis % dy.ndim
        out, start = [], 0
        for i, (size, n) in enumerate(zip(state.sizes, need)):
            if n:
                index = (slice(None),) * axis + (slice(start, start + size),)
                part = dy[index]
                dx = state.buf(f"dx{i}", part.shape)
                np.copyto(dx, part)  # a contiguous copy: the next kernels take C-contiguous arrays
                out.append(dx)
            else:
                out.append(None)
            start += size
        return out

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class Dot(_Merge):
    """Dot product of two ``(batch, n)`` (or ``(batch, ..., n)``) tensors along ``axes``.

    Args:
        axes: int or pair of ints (axes of the two inputs, batch excluded from counting as in Keras).
        normalize: L2-normalize both inputs along ``axes`` first (cosine similarity).

    Example:
        >>> import numpy as np, ferronet as fn
        >>> a = np.array([[1.0, 2.0, 3.0]], np.float32)
        >>> b = np.array([[4.0, 0.0, 1.0]], np.float32)
        >>> print(fn.layers.Dot(axes=1)([a, b]))
        [[7.]]
        >>> print(np.round(fn.layers.Dot(axes=1, normalize=True)([a, b]), 4))  # cosine similarity
        [[0.4537]]
        >>> q, k = np.ones((2, 3, 4)), np.ones((2, 5, 4))
        >>> fn.layers.Dot(axes=(2, 2))([q, k]).shape  # attention-style scores
        (2, 3, 5)
    """

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        self.axes = axes
        self.normalize = bool(normalize)

    def _check_shapes(self, shapes):
        if len(shapes) != 2:
            raise ValueError(f'Layer "{self.name}" (Dot) takes exactly 2 inputs. Received: {len(shapes)}')
        a, b = self._axes(shapes)
        if shapes[0][a] != shapes[1][b]:
            raise ShapeError(f'Layer "{self.name}" (Dot): dimension {a} of the first input ({shapes[0][a]}) and '
                             f"{b} of the second ({shapes[1][b]}) differ. Received: input shapes {shapes}")

    def _axes(self, shapes):
        ax = self.axes if isinstance(self.axes, (list, tuple)) else (self.axes, self.axes)
        return tuple(int(a) % len(s) for a, s in zip(ax, shapes))

    def _merge(self, xs):
        a, b = xs
        ia, ib = self._axes([a.shape, b.shape])
        if self.normalize:
            from ..tensor import nn_ops

            a, b = nn_ops.l2_normalize(a, axis=ia), nn_ops.l2_normalize(b, axis=ib)
        if a.ndim == 2 and b.ndim == 2:
            return R.reduce_sum(M.multiply(a, b), axis=1, keepdims=True)
        a = A.swapaxes(a, ia, -1)
        b = A.swapaxes(b, ib, 1)
        return A.matmul(a, b)

    def get_config(self):
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


def _sum_into(y, xs):
    np.add(xs[0], xs[1], out=y)
    for x in xs[2:]:
        np.add(y, x, out=y)
    return y


def _out_shape(xs):
    shape = xs[0].shape
    if any(x.shape != shape for x in xs):
        raise ShapeError(f"Merge inputs must have one shape. Received: shapes {[x.shape for x in xs]}")
    return shape


def _functional(cls, shown):
    """``cls``'s functional form; ``shown`` is what its example prints for the inputs ``a`` and ``b`` below."""
    def fn(inputs, **kwargs):
        return cls(**kwargs)(inputs)

    name = cls.__name__
    fn.__name__ = fn.__qualname__ = name.lower()
    fn.__doc__ = (f"Functional form of :class:`{name}`: ``{name}(**kwargs)(inputs)``.\n\n"
                  "Example:\n"
                  "    >>> import numpy as np, ferronet as fn\n"
                  "    >>> a = np.array([[1.0, 2.0, 3.0]], np.float32)\n"
                  "    >>> b = np.array([[4.0, 0.0, 1.0]], np.float32)\n"
                  f"    >>> print(fn.layers.{name.lower()}([a, b]))\n"
                  f"    {shown}\n")
    return fn


add, subtract = _functional(Add, "[[5. 2. 4.]]"), _functional(Subtract, "[[-3.  2.  2.]]")
multiply, average = _functional(Multiply, "[[4. 0. 3.]]"), _functional(Average, "[[2.5 1.  2. ]]")
maximum, minimum = _functional(Maximum, "[[4. 2. 3.]]"), _functional(Minimum, "[[1. 0. 1.]]")
concatenate = _functional(Concatenate, "[[1. 2. 3. 4. 0. 1.]]")


def dot(inputs, axes=-1, **kwargs):
    """Functional form of :class:`Dot`.

    Example:
        >>> import numpy as np, ferronet as fn
        >>> a = np.array([[1.0, 2.0, 3.0]], np.float32)
        >>> b = np.array([[4.0, 0.0, 1.0]], np.float32)
        >>> print(fn.layers.dot([a, b], axes=1))
        [[7.]]
    """
    return Dot(axes=axes, **kwargs)(inputs)
