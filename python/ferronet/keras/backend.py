"""``keras.backend``: the default float type, the fuzz factor, variable values, sessions.

``set_floatx`` changes the dtype that ``keras.ops`` and ``keras.random``
constructors give by default; ``set_epsilon`` the fuzz factor ``keras.ops``'
cross-entropies clip probabilities with.

Example:
    >>> import ferronet as fn
    >>> from ferronet.keras import backend
    >>> v = fn.Variable([1.0, 2.0])
    >>> backend.set_value(v, [3.0, 4.0])
    >>> backend.get_value(v), backend.floatx(), backend.epsilon()
    (array([3., 4.], dtype=float32), 'float32', 1e-07)
"""

from __future__ import annotations

import numpy as np

from ..layers.base import clear_session as _clear_names

__all__ = ["clear_session", "floatx", "set_floatx", "epsilon", "set_epsilon", "get_value", "set_value",
           "batch_get_value", "batch_set_value", "image_data_format", "set_image_data_format", "int_shape", "backend",
           "standardize_dtype", "is_float_dtype", "is_int_dtype"]

_FLOATX = "float32"
_EPSILON = 1e-7
_IMAGE_DATA_FORMAT = "channels_last"


def clear_session(free_memory=True) -> None:
    """Reset automatic layer names (``dense``, ``dense_1``, ...), as ``keras.backend.clear_session``.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.keras import backend
        >>> backend.clear_session()
        >>> [fn.layers.Dense(1).name for _ in range(2)]
        ['dense', 'dense_1']
        >>> backend.clear_session()
        >>> fn.layers.Dense(1).name
        'dense'
    """
    _clear_names()


def floatx() -> str:
    """The default float type (``"float32"`` unless :func:`set_floatx` changed it).

    Example:
        >>> from ferronet.keras import backend
        >>> backend.floatx()
        'float32'
    """
    return _FLOATX


def set_floatx(value) -> None:
    """Set the default float type: ``"float16"``, ``"float32"`` or ``"float64"``.

    Raises:
        ValueError: for any other type.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.keras import backend
        >>> backend.set_floatx("float64")
        >>> fn.keras.ops.zeros((2,)).dtype, fn.keras.random.normal((2,)).dtype
        (dtype('float64'), dtype('float64'))
        >>> backend.set_floatx("float32")  # back to the default
    """
    global _FLOATX
    name = standardize_dtype(value)
    if name not in ("float16", "float32", "float64"):
        raise ValueError(f"Unknown floatx type: {value!r}. Expected one of 'float16', 'float32', 'float64'. "
                         f"Received: value={value!r}")
    _FLOATX = name


def epsilon() -> float:
    """The fuzz factor used on probabilities in numeric expressions: ``1e-7`` by default.

    Example:
        >>> from ferronet.keras import backend
        >>> backend.epsilon()
        1e-07
    """
    return _EPSILON


def set_epsilon(value) -> None:
    """Set the fuzz factor returned by :func:`epsilon`.

    Example:
        >>> from ferronet.keras import backend
        >>> backend.set_epsilon(1e-5)
        >>> backend.epsilon()
        1e-05
        >>> backend.set_epsilon(1e-7)  # back to the default
    """
    global _EPSILON
    _EPSILON = float(value)


def image_data_format() -> str:
    """``"channels_last"``: ferronet's images are NHWC.

    Example:
        >>> from ferronet.keras import backend
        >>> backend.image_data_format()
        'channels_last'
    """
    return _IMAGE_DATA_FORMAT


def set_image_data_format(data_format) -> None:
    """Only ``"channels_last"`` is supported (layers compute on NHWC images).

    Raises:
        ValueError: for ``"channels_first"`` or anything else.

    Example:
        >>> from ferronet.keras import backend
        >>> backend.set_image_data_format("channels_last")
        >>> try:
        ...     backend.set_image_data_format("channels_first")
        ... except ValueError as e:
        ...     print(e)
        ferronet computes on channels_last (NHWC) images. Received: data_format='channels_first'
    """
    if str(data_format).lower() != "channels_last":
        raise ValueError(f"ferronet computes on channels_last (NHWC) images. Received: data_format={data_format!r}")


