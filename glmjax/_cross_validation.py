"""k-fold cross-validation of the elastic-net penalty along a regularization path.

Each fold's path is fitted on the other folds (the held-out rows get weight zero, so every
fold reuses one compiled program) over the grid of the full-data path; the held-out
deviance Σ_{i∈fold} wᵢ dᵢ / Σ_{i∈fold} wᵢ (dᵢ the unit deviance, −2 log p for Beta and
Dirichlet) is averaged over folds. The chosen α minimises it; ``alpha_1se`` is the largest α
within one standard error of that minimum (glmnet's ``lambda.1se``). Given several mixings
``l1_ratio`` (as glum's and scikit-learn's CV estimators), each gets its own path and grid,
and the pair (ρ, α) with the smallest mean held-out deviance is chosen.
"""

from __future__ import annotations

from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.typing import ArrayLike

from glmjax._compilation import filter_jit, host_driven
from glmjax._fitting import as_design_matrix, as_vector
from glmjax._model import Problem
from glmjax._paths import GRID_ON_THE_HOST, RegularizationPath, fit_path
from glmjax._results import FitResult
from glmjax._transfer import to_host
from glmjax.families import AbstractFamily


class CVResult(eqx.Module):
    """Cross-validated elastic net: the paths on all the data and the held-out deviances.

    Attributes:
      paths: the ``RegularizationPath`` fitted on all rows for each ``l1_ratio`` tried, in
        the order given.
      cv_deviances: held-out mean deviance per mixing, fold and α, shape
        (n_l1_ratios, n_folds, n_alphas).
      folds: the fold of each row, shape (m,).

    ``path``, ``cv_deviance`` and everything built on them (``alphas``, ``alpha_best``,
    ``alpha_1se``, ``best``) refer to the chosen mixing ``l1_ratio_best``.
    """

    paths: tuple[RegularizationPath, ...]
    cv_deviances: Array
    folds: np.ndarray

    @property
    def l1_ratios(self) -> tuple[float, ...]:
        return tuple(path.l1_ratio for path in self.paths)

    @property
    def index_l1_ratio(self) -> int:
        """The mixing whose best α has the smallest mean held-out deviance (the first on a
        tie)."""
        return int(jnp.argmin(jnp.min(jnp.mean(self.cv_deviances, axis=1), axis=1)))

    @property
    def l1_ratio_best(self) -> float:
        return self.path.l1_ratio

    @property
    def path(self) -> RegularizationPath:
        """The full-data path at ``l1_ratio_best``."""
        return self.paths[self.index_l1_ratio]

    @property
    def cv_deviance(self) -> Array:
        """Held-out mean deviance per fold and α at ``l1_ratio_best``, (n_folds, n_alphas)."""
        return self.cv_deviances[self.index_l1_ratio]

    @property
    def alphas(self) -> Array:
        return self.path.alphas

    @property
    def cv_mean(self) -> Array:
        return jnp.mean(self.cv_deviance, axis=0)

    @property
    def cv_se(self) -> Array:
        """Standard error of ``cv_mean`` across folds."""
        k = self.cv_deviance.shape[0]
        return jnp.std(self.cv_deviance, axis=0, ddof=1) / np.sqrt(k)

    @property
    def index_best(self) -> int:
        return int(jnp.argmin(self.cv_mean))

    @property
    def alpha_best(self) -> float:
        return float(self.alphas[self.index_best])

    @property
    def alpha_1se(self) -> float:
        """The largest α whose mean held-out deviance is within one standard error of the
        minimum."""
        best = self.index_best
        within = self.cv_mean <= self.cv_mean[best] + self.cv_se[best]
        return float(jnp.max(jnp.where(within, self.alphas, -jnp.inf)))

    @property
    def best(self) -> FitResult:
        """The full-data fit at ``l1_ratio_best`` and ``alpha_best``."""
        return self.path[self.index_best]

    def plot(self, ax=None):
        """Held-out deviance ± one standard error against α (``glmjax.plots.cv_curve``)."""
        from glmjax.plots import cv_curve

        return cv_curve(self, ax)

    def __repr__(self) -> str:
        tried = f"l1_ratios={self.l1_ratios}, " if len(self.paths) > 1 else ""
        return (f"CVResult({len(self.path)} alphas, {self.cv_deviance.shape[0]} folds, "
                f"{tried}l1_ratio={self.l1_ratio_best}, alpha_best={self.alpha_best:.4g}, "
                f"alpha_1se={self.alpha_1se:.4g})")


