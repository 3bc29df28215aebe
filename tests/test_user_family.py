"""A family written outside the package works in every entry point.

The geometric distribution P(y) = (1 − e^η) e^{ηy}, y = 0, 1, ..., written here as a user
would (A, log b, support, mean bounds, sampler; no closed-form inverse of its mean) is the
negative binomial with α = 1, so glmjax's own NegativeBinomial(alpha=1) and statsmodels'
are independent references. Tolerances: 1e-6 against statsmodels, 1e-8 against glmjax's
built-in family (the same model through other code: the user family inverts its mean map by
Newton's method).
"""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import glmjax as gj
from glmjax import families as F
from glmjax import links as L
from glmjax.families import AbstractScalarFamily


class Geometric(AbstractScalarFamily):
    """Failures before the first success, success probability 1 − e^η (η < 0)."""

    support_kind = "count"
    names = ("geometric",)

    def log_partition(self, eta):
        eta = jnp.asarray(eta)
        return jnp.where(eta < 0, -jnp.log1p(-jnp.exp(jnp.minimum(eta, 0))), jnp.inf)

    def log_base_measure(self, y, dispersion=1.0):
        return jnp.zeros(jnp.shape(y))

    def in_support(self, y):
        return (y >= 0) & (y == jnp.round(y))

    def mean_bounds(self):
        return 0.0, jnp.inf

    def sample(self, key, eta, shape=()):
        eta = self.checked_natural(eta)
        p = jnp.broadcast_to(-jnp.expm1(eta), self.sample_shape(eta, shape))
        return jax.random.geometric(key, p).astype(eta.dtype) - 1


NB1 = F.NegativeBinomial(alpha=1.0)
M = 300


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(11)
    X = np.column_stack([np.ones(M), rng.normal(size=M), rng.uniform(size=M)])
    mu = np.exp(X @ [0.3, 0.5, -0.4])
    y = (rng.geometric(1 / (1 + mu)) - 1).astype(float)
    return X, y


def test_fit_matches_statsmodels_and_the_builtin_family(data):
    X, y = data
    res = gj.fit(X, y, Geometric(), L.Log())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = sm.GLM(y, X, family=sm.families.NegativeBinomial(alpha=1.0)).fit(tol=1e-13)
    np.testing.assert_allclose(res.coef, ref.params, rtol=1e-6)
    np.testing.assert_allclose(res.stderr, ref.bse, rtol=1e-6)
    np.testing.assert_allclose(res.deviance, ref.deviance, rtol=1e-8)
    np.testing.assert_allclose(res.loglik, ref.llf, rtol=1e-8)
    canonical = gj.fit(X, y, Geometric())  # link=None: η = θᵀx
    np.testing.assert_allclose(canonical.coef, gj.fit(X, y, NB1, "canonical").coef, rtol=1e-8)
    assert "Geometric family" in res.summary()


def test_natural_from_mean_by_newton():
    fam = Geometric()
    mu = jnp.array([1e-6, 0.2, 1.0, 30.0, 1e5])
    np.testing.assert_allclose(fam.natural_from_mean(mu), NB1.natural_from_mean(mu), rtol=1e-10)
    grad = jax.grad(lambda m: fam.natural_from_mean(m))(2.0)  # reverse mode passes through
    np.testing.assert_allclose(grad, 1 / (2.0 * 3.0), rtol=1e-8)


def test_check_identity():
    chk = gj.check_identity(Geometric(), jnp.array([-2.0, -0.5, -0.05]))
    np.testing.assert_allclose(chk.expected, chk.derivative, rtol=1e-8)
    np.testing.assert_allclose(chk.total_mass, 1.0, rtol=1e-10)


def test_fit_many(data):
    X, y = data
    rng = np.random.default_rng(3)
    Y = np.stack([y, rng.permutation(y), np.roll(y, 7)])
    res = gj.fit_many(X, Y, family=Geometric(), link=L.Log())
    for b in range(3):
        np.testing.assert_allclose(res.coef[b], gj.fit(X, Y[b], NB1).coef, rtol=1e-8)


def test_fit_path_and_cv(data):
    """The canonical link here: the paths' many fits compile quickly without the Newton
    inverse (which ``test_fit_matches_statsmodels_and_the_builtin_family`` covers)."""
    X, y = data
    path = gj.fit_path(X, y, family=Geometric(), l1_ratio=0.5, n_alphas=4)
    ref = gj.fit_path(X, y, family=NB1, link="canonical", l1_ratio=0.5, n_alphas=4)
    np.testing.assert_allclose(path.coef, ref.coef, rtol=1e-7, atol=1e-9)
    cv = gj.fit_cv(X, y, family=Geometric(), n_folds=2, n_alphas=3, seed=0)
    cv_ref = gj.fit_cv(X, y, family=NB1, link="canonical", n_folds=2, n_alphas=3, seed=0)
    np.testing.assert_allclose(cv.cv_deviances, cv_ref.cv_deviances, rtol=1e-7)


def test_estimator_and_formula(data):
    from glmjax.estimators import GLMRegressor

    X, y = data
    est = GLMRegressor(family="geometric", link=L.Log()).fit(X[:, 1:], y)  # by its name
    res = gj.fit(X, y, Geometric(), L.Log())
    np.testing.assert_allclose(est.coef_, res.coef[1:], rtol=1e-6)
    np.testing.assert_allclose(est.intercept_, res.coef[0], rtol=1e-6)
    assert F.from_name("geometric") == Geometric()
    frame = pd.DataFrame({"y": y, "a": X[:, 1], "b": X[:, 2]})
    formula = gj.glm("y ~ a + b", frame, Geometric(), L.Log())
    np.testing.assert_allclose(formula.coef, res.coef, rtol=1e-10)
    assert formula.feature_names == ("(Intercept)", "a", "b")


def test_sampler_mean():
    fam = Geometric()
    draws = fam.sample(jax.random.key(0), jnp.full((100_000,), jnp.log(0.6)))
    assert abs(float(draws.mean()) - 1.5) < 0.03  # e^η/(1 − e^η), se ≈ 0.006
