"""Host (NumPy) arrays onto the device.

On the CPU backend ``jax.device_put`` uses a NumPy array in place (no copy) when its data
starts at a multiple of 64 bytes; it copies other arrays, at ~2 GB/s on the benchmark
machine (NumPy's ``copyto`` into an aligned array runs at ~4 GB/s). ``to_device`` copies
into an aligned array of its own, the minibatch loop gathers its host batches into aligned
arrays (``aligned_empty``), and ``fit_chunked`` maps its full chunks at aligned offsets: each
reaches the device without a further copy. ``to_device`` never lets a device array share
memory with the caller's array (which the caller may change later).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.experimental import multihost_utils

from glmjax._compilation import is_tracer

ALIGNMENT = 64


def aligned_empty(shape: tuple, dtype, alignment: int = ALIGNMENT) -> np.ndarray:
    """``np.empty`` whose data starts at a multiple of ``alignment`` bytes."""
    n_bytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    raw = np.empty(n_bytes + alignment, np.uint8)
    first = -raw.ctypes.data % alignment
    return raw[first:first + n_bytes].view(dtype).reshape(shape)


def to_device(a) -> Array:
    """A copy of ``a`` on the device (``jnp.asarray``); a NumPy array through ``device_put``.

    On the CPU a NumPy array is copied into an aligned buffer of our own (``np.copyto``, ~2×
    as fast as ``device_put``'s own copy of an unaligned array), which the device then uses
    in place: the device array never shares memory with the caller's array (which the caller
    may change later).

    Example:
        >>> import numpy as np
        >>> x = to_device(np.arange(6.0).reshape(2, 3))
        >>> x.shape, float(x.sum())
        ((2, 3), 15.0)
    """
    if not isinstance(a, np.ndarray) or jax.dtypes.canonicalize_dtype(a.dtype) != a.dtype:
        return jnp.asarray(a)
    if jax.default_backend() == "cpu":
        own = aligned_empty(a.shape, a.dtype)
        np.copyto(own, a)
        return jax.device_put(own)
    device = jax.device_put(a)
    if not is_tracer(device):  # inside a user's jit it is a constant of the program
        device.block_until_ready()  # the copy reads ``a`` asynchronously: done before we return
    return device


_HINTS = {
    "y": "; encode class labels as integers 0..K-1 (`classes, y = np.unique(y, "
         "return_inverse=True)`; GLMClassifier does this itself)",
    "X": "; pass the data frame itself (its categorical and string columns become "
         "categorical columns of a gj.Design, as in a formula through gj.glm) or encode them "
         "as numbers",
}


def check_numeric(a, name: str):
    """``a`` itself; a TypeError naming ``name`` when it holds strings, objects or dates (JAX's
    own message names neither the argument nor the remedy), or complex numbers (whose
    imaginary parts a cast to float would drop without a word).

    Example:
        >>> check_numeric(np.array(["yes", "no"]), "y")
        Traceback (most recent call last):
        ...
        TypeError: y has dtype <U3; glmjax needs numbers. ...
    """
    if isinstance(a, int | float | bool):
        return a
    try:
        dtype = np.dtype(a.dtype)
    except (AttributeError, TypeError):  # lists, data frames, pandas' own dtypes (categorical)
        dtype = np.asarray(a).dtype
    if dtype.kind == "c":
        raise TypeError(f"{name} has dtype {dtype}; glmjax needs real numbers (take "
                        f"{name}.real if the imaginary parts are all zero).")
    if dtype.kind in "USOMm":
        raise TypeError(f"{name} has dtype {dtype}; glmjax needs numbers. Convert numbers "
                        f"stored as text or objects with .astype(float){_HINTS.get(name, '')}.")
    return a


def to_host(a) -> np.ndarray:
    """``a`` as a NumPy array; one spread over several processes is gathered from all of them
    (a collective: every process must call it, as ``fit``'s error paths do)."""
    if isinstance(a, jax.Array) and not a.is_fully_addressable:
        return np.asarray(multihost_utils.process_allgather(a, tiled=True))
    return np.asarray(a)


def as_response(y) -> Array:
    """``to_device(y)``, checked to hold real numbers (``check_numeric``); ``as_float_array``'s
    counterpart for the response, whose integer labels stay integers."""
    return to_device(check_numeric(y, "y"))


def as_float_array(X) -> Array:
    """``to_device(X)`` as floating point: integers and booleans become the default float,
    float16 and bfloat16 float32 (LAPACK, which the fits need, has no half precision)."""
    X = to_device(check_numeric(X, "X"))
    if not jnp.issubdtype(X.dtype, jnp.floating):
        X = X.astype(jnp.result_type(float))
    elif jnp.finfo(X.dtype).bits < 32:
        X = X.astype(jnp.float32)
    return X
