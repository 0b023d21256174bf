"""``tf.keras.preprocessing``'s sequence helpers, for programs written against it
(``tf.keras.preprocessing.sequence.pad_sequences``, ``tf.keras.preprocessing.timeseries_dataset_from_array``);
Keras 3 has them in ``keras.utils``."""

from ...utils.timeseries import timeseries_dataset_from_array
from . import sequence

__all__ = ["sequence", "timeseries_dataset_from_array"]
