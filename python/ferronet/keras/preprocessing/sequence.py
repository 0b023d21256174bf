"""``tf.keras.preprocessing.sequence``: :func:`ferronet.utils.pad_sequences` under its older path."""

from ...utils.sequences import pad_sequences

__all__ = ["pad_sequences"]
