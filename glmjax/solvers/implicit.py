"""Differentiating through a fit by the implicit function theorem (not by unrolling).

At the optimum β̂(D) of f(β, D) (D: the data X, y, weights, offset and the penalty λ),
∇_β f(β̂, D) = 0, so

.. math:: \\frac{∂β̂}{∂D} = −[∇²_β f(β̂, D)]^{-1} \\, ∂_D ∇_β f(β̂, D).

``solve`` wraps any solver in a ``jax.custom_jvp`` with that rule: the tangent costs one
Hessian of f at β̂ (the observed one, which equals the Fisher information only for canonical
links), one Cholesky solve and one Jacobian-vector product of ∇f in D. Reverse mode
(``jax.grad``) follows by transposition; the solver's own iterations are never differentiated.

With an L1 term the same rule holds on the active set (the non-zero or unpenalised
coefficients, where f is smooth); coefficients held at zero have zero derivative, as long as
the data move too little to change the active set.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from glmjax._information import is_blocked
from glmjax._model import Problem
from glmjax.solvers._result import SolverResult


@partial(jax.custom_jvp, nondiff_argnums=(0,))
def solve(solver, problem: Problem, beta0) -> SolverResult:
    """``solver.minimize(problem, beta0)``, differentiable in ``problem`` at the solution."""
    return solver.minimize(problem, beta0)


@solve.defjvp
def _solve_jvp(solver, primals, tangents):
    problem, beta0 = primals
    d_problem, _ = tangents  # the solution does not depend on where the solver started
    solved = solve(solver, problem, beta0)
    return solved, _tangent(problem, d_problem, solved)


@jax.custom_jvp
def solved(problem: Problem, result: SolverResult) -> SolverResult:
    """``result``, a solution of ``problem`` computed elsewhere (the last round of an
    alternation, ``_fitting._profile_nuisance``), differentiable in ``problem`` as
    ``solve``'s; ``result`` itself is not differentiated."""
    return result


@solved.defjvp
def _solved_jvp(primals, tangents):
    problem, result = primals
    return result, _tangent(problem, tangents[0], result)


def _tangent(problem: Problem, d_problem: Problem, solved: SolverResult) -> SolverResult:
    """The tangent of the solution ``solved`` of ``problem`` along ``d_problem``."""
    if is_blocked(solved.information):
        raise NotImplementedError(
            "differentiating through a fit whose information is kept in blocks (a design "
            "with one categorical of 1,024 or more levels, glmjax._information) is not "
            "supported: its implicit derivative needs the dense Hessian.")
    beta = solved.beta

    def gradient(pr):
        return jax.grad(pr.objective)(beta)

    _, d_gradient = jax.jvp(gradient, (problem,), (d_problem,))
    hessian = jax.hessian(problem.objective)(beta)
    if problem.has_l1:  # restrict to the active set: zero rows and columns elsewhere
        active = (beta != 0) | (problem.penalized == 0)
        both = active[:, None] & active[None, :]
        hessian = jnp.where(both, hessian, jnp.eye(beta.shape[0], dtype=beta.dtype))
        d_gradient = jnp.where(active, d_gradient, 0.0)
    d_beta = -jax.scipy.linalg.cho_solve(jax.scipy.linalg.cho_factor(hessian), d_gradient)
    d_information = d_inverse = None
    if solved.information is not None:
        _, d_information = jax.jvp(lambda pr, b: pr.penalized_fisher(b), (problem, beta),
                                   (d_problem, d_beta))
    if solved.information_inverse is not None:  # d(I⁻¹) = −I⁻¹ dI I⁻¹
        inverse = solved.information_inverse
        d_inverse = -inverse @ d_information @ inverse
    d_solved = SolverResult(
        beta=d_beta,
        n_iter=np.zeros(jnp.shape(solved.n_iter), jax.dtypes.float0),
        status=np.zeros(jnp.shape(solved.status), jax.dtypes.float0),
        information=d_information,
        information_inverse=d_inverse,
    )
    return d_solved
