"""XᵀWX by BLAS's symmetric rank-k update on the CPU, called from inside XLA programs.

XLA's CPU backend computes the weighted Gram product XᵀWX as a general matrix product,
twice the arithmetic of the symmetric one; in a Fisher-scoring pass over a tall X it is most
of the time (200,000 × 50 in float64: 36 ms in XLA's blocked product, 17 ms for one BLAS
``dsyrk``). ``syrk_gram`` hands the product to BLAS instead: an XLA FFI call target (the
typed FFI's C ABI, ``jaxlib/include/xla/ffi/api/c_api.h``, bound with ctypes; no compiled
extension) that reads X and W where XLA holds them, without a copy, and multiplies Aᵀ by A
with NumPy (whose matrix product of a matrix with its own transpose is BLAS's ``syrk``) for
blocks A = √W·X of rows that fit in the cache.

The target is registered on first use; where that fails (another jaxlib's ABI),
``available()`` is False and callers keep XLA's product. It runs on the CPU only, under
``vmap`` one fit after another, and its derivatives are XLA's (``jax.custom_jvp``).
"""

from __future__ import annotations

import ctypes
import functools
from concurrent.futures import ThreadPoolExecutor

import jax
import numpy as np
from jax import Array

_TARGET = "glmjax_weighted_syrk"
_EXECUTE = 3  # XLA_FFI_ExecutionStage_EXECUTE
_METADATA = 1  # XLA_FFI_Extension_Metadata
_DTYPES = {11: np.float32, 12: np.float64}  # XLA_FFI_DataType_F32, _F64
_BLOCK_BYTES = 1 << 22  # rows of A per block: a few MB, within the cache that BLAS blocks for


class _Extension(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("type", ctypes.c_int),
                ("next", ctypes.c_void_p)]


class _Version(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("extension_start", ctypes.c_void_p),
                ("major_version", ctypes.c_int), ("minor_version", ctypes.c_int)]


class _Metadata(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("api_version", _Version),
                ("traits", ctypes.c_uint32), ("state_type_id", ctypes.c_int64)]


class _MetadataExtension(ctypes.Structure):
    _fields_ = [("extension_base", _Extension), ("metadata", ctypes.POINTER(_Metadata))]


class _Buffer(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("extension_start", ctypes.c_void_p),
                ("dtype", ctypes.c_int), ("data", ctypes.c_void_p), ("rank", ctypes.c_int64),
                ("dims", ctypes.POINTER(ctypes.c_int64))]


class _List(ctypes.Structure):  # XLA_FFI_Args and XLA_FFI_Rets
    _fields_ = [("struct_size", ctypes.c_size_t), ("extension_start", ctypes.c_void_p),
                ("size", ctypes.c_int64), ("types", ctypes.c_void_p),
                ("items", ctypes.POINTER(ctypes.POINTER(_Buffer)))]


class _Api(ctypes.Structure):  # the leading fields of XLA_FFI_Api
    _fields_ = [("struct_size", ctypes.c_size_t), ("extension_start", ctypes.c_void_p),
                ("api_version", _Version), ("internal_api", ctypes.c_void_p),
                ("error_create", ctypes.c_void_p)]


class _ErrorArgs(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("extension_start", ctypes.c_void_p),
                ("message", ctypes.c_char_p), ("errc", ctypes.c_int)]


class _CallFrame(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t),
                ("extension_start", ctypes.POINTER(_Extension)),
                ("api", ctypes.POINTER(_Api)), ("ctx", ctypes.c_void_p), ("stage", ctypes.c_int),
                ("args", _List), ("rets", _List)]


_HANDLER = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.POINTER(_CallFrame))
_ERROR_CREATE = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.POINTER(_ErrorArgs))


def _array(buffer: _Buffer) -> np.ndarray:
    """The XLA buffer as a NumPy array over the same memory."""
    shape = tuple(buffer.dims[k] for k in range(buffer.rank))
    dtype = np.dtype(_DTYPES[buffer.dtype])
    size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = (ctypes.c_char * size).from_address(buffer.data)
    return np.frombuffer(raw, dtype).reshape(shape)


