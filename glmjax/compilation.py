"""How glmjax's programs are compiled: two XLA options for the CPU, probed once per process.

Compile time is most of a first fit's time on the CPU, and almost all of it is LLVM code
generation for the program's kernels. Two options cut it without slowing the fits
(benchmarks/RESULTS.md, fifth and seventh passes):

* ``xla_cpu_use_fusion_emitters=False``: XLA's older loop emitters for fused loops instead of
  the newer MLIR "fusion emitters" (the default in recent jaxlib): ~30% less compile time.
* ``xla_backend_optimization_level=1``: LLVM's -O1 instead of -O2. The heavy work of a fit is
  in matrix products that XLA hands to its runtime libraries, which LLVM does not compile;
  the kernels it does compile are short element-wise loops.

The first compiled call (``filter_jit``) checks that the installed jaxlib knows the options
(``compiler_options``); without them, programs compile with XLA's defaults. On other
backends (GPU, TPU) glmjax keeps XLA's defaults. JAX accepts compiler options only on a
top-level ``jit``, so a call from inside a transformation (``jax.grad``, a user's ``jit``)
compiles with the defaults too.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import equinox as eqx
import jax
import numpy as np

CPU_OPTIONS = {"xla_cpu_use_fusion_emitters": False, "xla_backend_optimization_level": 1}


@functools.cache
def compiler_options() -> dict:
    """``CPU_OPTIONS`` on the CPU backend where jaxlib has them, else ``{}``."""
    if jax.default_backend() != "cpu":
        return {}
    try:
        jax.jit(lambda x: x + 1, compiler_options=CPU_OPTIONS).lower(np.float32(0)).compile()
    except Exception:  # an older jaxlib: no such option
        return {}
    return CPU_OPTIONS


def filter_jit(fn: Callable) -> Callable:
    """``equinox.filter_jit(fn)``, compiled with ``compiler_options()`` when called at the top
    level (no tracer among the inputs and not inside a user's ``jit``)."""
    plain = eqx.filter_jit(fn)
    tuned = []

    @functools.wraps(fn)
    def call(*args, **kwargs):
        traced = any(isinstance(x, jax.core.Tracer) for x in jax.tree.leaves((args, kwargs)))
        if traced or not compiler_options():
            return plain(*args, **kwargs)
        if not tuned:
            tuned.append(eqx.filter_jit(fn, compiler_options=compiler_options()))
        try:
            return tuned[0](*args, **kwargs)
        except ValueError as err:  # inside a user's jit, with inputs it closed over
            if "compiler_options" not in str(err):
                raise
            return plain(*args, **kwargs)

    return call
