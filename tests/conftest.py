"""Tests run in float64 (the library never flips this itself); float32 tests pass float32 arrays."""

import jax
import numpy as np
import pytest

jax.config.update("jax_enable_x64", True)


@pytest.fixture
def rng():
    return np.random.default_rng(20231125)
