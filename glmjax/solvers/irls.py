"""Fisher scoring (IRLS) with step halving.

Each iteration solves (I(β)/Σw + λM) δ = −∇f(β) with the expected information I of the model
(autodiff, any family and link) and halves the step until the objective f does not increase
(beyond its rounding error), so the log-likelihood never decreases (R's ``glm.fit`` halves
only on divergence).

It stops when the Newton decrement ½ ∇fᵀ I⁻¹ ∇f at the new point (with the information I
of the step just taken) is at most tol·(|f| + 0.1). The decrement measures the distance to
the optimum in the metric of the information, so the rule holds for the linear convergence of
Fisher scoring with non-canonical links too (R's rule, a small relative change in deviance,
can stop ~1e-6 short there). It also stops when no halving decreases f any more (converged
if the decrement is then below √tol).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import Array

from glmjax.model import Problem
from glmjax.solvers._result import SolverResult


def default_tol(dtype) -> float:
    """1e-20 in float64 (coefficients to ~1e-10), 1e-10 in float32 (its rounding level)."""
    return 1e-20 if jnp.dtype(dtype) == jnp.float64 else 1e-10


def irls(problem: Problem, beta0: Array, tol: float, max_iter: int, max_halvings: int = 40):
    """Fisher scoring from ``beta0``; returns a ``SolverResult``.

    Example (``fit`` calls it with ``solver="irls"``, the default):
        >>> import jax.numpy as jnp, glmjax as gj
        >>> X = jnp.stack([jnp.ones(5), jnp.arange(5.0)], axis=1)
        >>> res = gj.fit(X, jnp.array([0.0, 1.0, 1.0, 3.0, 4.0]), family=gj.families.Poisson(),
        ...              solver="irls", max_iter=30)
        >>> int(res.n_iter) < 30
        True
    """
    gradient = jax.grad(problem.objective)

    def cond(state):
        _, _, _, k, done, _ = state
        return (k < max_iter) & ~done

    def body(state):
        beta, value, grad, k, _, _ = state
        factor = jax.scipy.linalg.cho_factor(problem.penalized_fisher(beta))
        delta = jax.scipy.linalg.cho_solve(factor, -grad)
        decrement = 0.5 * jnp.dot(-grad, delta)
        size = jnp.abs(value) + 0.1

        # near the optimum f changes by less than its rounding error: a step is "worse" only
        # when it raises f by more than that, so Fisher scoring can drive ∇f to rounding level
        slack = 64 * jnp.finfo(value.dtype).eps * (jnp.abs(value) + 1)

        def worse(trial):
            _, f, halvings = trial
            return (f > value + slack) & (halvings < max_halvings)

        def halve(trial):  # the first pass tries the full step t = 1
            t, _, halvings = trial
            return t * 0.5, problem.objective(beta + 0.5 * t * delta), halvings + 1

        inf = jnp.array(jnp.inf, beta.dtype)
        step, new_value, _ = jax.lax.while_loop(worse, halve, (2 * jnp.ones_like(inf), inf, -1))
        accepted = (new_value <= value + slack) & jnp.all(jnp.isfinite(delta))
        beta = jnp.where(accepted, beta + step * delta, beta)
        value = jnp.where(accepted, new_value, value)
        grad = jnp.where(accepted, gradient(beta), grad)
        # the decrement at the new point, in the metric of this iteration's information
        # (no new factorisation: the next iteration would compute it anyway)
        new_decrement = 0.5 * jnp.dot(grad, jax.scipy.linalg.cho_solve(factor, grad))
        converged = jnp.where(
            accepted, new_decrement <= tol * size, decrement <= jnp.sqrt(tol) * size
        )
        return beta, value, grad, k + 1, converged | ~accepted, converged

    value0, grad0 = jax.value_and_grad(problem.objective)(beta0)
    start = (beta0, value0, grad0, jnp.zeros((), jnp.int32), ~jnp.isfinite(value0),
             jnp.array(False))
    beta, _, _, n_iter, _, converged = jax.lax.while_loop(cond, body, start)
    return SolverResult(beta=beta, n_iter=n_iter, converged=converged)
