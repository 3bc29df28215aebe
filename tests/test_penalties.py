"""L1 / elastic net, regularization paths and cross-validation, against glum and scikit-learn.

glum is run with gradient_tol 1e-12, so both sides solve the same penalised problem to ~1e-10;
the stated tolerance is 1e-6 (absolute, on coefficients of order 1).
"""

import contextlib
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import glmjax as gj
from glmjax import families as F
from glmjax import links as L

glum = pytest.importorskip("glum")

M, P = 300, 6
TOL = 1e-6


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(M, P))
    eta = X @ np.array([0.5, -0.4, 0.0, 0.0, 0.2, 0.0])
    return dict(
        X=X, Xi=np.column_stack([np.ones(M), X]),
        poisson=rng.poisson(np.exp(eta)).astype(float),
        binomial=(rng.uniform(size=M) < 1 / (1 + np.exp(-eta))).astype(float),
        gamma=rng.gamma(3.0, np.exp(eta) / 3.0),
        normal=eta + rng.normal(size=M),
        weights=rng.uniform(0.5, 2.0, size=M),
    )


@contextlib.contextmanager
def _quiet():  # glum warns about line searches at such tight tolerances
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


CASES = [  # glmjax family, link, glum family, data key
    (F.Poisson(), None, "poisson", "poisson"),
    (F.Bernoulli(), None, "binomial", "binomial"),
    (F.Gamma(), L.Log(), "gamma", "gamma"),
    (F.Gaussian(), None, "normal", "normal"),
]


@pytest.mark.parametrize("family, link, glum_family, key", CASES, ids=lambda c: str(c)[:12])
@pytest.mark.parametrize("alpha, l1_ratio", [(0.05, 1.0), (0.02, 0.5)])
def test_elastic_net_matches_glum(data, family, link, glum_family, key, alpha, l1_ratio):
    y, w = data[key], data["weights"]
    res = gj.fit(data["Xi"], y, family, link, weights=w, l1=alpha * l1_ratio,
                 l2=alpha * (1 - l1_ratio))
    assert bool(res.converged)
    model = glum.GeneralizedLinearRegressor(
        family=glum_family, link="log" if key == "gamma" else "auto", alpha=alpha,
        l1_ratio=l1_ratio, gradient_tol=1e-12, step_size_tol=1e-14, max_iter=1000)
    with _quiet():
        model.fit(data["X"], y, sample_weight=w)
    np.testing.assert_allclose(res.coef, np.r_[model.intercept_, model.coef_], atol=TOL)
    assert np.sum(np.asarray(res.coef) == 0) == np.sum(model.coef_ == 0)  # same active set


def test_lasso_matches_sklearn_elastic_net(data):
    from sklearn.linear_model import ElasticNet

    y = data["normal"]
    ref = ElasticNet(alpha=0.05, l1_ratio=0.7, tol=1e-14, max_iter=100_000).fit(data["X"], y)
    res = gj.fit(data["Xi"], y, F.Gaussian(), l1=0.05 * 0.7, l2=0.05 * 0.3)
    np.testing.assert_allclose(res.coef, np.r_[ref.intercept_, ref.coef_], atol=TOL)


@pytest.mark.parametrize("family, key", [(F.Multinomial(n_classes=3), "labels"),
                                         (F.Beta(), "beta")])
def test_lasso_optimality_conditions_for_vector_families(data, family, key):
    """No reference implements these penalised models: check the KKT conditions instead,
    ∂f/∂βⱼ = −λ₁ sign βⱼ where βⱼ ≠ 0 and |∂f/∂βⱼ| ≤ λ₁ where βⱼ = 0."""
    rng = np.random.default_rng(2)
    X = data["Xi"]
    if key == "labels":
        y = rng.integers(0, 3, size=M) + (X[:, 1] > 0.5)
        y = np.minimum(y, 2)
    else:
        y = 1 / (1 + np.exp(-(X[:, 1] * 0.5 + rng.normal(size=M) * 0.5)))
    l1 = 0.02
    res = gj.fit(X, y, family, l1=l1)
    assert bool(res.converged)
    problem = res.problem
    grad = jax.grad(problem.smooth_objective)(res.params)
    beta, pen = np.asarray(res.params), np.asarray(problem.penalized) > 0
    active = pen & (beta != 0)
    np.testing.assert_allclose(grad[active], -l1 * np.sign(beta[active]), atol=1e-8)
    assert np.all(np.abs(grad[pen & (beta == 0)]) <= l1 + 1e-10)
    np.testing.assert_allclose(grad[~pen], 0.0, atol=1e-8)
    assert np.any(beta[pen] == 0) and np.any(beta[pen] != 0)


def test_more_columns_than_rows_with_lasso():
    rng = np.random.default_rng(0)
    X = np.column_stack([np.ones(40), rng.normal(size=(40, 80))])
    y = rng.poisson(np.exp(0.5 * X[:, 1])).astype(float)
    res = gj.fit(X, y, F.Poisson(), l1=0.05)
    assert bool(res.converged)
    assert 0 < int(jnp.sum(res.coef[1:] != 0)) < 40
    assert bool(jnp.all(res.stderr[1:][res.coef[1:] == 0] == 0))
    assert bool(jnp.all(jnp.isfinite(res.stderr)))


