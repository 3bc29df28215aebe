"""Plots of a fit, a regularization path and a cross-validation (matplotlib, imported on
first use).

``residuals_vs_fitted``, ``qq_plot`` and ``fitted_vs_observed`` draw on a given axes (or a
new one); ``plot_diagnostics`` puts the three side by side. ``coefficient_path`` and
``cv_curve`` are glmnet's two plots, of ``fit_path`` and ``fit_cv``. Residuals are the deviance
residuals divided by √φ (standard normal for a well-specified model with many counts); for
Beta, Dirichlet and Multinomial, which have vector responses or no saturated model, they are
the response residuals y − E[y] divided by their standard deviation, component by component.
"""

from __future__ import annotations

import numpy as np
from jax.scipy.special import ndtri

from glmjax._optional import require


def diagnostics_data(result) -> dict[str, np.ndarray]:
    """Observed and fitted responses (flattened over components) and standardised residuals.

    Example:
        >>> import jax.numpy as jnp, glmjax as gj
        >>> X = jnp.stack([jnp.ones(6), jnp.arange(6.0)], axis=1)
        >>> res = gj.fit(X, jnp.array([0, 1, 1, 2, 3, 5.0]), gj.families.Poisson())
        >>> sorted(diagnostics_data(res))
        ['fitted', 'observed', 'residual']
    """
    problem = result.problem
    if np.ndim(result.params) != 1:
        raise ValueError("diagnostic plots need a single fit; index a batched result first "
                         "(res[k]).")
    fitted = np.asarray(result.predict(problem.X, problem.offset, precision_design=getattr(
        result.parametrization, "precision_design", None)))
    observed = np.asarray(problem.y, float).reshape(fitted.shape)
    scalar = fitted.ndim == 1 and result.family.has_saturated
    if scalar:
        residual = np.asarray(result.resid_deviance) / np.sqrt(float(result.scale))
    else:
        raw = observed - fitted
        residual = raw / raw.std(axis=0)
    keep = np.asarray(problem.weights) > 0
    return {"observed": observed[keep].ravel(), "fitted": fitted[keep].ravel(),
            "residual": residual[keep].ravel()}


def _axes(ax):
    if ax is None:
        plt = require("matplotlib.pyplot", "plotting")

        _, ax = plt.subplots(figsize=(4.5, 3.5))
    return ax


