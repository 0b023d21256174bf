"""``tf.config``: threading control mapped to ferronet's thread team; no devices but the CPU."""

import types as _types

from .. import _core


def _set_threads(n):
    if int(n) > 0:
        _core.set_num_threads(int(n))


threading = _types.SimpleNamespace(
    set_intra_op_parallelism_threads=_set_threads,
    get_intra_op_parallelism_threads=lambda: _core.get_num_threads(),
    set_inter_op_parallelism_threads=lambda n: None,
    get_inter_op_parallelism_threads=lambda: 1,
)


def list_physical_devices(device_type=None):
    """Only the CPU: ``[]`` for ``"GPU"``, so ``if tf.config.list_physical_devices("GPU")`` takes the CPU branch."""
    if device_type is None or str(device_type).upper() == "CPU":
        return [_types.SimpleNamespace(name="/physical_device:CPU:0", device_type="CPU")]
    return []


list_logical_devices = list_physical_devices


def run_functions_eagerly(run_eagerly):
    """Accepted: ferronet always runs eagerly."""


def set_visible_devices(devices, device_type=None):
    """Accepted: there are no accelerators to hide."""
