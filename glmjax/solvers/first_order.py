"""First-order solvers: any optax ``GradientTransformation``, L-BFGS, and the seed's ascent.

All minimise the objective f(β) = −ℓ(β)/Σw + (λ/2)Σ mⱼβⱼ² in a ``lax.while_loop`` and stop
when ‖∇f‖∞ ≤ tol or after ``max_iter`` updates.
"""

from __future__ import annotations

from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import optax
from jax import Array

from glmjax._model import Problem
from glmjax._row_blocks import any_true
from glmjax.solvers._base import AbstractSolver, status_code
from glmjax.solvers._result import SolverResult


class Optax(AbstractSolver):
    """Minimise f with an optax ``GradientTransformation`` (which may use the extra
    ``value``/``value_fn`` arguments, as optax's L-BFGS and line searches do).

    Example:
        >>> import jax.numpy as jnp, optax, glmjax as gj
        >>> X = jnp.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0], [1.0, 3.0]])
        >>> y = jnp.array([0.0, 1.0, 0.0, 1.0])
        >>> res = gj.fit(X, y, family=gj.families.Bernoulli(),
        ...              solver=gj.solvers.Optax(optax.adam(0.1)))
        >>> bool(res.converged)
        True
    """

    optimizer: Any
    tol: float | None = None
    max_iter: int | None = None
    name: ClassVar[str] = "optax"
    default_max_iter: ClassVar[int] = 20000

    def __check_init__(self):
        if not isinstance(self.optimizer, optax.GradientTransformation):
            raise TypeError("Optax needs an optax GradientTransformation, e.g. "
                            f"Optax(optax.adam(1e-2)); got {self.optimizer!r}.")

    def minimize(self, problem: Problem, beta0: Array) -> SolverResult:
        return _minimize(problem, beta0, self.optimizer, self.tolerance(beta0.dtype),
                         self.iterations())


class LBFGS(AbstractSolver):
    """L-BFGS with optax's zoom line search (strong Wolfe conditions)."""

    tol: float | None = None
    max_iter: int | None = None
    memory_size: int = 10
    name: ClassVar[str] = "lbfgs"
    default_max_iter: ClassVar[int] = 2000

    def minimize(self, problem: Problem, beta0: Array) -> SolverResult:
        return _minimize(problem, beta0, optax.lbfgs(memory_size=self.memory_size),
                         self.tolerance(beta0.dtype), self.iterations())


class GradientAscent(AbstractSolver):
    """The seed's batch gradient ascent, θ ← θ + α ∇ℓ(θ), with step control.

    For the canonical link ∇ℓ(θ) = Xᵀ(T(y) − h(X)), the seed's update rule (section 6). In
    terms of f = −ℓ/Σw it is gradient descent; the first step is the seed's α = β/m with
    β = ``learning_rate``. Each later step starts from Barzilai and Borwein's secant step
    sᵀs / sᵀ(∇f₊ − ∇f) and is halved until f falls below the largest of its last 10 values by
    10⁻⁴ t‖∇f‖² (Raydan's nonmonotone rule), so no learning rate has to be tuned: on the
    bundled RAND data, with columns whose scales differ 100×, it converges in ~600 steps
    where a fixed step needs over 10⁵.
    """

    learning_rate: float = 1.0
    tol: float | None = None
    max_iter: int | None = None
    name: ClassVar[str] = "gradient_ascent"
    default_max_iter: ClassVar[int] = 20000

    def __check_init__(self):
        if not (isinstance(self.learning_rate, int | float) and self.learning_rate > 0):
            raise ValueError(f"learning_rate must be a number > 0; got {self.learning_rate!r}.")

    def minimize(self, problem: Problem, beta0: Array) -> SolverResult:
        tol, max_iter = self.tolerance(beta0.dtype), self.iterations()
        m = problem.X.shape[0]
        value_and_grad = jax.value_and_grad(problem.objective)

        def cond(state):
            grad, k = state[2], state[4]
            return (k < max_iter) & ~_small(grad, tol) & ~any_true(~jnp.isfinite(grad))

        def body(state):
            beta, value, grad, step, k, recent = state
            reference = jnp.max(recent)  # Raydan's nonmonotone rule: the worst of 10 recent f

            def shrink(carry):
                t, _ = carry
                return 0.5 * t, problem.objective(beta - 0.5 * t * grad)

            def too_long(carry):  # Armijo: f must fall by at least half the linear model's
                t, new = carry
                return ~(new <= reference - 1e-4 * t * jnp.sum(grad**2)) & (t > 1e-30)

            step, _ = jax.lax.while_loop(too_long, shrink,
                                         (step, problem.objective(beta - step * grad)))
            new_beta = beta - step * grad
            new_value, new_grad = value_and_grad(new_beta)
            # the next trial step: Barzilai and Borwein's sᵀs / sᵀ(∇f⁺ − ∇f), a secant
            # estimate of 1/curvature along the last step (the step it was, if not positive)
            s, d = new_beta - beta, new_grad - grad
            curvature = jnp.dot(s, d)
            step = jnp.where(curvature > 0, jnp.dot(s, s) / jnp.where(curvature > 0,
                                                                        curvature, 1), step)
            recent = recent.at[k % recent.shape[0]].set(new_value)
            return new_beta, new_value, new_grad, step, k + 1, recent

        first = (self.learning_rate * jnp.sum(problem.weights) / m).astype(beta0.dtype)
        value0, grad0 = value_and_grad(beta0)
        start = (beta0, value0, grad0, first, jnp.zeros((), jnp.int32), jnp.full(10, value0))
        beta, value, grad, _, n_iter, _ = jax.lax.while_loop(cond, body, start)
        finite = jnp.isfinite(value) & ~any_true(~jnp.isfinite(grad))
        return SolverResult(beta=beta, n_iter=n_iter,
                            status=status_code(_small(grad, tol), finite))


def _minimize(problem: Problem, beta0: Array, optimizer: optax.GradientTransformation, tol,
              max_iter) -> SolverResult:
    optimizer = optax.with_extra_args_support(optimizer)
    value_and_grad = jax.value_and_grad(problem.objective)

    def cond(state):
        _, _, grad, k = state
        return (k < max_iter) & ~_small(grad, tol) & ~any_true(~jnp.isfinite(grad))

    def body(state):
        beta, opt_state, grad, k = state
        value = problem.objective(beta)
        updates, opt_state = optimizer.update(
            grad, opt_state, beta, value=value, grad=grad, value_fn=problem.objective
        )
        beta = optax.apply_updates(beta, updates)
        _, grad = value_and_grad(beta)
        return beta, opt_state, grad, k + 1

    _, grad0 = value_and_grad(beta0)
    start = (beta0, optimizer.init(beta0), grad0, jnp.zeros((), jnp.int32))
    beta, _, grad, n_iter = jax.lax.while_loop(cond, body, start)
    finite = ~any_true(~jnp.isfinite(grad)) & ~any_true(~jnp.isfinite(beta))
    return SolverResult(beta=beta, n_iter=n_iter, status=status_code(_small(grad, tol), finite))


def _small(grad: Array, tol) -> Array:
    """‖∇f‖∞ <= tol, False when an entry is NaN. Compared entry by entry: under ``jit``,
    jaxlib 0.10.2's CPU backend drops NaN from ``jnp.max`` of 4,096 or more entries (and
    returns −∞ for all NaN), which made a diverged fit with that many coefficients report
    convergence."""
    return ~any_true(~(jnp.abs(grad) <= tol))
