"""The information of a design with one large categorical, kept in blocks, and its inverse.

With X = [D | S], D dense (m, a) and S (m, K) with at most one entry per row, as the one-hot
coding of one categorical (``Design`` with ``structured``), the weighted Gram product has
the blocks

.. math::
    H = \\begin{pmatrix} C & B^\\top \\\\ B & \\mathrm{diag}(d) \\end{pmatrix},\\qquad
    C = D^\\top W D,\\; B = S^\\top W D,\\; d = \\mathrm{diag}(S^\\top W S),

so it is stored as (C, B, d): (a² + (a + 1)K) numbers instead of (a + K)². A Newton step
solves by the Schur complement of the diagonal block, S = C − BᵀD⁻¹B (a × a):

.. math::
    δ_D = S^{-1}(g_D − U^\\top g_S),\\quad δ_S = D^{-1} g_S − U δ_D,\\qquad U = D^{-1}B,

and the inverse, the covariance of the coefficients, has the same blocks:

.. math::
    H^{-1} = \\begin{pmatrix} S^{-1} & −S^{-1}U^\\top \\\\ −U S^{-1} &
             D^{-1} + U S^{-1} U^\\top \\end{pmatrix},

whose diagonal (the standard errors of every level), products with a few vectors (Wald
tests) and quadratic forms in rows of X (prediction standard errors) cost O(K a²). A fit of
a million rows with a 900,000-level categorical needs ~30 MB here instead of ~6 TB.

Every function below takes either a dense (P, P) array or the block objects, so the solvers
and statistics are written once.

Example:
    >>> import jax.numpy as jnp
    >>> info = BlockInformation(jnp.array([[4.0]]), jnp.array([[1.0], [2.0]]),
    ...                         jnp.array([2.0, 3.0]))
    >>> dense = info.todense()
    >>> g = jnp.array([1.0, 2.0, 3.0])
    >>> bool(jnp.allclose(factor_solve(factorize(info), g), jnp.linalg.solve(dense, g)))
    True
    >>> cov = factor_inverse(factorize(info))
    >>> bool(jnp.allclose(cov.todense(), jnp.linalg.inv(dense)))
    True
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import Array


class BlockInformation(eqx.Module):
    """H = [[C, Bᵀ], [B, diag(d)]]: C (a, a) of the dense columns, B (K, a) the levels'
    cross products with them, d (K,) the levels' own (see the module)."""

    dense: Array  # C
    cross: Array  # B
    levels: Array  # d

    @property
    def shape(self) -> tuple[int, int]:
        n = self.dense.shape[-1] + self.levels.shape[-1]
        return n, n

    @property
    def dtype(self):
        return self.dense.dtype

    def todense(self) -> Array:
        """H as a (P, P) array (small K: tests)."""
        top = jnp.concatenate([self.dense, self.cross.T], axis=1)
        bottom = jnp.concatenate([self.cross, jnp.diag(self.levels)], axis=1)
        return jnp.concatenate([top, bottom])


class BlockFactor(eqx.Module):
    """What solves with a ``BlockInformation``: d, U = D⁻¹B and the Cholesky factor of the
    Schur complement S = C − BᵀD⁻¹B."""

    levels: Array
    U: Array
    schur: Array  # lower Cholesky factor of S


class BlockCovariance(eqx.Module):
    """H⁻¹ = [[S⁻¹, −S⁻¹Uᵀ], [−US⁻¹, D⁻¹ + US⁻¹Uᵀ]], stored as (S⁻¹, U, 1/d): the
    covariance of a fit whose information is a ``BlockInformation`` (``FitResult.cov``).
    ``diagonal()``, ``matmul`` and ``row_variances`` compute what the statistics read;
    ``todense()`` the whole matrix for small K."""

    schur_inverse: Array
    U: Array
    levels_inverse: Array

    @property
    def shape(self) -> tuple[int, int]:
        n = self.schur_inverse.shape[-1] + self.levels_inverse.shape[-1]
        return n, n

    @property
    def ndim(self) -> int:
        return 2

    @property
    def dtype(self):
        return self.schur_inverse.dtype

    def __mul__(self, c) -> BlockCovariance:
        return BlockCovariance(self.schur_inverse * c, self.U, self.levels_inverse * c)

    __rmul__ = __mul__

    def diagonal(self) -> Array:
        """The variances: diag S⁻¹, then 1/dₖ + uₖᵀS⁻¹uₖ for each level."""
        levels = self.levels_inverse + jnp.sum((self.U @ self.schur_inverse) * self.U, axis=1)
        return jnp.concatenate([jnp.diagonal(self.schur_inverse), levels])

    def matmul(self, V: Array) -> Array:
        """H⁻¹V for V of shape (P,) or (P, k)."""
        a = self.schur_inverse.shape[0]
        t = self.schur_inverse @ (V[:a] - self.U.T @ V[a:])
        levels = (self.levels_inverse if V.ndim == 1 else self.levels_inverse[:, None]) * V[a:]
        return jnp.concatenate([t, levels - self.U @ t])

    def row_variances(self, X) -> Array:
        """xᵢᵀH⁻¹xᵢ for the rows of a ``Design`` with the same columns and one sparse slot:
        (xᴰ − v uₖ)ᵀS⁻¹(xᴰ − v uₖ) + v²/dₖ for row i with entry v in level k, xᴰᵀS⁻¹xᴰ for a
        row without one (the reference level)."""
        K = self.levels_inverse.shape[0]
        k = X.index[:, 0].astype(jnp.int32)
        v = jnp.where(k < K, X.entries[:, 0], 0)
        U = jnp.concatenate([self.U, jnp.zeros((1, self.U.shape[1]), self.U.dtype)])
        levels = jnp.concatenate([self.levels_inverse, jnp.zeros(1, self.U.dtype)])
        r = X.dense - v[:, None] * U[k]
        return jnp.sum((r @ self.schur_inverse) * r, axis=1) + v**2 * levels[k]

    def todense(self) -> Array:
        """H⁻¹ as a (P, P) array; a ``ValueError`` beyond 2 GiB (use ``diagonal``,
        ``matmul`` or ``row_variances``)."""
        n = self.shape[0]
        if n * n * self.dtype.itemsize > 1 << 31:
            raise ValueError(f"the covariance of {n:,} coefficients is kept in blocks: as a "
                             f"dense array it would take {n * n * self.dtype.itemsize / 2**30:,.0f}"
                             " GiB. Use its diagonal(), matmul(V) or row_variances(X).")
        return self.matmul(jnp.eye(n, dtype=self.dtype))

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.todense(), dtype)


