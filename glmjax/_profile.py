"""Profile-likelihood intervals of the coefficients (R's ``confint`` of a glm, MASS's
``profile.glm``).

For coefficient j, ℓ̃(b) is the log-likelihood maximised over the other parameters with
βⱼ = b held fixed (a refit with xⱼb in the offset), and the signed root

    z(b) = sign(b − β̂ⱼ) √(2(ℓ(β̂) − ℓ̃(b)) / φ̂)

(φ̂ the fit's dispersion, 1 for Binomial and Poisson) is compared with the normal quantile:
the interval is {b : |z(b)| ≤ z_{1−α/2}}. R interpolates z on a grid of refits with a
spline; here each end is a root of z(b) ∓ z_{1−α/2}, found by Brent's method on refits
warm-started at β̂ (one compiled program for every coefficient and every b). Where the
profile never reaches the quantile the end is infinite; where a refit fails (as around a
separated fit, which has no maximum) it is NaN.
"""

from __future__ import annotations

import dataclasses
import statistics

import jax
import numpy as np
from scipy.optimize import brentq

from glmjax._compilation import filter_jit
from glmjax._design import dense_for_refits
from glmjax.solvers import IRLS, Status


def profile_conf_int(result, alpha: float) -> np.ndarray:
    """The profile-likelihood intervals of ``result``'s coefficients at level 1 − α, shape
    (p, 2), for a single unpenalised fit with one linear predictor and its rows."""
    problem = result.problem
    if np.ndim(result.params) != 1:
        raise ValueError("profile intervals need a single fit; index a batched result first.")
    result.require_rows("profile intervals")
    if result.n_linear != 1:
        raise ValueError("profile intervals are for one linear predictor; use method='wald' "
                         "for several (Multinomial, Dirichlet).")
    if problem.has_l1 or bool(np.any(np.asarray(problem.l2) != 0)):
        raise ValueError("profile intervals are for unpenalised fits.")
    X = dense_for_refits(problem.X, "computing profile intervals", "use method='wald'")
    problem = dataclasses.replace(problem, X=jax.numpy.asarray(X))
    beta = np.asarray(result.params, np.float64)
    p, dtype = result.n_features, problem.X.dtype
    level = statistics.NormalDist().inv_cdf(1 - alpha / 2)
    best = float(problem.loglik(jax.numpy.asarray(beta, dtype)))
    phi, stderr = float(result.scale), np.asarray(result.stderr, np.float64).ravel()
    intervals = np.empty((p, 2))
    for j in range(p):
        keep = np.array([k for k in range(beta.size) if k != j])

        def signed_root(b, j=j, keep=keep):
            loglik = float(_profile_loglik(problem, keep, j, jax.numpy.asarray(b, dtype),
                                           jax.numpy.asarray(beta[keep], dtype)))
            return np.sign(b - beta[j]) * np.sqrt(max(2 * (best - loglik) / phi, 0.0))

        for side, column in ((-1.0, 0), (1.0, 1)):
            intervals[j, column] = _end(signed_root, beta[j], side, level,
                                        stderr[j] if stderr[j] > 0 else 1.0)
    return intervals


def _end(signed_root, center: float, side: float, level: float, step: float) -> float:
    """The b on ``side`` of ``center`` where |z(b)| = ``level``: bracketed by doubling steps
    from the Wald end, then Brent's method; ±∞ if z stays below it."""
    inner, outer = center, center + side * level * step
    for _ in range(30):
        value = side * signed_root(outer)
        if not np.isfinite(value):
            return np.nan
        if value >= level:
            low, high = sorted((inner, outer))
            tol = 1e-10 * (abs(center) + step)
            return brentq(lambda b: signed_root(b) - side * level, low, high, xtol=tol)
        inner, outer = outer, center + 2 * (outer - center)
    return side * np.inf


@filter_jit
def _profile_loglik(problem, keep, j, b, beta0):
    """ℓ̃(b): the log-likelihood maximised over the parameters ``keep`` with parameter j (a
    column of X) fixed at b; NaN where that fit fails."""
    p = problem.X.shape[1]
    sub = dataclasses.replace(problem, X=problem.X[:, keep[: p - 1]],
                              offset=problem.offset + problem.X[:, j] * b,
                              penalized=problem.penalized[keep])
    solved = IRLS().minimize(sub, beta0)
    loglik = sub.loglik(solved.beta)
    return jax.numpy.where(solved.status == Status.SUCCESS, loglik, jax.numpy.nan)
