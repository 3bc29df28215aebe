"""First-order solvers: any optax ``GradientTransformation``, L-BFGS, and the seed's ascent.

All minimise the objective f(β) = −ℓ(β)/Σw + (λ/2)Σ mⱼβⱼ² in a ``lax.while_loop`` and stop
when ‖∇f‖∞ ≤ tol or after ``max_iter`` updates.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from jax import Array

from glmjax.model import Problem
from glmjax.row_blocks import any_true
from glmjax.solvers._result import SolverResult


def optax_minimize(
    problem: Problem, beta0: Array, optimizer: optax.GradientTransformation, tol, max_iter
) -> SolverResult:
    """Minimise f with ``optimizer`` (which may use the extra ``value``/``value_fn`` args).

    Example:
        >>> import jax.numpy as jnp, optax, glmjax as gj
        >>> X = jnp.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0], [1.0, 3.0]])
        >>> y = jnp.array([0.0, 1.0, 0.0, 1.0])
        >>> res = gj.fit(X, y, family=gj.families.Bernoulli(), solver=optax.adam(0.1))
        >>> bool(res.converged)
        True
    """
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
    return SolverResult(beta=beta, n_iter=n_iter, converged=_small(grad, tol))


def _small(grad: Array, tol) -> Array:
    """‖∇f‖∞ <= tol, False when an entry is NaN. Compared entry by entry: under ``jit``,
    jaxlib 0.10.2's CPU backend drops NaN from ``jnp.max`` of 4,096 or more entries (and
    returns −∞ for all NaN), which made a diverged fit with that many coefficients report
    convergence."""
    return ~any_true(~(jnp.abs(grad) <= tol))


def lbfgs(problem: Problem, beta0: Array, tol, max_iter, memory_size: int = 10) -> SolverResult:
    """L-BFGS with optax's zoom line search (strong Wolfe conditions)."""
    return optax_minimize(problem, beta0, optax.lbfgs(memory_size=memory_size), tol, max_iter)


def gradient_ascent(problem: Problem, beta0: Array, learning_rate, tol, max_iter) -> SolverResult:
    """The seed's batch gradient ascent, θ ← θ + α ∇ℓ(θ) with α = β/m (section 6).

    For the canonical link ∇ℓ(θ) = Xᵀ(T(y) − h(X)), the seed's update rule. In terms of
    f = −ℓ/Σw this is plain gradient descent with step β·Σw/m; ``learning_rate`` is β.
    """
    m = problem.X.shape[0]
    step = learning_rate * jnp.sum(problem.weights) / m
    return optax_minimize(problem, beta0, optax.sgd(step), tol, max_iter)
