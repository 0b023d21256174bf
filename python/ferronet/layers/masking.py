"""Masks: ``Masking`` and how masks travel between layers.

As in Keras, a mask is a boolean tensor ``(batch, steps)`` attached to a
layer's output (``output._keras_mask``). Calling a layer hands the mask of its
input to ``call``/``_tensor_call`` as ``mask=`` when the layer takes one, and
attaches ``layer.compute_mask(inputs, mask)`` to the outputs: layers with
``supports_masking = True`` pass the mask on unchanged, ``Masking`` and
``Embedding(mask_zero=True)`` create one, recurrent layers consume it. A
layer that does not support masking drops it (with a warning, once). In
``fit``/``evaluate`` a mask on the model's output weights the loss and the
metrics (see :func:`apply_output_mask`).
"""

from __future__ import annotations

import functools
import inspect
import warnings

import numpy as np

from ..tensor.core import Tensor, unwrap
from .base import Layer

__all__ = ["Masking", "get_mask", "apply_output_mask"]


def get_mask(x):
    """The mask attached to ``x`` (a list of them for a list of tensors), or None.

    Example:
        >>> import numpy as np, ferronet as fn
        >>> from ferronet.layers.masking import get_mask
        >>> ids = np.array([[3, 1, 0, 0]])  # two real tokens, then padding
        >>> vectors = fn.layers.Embedding(10, 2, mask_zero=True)(ids)
        >>> get_mask(vectors).numpy()
        array([[ True,  True, False, False]])
        >>> get_mask(ids) is None  # a plain array carries no mask
        True
    """
    if isinstance(x, (list, tuple)):
        masks = [get_mask(v) for v in x]
        return masks if any(m is not None for m in masks) else None
    return getattr(x, "_keras_mask", None) if isinstance(x, Tensor) else None


def _set_mask(t, mask):
    if isinstance(t, Tensor) and mask is not None:
        t._keras_mask = mask if isinstance(mask, Tensor) else Tensor(np.asarray(mask, dtype=bool))


@functools.lru_cache(maxsize=None)
def takes_mask(cls) -> bool:
    """Whether ``cls``'s tensor call accepts ``mask=`` (Keras-style layers: decided by their ``call``)."""
    if cls._tensor_call is Layer._tensor_call:
        return True  # eager.user_call passes it on only if call() takes it
    try:
        return "mask" in inspect.signature(cls._tensor_call).parameters
    except (TypeError, ValueError):
        return False


def attach(layer, inputs, outputs, mask):
    """Attach ``layer``'s output mask to ``outputs`` (unless they carry one already)."""
    leaves = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    if all(get_mask(o) is not None for o in leaves):
        return outputs
    if not layer.supports_masking and type(layer).compute_mask is Layer.compute_mask:
        if mask is not None and not layer.__dict__.get("_mask_warned"):
            layer._mask_warned = True
            warnings.warn(f"Layer '{layer.name}' (of type {type(layer).__name__}) was passed an input with a mask "
                          "attached to it. However, this layer does not support masking and will therefore destroy "
                          "the mask information. Downstream layers will not see the mask.", stacklevel=4)
        return outputs
    out_mask = layer.compute_mask(inputs, mask)
    if out_mask is None:
        return outputs
    masks = out_mask if isinstance(out_mask, (list, tuple)) else [out_mask] * len(leaves)
    for o, m in zip(leaves, masks):
        if get_mask(o) is None:
            _set_mask(o, m)
    return outputs


def apply_output_mask(y_true, y_pred, sample_weight):
    """Keras' loss masking: the loss and metrics of a masked output see its kept entries only.

    The mask's axes (batch, steps) are folded into one batch axis and the
    masked entries dropped, so ``sum_over_batch_size`` averages over the kept
    entries, and metrics count them alone, as Keras does.

    Returns:
        ``(y_true, y_pred, sample_weight)``, unchanged when ``y_pred`` carries no mask.

    Example:
        >>> import numpy as np, ferronet as fn
        >>> from ferronet.layers.masking import apply_output_mask
        >>> y_true = np.array([[[1.0], [2.0], [9.0]]])  # (batch, steps, 1); the last step is padding
        >>> y_pred = fn.layers.Masking(0.0)(np.array([[[0.5], [1.5], [0.0]]], np.float32))
        >>> t, p, w = apply_output_mask(y_true, y_pred, np.array([2.0]))  # the loss sees the two kept steps
        >>> t.ravel(), p.numpy().ravel(), w
        (array([1., 2.]), array([0.5, 1.5], dtype=float32), array([2., 2.]))
    """
    from ..tensor import array_ops as A

    mask = get_mask(y_pred) if isinstance(y_pred, Tensor) and y_true is not None else None
    if mask is None:
        return y_true, y_pred, sample_weight
    m = np.asarray(unwrap(mask), dtype=bool)
    yt = np.asarray(unwrap(y_true))
    if m.shape != tuple(y_pred.shape[:m.ndim]) or yt.shape[:m.ndim] != m.shape:
        return y_true, y_pred, sample_weight
    keep = np.flatnonzero(m.reshape(-1))
    y_pred = A.gather(A.reshape(y_pred, (m.size,) + tuple(y_pred.shape[m.ndim:])), keep)
    y_true = yt.reshape((m.size,) + yt.shape[m.ndim:])[keep]
    if sample_weight is not None:
        sw = np.asarray(unwrap(sample_weight))
        sample_weight = np.broadcast_to(sw.reshape(sw.shape + (1,) * (m.ndim - sw.ndim)), m.shape).reshape(-1)[keep]
    return y_true, y_pred, sample_weight


class Masking(Layer):
    """Masks the steps of ``(batch, steps, features)`` whose features all equal ``mask_value``.

    The output is the input with those steps zeroed, and carries the mask
    ``any(x != mask_value, axis=-1)``, which masking-aware layers downstream
    (LSTM, GRU, SimpleRNN, Bidirectional, GlobalAveragePooling1D, the loss)
    honour.

    Args:
        mask_value: the padding value.

    Example:
        >>> import numpy as np, ferronet as fn
        >>> x = np.array([[[1.0], [2.0], [0.0]]])
        >>> fn.layers.Masking(0.0)(x)._keras_mask.numpy()
        array([[ True,  True, False]])
    """

    supports_masking = True

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        try:
            self.mask_value = float(mask_value)
        except (TypeError, ValueError):
            raise ValueError(f"mask_value must be a number. Received: mask_value={mask_value!r}") from None

    def compute_mask(self, inputs, mask=None):
        return Tensor(np.any(np.asarray(unwrap(inputs)) != self.mask_value, axis=-1))

    def _tensor_call(self, x, training, mask=None, **kwargs):
        from ..tensor import math_ops as M

        keep = np.any(np.asarray(unwrap(x)) != self.mask_value, axis=-1, keepdims=True)
        return M.multiply(x, keep.astype(x.dtype))

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}
