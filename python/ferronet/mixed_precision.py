"""``ferronet.mixed_precision``: Keras' dtype policies, with ``mixed_bfloat16`` on the bfloat16 GEMM kernels.

A policy names two dtypes: the one a layer's variables are stored in and the
one its products are computed in. ``"mixed_bfloat16"`` keeps every variable
and every optimizer slot in float32 (the master weights) and makes the layers
that multiply (``Dense``, ``Conv1D``, ``Conv2D``, ``Conv2DTranspose``) run
their forward and backward products with ``precision="bfloat16"``: both
operands are rounded to bfloat16 (ties to even) and the products are summed in
float32, on AMX tiles when the CPU has them (``ferronet.amx()``), otherwise on
the float32 kernels with the same rounding. Losses, softmax, activations,
biases and normalization statistics stay float32, and so do the arrays passed
between layers: NumPy has no bfloat16 type, and an output that is rounded
again when the next layer reads it gains nothing from being stored rounded.

Example:
    >>> import ferronet as fn
    >>> fn.mixed_precision.set_global_policy("mixed_bfloat16")
    >>> layer = fn.layers.Dense(4)
    >>> layer.compute_dtype, layer.variable_dtype
    ('bfloat16', 'float32')
    >>> fn.mixed_precision.set_global_policy("float32")
"""

from __future__ import annotations

from typing import Optional

from .errors import ArgumentError

__all__ = ["DTypePolicy", "Policy", "dtype_policy", "global_policy", "set_dtype_policy", "set_global_policy"]

# policy name -> (compute dtype, variable dtype)
_POLICIES = {
    "float32": ("float32", "float32"),
    "float64": ("float64", "float64"),
    "mixed_bfloat16": ("bfloat16", "float32"),
}
_UNSUPPORTED = {
    "bfloat16": "it stores variables in bfloat16, which NumPy has no type for; 'mixed_bfloat16' computes in "
                "bfloat16 with float32 variables",
    "float16": "ferronet has no float16 kernels",
    "mixed_float16": "ferronet has no float16 kernels; 'mixed_bfloat16' is its mixed precision",
}


class DTypePolicy:
    """A layer's dtypes: ``variable_dtype`` for its weights, ``compute_dtype`` for its products.

    Args:
        name: ``"float32"``, ``"float64"`` or ``"mixed_bfloat16"`` (bfloat16 products, float32 variables);
            ``None`` means ``keras.backend.floatx()``.

    Raises:
        ArgumentError: for another name (``"bfloat16"``, ``"float16"`` and ``"mixed_float16"`` say why).

    Example:
        >>> import ferronet as fn
        >>> policy = fn.mixed_precision.DTypePolicy("mixed_bfloat16")
        >>> policy.compute_dtype, policy.variable_dtype, policy.precision
        ('bfloat16', 'float32', 'bfloat16')
        >>> layer = fn.layers.Dense(4, dtype=policy)  # this layer only
        >>> layer.compute_dtype, layer.dtype_policy
        ('bfloat16', <DTypePolicy "mixed_bfloat16">)
        >>> try:
        ...     fn.mixed_precision.DTypePolicy("mixed_float16")
        ... except fn.errors.ArgumentError as e:
        ...     print(e)
        ferronet cannot run the dtype policy 'mixed_float16': ferronet has no float16 kernels; 'mixed_bfloat16'
        is its mixed precision. Expected one of 'float32', 'float64', 'mixed_bfloat16'. Received: name='mixed_float16'
    """

    def __init__(self, name: Optional[str] = None):
        if name is None:
            from .keras import backend

            name = backend.floatx()
        if isinstance(name, DTypePolicy):
            name = name.name
        if not isinstance(name, str) or name not in _POLICIES:
            why = _UNSUPPORTED.get(name) if isinstance(name, str) else None
            raise ArgumentError(
                (f"ferronet cannot run the dtype policy {name!r}: {why}. " if why else "Unknown dtype policy. ")
                + f"Expected one of {', '.join(repr(n) for n in _POLICIES)}. Received: name={name!r}"
            )
        self._name = name
        self._compute_dtype, self._variable_dtype = _POLICIES[name]

    @property
    def name(self) -> str:
        return self._name

    @property
    def compute_dtype(self) -> str:
        """The dtype the layer's products are computed in (``"bfloat16"`` under ``mixed_bfloat16``)."""
        return self._compute_dtype

    @property
    def variable_dtype(self) -> str:
        """The dtype of the layer's weights and of their optimizer slots."""
        return self._variable_dtype

    @property
    def precision(self) -> str:
        """The ``precision=`` the GEMM and convolution kernels get: ``"bfloat16"`` or ``"float32"``."""
        return "bfloat16" if self._compute_dtype == "bfloat16" else "float32"

    def get_config(self) -> dict:
        return {"name": self._name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __eq__(self, other):
        return isinstance(other, DTypePolicy) and other._name == self._name

    def __hash__(self):
        return hash(self._name)

    def __repr__(self):
        return f'<DTypePolicy "{self._name}">'


Policy = DTypePolicy  # Keras 2's name, kept by Keras 3

_GLOBAL: Optional[DTypePolicy] = None


def get(value) -> DTypePolicy:
    """A policy from a name, a policy, a Keras config dict (``{"class_name": "DTypePolicy", "config": {...}}``) or
    None (the global policy)."""
    if value is None:
        return global_policy()
    if isinstance(value, DTypePolicy):
        return value
    if isinstance(value, dict):
        inner = value.get("config")
        return DTypePolicy(inner.get("name") if isinstance(inner, dict) else value.get("name"))
    if isinstance(value, str):
        return DTypePolicy(value)
    import numpy as np

    try:
        return DTypePolicy(np.dtype(value).name)
    except TypeError:
        raise ArgumentError(f"A dtype policy is a name, a DTypePolicy or None. Received: dtype={value!r}") from None


def set_global_policy(policy) -> None:
    """Set the policy of layers created from now on without a ``dtype`` (``None``: back to ``floatx()``).

    ``set_dtype_policy`` is the same function (Keras 3's name).

    Args:
        policy: a name (``"mixed_bfloat16"``) or a :class:`DTypePolicy`.

    Example:
        >>> import ferronet as fn
        >>> fn.mixed_precision.set_global_policy("mixed_bfloat16")
        >>> fn.layers.Dense(4).compute_dtype
        'bfloat16'
        >>> fn.mixed_precision.set_global_policy(None)  # back to floatx()
        >>> fn.layers.Dense(4).compute_dtype
        'float32'
    """
    global _GLOBAL
    _GLOBAL = None if policy is None else get(policy)


def global_policy() -> DTypePolicy:
    """The policy new layers get by default: the one set, else ``DTypePolicy(keras.backend.floatx())``.

    ``dtype_policy`` is the same function (Keras 3's name).

    Example:
        >>> import ferronet as fn
        >>> fn.mixed_precision.global_policy()
        <DTypePolicy "float32">
        >>> fn.mixed_precision.set_global_policy("float64")
        >>> fn.mixed_precision.global_policy().variable_dtype
        'float64'
        >>> fn.mixed_precision.set_global_policy(None)
    """
    return _GLOBAL if _GLOBAL is not None else DTypePolicy(None)


# Keras 3's names (keras.config.dtype_policy / set_dtype_policy)
dtype_policy = global_policy
set_dtype_policy = set_global_policy
