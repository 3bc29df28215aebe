"""What every solver returns."""

from __future__ import annotations

import equinox as eqx
from jax import Array


class SolverResult(eqx.Module):
    """β at the end, the iterations taken, and whether the stopping rule was met."""

    beta: Array
    n_iter: Array
    converged: Array
