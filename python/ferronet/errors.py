"""ferronet's exceptions: catch ``FerronetError`` for any of them.

``ShapeError`` is also a ``ValueError`` and ``DTypeError`` also a ``TypeError``,
so code written against NumPy's exceptions keeps working.
"""

__all__ = ["FerronetError", "ShapeError", "DTypeError", "ArgumentError", "FileFormatError"]


class FerronetError(Exception):
    """Base class of every error ferronet raises on purpose."""


class ShapeError(FerronetError, ValueError):
    """Operand shapes that do not fit together (the message names both)."""


class DTypeError(FerronetError, TypeError):
    """An array of a dtype the operation does not accept."""


class ArgumentError(FerronetError, ValueError):
    """An argument outside its domain (a stride of 0, an unknown padding, ...)."""


class FileFormatError(FerronetError, ValueError):
    """A model or weights file that is damaged, truncated, foreign, or holds what ferronet cannot express."""