@host_driven(GRID_ON_THE_HOST)
def fit_cv(
    X: ArrayLike,
    y: ArrayLike,
    family: AbstractFamily,
    link=None,
    *,
    l1_ratio: float | Sequence[float] = 1.0,
    alphas: ArrayLike | None = None,
    n_alphas: int = 100,
    min_alpha_ratio: float | None = None,
    n_folds: int = 5,
    folds: ArrayLike | None = None,
    seed: int = 0,
    weights: ArrayLike | None = None,
    offset: ArrayLike | None = None,
    **fit_kwargs,
) -> CVResult:
    """Choose the elastic-net penalty of a GLM by k-fold cross-validation.

    Args:
      X, y, family, link, weights, offset, alphas, n_alphas, min_alpha_ratio: as for
        ``fit_path``; the grid is that of the full-data path.
      l1_ratio: the mixing ρ, or several of them to choose from (each with its own grid
        unless ``alphas`` is given); the same folds serve every ρ.
      n_folds: k. The rows are assigned to folds at random (``seed``), in near-equal sizes.
      folds: instead, the fold (0..k−1) of every row, shape (m,).
      fit_kwargs: as for ``fit``.

    Example:
        >>> import numpy as np, glmjax as gj
        >>> rng = np.random.default_rng(1)
        >>> X = np.column_stack([np.ones(200), rng.normal(size=(200, 5))])
        >>> y = (rng.uniform(size=200) < 1 / (1 + np.exp(-X[:, 1]))).astype(float)
        >>> cv = gj.fit_cv(X, y, gj.families.Bernoulli(), n_alphas=20, n_folds=4)
        >>> cv.cv_deviance.shape, bool(cv.best.converged)
        ((4, 20), True)
        >>> cv = gj.fit_cv(X, y, gj.families.Bernoulli(), l1_ratio=[0.5, 1.0], n_alphas=20)
        >>> cv.cv_deviances.shape, cv.l1_ratio_best in (0.5, 1.0)
        ((2, 5, 20), True)
    """
    ratios = np.atleast_1d(np.asarray(l1_ratio, dtype=float))
    if ratios.ndim != 1 or ratios.size == 0:
        raise ValueError(f"l1_ratio must be a number or a non-empty list of numbers; got "
                         f"{l1_ratio!r}.")
    X, fit_kwargs["feature_names"] = as_design_matrix(X, fit_kwargs.get("feature_names"))
    m = X.shape[0]
    if folds is None:
        if not 2 <= n_folds <= m:
            raise ValueError(f"n_folds must be between 2 and the number of rows {m}; "
                             f"got {n_folds}.")
        folds = np.random.default_rng(seed).permutation(m) % n_folds
    folds = np.asarray(folds)
    if folds.shape != (m,) or not np.issubdtype(folds.dtype, np.integer):
        raise ValueError(f"folds must be integer fold labels, one per row: shape ({m},).")
    labels = np.unique(folds)
    if labels.size < 2:
        raise ValueError("folds must name at least two folds.")
    weights = as_vector(weights, "weights", m, X.dtype, 1.0)
    held_out = [jnp.asarray(folds == k) for k in labels]
    training = [jnp.where(h, 0.0, weights) for h in held_out]  # the other folds' weights
    paths, deviances = [], []
    for ratio in ratios:
        kwargs = dict(family=family, link=link, l1_ratio=float(ratio), offset=offset,
                      **fit_kwargs)
        path = fit_path(X, y, alphas=alphas, n_alphas=n_alphas,
                        min_alpha_ratio=min_alpha_ratio, weights=weights, **kwargs)
        full_data = path[0].problem
        deviance = []
        for fold_out, fold_weights in zip(held_out, training, strict=True):
            fold_path = fit_path(X, y, alphas=path.alphas, weights=fold_weights, **kwargs)
            deviance.append(to_host(_heldout_deviance(full_data, fold_path.fits.params,
                                                      fold_out)))
        paths.append(path)
        deviances.append(deviance)
    return CVResult(paths=tuple(paths), cv_deviances=jnp.asarray(np.array(deviances)),
                    folds=folds)


@filter_jit
def _heldout_deviance(problem: Problem, params: Array, held_out: Array) -> Array:
    """Mean unit deviance over the held-out rows for each row of ``params``; ``problem``
    carries the full data, prepared."""
    fam, y = problem.family, problem.y
    weights = jnp.where(held_out, problem.weights, 0.0)

    def mean_deviance(beta):
        return jnp.sum(weights * fam.unit_deviance(y, problem.eta(beta))) / jnp.sum(weights)

    return jax.vmap(mean_deviance)(params)
