"""How glmjax's programs are compiled: one XLA option for the CPU, probed once per process.

XLA's CPU backend has two code generators for fused loops. The newer MLIR "fusion
emitters", the default in recent jaxlib, take ~30% longer to compile ``fit``'s program than
the older loop emitters, which run it as fast (benchmarks/RESULTS.md, fifth pass). The
first compiled call (``filter_jit``) checks that the installed jaxlib knows the option
(``compiler_options``); without it, programs compile with XLA's defaults. JAX accepts
compiler options only on a top-level ``jit``, so a call from inside a transformation
(``jax.grad``, a user's ``jit``) compiles with the defaults too.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import equinox as eqx
import jax
import numpy as np


@functools.cache
def compiler_options() -> dict:
    """``{"xla_cpu_use_fusion_emitters": False}`` where jaxlib has that option, else ``{}``."""
    options = {"xla_cpu_use_fusion_emitters": False}
    try:
        jax.jit(lambda x: x + 1, compiler_options=options).lower(np.float32(0)).compile()
    except Exception:  # an older jaxlib: no such option
        return {}
    return options


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
