"""Tests run in float64 (the library never flips this itself); float32 tests pass float32 arrays.

The test session shares one persistent compilation cache (a temporary directory, removed when
the session ends, unless JAX_COMPILATION_CACHE_DIR names one already) between its
pytest-xdist workers and every Python process the tests start (notebooks, the README, the CLI,
sharding): a program compiled once is read back everywhere else. And every program is compiled
with the XLA options that glmjax uses for its own top-level programs on the CPU
(``glmjax._compilation.CPU_OPTIONS``), including those that run under ``jit``, ``vmap`` or
``grad``: about 20% less compile time for the suite. Both are set through the environment
before JAX starts, so that the processes the tests start inherit them.
"""

import os
import shutil
import tempfile

# made by the process that starts the session (pytest-xdist's workers inherit it), which
# removes it when the session ends (``pytest_sessionfinish``); a directory set by the
# caller is the caller's and stays
_OWN_CACHE = "JAX_COMPILATION_CACHE_DIR" not in os.environ
if _OWN_CACHE:
    os.environ["JAX_COMPILATION_CACHE_DIR"] = tempfile.mkdtemp(prefix="glmjax-tests-")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
_OPTIONS = "--xla_cpu_use_fusion_emitters=false --xla_backend_optimization_level=1"
if _OPTIONS not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {_OPTIONS}".strip()

import jax  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_enable_x64", True)
# (again through the configuration: a pytest plugin may have imported JAX before this file)
jax.config.update("jax_compilation_cache_dir", os.environ["JAX_COMPILATION_CACHE_DIR"])
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def pytest_sessionfinish(session, exitstatus):
    """Remove the session's compilation cache (~80 MB after the whole suite), after the
    workers and every process the tests started are done with it."""
    if _OWN_CACHE and "PYTEST_XDIST_WORKER" not in os.environ:
        shutil.rmtree(os.environ["JAX_COMPILATION_CACHE_DIR"], ignore_errors=True)


@pytest.fixture
def rng():
    return np.random.default_rng(20231125)


@pytest.fixture(scope="session")
def make_response():
    """``response(family_name, rng, eta)``: a response of that family around the linear
    predictor eta (as the family's ``fit`` takes it)."""
    return _response


def _response(name, rng, eta):
    """A response of family ``name`` around the linear predictor eta."""
    m = eta.shape[0]
    if name == "Binomial":  # (successes, failures)
        trials = rng.integers(1, 6, m)
        successes = rng.binomial(trials, 1 / (1 + np.exp(-eta)))
        return np.stack([successes, trials - successes], 1).astype(float)
    return {
        "Multinomial": lambda: rng.integers(0, 3, m),
        "Beta": lambda: np.clip(rng.beta(2, 3, m), 1e-3, 1 - 1e-3),
        "Dirichlet": lambda: rng.dirichlet([2, 3, 4], m),
        "Gamma": lambda: rng.gamma(2.0, np.exp(eta) / 2.0),
        "Gaussian": lambda: eta + rng.normal(size=m),
        "NegativeBinomial": lambda: rng.negative_binomial(2, 2 / (2 + np.exp(eta))).astype(float),
        "InverseGaussian": lambda: rng.wald(np.exp(0.3 * eta + 1), 2.0),
        "Exponential": lambda: rng.exponential(np.exp(eta)),
        "Poisson": lambda: rng.poisson(np.exp(eta)).astype(float),
        "Bernoulli": lambda: (rng.uniform(size=m) < 1 / (1 + np.exp(-eta))).astype(float),
    }[name]()



@pytest.fixture(autouse=True, scope="module")
def _free_compiled_programs():
    """Drop JAX's compiled programs after a test module once the process holds many memory
    maps. Every XLA CPU executable holds some; the thousands of shapes this suite compiles
    would otherwise pass Linux's vm.max_map_count (65,530) in one process, and XLA aborts
    when mmap fails. Below half of it the programs are kept: later modules reuse them
    without tracing again."""
    yield
    try:
        with open("/proc/self/maps", "rb") as maps:
            count = sum(1 for _ in maps)
    except OSError:  # not Linux: no such limit to watch, but keep memory in check
        count = None
    if count is None or count > 30_000:
        jax.clear_caches()
