"""The solver interface: ``AbstractSolver`` and the status every solution carries."""

from __future__ import annotations

import abc
import enum
from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp
from jax import Array

from glmjax.solvers._result import SolverResult


class Status(enum.IntEnum):
    """How a solver stopped (``res.status``); ``converged`` is ``status == SUCCESS``."""

    SUCCESS = 0
    MAX_ITER = 1  # the iteration limit came first
    NONFINITE = 2  # the objective or its gradient became NaN or infinite
    STEP_FAILED = 3  # step control could not decrease the objective
    INVALID_INPUT = 4  # the fit's inputs failed a check (``fit_many``, where others go on)

    def advice(self, solver: str) -> str:
        """What a user can do about it, for the warning."""
        return {
            Status.SUCCESS: "",
            Status.MAX_ITER: f"{solver} stopped at its iteration limit; raise max_iter, loosen "
                             "tol, or check the model.",
            Status.NONFINITE: f"{solver} diverged (the objective or its gradient became NaN "
                              "or infinite): lower the learning rate, use solver='irls', "
                              "rescale the columns of X, or check the data.",
            Status.STEP_FAILED: f"{solver}'s step halving could not decrease the objective: "
                                "the estimate is at the edge of the parameter space or the "
                                "problem is numerically ill-conditioned (check for "
                                "separation, rescale X, or add an l2 penalty).",
            Status.INVALID_INPUT: "the fit's inputs failed a check (see the error for that fit "
                                  "alone).",
        }[self]


def status_code(converged: Array, finite: Array, step_failed: Array | bool = False) -> Array:
    """The ``Status`` as an int32 array, from a solver's flags (first match wins)."""
    return jnp.where(converged, Status.SUCCESS,
                     jnp.where(~finite, Status.NONFINITE,
                               jnp.where(step_failed, Status.STEP_FAILED, Status.MAX_ITER))
                     ).astype(jnp.int32)


class AbstractSolver(eqx.Module):
    """Minimises f(β) = −ℓ(β)/Σw + (λ₂/2)‖Mβ‖² (+ λ₁‖Mβ‖₁) of a ``model.Problem``.

    A subclass sets ``name``, declares the fields ``tol`` and ``max_iter`` (None: the defaults
    for the data's dtype, ``default_tol`` and ``default_max_iter``) among its settings, and
    writes ``minimize(problem, beta0) -> SolverResult`` (``status_code`` gives its
    ``status``). Pass an instance as ``fit(..., solver=...)``.

    Example (a user's own solver: Newton's method on the observed Hessian):
        >>> import jax, jax.numpy as jnp, glmjax as gj
        >>> from glmjax.solvers import AbstractSolver, SolverResult, status_code
        >>> class Newton(AbstractSolver):
        ...     tol: float | None = None
        ...     max_iter: int | None = None
        ...     name = "newton"
        ...     def minimize(self, problem, beta0):
        ...         def step(beta, _):
        ...             g = jax.grad(problem.objective)(beta)
        ...             return beta - jnp.linalg.solve(jax.hessian(problem.objective)(beta), g), g
        ...         beta, grads = jax.lax.scan(step, beta0, None, length=self.iterations())
        ...         ok = jnp.max(jnp.abs(jax.grad(problem.objective)(beta))) < 1e-8
        ...         return SolverResult(beta=beta, n_iter=jnp.asarray(self.iterations()),
        ...                             status=status_code(ok, jnp.all(jnp.isfinite(beta))))
        >>> X = jnp.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0], [1.0, 3.0]])
        >>> res = gj.fit(X, jnp.array([1.0, 2.0, 2.0, 5.0]), gj.families.Poisson(),
        ...              solver=Newton(max_iter=20))
        >>> res.status.name, res.solver
        ('SUCCESS', 'newton')
    """

    name: ClassVar[str] = "solver"
    default_max_iter: ClassVar[int] = 100
    handles_l1: ClassVar[bool] = False

    def __check_init__(self):
        if self.tol is not None and not (isinstance(self.tol, int | float) and self.tol > 0):
            raise ValueError(f"tol must be a number > 0; got {self.tol!r}.")
        if self.max_iter is not None and (isinstance(self.max_iter, bool) or
                                          not isinstance(self.max_iter, int) or
                                          self.max_iter < 1):
            raise ValueError(f"max_iter must be an integer >= 1; got {self.max_iter!r}.")

    def default_tol(self, dtype) -> float:
        """The stopping tolerance when ``tol`` is None: ‖∇f‖∞ ≤ 1e-8 (float64), 1e-5."""
        return 1e-8 if jnp.dtype(dtype) == jnp.float64 else 1e-5

    def tolerance(self, dtype) -> float:
        return self.default_tol(dtype) if self.tol is None else float(self.tol)

    def iterations(self) -> int:
        return self.default_max_iter if self.max_iter is None else int(self.max_iter)

    @abc.abstractmethod
    def minimize(self, problem, beta0: Array) -> SolverResult:
        """β̂ from ``beta0``, with the iterations taken and the ``status``."""