def residuals_vs_fitted(result, ax=None):
    """Standardised residuals against the fitted mean, with their binned average."""
    ax, d = _axes(ax), diagnostics_data(result)
    ax.scatter(d["fitted"], d["residual"], s=6, alpha=0.3)
    order = np.argsort(d["fitted"])
    bins = np.array_split(order, min(20, max(1, order.size // 20)))
    ax.plot([d["fitted"][b].mean() for b in bins], [d["residual"][b].mean() for b in bins],
            "r-", lw=2, label="binned mean")
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xlabel("fitted mean")
    ax.set_ylabel("standardised residual")
    ax.set_title("Residuals vs fitted")
    ax.legend(loc="best")
    return ax


def qq_plot(result, ax=None):
    """Sorted standardised residuals against standard normal quantiles."""
    ax, d = _axes(ax), diagnostics_data(result)
    r = np.sort(d["residual"])
    q = np.asarray(ndtri((np.arange(1, r.size + 1) - 0.5) / r.size))
    ax.scatter(q, r, s=6, alpha=0.5)
    lim = [min(q[0], r[0]), max(q[-1], r[-1])]
    ax.plot(lim, lim, "k--", lw=1)
    ax.set_xlabel("normal quantile")
    ax.set_ylabel("standardised residual")
    ax.set_title("Normal Q-Q")
    return ax


def fitted_vs_observed(result, ax=None):
    """Observed responses against fitted means, with the identity line."""
    ax, d = _axes(ax), diagnostics_data(result)
    ax.scatter(d["fitted"], d["observed"], s=6, alpha=0.3)
    lim = [min(d["fitted"].min(), d["observed"].min()),
           max(d["fitted"].max(), d["observed"].max())]
    ax.plot(lim, lim, "k--", lw=1)
    ax.set_xlabel("fitted mean")
    ax.set_ylabel("observed")
    ax.set_title("Observed vs fitted")
    return ax


def plot_diagnostics(result, title: str | None = None):
    """The three plots side by side; returns the matplotlib figure."""
    plt = require("matplotlib.pyplot", "plotting")

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    fitted_vs_observed(result, axes[0])
    residuals_vs_fitted(result, axes[1])
    qq_plot(result, axes[2])
    fig.suptitle(title or repr(result), fontsize=9)
    fig.tight_layout()
    return fig


def coefficient_path(path, ax=None):
    """Each penalised coefficient against α along a regularization path (log scale, α
    decreasing to the right, as the path runs); unpenalised ones (intercepts) are left out.

    Example:
        >>> import numpy as np, glmjax as gj
        >>> rng = np.random.default_rng(0)
        >>> X = np.column_stack([np.ones(100), rng.normal(size=(100, 3))])
        >>> y = rng.poisson(np.exp(0.5 * X[:, 1])).astype(float)
        >>> ax = coefficient_path(gj.fit_path(X, y, gj.families.Poisson(), n_alphas=5))
        >>> ax.get_legend_handles_labels()[1]
        ['x1', 'x2', 'x3']
    """
    ax = _axes(ax)
    alphas = np.asarray(path.alphas)
    params = np.asarray(path.fits.params)
    penalized = np.asarray(path.fits.problem.penalized)[0] > 0
    names = path.fits.param_names()  # static: no fit taken out of the batch
    for j in np.flatnonzero(penalized):
        ax.plot(alphas, params[:, j], lw=1.2, label=names[j])
    ax.axhline(0, color="k", lw=0.6)
    ax.set_xscale("log")
    ax.invert_xaxis()
    ax.set_xlabel("α (penalty strength)")
    ax.set_ylabel("coefficient")
    ax.set_title(f"Coefficient path, l1_ratio = {path.l1_ratio:g}")
    if penalized.sum() <= 12:
        ax.legend(loc="best", fontsize=7)
    return ax


def cv_curve(cv, ax=None):
    """Mean held-out deviance ± one standard error against α at the chosen ``l1_ratio``, with
    ``alpha_best`` and ``alpha_1se`` marked (glmnet's ``plot.cv.glmnet``); the mean curves of
    the other mixings tried, if any, as thin lines.

    Example:
        >>> import numpy as np, glmjax as gj
        >>> rng = np.random.default_rng(0)
        >>> X = np.column_stack([np.ones(100), rng.normal(size=(100, 3))])
        >>> y = rng.poisson(np.exp(0.5 * X[:, 1])).astype(float)
        >>> ax = cv_curve(gj.fit_cv(X, y, gj.families.Poisson(), n_alphas=5, n_folds=3))
        >>> ax.get_xscale()
        'log'
    """
    ax = _axes(ax)
    for path, deviance in zip(cv.paths, np.asarray(cv.cv_deviances), strict=True):
        if path is not cv.path:
            ax.plot(np.asarray(path.alphas), deviance.mean(axis=0), lw=0.8, alpha=0.6,
                    label=f"l1_ratio = {path.l1_ratio:g}")
    ax.errorbar(np.asarray(cv.alphas), np.asarray(cv.cv_mean), yerr=np.asarray(cv.cv_se),
                fmt="o-", ms=3, lw=1.2, capsize=2, color="C3",
                label=f"l1_ratio = {cv.l1_ratio_best:g} (chosen)")
    ax.axvline(cv.alpha_best, color="k", ls="--", lw=0.8, label="alpha_best")
    ax.axvline(cv.alpha_1se, color="k", ls=":", lw=0.8, label="alpha_1se")
    ax.set_xscale("log")
    ax.invert_xaxis()
    ax.set_xlabel("α (penalty strength)")
    ax.set_ylabel("held-out mean deviance")
    ax.set_title(f"{cv.cv_deviance.shape[0]}-fold cross-validation")
    ax.legend(loc="best", fontsize=7)
    return ax
