"""The core kernels a test relies on must be in the build: a missing one fails the test, never skips it."""

import pytest

import ferronet as fn


def require_kernels(*names):
    """Fail (not skip) when a kernel behind the feature under test is missing from ``ferronet.ops``."""
    missing = [n for n in names if not hasattr(fn.ops, n)]
    if missing:
        pytest.fail(f"core kernels missing from this build: {', '.join(missing)}")
