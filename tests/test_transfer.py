"""Host arrays onto the device: ``transfer.to_device`` equals ``jnp.asarray`` and never shares
memory with the caller's array."""

import gc

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from glmjax._transfer import aligned_empty, as_float_array, to_device


def test_aligned_empty_is_aligned():
    for shape in [(3,), (1000, 7), (5, 3, 2)]:
        assert aligned_empty(shape, np.float32).ctypes.data % 64 == 0


@pytest.mark.parametrize("layout", ["unaligned", "aligned", "fortran", "strided"])
def test_to_device_never_shares_the_callers_memory(layout):
    """``device_put`` on the CPU uses an aligned NumPy array in place; ``to_device`` copies
    every array (into an aligned one of its own, which the device uses in place)."""
    X = np.random.default_rng(0).normal(size=(1000, 300))
    if layout == "aligned":
        X_aligned = aligned_empty(X.shape, X.dtype)
        X_aligned[:] = X
        X = X_aligned
        assert X.ctypes.data % 64 == 0
    elif layout == "fortran":
        X = np.asfortranarray(X)
    elif layout == "strided":
        X = X[::2, 1::3]
    expected = X.copy()
    device = to_device(X)
    if jax.default_backend() == "cpu":
        assert device.unsafe_buffer_pointer() % 64 == 0
    X[:] = 0.0  # the caller changes its array: the device array does not follow
    gc.collect()
    np.testing.assert_array_equal(np.asarray(device), expected)
    assert device.dtype == jnp.asarray(expected).dtype
    assert to_device(device) is device  # a device array is used as it is


def test_as_float_array_converts_integers_and_keeps_floats():
    assert as_float_array(np.arange(4)).dtype == jnp.result_type(float)
    assert as_float_array(np.ones(3, np.float32)).dtype == np.float32
    big = np.ones((2000, 200), np.int8)
    np.testing.assert_array_equal(np.asarray(as_float_array(big)), big)
