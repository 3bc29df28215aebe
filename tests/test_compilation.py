"""glmjax's programs compile with the CPU options of ``compilation.compiler_options`` at the top
level, and with XLA's defaults inside transformations (and on accelerators): same answers
either way; JAX's persistent cache serves them to a new process. Their float32 matrix
products are at full precision unless the caller chose another."""

import json
import re
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import glmjax as gj
from glmjax import _compilation as compilation
from glmjax._compilation import compiler_options

on_cpu = pytest.mark.skipif(jax.default_backend() != "cpu",
                            reason="the compiler options are for XLA's CPU backend")


def test_the_installed_jaxlib_takes_the_option():
    expected = {"xla_cpu_use_fusion_emitters": False, "xla_backend_optimization_level": 1}
    assert compiler_options() == (expected if jax.default_backend() == "cpu" else {})


@on_cpu
def test_programs_on_categorical_columns_keep_the_fusion_emitters():
    """Their segment sums are scatter-adds, ~2× faster with XLA's fusion emitters; a design
    of dense columns only has none."""
    X = gj.Design.from_columns(dense={"x": [0.0, 1, 2]}, categorical={"g": ["a", "b", "a"]})
    assert compiler_options((X, np.ones(3)), {}) == {"xla_cpu_use_fusion_emitters": True,
                                                     "xla_backend_optimization_level": 1}
    dense = gj.Design.from_columns(dense={"x": [0.0, 1, 2]})
    assert compiler_options((dense,), {"y": np.ones(3)}) == compiler_options()


@on_cpu
def test_options_the_jaxlib_rejects_fall_back_to_xla_defaults(monkeypatch):
    """An older jaxlib without one of the options: the fit compiles with the defaults."""
    monkeypatch.setattr(compilation, "CPU_OPTIONS", {"xla_no_such_option_in_any_jaxlib": 1})
    monkeypatch.setattr(compilation, "_REJECTED", [])
    rng = np.random.default_rng(1)
    X = np.column_stack([np.ones(50), rng.normal(size=(50, 3))])  # a shape not compiled yet
    y = rng.poisson(np.exp(X @ [0.3, 0.2, -0.1, 0.1])).astype(float)
    res = gj.fit(X, y, gj.families.Poisson())
    assert bool(res.converged)
    assert compiler_options() == {}
    assert "No such compile option" in compilation._REJECTED[0]


def _dot_precisions(fn, *args) -> set[str]:
    """The precision of every matrix product in ``fn``'s program (JAX's default: DEFAULT)."""
    lines = jax.jit(fn).lower(*args).as_text().splitlines()
    found = [re.search(r"precision = \[(\w+), \w+\]", line)
             for line in lines if "stablehlo.dot_general" in line]
    assert found, "no matrix product in the program"
    return {m.group(1) if m else "DEFAULT" for m in found}


def test_float32_products_at_full_precision_unless_the_caller_chose():
    """JAX's default lets a GPU multiply float32 in TF32 (10 mantissa bits), which stalled
    float32 IRLS on an H200; glmjax asks for full precision, and leaves a caller's own
    ``jax.default_matmul_precision`` alone."""
    rng = np.random.default_rng(3)
    X = np.column_stack([np.ones(60), rng.normal(size=(60, 2))]).astype(np.float32)
    y = rng.poisson(1.0, size=60).astype(np.float32)

    def coef(X, y):
        return gj.fit(X, y, gj.families.Poisson()).coef

    assert _dot_precisions(coef, X, y) == {"HIGHEST"}
    with jax.default_matmul_precision("tensorfloat32"):
        assert _dot_precisions(coef, X, y) == {"HIGH"}
    assert _dot_precisions(lambda X: X @ X.T, X) == {"DEFAULT"}  # no side effect on the caller


def test_fit_inside_a_users_jit_and_under_grad_agrees_with_the_top_level():
    rng = np.random.default_rng(0)
    X = np.column_stack([np.ones(200), rng.normal(size=(200, 2))])
    y = rng.poisson(np.exp(X @ [0.3, 0.2, -0.1])).astype(float)
    top = gj.fit(X, y, gj.families.Poisson()).coef
    closed_over = jax.jit(lambda: gj.fit(X, y, gj.families.Poisson()).coef)()  # no tracers
    traced = jax.jit(lambda y: gj.fit(X, y, gj.families.Poisson()).coef)(jnp.asarray(y))
    np.testing.assert_allclose(closed_over, top, rtol=1e-12)
    np.testing.assert_allclose(traced, top, rtol=1e-12)
    grad = jax.grad(lambda y: gj.fit(X, y, gj.families.Poisson()).coef[1])(jnp.asarray(y))
    assert grad.shape == y.shape and np.all(np.isfinite(grad))


def test_blas_threads_are_limited_during_a_program_and_restored_after():
    blas = compilation._blas()
    assert blas, "no BLAS library found besides NumPy's (SciPy brings OpenBLAS)"
    before = [lib.num_threads for lib in blas]
    with compilation.one_blas_thread():
        assert all(lib.num_threads == 1 for lib in blas)
    rng = np.random.default_rng(2)
    X = np.column_stack([np.ones(60), rng.normal(size=(60, 2))])
    gj.fit(X, rng.poisson(1.0, size=60).astype(float), gj.families.Poisson())
    assert [lib.num_threads for lib in blas] == before


def test_a_fit_from_another_thread_leaves_blas_as_it_is():
    import threading

    blas = compilation._blas()
    before = [lib.num_threads for lib in blas]
    seen = []

    def other():
        with compilation.one_blas_thread():
            seen.append([lib.num_threads for lib in blas])
        rng = np.random.default_rng(3)
        X = np.column_stack([np.ones(40), rng.normal(size=(40, 2))])
        seen.append(bool(gj.fit(X, rng.poisson(1.0, size=40).astype(float),
                                gj.families.Poisson()).converged))

    thread = threading.Thread(target=other)
    thread.start()
    thread.join(120)
    assert seen == [before, True]
    assert [lib.num_threads for lib in blas] == before


CACHED_FIT = """
import json, sys
import jax
jax.config.update("jax_enable_x64", True)
jax.config.update("jax_compilation_cache_dir", sys.argv[1])
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
hits = []
jax.monitoring.register_event_listener(
    lambda name, **kw: hits.append(name) if name.endswith("/cache_hits") else None)
import numpy as np
import glmjax as gj
rng = np.random.default_rng(0)
X = np.column_stack([np.ones(300), rng.normal(size=(300, 3))])
y = rng.poisson(np.exp(X @ [0.3, 0.2, -0.1, 0.1])).astype(float)
res = gj.fit(X, y, gj.families.Poisson())
print(json.dumps({"hits": len(hits), "coef": np.asarray(res.coef).tolist()}))
"""


def test_the_persistent_compilation_cache_serves_a_new_process(tmp_path):
    """README's recipe: a second process loads fit's program (compiled with glmjax's options)
    from JAX's persistent cache instead of compiling it, and gets the same coefficients."""

    def run() -> dict:
        out = subprocess.run([sys.executable, "-c", CACHED_FIT, str(tmp_path)],
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-3000:]
        return json.loads(out.stdout.strip().splitlines()[-1])

    cold, warm = run(), run()
    assert cold["hits"] == 0 and warm["hits"] >= 1, (cold, warm)
    assert any(tmp_path.iterdir())
    assert warm["coef"] == cold["coef"]