# ---- what the solvers and statistics call, for dense arrays and blocks alike --------------
def is_blocked(matrix) -> bool:
    return isinstance(matrix, BlockInformation | BlockCovariance)


def scaled(matrix, c):
    """c·H (or c·H⁻¹)."""
    if isinstance(matrix, BlockInformation):
        return BlockInformation(matrix.dense * c, matrix.cross * c, matrix.levels * c)
    return matrix * c


def add_diagonal(matrix, v: Array):
    """H + diag(v); for a dense H as ``eye · v`` (``jnp.diag``'s select compiles to several
    times the code)."""
    if isinstance(matrix, BlockInformation):
        a = matrix.dense.shape[0]
        return BlockInformation(matrix.dense + jnp.diag(v[:a]), matrix.cross,
                                matrix.levels + v[a:])
    return matrix + jnp.eye(matrix.shape[0], dtype=matrix.dtype) * v


def diagonal(matrix) -> Array:
    """The diagonal of H, H⁻¹ or a dense (…, P, P) array."""
    if isinstance(matrix, BlockInformation):
        return jnp.concatenate([jnp.diagonal(matrix.dense), matrix.levels])
    if isinstance(matrix, BlockCovariance):
        return matrix.diagonal()
    return jnp.diagonal(matrix, axis1=-2, axis2=-1)


def factorize(info):
    """The Cholesky factor of a dense H (lower triangle; LAPACK's potrf reads and writes the
    lower triangle only, so no symmetrisation is compiled), or a ``BlockFactor``."""
    if isinstance(info, BlockInformation):
        U = info.cross / info.levels[:, None]
        schur = info.dense - info.cross.T @ U
        return BlockFactor(info.levels, U, jax.lax.linalg.cholesky_p.bind(schur))
    return jax.lax.linalg.cholesky_p.bind(info)


def factor_solve(factor, g: Array) -> Array:
    """H⁻¹g from ``factorize``'s factor; g of shape (P,) or (P, k)."""
    if isinstance(factor, BlockFactor):
        a = factor.schur.shape[0]
        g_d, g_s = g[:a], g[a:]
        levels = factor.levels if g.ndim == 1 else factor.levels[:, None]
        d = jax.scipy.linalg.cho_solve((factor.schur, True), g_d - factor.U.T @ g_s)
        return jnp.concatenate([d, g_s / levels - factor.U @ d])
    return jax.scipy.linalg.cho_solve((factor, True), g)


def factor_inverse(factor):
    """H⁻¹ from ``factorize``'s factor: dense, or a ``BlockCovariance``."""
    if isinstance(factor, BlockFactor):
        return BlockCovariance(_cholesky_inverse(factor.schur), factor.U, 1 / factor.levels)
    return _cholesky_inverse(factor)


def _cholesky_inverse(factor: Array) -> Array:
    """H⁻¹ = L⁻ᵀL⁻¹ from H's lower Cholesky factor L: one triangular solve and one matrix
    product, cheaper than two triangular solves against the identity (250 batched 10 × 10
    factors: 0.39 ms against 0.49 ms on a 2-core Xeon)."""
    eye = jnp.eye(factor.shape[-1], dtype=factor.dtype)
    inverse = jax.lax.linalg.triangular_solve(factor, eye, left_side=True, lower=True)
    return inverse.T @ inverse


def quadratic_form(cov, R: Array) -> Array:
    """R Σ Rᵀ for R of shape (r, P)."""
    if isinstance(cov, BlockCovariance):
        return R @ cov.matmul(R.T)
    return R @ cov @ R.T