def backend() -> str:
    """The name of the backend: ``"ferronet"``.

    Example:
        >>> from ferronet.keras import backend
        >>> backend.backend()
        'ferronet'
    """
    return "ferronet"


def standardize_dtype(dtype) -> str:
    """A dtype's name (``np.float32``, ``"float32"``, ``tf.float32`` and tensors' dtypes all give ``"float32"``).

    ``None`` gives :func:`floatx`.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.keras import backend
        >>> [backend.standardize_dtype(d) for d in (np.float64, "int32", fn.float32, None)]
        ['float64', 'int32', 'float32', 'float32']
    """
    if dtype is None:
        return _FLOATX
    return np.dtype(getattr(dtype, "as_numpy_dtype", dtype)).name


def is_float_dtype(dtype) -> bool:
    """Whether ``dtype`` is a float type.

    Example:
        >>> from ferronet.keras import backend
        >>> backend.is_float_dtype("float16"), backend.is_float_dtype(np.int32)
        (True, False)
    """
    return np.dtype(standardize_dtype(dtype)).kind == "f"


def is_int_dtype(dtype) -> bool:
    """Whether ``dtype`` is an integer type.

    Example:
        >>> from ferronet.keras import backend
        >>> backend.is_int_dtype("uint8"), backend.is_int_dtype("float32")
        (True, False)
    """
    return np.dtype(standardize_dtype(dtype)).kind in "iu"


def get_value(x) -> np.ndarray:
    """The value of a variable or tensor as a NumPy array (a copy for variables).

    Example:
        >>> import ferronet as fn
        >>> from ferronet.keras import backend
        >>> v = fn.Variable([1.0, 2.0])
        >>> value = backend.get_value(v)
        >>> value[0] = 9.0  # a copy: the variable is unchanged
        >>> value, v.numpy()
        (array([9., 2.], dtype=float32), array([1., 2.], dtype=float32))
    """
    from ..tensor.core import Tensor

    if hasattr(x, "assign"):
        return x.numpy()
    return x.numpy() if isinstance(x, Tensor) else np.asarray(x)


def set_value(x, value) -> None:
    """Assign ``value`` to the variable ``x`` (same shape).

    Raises:
        ShapeError: when the shapes differ (the message names the variable).

    Example:
        >>> import ferronet as fn
        >>> from ferronet.keras import backend
        >>> v = fn.Variable([1.0, 2.0], name="w")
        >>> backend.set_value(v, [3.0, 4.0])
        >>> v.numpy()
        array([3., 4.], dtype=float32)
        >>> try:
        ...     backend.set_value(v, [1.0, 2.0, 3.0])
        ... except fn.errors.ShapeError as e:
        ...     print(e)
        Cannot assign to variable 'w' of shape (2,). Received: shape (3,)
    """
    if not hasattr(x, "assign"):
        raise TypeError(f"set_value needs a variable. Received: {type(x).__name__}")
    x.assign(value)


def batch_get_value(tensors) -> list:
    """The values of several variables, as arrays.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.keras import backend
        >>> backend.batch_get_value([fn.Variable([1.0]), fn.Variable([[2.0, 3.0]])])
        [array([1.], dtype=float32), array([[2., 3.]], dtype=float32)]
    """
    return [get_value(t) for t in tensors]


def batch_set_value(tuples) -> None:
    """Assign each ``(variable, value)`` pair.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.keras import backend
        >>> a, b = fn.Variable([0.0]), fn.Variable([0.0, 0.0])
        >>> backend.batch_set_value([(a, [1.0]), (b, [2.0, 3.0])])
        >>> a.numpy(), b.numpy()
        (array([1.], dtype=float32), array([2., 3.], dtype=float32))
    """
    for x, value in tuples:
        set_value(x, value)


def int_shape(x) -> tuple:
    """The shape of ``x`` as a tuple of ints.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.keras import backend
        >>> backend.int_shape(fn.zeros((2, 3))), backend.int_shape(np.zeros(4))
        ((2, 3), (4,))
    """
    return tuple(np.shape(getattr(x, "_v", x)))
