"""Regularization paths: elastic-net fits over a decreasing grid of penalties, warm-started.

For a grid α₁ > α₂ > … and a mixing ρ = ``l1_ratio`` the path solves, for each αₖ,

.. math:: \\min_β\\; −ℓ(β)/Σw + α_k\\,[ρ\\,‖Mβ‖_1 + \\tfrac{1−ρ}{2}‖Mβ‖_2^2]

(M masks the unpenalised intercept and extras), the parametrisation of glmnet, glum and
scikit-learn. Each fit starts from the previous solution. The default grid runs from
α_max = max_j |∂f/∂β_j| / ρ at the intercept-only fit (the smallest α whose solution has
every penalised coefficient at zero) down to α_max·``min_alpha_ratio``, evenly in log α.
The whole path is one compiled ``lax.scan`` over the grid.
"""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.typing import ArrayLike

from glmjax._compilation import filter_jit, host_driven
from glmjax._covariances import coded_groups
from glmjax._fitting import (
    as_design_matrix,
    as_vector,
    checked_problem,
    default_names,
    fit,
    ones_columns,
    prepare,
    solve,
)
from glmjax._model import Problem
from glmjax._results import FitResult, with_X, without_X
from glmjax._row_blocks import is_design
from glmjax._transfer import as_response, to_host
from glmjax.families import AbstractFamily


class RegularizationPath(eqx.Module):
    """The fits along a penalty grid: ``fits`` is a ``FitResult`` with a leading axis over
    ``alphas`` (X stored once); ``path[k]`` is the k-th fit alone.

    Example:
        >>> import numpy as np, glmjax as gj
        >>> rng = np.random.default_rng(0)
        >>> X = np.column_stack([np.ones(100), rng.normal(size=(100, 3))])
        >>> y = rng.poisson(np.exp(0.5 * X[:, 1])).astype(float)
        >>> path = gj.fit_path(X, y, gj.families.Poisson(), n_alphas=5)
        >>> path.n_nonzero.tolist()   # penalised coefficients that are non-zero
        [0, 2, 3, 3, 3]
    """

    alphas: Array
    l1_ratio: float = eqx.field(static=True)
    fits: FitResult

    @property
    def coef(self) -> Array:
        """Coefficients along the path, shape (n_alphas, p) or (n_alphas, p, q)."""
        return self.fits.coef

    @property
    def n_nonzero(self) -> Array:
        """Non-zero penalised coefficients at each α."""
        penalized = self.fits.problem.penalized
        return jnp.sum((self.fits.params != 0) & (penalized > 0), axis=-1)

    def __len__(self) -> int:
        return self.alphas.shape[0]

    def __getitem__(self, k: int) -> FitResult:
        return self.fits[k]

    def plot(self, ax=None):
        """The penalised coefficients against α (``glmjax.plots.coefficient_path``)."""
        from glmjax.plots import coefficient_path

        return coefficient_path(self, ax)


GRID_ON_THE_HOST = (
    "chooses its grid of α and checks its inputs on the host, so it cannot run inside "
    "jax.jit, jax.vmap or jax.grad; to differentiate, call gj.fit at a chosen penalty "
    "(l1=α·l1_ratio, l2=α·(1 − l1_ratio)).")


