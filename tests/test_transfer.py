"""Host arrays onto the device: ``transfer.to_device`` equals ``jnp.asarray`` and never shares
memory with the caller's array."""

import gc

import jax.numpy as jnp
import numpy as np

from glmjax.transfer import aligned_empty, as_float_array, to_device


def test_aligned_empty_is_aligned():
    for shape in [(3,), (1000, 7), (5, 3, 2)]:
        assert aligned_empty(shape, np.float32).ctypes.data % 64 == 0


def test_to_device_copies_an_unaligned_array_and_outlives_its_buffer():
    raw = np.random.default_rng(0).normal(size=300_001)
    X = raw[1:].reshape(1000, 300)  # 8 bytes past an allocation: not 64-byte aligned
    assert X.ctypes.data % 64 != 0 and X.nbytes >= 1 << 20
    expected = X.copy()
    device = to_device(X)
    X[:] = 0.0  # the caller changes its array: the device copy does not follow
    gc.collect()  # nor does it lose the buffer it was made from
    np.testing.assert_array_equal(np.asarray(device), expected)
    assert device.dtype == jnp.asarray(expected).dtype


def test_as_float_array_converts_integers_and_keeps_floats():
    assert as_float_array(np.arange(4)).dtype == jnp.result_type(float)
    assert as_float_array(np.ones(3, np.float32)).dtype == np.float32
    big = np.ones((2000, 200), np.int8)  # 400 kB: below the aligned-copy threshold
    np.testing.assert_array_equal(np.asarray(as_float_array(big)), big)
