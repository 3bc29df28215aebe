"""The lasso step of proximal Newton (IRLS with coordinate descent, as glmnet and glum).

With an L1 term λ₁ Σ mⱼ|βⱼ| the Newton step of ``irls`` becomes the minimiser of the
quadratic model of the smooth part plus the L1 term,

.. math::
    z^\\star = \\arg\\min_z\\; g^\\top (z − β) + \\tfrac12 (z − β)^\\top H (z − β)
              + λ_1 \\sum_j m_j |z_j|,

solved here by cyclic coordinate descent on the (P, P) matrix H (the penalised Fisher
information, so a sweep costs O(P²) and never touches X):
z_j ← S(H_jj z_j − g_j − [H(z − β)]_j, λ₁m_j) / H_jj with the soft threshold
S(u, c) = sign(u) max(|u| − c, 0).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import Array


def soft_threshold(u: Array, c: Array) -> Array:
    """S(u, c) = sign(u)·max(|u| − c, 0), the proximal map of c|·|."""
    return jnp.sign(u) * jnp.maximum(jnp.abs(u) - c, 0.0)


def lasso_newton_step(hessian: Array, grad: Array, beta: Array, l1_weights: Array,
                      tol: Array, max_sweeps: int = 10_000) -> Array:
    """The step δ = z* − β; sweeps stop when no coordinate moves by more than
    H_jj (Δz_j)² > tol (a change of the quadratic model below tol) or after ``max_sweeps``.

    Example:
        >>> import jax.numpy as jnp
        >>> H, g = jnp.eye(2), jnp.array([-3.0, -0.5])
        >>> lasso_newton_step(H, g, jnp.zeros(2), jnp.array([1.0, 1.0]), 1e-20).tolist()
        [2.0, 0.0]
    """
    diag = jnp.maximum(jnp.diagonal(hessian), jnp.finfo(hessian.dtype).tiny)
    n = beta.shape[0]

    def coordinate(j, carry):
        z, hz, change = carry  # hz = H (z − β)
        u = diag[j] * z[j] - grad[j] - hz[j]
        new = soft_threshold(u, l1_weights[j]) / diag[j]
        dz = new - z[j]
        return z.at[j].set(new), hz + hessian[:, j] * dz, jnp.maximum(change, diag[j] * dz**2)

    def sweep(state):
        z, hz, _, k = state
        z, hz, change = jax.lax.fori_loop(0, n, coordinate, (z, hz, jnp.zeros((), z.dtype)))
        return z, hz, change, k + 1

    def cond(state):
        return (state[2] > tol) & (state[3] < max_sweeps)

    start = (beta, jnp.zeros_like(beta), jnp.array(jnp.inf, beta.dtype), 0)
    z, *_ = jax.lax.while_loop(cond, sweep, start)
    return z - beta
