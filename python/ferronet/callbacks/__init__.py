"""Keras' callbacks: hooks into ``fit``, ``evaluate`` and ``predict``.

``Callback`` is the base class (Keras' hook names); ``History`` and
``ProgbarLogger`` are added by ``fit`` itself; ``EarlyStopping``,
``ModelCheckpoint``, ``LearningRateScheduler``, ``ReduceLROnPlateau``,
``CSVLogger``, ``LambdaCallback``, ``TerminateOnNaN``, ``BackupAndRestore`` and
``TensorBoard`` are ready to pass as
``model.fit(..., callbacks=[...])``.
"""

from .backup_and_restore import BackupAndRestore
from .base import Callback, CallbackList
from .csv_logger import CSVLogger
from .early_stopping import EarlyStopping
from .history import History
from .lambda_callback import LambdaCallback
from .learning_rate_scheduler import LearningRateScheduler
from .model_checkpoint import ModelCheckpoint
from .monitor_callback import MonitorCallback
from .progbar_logger import ProgbarLogger
from .reduce_lr_on_plateau import ReduceLROnPlateau
from .tensorboard import TensorBoard
from .terminate_on_nan import TerminateOnNaN

__all__ = [
    "BackupAndRestore",
    "Callback",
    "CallbackList",
    "CSVLogger",
    "EarlyStopping",
    "History",
    "LambdaCallback",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "MonitorCallback",
    "ProgbarLogger",
    "ReduceLROnPlateau",
    "TensorBoard",
    "TerminateOnNaN",
]
