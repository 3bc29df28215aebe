"""Host arrays onto the device: ``transfer.to_device`` equals ``jnp.asarray`` and never shares
memory with the caller's array."""

import gc

import jax.numpy as jnp
import numpy as np
import pytest

from glmjax._transfer import aligned_empty, as_float_array, to_device


def test_aligned_empty_is_aligned():
    for shape in [(3,), (1000, 7), (5, 3, 2)]:
        assert aligned_empty(shape, np.float32).ctypes.data % 64 == 0


@pytest.mark.parametrize("aligned", [False, True])
def test_to_device_never_shares_the_callers_memory(aligned):
    """``device_put`` on the CPU uses an aligned NumPy array in place; ``to_device`` copies it
    (and an unaligned one, which ``device_put`` copies itself)."""
    X = np.random.default_rng(0).normal(size=(1000, 300))
    if aligned:
        X_aligned = aligned_empty(X.shape, X.dtype)
        X_aligned[:] = X
        X = X_aligned
        assert X.ctypes.data % 64 == 0
    expected = X.copy()
    device = to_device(X)
    X[:] = 0.0  # the caller changes its array: the device array does not follow
    gc.collect()
    np.testing.assert_array_equal(np.asarray(device), expected)
    assert device.dtype == jnp.asarray(expected).dtype
    assert to_device(device) is device  # a device array is used as it is


def test_as_float_array_converts_integers_and_keeps_floats():
    assert as_float_array(np.arange(4)).dtype == jnp.result_type(float)
    assert as_float_array(np.ones(3, np.float32)).dtype == np.float32
    big = np.ones((2000, 200), np.int8)  # 400 kB: below the aligned-copy threshold
    np.testing.assert_array_equal(np.asarray(as_float_array(big)), big)
