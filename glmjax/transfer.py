"""Host (NumPy) arrays onto the device, without XLA's slow copy.

On the CPU backend ``jax.device_put`` uses a NumPy array in place when its data starts at a
multiple of 64 bytes, and otherwise copies it, at ~1 GB/s on the benchmark machine: 5–10×
slower than NumPy's own copy (benchmarks/RESULTS.md, fifth pass). ``to_device`` makes that
copy itself, into an aligned buffer it owns, so the device array never shares memory with
the caller's array (which the caller may change later).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

ALIGNMENT = 64
_MIN_BYTES = 1 << 20  # below this the copy costs too little to matter


def aligned_empty(shape: tuple, dtype, alignment: int = ALIGNMENT) -> np.ndarray:
    """``np.empty`` whose data starts at a multiple of ``alignment`` bytes."""
    n_bytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    raw = np.empty(n_bytes + alignment, np.uint8)
    first = -raw.ctypes.data % alignment
    return raw[first:first + n_bytes].view(dtype).reshape(shape)


def to_device(a) -> Array:
    """``jnp.asarray(a)``; a large NumPy array on the CPU backend goes through an aligned copy.

    Example:
        >>> import numpy as np
        >>> x = to_device(np.arange(6.0).reshape(2, 3))
        >>> x.shape, float(x.sum())
        ((2, 3), 15.0)
    """
    if (isinstance(a, np.ndarray) and a.nbytes >= _MIN_BYTES
            and jax.default_backend() == "cpu"
            and jax.dtypes.canonicalize_dtype(a.dtype) == a.dtype):
        buffer = aligned_empty(a.shape, a.dtype)
        np.copyto(buffer, a)
        return jax.device_put(buffer)  # used in place: the array keeps the buffer alive
    return jnp.asarray(a)


def as_float_array(X) -> Array:
    """``to_device(X)`` as floating point: integers and booleans become the default float."""
    X = to_device(X)
    if not jnp.issubdtype(X.dtype, jnp.floating):
        X = X.astype(jnp.result_type(float))
    return X