def test_penalty_errors(data):
    with pytest.raises(ValueError, match="l1 must be a finite number ≥ 0; got -0.1"):
        gj.fit(data["Xi"], data["poisson"], F.Poisson(), l1=-0.1)
    with pytest.raises(ValueError, match="l2 must be a finite number ≥ 0; got nan"):
        gj.fit(data["Xi"], data["poisson"], F.Poisson(), l2=float("nan"))
    with pytest.raises(ValueError, match=r"l1 > 0 needs solver='irls' \(proximal Newton\)"):
        gj.fit(data["Xi"], data["poisson"], F.Poisson(), l1=0.1, solver="lbfgs")
    with pytest.raises(ValueError, match=r"l1_ratio must be in \[0, 1\]"):
        gj.fit_path(data["Xi"], data["poisson"], F.Poisson(), l1_ratio=1.5)
    with pytest.raises(ValueError, match="alphas must be a 1-D array of positive"):
        gj.fit_path(data["Xi"], data["poisson"], F.Poisson(), alphas=[0.1, -1.0])
    with pytest.raises(ValueError, match=r"penalties, at least one; got array\(\[\]"):
        gj.fit_path(data["Xi"], data["poisson"], F.Poisson(), alphas=[])
    with pytest.raises(ValueError, match="n_alphas must be a positive integer; got 0"):
        gj.fit_cv(data["Xi"], data["poisson"], F.Poisson(), n_alphas=0)
    with pytest.raises(ValueError, match=r"min_alpha_ratio must be in \(0, 1\]; got 0.0"):
        gj.fit_path(data["Xi"], data["poisson"], F.Poisson(), min_alpha_ratio=0.0)
    bad = data["poisson"].copy()
    bad[7] = -1.0
    with pytest.raises(ValueError, match=r"outside the support of the Poisson.*index \(7,\)"):
        gj.fit_path(data["Xi"], bad, F.Poisson())


def test_traced_penalties_are_checked(data):
    # a user's own vmap or jit of fit: the penalty is traced, so it is checked in the program
    # (a negative ridge used to converge silently, a NaN lasso strength to fail to converge)
    X, y = data["Xi"], data["poisson"]
    ridge = jax.vmap(lambda l: gj.fit(X, y, F.Poisson(), l2=l).coef)
    single = gj.fit(X, y, F.Poisson(), l2=0.1).coef
    np.testing.assert_allclose(ridge(jnp.array([0.1]))[0], single, rtol=1e-10)
    with pytest.raises(Exception, match="l2 must be a finite number ≥ 0"):
        jax.block_until_ready(ridge(jnp.array([0.1, -0.1])))
    with pytest.raises(Exception, match="l1 must be a finite number ≥ 0"):
        jax.block_until_ready(jax.jit(lambda l: gj.fit(X, y, F.Poisson(), l1=l).coef)(jnp.nan))


def test_paths_and_cv_under_transformations_say_what_to_use(data):
    X, y = data["Xi"], data["poisson"]
    message = ("chooses its grid of α and checks its inputs on the host, so it cannot run "
               "inside jax.jit, jax.vmap or jax.grad; to differentiate, call gj.fit")
    with pytest.raises(TypeError, match="fit_path " + message):
        jax.vmap(lambda y: gj.fit_path(X, y, F.Poisson(), n_alphas=3).coef)(jnp.stack([y, y]))
    with pytest.raises(TypeError, match="fit_cv " + message):  # not fit_path, which it calls
        jax.grad(lambda w: gj.fit_cv(X, y, F.Poisson(), weights=w, n_folds=3).best.coef.sum())(
            jnp.ones(len(y)))


def test_derivative_in_the_lasso_strength_matches_finite_differences(data):
    X, y = data["Xi"], data["binomial"]

    def coef(l1):
        return gj.fit(X, y, F.Bernoulli(), l1=l1).coef

    h, l1 = 1e-6, 0.02
    fd = (coef(l1 + h) - coef(l1 - h)) / (2 * h)
    np.testing.assert_allclose(jax.jacfwd(coef)(jnp.asarray(l1)), fd, rtol=1e-5, atol=1e-8)
    assert np.all(np.asarray(fd)[np.asarray(coef(l1)) == 0] == 0)


