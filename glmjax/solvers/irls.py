"""Fisher scoring (IRLS) with step halving, as one loop over trial points.

At an accepted point β the step solves (I(β)/Σw + λM) δ = −∇f(β), with the expected
information I of the model (autodiff, any family and link), or, for a scalar family with a
non-canonical link, the observed information (Newton's method, ``Problem.observed_steps``;
the returned information is then the expected one at the optimum, one more pass). Where
Newton's steps stall (``max_halvings`` halvings without a decrease, as at a mean on the edge
of its space: a Poisson mean 0 under the identity link), the loop goes on with Fisher
scoring from that point, whose weights keep such rows at the edge (R's IRLS). Each pass
of the loop evaluates f, ∇f and I at the trial point β + tδ in one pass over X
(``Problem.local_model``): if f did not increase (beyond its rounding error) the point is
accepted and the next step is computed there; otherwise t is halved (and that I is not
used). So the log-likelihood never decreases (R's ``glm.fit`` halves only on divergence), and
f, ∇f and I each appear once in the compiled program.

It stops when the Newton decrement ½ ∇fᵀ I⁻¹ ∇f at an accepted point is at most
tol·(|f| + 0.1). The decrement measures the distance to the optimum in the metric of the
information, so the rule holds for the linear convergence of Fisher scoring with
non-canonical links too (R's rule, a small relative change in deviance, can stop ~1e-6 short
there). It also stops when ``max_halvings`` halvings do not decrease f (converged if the
decrement is then below √tol).

With an L1 term (``problem.l1`` not None) the step is the proximal Newton step of
``coordinate_descent`` instead of the Cholesky solve (glmnet's and glum's IRLS-CD), f
includes the L1 term and the decrement is ½ δᵀ(I/Σw + λ₂M)δ, zero exactly at the optimum.
"""

from __future__ import annotations

from typing import ClassVar

import jax
import jax.numpy as jnp
from jax import Array

from glmjax._information import factor_inverse, factor_solve, factorize
from glmjax._model import Problem
from glmjax.solvers._base import AbstractSolver, status_code
from glmjax.solvers._result import SolverResult
from glmjax.solvers.coordinate_descent import lasso_newton_step


class _AbstractScoring(AbstractSolver):
    """Fisher scoring with step halving; ``max_halvings`` bounds the halvings of one step."""

    tol: float | None = None
    max_iter: int | None = None
    max_halvings: int = 40
    default_max_iter: ClassVar[int] = 100
    handles_l1: ClassVar[bool] = True

    def default_tol(self, dtype) -> float:
        """On the Newton decrement relative to |f| + 0.1: 1e-20 in float64 (coefficients to
        ~1e-10), 1e-10 in float32 (its rounding level)."""
        return 1e-20 if jnp.dtype(dtype) == jnp.float64 else 1e-10

    def minimize(self, problem: Problem, beta0: Array) -> SolverResult:
        return _scoring(problem, beta0, self.tolerance(beta0.dtype), self.iterations(),
                        self.max_halvings)


class IRLS(_AbstractScoring):
    """Fisher scoring (iteratively reweighted least squares), ``fit``'s default; with an L1
    term ``fit`` takes its settings to ``ProximalNewton``.

    Example:
        >>> import jax.numpy as jnp, glmjax as gj
        >>> X = jnp.stack([jnp.ones(5), jnp.arange(5.0)], axis=1)
        >>> res = gj.fit(X, jnp.array([0.0, 1.0, 1.0, 3.0, 4.0]), family=gj.families.Poisson(),
        ...              solver=gj.solvers.IRLS(max_iter=30))
        >>> int(res.n_iter) < 30, res.status.name
        (True, 'SUCCESS')
    """

    name: ClassVar[str] = "irls"


class ProximalNewton(_AbstractScoring):
    """IRLS with an L1 term: each step minimises the quadratic model plus λ₁‖Mβ‖₁ by
    coordinate descent (glmnet's and glum's IRLS-CD)."""

    name: ClassVar[str] = "proximal_newton"


