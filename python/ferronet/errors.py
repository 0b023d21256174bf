"""ferronet's exceptions: catch ``FerronetError`` for any of them.

``ShapeError`` is also a ``ValueError`` and ``DTypeError`` also a ``TypeError``,
so code written against NumPy's exceptions keeps working.
"""

__all__ = ["FerronetError", "ShapeError", "DTypeError", "ArgumentError", "FileFormatError"]


class FerronetError(Exception):
    """Base class of every error ferronet raises on purpose.

    Example:
        >>> import ferronet as fn
        >>> try:
        ...     fn.ops.relu(np.array([1, 2]))  # the kernels take float32 or float64
        ... except fn.errors.FerronetError as e:
        ...     print(type(e).__name__, isinstance(e, TypeError))
        DTypeError True
    """


class ShapeError(FerronetError, ValueError):
    """Operand shapes that do not fit together (the message names both).

    Example:
        >>> import ferronet as fn
        >>> try:
        ...     fn.matmul(fn.ones((2, 3)), fn.ones((2, 3)))
        ... except fn.errors.ShapeError as e:
        ...     print(e)
        matmul: inner dimensions differ (3 vs 2). Received: shapes (2, 3) and (2, 3)
    """


class DTypeError(FerronetError, TypeError):
    """An array of a dtype the operation does not accept.

    Example:
        >>> import ferronet as fn
        >>> try:
        ...     fn.ops.softmax(np.ones(3, dtype=np.float16))
        ... except fn.errors.DTypeError as e:
        ...     print(e)
        softmax: x must be a float32 or float64 array. Received: x.dtype=float16
    """


class ArgumentError(FerronetError, ValueError):
    """An argument outside its domain (a stride of 0, an unknown padding, ...).

    Example:
        >>> import ferronet as fn
        >>> images = np.ones((1, 4, 4, 1), dtype=np.float32)
        >>> try:
        ...     fn.ops.max_pool2d(images, 2, padding="full")
        ... except ValueError as e:  # an ArgumentError is a ValueError
        ...     print(type(e).__name__, "-", e)
        ArgumentError - max_pool2d: padding must be 'valid' or 'same'. Received: padding='full'
    """


class FileFormatError(FerronetError, ValueError):
    """A model or weights file that is damaged, truncated, foreign, or holds what ferronet cannot express.

    Example:
        >>> import ferronet as fn
        >>> with open("notes.keras", "w") as f:
        ...     _ = f.write("not a model")
        >>> try:
        ...     fn.models.load_model("notes.keras")
        ... except fn.errors.FileFormatError as e:
        ...     print(e)
        This is not a ferronet model file (not a readable zip archive: File is not a zip file); it may be
        truncated or of another format. Received: filepath='notes.keras'
    """
