"""Tests run in float64 (the library never flips this itself); float32 tests pass float32 arrays."""

import jax
import numpy as np
import pytest

jax.config.update("jax_enable_x64", True)


@pytest.fixture
def rng():
    return np.random.default_rng(20231125)


@pytest.fixture(autouse=True, scope="module")
def _free_compiled_programs():
    """Drop JAX's compiled programs after each test module. Every XLA CPU executable holds
    memory maps; the thousands of shapes this suite compiles would otherwise pass Linux's
    vm.max_map_count (65,530) in one process, and XLA aborts when mmap fails."""
    yield
    jax.clear_caches()