def _scoring(problem: Problem, beta0: Array, tol: float, max_iter: int, max_halvings: int):
    """Fisher scoring from ``beta0``; ``max_iter`` bounds the accepted steps."""
    dtype = beta0.dtype
    observed = problem.observed_steps

    def local_model(beta, fisher):  # Newton's steps until they stall, then Fisher's
        return problem.local_model(beta, ~fisher if observed else False)

    if problem.has_l1:
        l1_weights = problem.l1 * problem.penalized

        def evaluate(beta, fisher):  # f with the L1 term, its smooth part's gradient, I/Σw + λ₂M
            value, grad, info = local_model(beta, fisher)
            return value + jnp.sum(l1_weights * jnp.abs(beta)), grad, info

        def newton_step(info, beta, value, grad):
            inner_tol = 1e-3 * tol * (jnp.abs(value) + 0.1)
            delta = lasso_newton_step(info, grad, beta, l1_weights, inner_tol)
            return delta, 0.5 * jnp.dot(delta, info @ delta), None
    else:
        evaluate = local_model

        def newton_step(info, beta, value, grad):
            # the factor (a Cholesky factor, or the blocks' of ``_information``) is kept
            # for the covariance
            factor = factorize(info)
            delta = factor_solve(factor, -grad)
            return delta, 0.5 * jnp.dot(-grad, delta), factor

    def cond(state):
        steps, done = state[7], state[9]
        return (steps < max_iter) & ~done

    def body(state):
        beta, value, info, factor, delta, decrement, t, steps, halvings, _, _, fisher = state
        trial = beta + t * delta
        new_value, grad, new_info = evaluate(trial, fisher)
        slack = 64 * jnp.finfo(dtype).eps * (jnp.abs(value) + 1)  # f's rounding error
        accept = (
            jnp.isfinite(new_value)
            & ((new_value <= value + slack) | ~jnp.isfinite(value))
            & jnp.all(jnp.isfinite(grad))
            # and a finite information: a mean exactly at the edge of its space can have a
            # finite log-likelihood and an infinite weight (R's validmu asks μ > 0)
            & jnp.all(jnp.stack([jnp.all(jnp.isfinite(a)) for a in jax.tree.leaves(new_info)]))
        )
        delta, decrement, factor = jax.lax.cond(
            accept, newton_step, lambda *_: (delta, decrement, factor), new_info, trial,
            new_value, grad
        )
        info = jax.tree.map(lambda new, old: jnp.where(accept, new, old), new_info, info)
        beta = jnp.where(accept, trial, beta)
        value = jnp.where(accept, new_value, value)
        size = jnp.abs(value) + 0.1
        halvings = jnp.where(accept, 0, halvings + 1)
        stuck = halvings > max_halvings
        converged = (accept & (decrement <= tol * size)) | (
            stuck & (decrement <= jnp.sqrt(tol) * size)
        )
        # stalled Newton steps: Fisher scoring from β (t = 0 evaluates β itself again)
        switch = stuck & ~converged & ~fisher & observed & jnp.isfinite(value)
        stuck = stuck & ~switch
        done = converged | stuck | ~jnp.isfinite(decrement)
        t = jnp.where(accept, 1.0, jnp.where(switch, 0.0, 0.5 * t)).astype(dtype)
        halvings = jnp.where(switch, 0, halvings)
        status = status_code(converged, jnp.isfinite(decrement) & jnp.isfinite(value), stuck)
        return (beta, value, info, factor, delta, decrement, t, steps + accept, halvings, done,
                status, fisher | switch)

    # the first pass evaluates the start itself (t = 0) and computes the first step there
    inf = jnp.array(jnp.inf, dtype)
    n = beta0.shape[0]
    info0 = (_zeros(jax.eval_shape(lambda b: evaluate(b, jnp.array(False))[2], beta0))
             if getattr(problem.X, "structured", False) else jnp.zeros((n, n), dtype))
    factor0 = None if problem.has_l1 else _zeros(jax.eval_shape(factorize, info0))
    start = (beta0, inf, info0, factor0, jnp.zeros_like(beta0), inf,
             jnp.zeros((), dtype), jnp.array(-1, jnp.int32), jnp.array(0, jnp.int32),
             jnp.array(False), jnp.array(1, jnp.int32), jnp.array(False))
    beta, _, info, factor, *_, steps, _, _, status, _ = jax.lax.while_loop(cond, body, start)
    if observed:  # the standard errors take the expected information (R's): one more pass
        info = problem.local_model(beta)[2]
        factor = None if factor is None else factorize(info)
    # the information and its inverse at the returned β (the loop stops at an accepted
    # point, whose step factorised it): the statistics reuse them for the standard errors.
    # (Solving for I⁻¹ inside the loop, at every step, made the loop's Gram products slower.)
    inverse = None if factor is None else factor_inverse(factor)
    return SolverResult(beta=beta, n_iter=jnp.maximum(steps, 0), status=status,
                        information=info, information_inverse=inverse)


def _zeros(shapes):
    return jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)
