"""What every solver returns."""

from __future__ import annotations

import equinox as eqx
from jax import Array


class SolverResult(eqx.Module):
    """β at the end, the iterations taken, how the solver stopped (``status``, an int32
    ``solvers.Status`` code) and, from second-order solvers, the penalised information
    I(β)/Σw + λM at that β and, where the solver factorised it, its inverse."""

    beta: Array
    n_iter: Array
    status: Array
    information: Array | None = None
    information_inverse: Array | None = None

    @property
    def converged(self) -> Array:
        """Whether the stopping rule was met (status SUCCESS)."""
        return self.status == 0
