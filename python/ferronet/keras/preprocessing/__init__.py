"""``tf.keras.preprocessing``'s sequence helpers, for programs written against it
(``tf.keras.preprocessing.sequence.pad_sequences``); Keras 3 has them in ``keras.utils``."""

from . import sequence

__all__ = ["sequence"]
