"""Covariances of the coefficients: the model's (``"nonrobust"``) and sandwiches.

With B = I(β̂)⁻¹ the inverse of the expected information at unit dispersion (the penalised
one, on the active set, for penalised fits) and uᵢ = ∂ℓᵢ/∂β the score of observation i
(autodiff of the per-row log-likelihood, any family, link and parametrization):

==========  ============================================================  ================
cov_type    covariance                                                    R
==========  ============================================================  ================
nonrobust   φ B                                                           ``vcov``
HC0         B (Σ uᵢuᵢᵀ) B                                                 ``vcovHC(type="HC0")``
HC1         n/(n − k) · HC0                                               ``vcovHC(type="HC1")``
HC2         B (Σ uᵢuᵢᵀ/(1 − hᵢ)) B                                        ``vcovHC(type="HC2")``
HC3         B (Σ uᵢuᵢᵀ/(1 − hᵢ)²) B                                       ``vcovHC(type="HC3")``
cluster     G/(G − 1) · B (Σ_g U_g U_gᵀ) B,  U_g = Σ_{i∈g} uᵢ             ``vcovCL``
==========  ============================================================  ================

hᵢ = tr(wᵢ∇²A(ηᵢ) Jᵢ B Jᵢᵀ), Jᵢ = ∂ηᵢ/∂β, the hat values of the weighted working model
(R's ``hatvalues``: wᵢ xᵢᵀ(XᵀWX)⁻¹xᵢ for one linear predictor). The dispersion cancels from
the sandwiches, as in R. With a penalty the bread is the penalised information's inverse and
the meat the scores of the log-likelihood alone: the sandwich of the penalised estimating
equations, which treats the penalty as fixed (as glum).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from glmjax._information import factor_inverse, factorize, is_blocked, scaled

COV_TYPES = ("nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster")


class GroupCodes(eqx.Module):
    """Cluster labels already coded 0..G−1 (``check_cov_type``'s), as ``fit_many`` passes
    them into its compiled program, where the labels themselves cannot be read."""

    codes: Array
    n_groups: int = eqx.field(static=True)


def coded_groups(fit_kwargs: dict, n_obs: int) -> dict:
    """``fit_kwargs`` with their cluster labels (``groups``) coded once on the host, as
    ``GroupCodes``: for a compiled program that prepares fits, where the labels would be
    traced (``fit_many``, ``fit_path``)."""
    if fit_kwargs.get("groups") is None:
        return fit_kwargs
    _, codes, n_groups = check_cov_type(fit_kwargs.get("cov_type", "nonrobust"),
                                        fit_kwargs["groups"], n_obs)
    return {**fit_kwargs, "groups": GroupCodes(jnp.asarray(codes), n_groups)}


def check_cov_type(cov_type: str, groups, n_obs: int):
    """(cov_type, group codes 0..G−1 as an int array or None, G): ``ValueError`` for an
    unknown type, groups without "cluster" or the reverse, or groups of the wrong length.
    ``groups`` may be ``GroupCodes``, checked before."""
    check_cov_pairing(cov_type, groups)
    if groups is None:
        return cov_type, None, 0
    if isinstance(groups, GroupCodes):
        return cov_type, groups.codes, groups.n_groups
    labels = np.asarray(groups)
    check_labels(labels)
    if labels.shape != (n_obs,):
        raise ValueError(f"groups must have shape ({n_obs},), one label per row of X; got "
                         f"{labels.shape}.")
    _, codes = np.unique(labels, return_inverse=True)
    n_groups = check_n_groups(int(codes.max()) + 1)
    return cov_type, codes.astype(np.int32), n_groups


def check_cov_pairing(cov_type: str, groups) -> None:
    """``ValueError`` for an unknown ``cov_type``, or groups without "cluster" or the reverse."""
    if cov_type not in COV_TYPES:
        raise ValueError(f"cov_type must be one of {COV_TYPES}; got {cov_type!r}.")
    if (cov_type == "cluster") != (groups is not None):
        raise ValueError('cov_type="cluster" needs groups= (one label per row), and groups= '
                         'needs cov_type="cluster".')


def check_labels(labels: np.ndarray, locate=lambda row: f"row {row}") -> None:
    """``ValueError`` naming the first label that is NaN or None (a row without a cluster),
    where ``locate(row)`` says ("row 17", or "row 17 of part-3.parquet" for a chunk)."""
    if labels.dtype.kind == "f":
        missing = np.isnan(labels)
    elif labels.dtype.kind == "O":
        missing = np.array([v is None or v != v for v in labels.ravel()], bool)
    else:
        return
    if missing.any():
        raise ValueError(f"groups contains NaN or None at {locate(int(np.argmax(missing)))}: "
                         "every row needs a cluster label.")


def check_n_groups(n_groups: int) -> int:
    if n_groups < 2:
        raise ValueError("cluster-robust standard errors need at least 2 groups.")
    return n_groups


def unit_covariance(info: Array, total: Array, beta: Array, penalized: Array,
                    has_l1: bool) -> Array:
    """(I + Σw λ₂M)⁻¹ from the solvers' information I/Σw + λ₂M (``total`` = Σw); with an L1
    term, on the active set: coefficients held at zero by it are not estimated (0)."""
    if is_blocked(info):
        return factor_inverse(factorize(scaled(info, total)))
    info = info * total
    if has_l1:
        active = (beta != 0) | (penalized == 0)
        both = active[:, None] & active[None, :]
        eye = jnp.eye(info.shape[0], dtype=info.dtype)
        return factor_inverse(factorize(jnp.where(both, info, eye))) * both
    return factor_inverse(factorize(info))


def model_unit_covariance(problem, beta: Array, info: Array | None = None) -> Array:
    """``unit_covariance`` of ``problem`` at β from the solvers' information ``info``, by
    default the model's (``Problem.penalized_fisher``): the bread B of the sandwiches."""
    info = problem.penalized_fisher(beta) if info is None else info
    return unit_covariance(info, jnp.sum(problem.weights), beta, problem.penalized,
                           problem.has_l1)


def robust(problem, beta: Array, bread: Array, cov_type: str, codes: Array | None,
           n_groups: int) -> Array:
    """The sandwich of ``cov_type`` (not "nonrobust") at β̂ with ``bread`` B."""
    return sandwich(bread, meat(problem, beta, bread, cov_type, codes, n_groups), cov_type,
                    jnp.sum(problem.weights > 0), n_groups)


def meat(problem, beta: Array, bread: Array, cov_type: str, codes: Array | None = None,
         n_groups: int = 0) -> Array:
    """The meat of ``cov_type``'s sandwich at β̂, before its degrees-of-freedom factor: a sum
    over rows (over clusters for "cluster"), so the meats of chunks of rows add up."""
    if cov_type == "cluster":
        totals = cluster_scores(problem, beta, codes, n_groups)
        return totals.T @ totals
    scores = jax.jacfwd(problem.row_loglik)(beta)  # (m, k): uᵢ
    if cov_type in ("HC2", "HC3"):
        leverage = 1 - hat_values(problem, beta, bread)
        factor = 1 / leverage if cov_type == "HC2" else 1 / leverage**2
        return (scores * factor[:, None]).T @ scores
    return scores.T @ scores


def cluster_scores(problem, beta: Array, codes: Array, n_groups: int) -> Array:
    """U_g = Σ_{i∈g} uᵢ, the scores summed by cluster: shape (G, k), rows g = ``codes``."""
    scores = jax.jacfwd(problem.row_loglik)(beta)  # (m, k): uᵢ
    return jax.ops.segment_sum(scores, codes, num_segments=n_groups)


def sandwich(bread: Array, meat: Array, cov_type: str, n_obs: Array, n_groups: int) -> Array:
    """B · meat · B with the factor of ``cov_type``: n/(n − k) for "HC1" (n observations
    with positive weight), G/(G − 1) for "cluster"."""
    cov = bread @ meat @ bread
    if cov_type == "HC1":
        cov = cov * n_obs / (n_obs - bread.shape[0])
    elif cov_type == "cluster":
        cov = cov * (n_groups / (n_groups - 1))
    return cov


def hat_values(problem, beta: Array, bread: Array) -> Array:
    """hᵢ = tr(wᵢ ∇²A(ηᵢ) Jᵢ B Jᵢᵀ) with Jᵢ = ∂ηᵢ/∂β (forward-mode autodiff)."""
    eta = problem.eta(beta)
    m = eta.shape[0]
    d = 1 if eta.ndim == 1 else eta.shape[1]
    J = jax.jacfwd(lambda b: problem.eta(b).reshape(m, d))(beta)  # (m, d, k)
    V = problem.family.variance(eta).reshape(m, d, d) * problem.weights[:, None, None]
    return jnp.einsum("iab,ibk,kl,ial->i", V, J, bread, J)
