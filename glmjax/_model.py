"""The statistical model of a GLM fit: log-likelihood, score and Fisher information.

For coefficients β = (Θ, extra), linear predictors L = XΘ + offset and natural parameters
η = η(L, extra) (a parametrization),

.. math::
    \\ell(β) = \\sum_i w_i [η_i^\\top T(y_i) − A(η_i)],\\qquad
    \\nabla \\ell = \\texttt{jax.grad}(\\ell),\\qquad
    I(β) = \\sum_i w_i J_i^\\top \\nabla^2 A(η_i) J_i,\\quad J_i = ∂η_i/∂β.

For the canonical link the score is the seed's Xᵀ(T(y) − h(X)) (section 6); here it is derived
by autodiff. The Fisher information uses the structure J_i = G_i ⊗ x_i with G_i = ∂η_i/∂L_i
(a q-by-q block per row), so it costs one weighted XᵀWX product like classical IRLS.

Solvers minimise the penalised, normalised objective (the elastic net of glmnet, glum and
scikit-learn, with λ₂ = α(1 − ρ) and λ₁ = αρ in their α, ``l1_ratio`` = ρ)
f(β) = −ℓ(β)/Σw + (λ₂/2) Σ_j m_j β_j² + λ₁ Σ_j m_j |β_j|, with m_j = 0 for unpenalised
coefficients.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import Array

from glmjax._information import BlockInformation, add_diagonal, scaled
from glmjax._row_blocks import (
    any_true,
    default_block_rows,
    gram,
    gram_from_outer,
    is_design,
    keep_rows,
    sum_over_blocks,
    transposed_product,
    weighted_gram,
)
from glmjax.families import AbstractFamily
from glmjax.parametrizations import AbstractParametrization, Canonical, MeanLink


def constant_columns(X: Array) -> Array:
    """Columns of X that are constant and non-zero: intercepts (unpenalised, and what the
    null model keeps)."""
    if is_design(X):
        _, differ, first = X.column_summary()
        return ~differ & (first != 0)
    return ~any_true(X != X[:1], 0) & (X[0] != 0)


class GramSpectrum(eqx.Module):
    """The eigendecomposition V Λ Vᵀ of a Gram matrix G = XᵀWX in column-normalised form
    D⁻¹GD⁻¹ (D = diag(G)^½, 1 for a zero column; unit diagonal, so the eigenvalues average 1).

    Λ_min/Λ_max reveals rank deficiency (``checks``) and V names the dependent columns; the
    same decomposition solves G θ = b for the starting values, with a ridge of 16ε on the
    normalised form against rank deficiency: θ = D⁻¹ V (Λ + 16ε)⁻¹ Vᵀ D⁻¹ b.

    Example:
        >>> import jax.numpy as jnp
        >>> spectrum = GramSpectrum.of(jnp.array([[4.0, 2.0], [2.0, 2.0]]))
        >>> [round(float(v), 4) for v in spectrum.solve(jnp.array([[6.0], [4.0]]))[:, 0]]
        [1.0, 1.0]
    """

    unit: Array
    evals: Array
    evecs: Array

    @classmethod
    def of(cls, gram: Array, unit: Array | None = None) -> GramSpectrum:
        """The spectrum of ``gram`` normalised by ``unit`` (default: its diagonal's root)."""
        if unit is None:
            norms = jnp.sqrt(jnp.diagonal(gram))
            unit = jnp.where(norms > 0, norms, 1)
        # LAPACK reads one triangle: no symmetrisation (a transposed copy) is compiled
        evecs, evals = jax.lax.linalg.eigh(gram / unit[:, None] / unit[None, :],
                                           symmetrize_input=False)
        return cls(unit=unit, evals=evals, evecs=evecs)

    def solve(self, rhs: Array) -> Array:
        """(G + 16ε D²)⁻¹ rhs for rhs of shape (p, q)."""
        ridge = 16 * jnp.finfo(self.evals.dtype).eps
        z = self.evecs.T @ (rhs / self.unit[:, None])
        return (self.evecs @ (z / (self.evals + ridge)[:, None])) / self.unit[:, None]


class BlockSpectrum(eqx.Module):
    """``GramSpectrum`` of a ``BlockInformation`` H = [[C, Bᵀ], [B, diag d]]: H is singular
    where a level's dₖ is 0 (``checks``' zero columns) or where the Schur complement
    S = C − BᵀD⁻¹B is, so ``evals`` and ``evecs`` are S's, normalised by C's diagonal (a
    dense column that the levels explain has a near-zero eigenvalue, as in the dense
    spectrum); ``solve`` goes through S with the same relative ridge."""

    information: BlockInformation
    schur: GramSpectrum

    @classmethod
    def of(cls, info: BlockInformation) -> BlockSpectrum:
        levels = jnp.where(info.levels > 0, info.levels, 1)
        schur = info.dense - info.cross.T @ (info.cross / levels[:, None])
        norms = jnp.sqrt(jnp.diagonal(info.dense))
        return cls(info, GramSpectrum.of(schur, jnp.where(norms > 0, norms, 1)))

    @property
    def evals(self) -> Array:
        return self.schur.evals

    @property
    def evecs(self) -> Array:
        return self.schur.evecs

    def solve(self, rhs: Array) -> Array:
        info = self.information
        a = info.dense.shape[0]
        levels = jnp.where(info.levels > 0, info.levels, 1)[:, None]
        U = info.cross / levels
        d = self.schur.solve(rhs[:a] - U.T @ rhs[a:])
        return jnp.concatenate([d, rhs[a:] / levels - U @ d])


def spectrum_of(gram) -> GramSpectrum | BlockSpectrum:
    """The spectrum of a Gram matrix XᵀWX, dense or in blocks (``_information``)."""
    if isinstance(gram, BlockInformation):
        return BlockSpectrum.of(gram)
    return GramSpectrum.of(gram)


class Problem(eqx.Module):
    """A family, a parametrization and the data (X, y, weights, offset) of one fit.

    ``y`` is the response as the family takes it (after ``family.prepare``); ``l2`` and
    ``l1`` are the ridge and lasso strengths λ₂, λ₁ and ``penalized`` the 0/1 mask m over the
    flat coefficient vector.
    """

    family: AbstractFamily
    parametrization: AbstractParametrization
    X: Array
    y: Array
    weights: Array
    offset: Array
    l2: Array
    penalized: Array
    l1: Array | None = None  # None: no L1 term is compiled (a leafless pytree node, so it
    # stays None through lax.cond and vmap, where a constant 0.0 would become a tracer)
    outer: Array | None = None  # X's packed row outer products (``fit_many`` with X shared):
    # the information is then one product with them (``row_blocks.gram_from_outer``)

    @property
    def n_features(self) -> int:
        return self.X.shape[1]

    @property
    def n_linear(self) -> int:
        return self.parametrization.n_linear(self.family)

    @property
    def n_extra(self) -> int:
        return self.parametrization.n_extra(self.family)

    @property
    def n_params(self) -> int:
        return self.n_features * self.n_linear + self.n_extra

    @property
    def has_l1(self) -> bool:
        """Whether f has an L1 term (``l1`` is not None): known at trace time."""
        return self.l1 is not None

    def unpack(self, beta: Array) -> tuple[Array, Array]:
        """Flat β → (Θ of shape (p, q), extra of shape (r,))."""
        pq = self.n_features * self.n_linear
        return beta[:pq].reshape(self.n_features, self.n_linear), beta[pq:]

    def linear(self, beta: Array, X: Array | None = None, offset: Array | None = None) -> Array:
        """L = XΘ + offset, shape (m, q); on the fit's data unless new X and offset are given."""
        theta, _ = self.unpack(beta)
        X = self.X if X is None else X
        offset = self.offset if offset is None else offset
        return X @ theta + offset[:, None]

    def eta(self, beta: Array) -> Array:
        _, extra = self.unpack(beta)
        return self.parametrization.natural(self.family, self.linear(beta), extra)

    def loglik(self, beta: Array) -> Array:
        """Σ wᵢ [ηᵢᵀT(yᵢ) − A(ηᵢ)]: the log-likelihood up to the base measure."""
        return self._loglik(self.linear(beta), self.unpack(beta)[1])

    def row_loglik(self, beta: Array) -> Array:
        """wᵢ [ηᵢᵀT(yᵢ) − A(ηᵢ)] for each row: its gradients are the rows' scores."""
        return self.weights * self.family.log_kernel(self.y, self.eta(beta))

    def _loglik(self, linear: Array, extra: Array) -> Array:
        eta = self.parametrization.natural(self.family, linear, extra)
        return jnp.sum(self.weights * self.family.log_kernel(self.y, eta))

    def smooth_objective(self, beta: Array, normalizer: Array | None = None) -> Array:
        """f without its lasso term: −ℓ(β)/Σw + (λ₂/2) Σ mⱼ βⱼ²; +∞ outside the domain.

        ``normalizer`` replaces Σw (the minibatch loop divides every batch by one constant).
        """
        normalizer = jnp.sum(self.weights) if normalizer is None else normalizer
        value = -self.loglik(beta) / normalizer + self.ridge(beta)
        return jnp.where(jnp.isnan(value), jnp.inf, value)

    def ridge(self, beta: Array) -> Array:
        """(λ₂/2) Σ mⱼ βⱼ²."""
        return 0.5 * self.l2 * jnp.sum(self.penalized * beta**2)

    def objective(self, beta: Array) -> Array:
        """f(β) = −ℓ(β)/Σw + (λ₂/2) Σ mⱼ βⱼ² + λ₁ Σ mⱼ |βⱼ|."""
        value = self.smooth_objective(beta)
        if self.has_l1:
            value = value + self.l1 * jnp.sum(self.penalized * jnp.abs(beta))
        return value

    def score(self, beta: Array) -> Array:
        """∇ℓ(β), by autodiff."""
        return jax.grad(self.loglik)(beta)

    def fisher(self, beta: Array) -> Array:
        """Expected Fisher information I(β) = Σ wᵢ Jᵢᵀ ∇²A(ηᵢ) Jᵢ, shape (P, P)."""
        return self._fisher(self.linear(beta), self.unpack(beta)[1])

    def _fisher(self, linear: Array, extra: Array, rhs: Array | None = None,
                observed: bool = False):
        """I at linear predictors L (m, q) and extras. With ``rhs`` (m, q): (I, XᵀR) from one
        product over X, without blocks (``row_sums`` calls it on each block). ``observed``
        (one linear predictor, no extras): each row's weight is the observed curvature
        −∂²ℓᵢ/∂Lᵢ² where it is positive, the expected one elsewhere (``observed_steps``); it
        may be a traced bool, chosen at run time."""
        family, param = self.family, self.parametrization

        m, p, q, r = linear.shape[0], self.n_features, self.n_linear, self.n_extra
        d = max(family.natural_dim, 1)

        def eta_of(lin, ext):  # row i of η depends on row i of L only
            return param.natural(family, lin, ext).reshape(m, d)

        eta = param.natural(family, linear, extra)
        # G_i = ∂η_i/∂L_i, column a for every row at once: a JVP with tangent e_a in each row
        basis = jnp.broadcast_to(jnp.eye(q, dtype=linear.dtype)[:, None, :], (q, m, q))
        G = jax.vmap(lambda t: jax.jvp(lambda lin: eta_of(lin, extra), (linear,), (t,))[1])(
            basis).transpose(1, 2, 0)
        V = family.variance(eta).reshape(m, d, d) * self.weights[:, None, None]
        VG = V @ G
        W = jnp.einsum("ida,idb->iab", G, VG)
        W = W[:, 0, 0] if q == 1 else W
        if observed is not False:
            curvature = jax.jvp(lambda lin: jax.grad(self._loglik)(lin, extra), (linear,),
                                (jnp.ones_like(linear),))[1][:, 0]
            W = jnp.where((curvature < 0) & observed, -curvature, W)
        if self.outer is not None:
            info_theta = gram_from_outer(self.outer, W, p)
            X_rhs = None if rhs is None else self.X.T @ rhs.reshape(m, -1)
        elif rhs is None:
            info_theta, X_rhs = weighted_gram(self.X, W), None
        else:
            info_theta, X_rhs = gram(self.X, W, rhs)
        if r == 0:
            info = info_theta
        else:
            E = jax.jacfwd(eta_of, argnums=1)(linear, extra)  # (m, d, r)
            VGE = jnp.einsum("ida,idr->iar", VG, E).reshape(m, q * r)
            cross = transposed_product(self.X, VGE).reshape(p * q, r)
            info_extra = jnp.einsum("ids,idr->sr", E, V @ E)
            info = jnp.block([[info_theta, cross], [cross.T, info_extra]])
        return info if rhs is None else (info, X_rhs)

    def penalized_fisher(self, beta: Array) -> Array:
        """The expected counterpart of f's smooth Hessian: I(β)/Σw + λ₂ diag(m)."""
        return self._penalized(self.fisher(beta))

    def _penalized(self, info: Array) -> Array:
        return add_diagonal(scaled(info, 1 / jnp.sum(self.weights)), self.l2 * self.penalized)

    @property
    def observed_steps(self) -> bool:
        """Whether IRLS steps with the observed information (``_fisher``'s ``observed``): for
        a scalar family with a link other than its canonical one (a ``MeanLink``), where it
        differs from the expected information. Newton's method then converges quadratically,
        where Fisher scoring converges linearly (a Tweedie fit with a log link: 4 iterations
        instead of 10); where a row's observed curvature is not positive its expected one
        keeps the information positive definite."""
        return (isinstance(self.parametrization, MeanLink) and self.n_linear == 1
                and self.n_extra == 0)

    def local_model(self, beta: Array, observed: bool = False) -> tuple[Array, Array, Array]:
        """(f, ∇f, I/Σw + λ₂ diag(m)) at β: what a Fisher-scoring step needs, in one pass
        over X (``row_sums``); with ``observed`` the information of ``_fisher``'s
        ``observed``."""
        loglik, score, info = self.row_sums(beta, observed=observed)
        total = jnp.sum(self.weights)
        ridge, ridge_grad = jax.value_and_grad(self.ridge)(beta)
        value = -loglik / total + ridge
        value = jnp.where(jnp.isnan(value), jnp.inf, value)  # as smooth_objective
        return value, -score / total + ridge_grad, self._penalized(info)

    def row_sums(self, beta: Array, block_rows: int | None = None, also=None,
                 observed: bool = False):
        """(ℓ, ∇ℓ, I) at β, summed over blocks of rows.

        Each block's terms are computed while the block is in the cache, so X is read once
        for all three (``row_blocks.sum_over_blocks``; ``block_rows`` as there): ℓ and its
        gradient in (L, extra) by ``jax.value_and_grad``, then, by the chain rule through
        L = XΘ + offset, ∇_Θ ℓ = Xᵀ ∂ℓ/∂L in the same product as the information.
        ``also(block, eta)``: a pytree of further sums over rows, at the block's η, returned
        fourth (``fit_chunked``'s deviance and Pearson χ² in the same pass). ``observed``: as
        ``_fisher``'s.
        """
        _, extra = self.unpack(beta)

        def block_terms(block: Problem):
            linear = block.linear(beta)
            value, (d_linear, d_extra) = jax.value_and_grad(block._loglik, argnums=(0, 1))(
                linear, extra)
            info, d_theta = block._fisher(linear, extra, d_linear, observed)
            terms = value, jnp.concatenate([d_theta.ravel(), d_extra]), info
            if also is None:
                return terms
            eta = block.parametrization.natural(block.family, linear, extra)
            return (*terms, also(block, eta))

        if self.outer is not None:
            block_rows = 0  # ``outer`` is kept only for data small enough for one block
        elif block_rows is None:
            block_rows = default_block_rows(self.X, self.n_linear)
        return sum_over_blocks(block_terms, self.row_block, self.X.shape[0], block_rows)

    def row_block(self, start, size: int, keep: Array | None = None) -> Problem:
        """The problem on rows start, …, start + size − 1 (``start`` may be traced), with
        zero weight where the boolean ``keep`` (length ``size``) is False.

        Slices every array of the data with one entry per row: X, y, weights, offset and
        per-row arrays inside the family or parametrization (Binomial's trials after
        ``prepare``, a precision design); an array counts as per-row when its first axis has
        the length of X's.
        """
        m = self.X.shape[0]

        def cut(leaf):
            if eqx.is_array(leaf) and leaf.ndim >= 1 and leaf.shape[0] == m:
                return jax.lax.dynamic_slice_in_dim(leaf, start, size)
            return leaf

        def data(pr):
            return pr.family, pr.parametrization, pr.X, pr.y, pr.weights, pr.offset

        block = eqx.tree_at(data, self, jax.tree.map(cut, data(self)))
        return eqx.tree_at(lambda pr: pr.weights, block, keep_rows(block.weights, keep))

    def start_rows(self) -> tuple[Array, Array, Array]:
        """Per-row terms of the starting values: (W₀ of shape (m,), R₀ of shape (m, q),
        extra₀); the start solves (XᵀW₀X) Θ₀ = XᵀR₀ (``initial``).

        From the parametrization's starting point (L₀, extra₀), each mean halfway to the
        overall mean as in R. For the canonical link of a scalar family whose natural
        parameter may be any real number (Gaussian, Bernoulli, Binomial, Poisson), one
        Fisher-scoring step in L from L₀, R's first IRLS iteration:

        .. math:: W_0 = w\\,∇^2A(η_0),\\qquad R_0 = W_0 (L_0 − \\mathrm{offset}) + ∂ℓ/∂L\\,|_{L_0}

        Elsewhere, where such a step may leave the domain, least squares of L₀ − offset:
        W₀ = w, R₀ = w (L₀ − offset). Rows where L₀ is not finite get zero weight.
        """
        family, param, w = self.family, self.parametrization, self.weights
        linear0, extra0 = param.initial(family, self.y, w)
        target = linear0 - self.offset[:, None]
        finite = ~any_true(~jnp.isfinite(target), 1)
        if isinstance(param, Canonical) and family.natural_dim == 0 and family.unbounded_natural:
            W = w * family.variance(linear0[:, 0])  # η = L for the canonical link
            R = W[:, None] * target + jax.grad(self._loglik)(linear0, extra0)
        else:
            W, R = w, w[:, None] * target
        return jnp.where(finite, W, 0), jnp.where(finite[:, None], R, 0), extra0

    def start(self) -> tuple[GramSpectrum | BlockSpectrum, Array, Array]:
        """(the spectrum of XᵀW₀X, XᵀR₀, extra₀) from ``start_rows``: what ``initial``
        solves, and the spectrum the rank check reads."""
        W0, R0, extra0 = self.start_rows()
        return (spectrum_of(weighted_gram(self.X, W0)), transposed_product(self.X, R0),
                extra0)

    def initial(self, start: tuple[GramSpectrum, Array, Array] | None = None) -> Array:
        """Starting coefficients from ``start_rows``: Θ₀ = (XᵀW₀X)⁻¹ XᵀR₀ and extra₀.

        ``start`` = (the spectrum of XᵀW₀X, XᵀR₀, extra₀) when already at hand
        (``checks.scan``); ``GramSpectrum.solve``'s ridge guards against rank deficiency.
        """
        spectrum, X_rhs, extra0 = self.start() if start is None else start
        theta0 = spectrum.solve(X_rhs)
        return jnp.concatenate([theta0.ravel(), extra0]).astype(self.X.dtype)
