"""How glmjax's programs are compiled and run: two XLA options for the CPU, one BLAS thread,
full-precision float32 products.

Compile time is most of a first fit's time on the CPU, and almost all of it is LLVM code
generation for the program's kernels. Two options cut it without slowing the fits
(``benchmarks/bench_compile.py`` measures them):

* ``xla_cpu_use_fusion_emitters=False``: XLA's older loop emitters for fused loops instead of
  the newer MLIR "fusion emitters" (the default in recent jaxlib): ~30% less compile time.
  A program that reads a ``Design``'s categorical or sparse columns keeps the fusion
  emitters: its segment sums are scatter-adds, which they run ~2× faster (a Poisson fit of
  600,000 rows with 8 categoricals of 320 levels in all: 0.8 s against 1.8 s; its first
  call, compilation included, takes about as long either way).
* ``xla_backend_optimization_level=1``: LLVM's -O1 instead of XLA's default level: ~15% less
  compile time again, and no slower. The heavy work of a fit is in matrix products that XLA
  hands to its runtime libraries, which LLVM does not compile; the kernels it does compile
  are short element-wise loops.

A jaxlib that does not know an option rejects it before compiling anything; glmjax then
compiles that program, and every later one, with XLA's defaults (``filter_jit``). (A probe
program compiled up front cost a first fit ~0.1 s.) On other backends (GPU, TPU) glmjax
keeps XLA's defaults. JAX accepts compiler options only on a top-level ``jit``, so a call
from inside a transformation (``jax.grad``, a user's ``jit``) compiles with the defaults too.

While such a program runs on the CPU from the main Python thread, BLAS is limited to one
thread (``threadpoolctl``; the limit is lifted when the program has finished). XLA hands the
Cholesky factorisations and triangular solves of IRLS to LAPACK in SciPy's OpenBLAS, whose
threads keep spinning after each call and take a core from XLA's own threads during the next
pass over X. A 50,000 × 200 Poisson fit ran 1.4× faster with one BLAS thread; a 200,000 × 50
fit 1.03× (its 50 × 50 factorisation is not split over threads).

Every program is traced with float32 matrix products at full precision (``full_precision``):
JAX's default lets GPUs and TPUs multiply float32 at reduced precision, which stalls IRLS.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
import threading
from collections.abc import Callable, Iterator

import equinox as eqx
import jax
import numpy as np
from threadpoolctl import ThreadpoolController

from glmjax._row_blocks import is_design

CPU_OPTIONS = {"xla_cpu_use_fusion_emitters": False, "xla_backend_optimization_level": 1}
_REJECTED: list[str] = []  # the installed jaxlib's message, once it rejected the options


def compiler_options(*inputs) -> dict:
    """``CPU_OPTIONS`` on the CPU backend unless the installed jaxlib rejected them, else
    ``{}``; with the fusion emitters when ``inputs`` hold a ``Design`` with categorical or
    sparse columns (its scatter-adds)."""
    if _REJECTED or jax.default_backend() != "cpu":
        return {}
    if any(is_design(x) and x.index.shape[-1]
           for x in jax.tree.leaves(inputs, is_leaf=is_design)):
        return {**CPU_OPTIONS, "xla_cpu_use_fusion_emitters": True}
    return CPU_OPTIONS


def _is_rejection(err: Exception) -> bool:
    """Whether ``err`` is XLA refusing a compile option (unknown, or a value it cannot
    parse)."""
    return "No such compile option" in str(err) or "While setting option" in str(err)


@functools.cache
def _blas() -> tuple:
    """The BLAS libraries loaded in this process (found once: ~15 ms) but NumPy's own wheel's:
    those that XLA's LAPACK calls use. NumPy's, which computes the Gram products of
    ``glmjax._blas`` on both cores, keeps its threads."""
    numpy_libs = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
    return tuple(lib for lib in ThreadpoolController().select(user_api="blas").lib_controllers
                 if not lib.filepath.startswith(numpy_libs))


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Limit BLAS (``_blas``) to one thread inside the block, then restore each library's own
    count.

    Only in the main Python thread: threadpoolctl lets one thread at a time control OpenBLAS's
    shared pool, so fits from other threads run with BLAS as it is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    libraries = _blas()
    counts = [lib.num_threads for lib in libraries]
    for lib in libraries:
        lib.set_num_threads(1)
    try:
        yield
    finally:
        for lib, count in zip(libraries, counts, strict=True):
            lib.set_num_threads(count)


def is_tracer(x) -> bool:
    """Whether ``x`` is an abstract value of a JAX transformation (jit, grad, vmap) rather
    than a concrete array. (``jax.core.Tracer``, where JAX keeps it now; JAX is moving
    ``jax.core``'s contents, so the private home is the fallback.)"""
    return isinstance(x, _TRACER)


_TRACER = getattr(jax.core, "Tracer", None) or importlib.import_module("jax._src.core").Tracer


class NotTraceableError(TypeError):
    """A ``host_driven`` function (``fit_many``, ``fit_path``, ``fit_cv``) was called on
    traced values."""


def host_driven(why: str) -> Callable[[Callable], Callable]:
    """Mark a function that reads its inputs' values on the host (to check them, choose a
    grid, warn): under ``jax.jit`` or ``jax.vmap`` (or ``jax.grad``, where it reads a
    value that depends on the input) JAX's concretization error becomes a ``TypeError``
    that says so and what to use instead (``why``).

    Example:
        >>> @host_driven("reads x on the host; call it outside jit.")
        ... def positive(x):
        ...     return bool(x > 0)
        >>> positive(1.0)
        True
        >>> try:
        ...     jax.jit(positive)(1.0)
        ... except TypeError as err:
        ...     print(err)
        positive reads x on the host; call it outside jit.
    """
    errors = (jax.errors.ConcretizationTypeError, jax.errors.TracerArrayConversionError,
              jax.errors.TracerBoolConversionError, jax.errors.TracerIntegerConversionError,
              NotTraceableError)  # the last: one such function calling another names the outer

    def wrap(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def call(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except errors:
                if not any(map(is_tracer, jax.tree.leaves((args, kwargs)))):
                    raise  # called on concrete values: not the caller's transformation
                raise NotTraceableError(f"{fn.__name__} {why}") from None

        return call

    return wrap


def full_precision(fn: Callable) -> Callable:
    """``fn`` traced with float32 matrix products at full float32 precision ("highest"),
    unless the caller has set ``jax.default_matmul_precision`` themselves.

    JAX's default lets a GPU multiply float32 matrices in TF32 (10 bits of mantissa; NVIDIA
    Ampere and later) and a TPU in bfloat16 passes. That is too coarse for maximum
    likelihood: on an H200, float32 IRLS at the default precision did not converge in 100
    iterations and ended 1.2e-4 from the float64 fit; at full precision it converged, 5e-8
    from it, and 10× faster. The CPU multiplies
    float32 at full precision either way, and float64 is unaffected.
    """

    @functools.wraps(fn)
    def traced(*args, **kwargs):
        if jax.config.jax_default_matmul_precision is not None:  # the caller's choice
            return fn(*args, **kwargs)
        with jax.default_matmul_precision("highest"):
            return fn(*args, **kwargs)

    return traced


def filter_jit(fn: Callable) -> Callable:
    """``equinox.filter_jit(fn)``, compiled with ``compiler_options`` when called at the top
    level (no tracer among the inputs and not inside a user's ``jit``); on the CPU a top-level
    call runs to completion with ``one_blas_thread``. Traced with ``full_precision``."""
    fn = full_precision(fn)
    plain = eqx.filter_jit(fn)
    tuned = {}  # per set of options

    def compiled(*args, **kwargs):
        options = compiler_options(args, kwargs)
        if not options:
            return plain(*args, **kwargs)
        key = tuple(sorted(options.items()))
        if key not in tuned:
            tuned[key] = eqx.filter_jit(fn, compiler_options=options)
        try:
            return tuned[key](*args, **kwargs)
        except ValueError as err:  # inside a user's jit, with inputs it closed over
            if "compiler_options" not in str(err):
                raise
            return plain(*args, **kwargs)
        except jax.errors.JaxRuntimeError as err:  # raised before anything ran
            if not _is_rejection(err):
                raise
            _REJECTED.append(str(err))
            return plain(*args, **kwargs)

    @functools.wraps(fn)
    def call(*args, **kwargs):
        traced = any(is_tracer(x) for x in jax.tree.leaves((args, kwargs)))
        if traced or jax.default_backend() != "cpu":
            return plain(*args, **kwargs)
        with one_blas_thread():  # also with XLA's defaults, when the options were rejected
            return jax.block_until_ready(compiled(*args, **kwargs))

    return call