def weighted_syrk(X: np.ndarray, W: np.ndarray, out: np.ndarray) -> None:
    """out = XᵀWX: Σ over blocks of rows of AᵀA with A = √W·X (BLAS's ``syrk``); a general
    product where a weight is negative. A helper thread scales the next block while BLAS
    multiplies this one (the scaling, one read of X, is otherwise a third of the time).

    Example:
        >>> X, W = np.arange(12.0).reshape(6, 2), np.arange(6.0)
        >>> out = np.empty((2, 2))
        >>> weighted_syrk(X, W, out)
        >>> bool(np.allclose(out, X.T @ (W[:, None] * X)))
        True
    """
    if np.any(W < 0):
        np.matmul(X.T, X * W[:, None], out=out)
        return
    m, p = X.shape
    rows = max(1, _BLOCK_BYTES // (X.itemsize * p))
    buffers = [np.empty((min(rows, m), p), X.dtype) for _ in range(2)]
    root = np.sqrt(W)

    def scaled(k: int) -> np.ndarray:  # block k of A, in buffer k mod 2
        start = k * rows
        A = buffers[k % 2][: min(rows, m - start)]
        return np.multiply(X[start:start + A.shape[0]], root[start:start + A.shape[0], None],
                           out=A)

    n_blocks = -(-m // rows)
    out[...] = 0
    following = _helper().submit(scaled, 0)
    for k in range(n_blocks):
        A = following.result()
        if k + 1 < n_blocks:
            following = _helper().submit(scaled, k + 1)
        out += A.T @ A  # NumPy multiplies Aᵀ by A with BLAS's syrk


@functools.cache
def _helper() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(1, thread_name_prefix="glmjax-blas")


def _handle(frame_pointer) -> int | None:
    frame = frame_pointer.contents
    extension = frame.extension_start
    if extension and extension.contents.type == _METADATA:  # XLA asks for the API version
        metadata = ctypes.cast(extension, ctypes.POINTER(_MetadataExtension)).contents.metadata
        metadata.contents.api_version.major_version = 0
        metadata.contents.api_version.minor_version = 1
        metadata.contents.traits = 0
        return None
    if frame.stage != _EXECUTE:
        return None
    try:
        X, W = (_array(frame.args.items[k].contents) for k in range(2))
        weighted_syrk(X, W, _array(frame.rets.items[0].contents))
        return None
    except Exception as err:  # an error XLA raises, not a wrong result
        message = f"glmjax's BLAS Gram product failed: {type(err).__name__}: {err}".encode()
        args = _ErrorArgs(ctypes.sizeof(_ErrorArgs), None, message, 13)  # INTERNAL
        create = _ERROR_CREATE(frame.api.contents.error_create)
        return create(ctypes.byref(args))


_handler = _HANDLER(_handle)  # kept alive for the process: XLA holds its address


@functools.cache
def available() -> bool:
    """Whether the BLAS target is registered (once per process) and gives XᵀWX."""
    if jax.default_backend() != "cpu":
        return False
    try:
        new_capsule = ctypes.pythonapi.PyCapsule_New
        new_capsule.restype = ctypes.py_object
        new_capsule.argtypes = (ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p)
        address = ctypes.cast(_handler, ctypes.c_void_p).value
        jax.ffi.register_ffi_target(_TARGET, new_capsule(address, None, None), platform="cpu")
        X = np.arange(6.0, dtype=np.float32).reshape(3, 2)
        with jax.ensure_compile_time_eval():  # also when first asked while tracing a fit
            got = np.asarray(_call(X, np.ones(3, np.float32)))
        return bool(np.allclose(got, X.T @ X))
    except Exception:  # noqa: BLE001 - any failure means: keep XLA's product
        return False


def _call(X: Array, W: Array) -> Array:
    p = X.shape[1]
    return jax.ffi.ffi_call(_TARGET, jax.ShapeDtypeStruct((p, p), X.dtype),
                            vmap_method="sequential")(X, W)


@jax.custom_jvp
def syrk_gram(X: Array, W: Array) -> Array:
    """XᵀWX for X (m, p) and W (m,) on the CPU, by BLAS (``weighted_syrk``); call only where
    ``available()``. Derivatives: XLA's product's."""
    return _call(X, W)


@syrk_gram.defjvp
def _syrk_gram_jvp(primals, tangents):
    def xla(X, W):
        return X.T @ (X * W[:, None])

    return syrk_gram(*primals), jax.jvp(xla, primals, tangents)[1]