@host_driven(GRID_ON_THE_HOST)
def fit_path(
    X: ArrayLike,
    y: ArrayLike,
    family: AbstractFamily,
    link=None,
    *,
    l1_ratio: float = 1.0,
    alphas: ArrayLike | None = None,
    n_alphas: int = 100,
    min_alpha_ratio: float | None = None,
    weights: ArrayLike | None = None,
    offset: ArrayLike | None = None,
    **fit_kwargs,
) -> RegularizationPath:
    """Fit the elastic-net path of a GLM (any family and link): ``fit`` with
    ``l1 = α·l1_ratio`` and ``l2 = α·(1 − l1_ratio)`` for each α, warm-started.

    Args:
      X, y, family, link, weights, offset: as for ``fit``.
      l1_ratio: ρ in [0, 1]; 1 is the lasso, 0 ridge.
      alphas: the grid (sorted decreasing); by default ``n_alphas`` values from α_max down
        to α_max·``min_alpha_ratio`` (1e-4 when there are more rows than coefficients, else
        1e-2, as glmnet).
      fit_kwargs: ``tol``, ``max_iter``, ``scale``, ``feature_names`` as for ``fit``.

    Returns:
      A ``RegularizationPath``. Bad inputs raise ``ValueError`` as ``fit`` does; a fit that does not
      converge is flagged in ``path.fits.converged``.
    """
    if not 0.0 <= l1_ratio <= 1.0:
        raise ValueError(f"l1_ratio must be in [0, 1]; got {l1_ratio}.")
    X, names = as_design_matrix(X, fit_kwargs.get("feature_names"))
    if names is not None:
        fit_kwargs["feature_names"] = names  # checked by fit
    m = X.shape[0]
    fit_kwargs = coded_groups(fit_kwargs, m)
    y = as_response(y)
    family.check_response_shape(y, m)
    weights = as_vector(weights, "weights", m, X.dtype, 1.0)
    offset = as_vector(offset, "offset", m, X.dtype, 0.0)
    param = family.parametrization(link)
    problem, _, ok = _checked(family, param, X, y, weights, offset)
    if not bool(ok):  # let fit say what is wrong
        fit(X, y, family, link, weights=weights, offset=offset, l2=1.0)
    beta_null = _null_params(problem, X, y, family, link, weights, offset)
    if alphas is None:
        if not isinstance(n_alphas, int | np.integer) or n_alphas < 1:
            raise ValueError(f"n_alphas must be a positive integer; got {n_alphas!r}.")
        if min_alpha_ratio is not None and not 0 < min_alpha_ratio <= 1:
            raise ValueError(f"min_alpha_ratio must be in (0, 1]; got {min_alpha_ratio}.")
        if min_alpha_ratio is None:
            min_alpha_ratio = 1e-4 if m > problem.n_params else 1e-2
        alpha_max = max_alpha(problem, beta_null, l1_ratio)
        alphas = np.geomspace(alpha_max, alpha_max * min_alpha_ratio, n_alphas)
    alphas = np.asarray(alphas, X.dtype)  # on the host: no program compiled for these checks
    if (alphas.ndim != 1 or alphas.size == 0 or not np.all(alphas > 0)
            or not np.all(np.isfinite(alphas))):
        raise ValueError("alphas must be a 1-D array of positive, finite penalties, at least "
                         f"one; got {alphas!r}.")
    l1 = None if l1_ratio == 0 else alphas * l1_ratio  # pure ridge compiles no L1 step
    fits, ones = _scan_path(family, link, fit_kwargs, X, y, weights, offset, l1,
                            alphas * (1 - l1_ratio), beta_null)
    if names is None:  # found in the program: names never change what it compiles
        fits = dataclasses.replace(fits, feature_names=default_names(to_host(ones)))
    # X goes back in here: an input returned from a compiled program would be copied
    fits = with_X(fits, X)
    return RegularizationPath(alphas=jnp.asarray(alphas), l1_ratio=float(l1_ratio), fits=fits)


def max_alpha(problem: Problem, beta_null: Array, l1_ratio: float) -> float:
    """α_max = max_j |∂f/∂β_j(β_null)| / max(ρ, 10⁻³) over penalised j: from α_max up every
    penalised coefficient of the lasso is zero."""
    return float(_max_penalized_gradient(problem, beta_null)) / max(l1_ratio, 1e-3)


@filter_jit  # one program: op by op, the gradient compiled ~40 programs on a first call
def _max_penalized_gradient(problem: Problem, beta: Array) -> Array:
    grad = jax.grad(problem.smooth_objective)(beta)
    return jnp.max(jnp.abs(grad) * problem.penalized)


_checked = filter_jit(
    lambda family, param, X, y, w, offset: checked_problem(family, param, X, y, w, offset,
                                                           jnp.zeros((), X.dtype), None)
)


def _null_params(problem, X, y, family, link, weights, offset) -> Array:
    """β with every penalised coefficient zero and the rest at their maximum likelihood: the
    intercept-only fit (a zero column with a ridge stands in when X has no intercept, so
    that the extras are still fitted)."""
    constant = np.flatnonzero(np.asarray(problem.penalized[: X.shape[1] * problem.n_linear]) == 0)
    q = problem.n_linear
    if constant.size:
        column = int(constant[0]) // q  # a dense column, in a ``Design`` too
        dense = X.dense if is_design(X) else X
        null = fit(dense[:, column:column + 1], y, family, link, weights=weights,
                   offset=offset)
    else:
        column = None
        null = fit(jnp.zeros((X.shape[0], 1), X.dtype), y, family, link, weights=weights,
                   offset=offset, l2=1.0)
    theta = np.zeros((X.shape[1], q), X.dtype)  # on the host: no program compiled for it
    null_params = to_host(null.params)
    if column is not None:
        theta[column] = null_params[:q]
    return jnp.asarray(np.concatenate([theta.ravel(), null_params[q:]]))


@filter_jit
def _scan_path(family, link, fit_kwargs, X, y, weights, offset, l1, l2, beta0):
    """``lax.scan`` of ``fit`` over the grid, each fit started at the previous solution; and
    which columns of X are all ones."""

    def step(beta, penalty):
        l1_k, l2_k = penalty
        res, _, _ = solve(prepare(X, y, family, link, weights=weights, offset=offset, l1=l1_k,
                                  l2=l2_k, init=beta, **fit_kwargs))  # checked beforehand
        res = without_X(res)
        return res.params, res

    if l1 is None:
        _, fits = jax.lax.scan(lambda b, l2_k: step(b, (0.0, l2_k)), beta0, l2)
    else:
        _, fits = jax.lax.scan(step, beta0, (l1, l2))
    return fits, (jnp.zeros(X.shape[1], bool) if is_design(X) else ones_columns(X))