def test_path_matches_glum_at_every_alpha(data):
    path = gj.fit_path(data["Xi"], data["poisson"], F.Poisson(), l1_ratio=0.8, n_alphas=12)
    assert bool(jnp.all(path.fits.converged))
    assert int(path.n_nonzero[0]) == 0 and int(path.n_nonzero[1]) > 0  # α_max is the edge
    assert np.all(np.diff(np.asarray(path.alphas)) < 0)
    model = glum.GeneralizedLinearRegressor(
        family="poisson", alpha_search=True, alphas=np.asarray(path.alphas), l1_ratio=0.8,
        gradient_tol=1e-12, step_size_tol=1e-14, max_iter=1000)
    with _quiet():
        model.fit(data["X"], data["poisson"])
    for k in (1, 6, 11):
        ref = glum.GeneralizedLinearRegressor(
            family="poisson", alpha=float(path.alphas[k]), l1_ratio=0.8, gradient_tol=1e-12,
            step_size_tol=1e-14, max_iter=1000)
        with _quiet():
            ref.fit(data["X"], data["poisson"])
        np.testing.assert_allclose(path.coef[k], np.r_[ref.intercept_, ref.coef_], atol=TOL)
        np.testing.assert_allclose(path[k].coef, path.coef[k])


def test_cross_validation_matches_glum(data):
    X, y = data["Xi"], data["binomial"]
    cv = gj.fit_cv(X, y, F.Bernoulli(), l1_ratio=0.5, n_alphas=15, n_folds=4, seed=3)
    splits = [(np.flatnonzero(cv.folds != k), np.flatnonzero(cv.folds == k)) for k in range(4)]
    model = glum.GeneralizedLinearRegressorCV(
        family="binomial", alphas=np.asarray(cv.alphas), l1_ratio=[0.5], cv=splits,
        gradient_tol=1e-12, step_size_tol=1e-14, max_iter=1000)
    with _quiet():
        model.fit(data["X"], y)
    np.testing.assert_allclose(cv.cv_deviance, model.deviance_path_[:, 0, :], rtol=1e-6)
    assert cv.alpha_best == pytest.approx(model.alpha_)
    np.testing.assert_allclose(cv.best.coef, np.r_[model.intercept_, model.coef_], atol=TOL)
    assert cv.alpha_1se >= cv.alpha_best
    again = gj.fit_cv(X, y, F.Bernoulli(), l1_ratio=0.5, n_alphas=15, n_folds=4, seed=3)
    np.testing.assert_array_equal(again.folds, cv.folds)  # reproducible with the same seed
    assert "alpha_best" in repr(cv)


def test_cross_validation_over_several_mixings_matches_glum(data):
    X, y = data["Xi"], data["poisson"]
    alphas = gj.fit_path(X, y, F.Poisson(), l1_ratio=0.2, n_alphas=10).alphas
    ratios = [0.2, 0.6, 1.0]
    cv = gj.fit_cv(X, y, F.Poisson(), l1_ratio=ratios, alphas=alphas, n_folds=3, seed=5)
    splits = [(np.flatnonzero(cv.folds != k), np.flatnonzero(cv.folds == k)) for k in range(3)]
    model = glum.GeneralizedLinearRegressorCV(
        family="poisson", alphas=np.asarray(alphas), l1_ratio=ratios, cv=splits,
        gradient_tol=1e-12, step_size_tol=1e-14, max_iter=1000)
    with _quiet():
        model.fit(data["X"], y)
    assert cv.cv_deviances.shape == (3, 3, 10) and cv.l1_ratios == tuple(ratios)
    np.testing.assert_allclose(cv.cv_deviances, np.moveaxis(model.deviance_path_, 1, 0),
                               rtol=1e-6)
    assert cv.l1_ratio_best == pytest.approx(model.l1_ratio_)
    assert cv.alpha_best == pytest.approx(model.alpha_)
    np.testing.assert_allclose(cv.best.coef, np.r_[model.intercept_, model.coef_], atol=TOL)
    # the chosen mixing's own curve and path, as a one-mixing run with the same folds gives
    alone = gj.fit_cv(X, y, F.Poisson(), l1_ratio=cv.l1_ratio_best, alphas=alphas,
                      folds=cv.folds)
    np.testing.assert_allclose(cv.cv_deviance, alone.cv_deviance, rtol=1e-12)
    assert cv.alpha_1se == alone.alpha_1se and "l1_ratios=(0.2, 0.6, 1.0)" in repr(cv)
    own = gj.fit_cv(X, y, F.Poisson(), l1_ratio=[0.5, 1.0], n_alphas=4, n_folds=2)
    for ratio, path in zip((0.5, 1.0), own.paths, strict=True):  # each mixing its own grid
        np.testing.assert_allclose(
            path.alphas, gj.fit_path(X, y, F.Poisson(), l1_ratio=ratio, n_alphas=4).alphas)
    with pytest.raises(ValueError, match="l1_ratio must be a number or a non-empty list"):
        gj.fit_cv(X, y, F.Poisson(), l1_ratio=[])


def test_fit_many_over_a_grid_of_l1(data):
    grid = jnp.array([0.1, 0.03, 0.01])
    many = gj.fit_many(data["Xi"], data["poisson"], F.Poisson(), l1=grid)
    for k, l1 in enumerate(grid):
        one = gj.fit(data["Xi"], data["poisson"], F.Poisson(), l1=float(l1))
        np.testing.assert_allclose(many.coef[k], one.coef, atol=1e-10)
