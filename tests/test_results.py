"""The result object: summary, repr, intervals, p-values, predictions, the null model."""

import warnings

import jax
import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats

import glmjax as gj
from glmjax import families as F

M = 120


def _data():
    rng = np.random.default_rng(21)
    X = np.column_stack([np.ones(M), rng.normal(size=M), rng.uniform(size=M)])
    return rng, X


def test_summary_reads_like_r():
    rng, X = _data()
    y = rng.poisson(np.exp(X @ [0.3, 0.4, -0.2])).astype(float)
    res = gj.fit(X, y, family=F.Poisson(), feature_names=["(Intercept)", "dose", "age"])
    text = res.summary()
    for piece in ["Poisson family", "link: log", "Coefficients:", "Estimate",
                  "Std. Error", "z value", "Pr(>|z|)", "dose", "age", "Signif. codes",
                  "Dispersion parameter for Poisson family taken to be 1", "Null deviance:",
                  "Residual deviance:", f"on {M - 3}  degrees of freedom", "AIC:"]:
        assert piece in text, piece
    row = next(line for line in text.splitlines() if line.startswith("dose"))
    assert f"{float(res.coef[1]):.5f}" in row  # decimals aligned as R
    assert repr(res).startswith("FitResult(Poisson, link=log, n=120, converged=True")


def test_t_statistics_when_dispersion_is_estimated():
    """R's summary.glm: t(df_resid) p-values for Gaussian/Gamma/inverse Gaussian."""
    rng, X = _data()
    y = X @ [1.0, 0.5, -0.1] + rng.normal(size=M)
    res = gj.fit(X, y, family=F.Gaussian())
    ref = sm.GLM(y, X, family=sm.families.Gaussian()).fit(use_t=True)
    np.testing.assert_allclose(res.pvalues, ref.pvalues, rtol=1e-8)
    np.testing.assert_allclose(res.pvalues, 2 * stats.t.sf(np.abs(res.zvalues), M - 3),
                               rtol=1e-8)
    assert "t value" in res.summary() and "estimated to be" in res.summary()


def test_z_pvalues_and_wald_intervals():
    rng, X = _data()
    y = (rng.uniform(size=M) < 1 / (1 + np.exp(-X @ [0.1, 1.0, -0.5]))).astype(float)
    res = gj.fit(X, y, family=F.Bernoulli())
    ref = sm.GLM(y, X, family=sm.families.Binomial()).fit(tol=1e-12)
    np.testing.assert_allclose(res.pvalues, ref.pvalues, rtol=1e-6)
    np.testing.assert_allclose(res.conf_int(0.1), ref.conf_int(0.1), rtol=1e-6)
    np.testing.assert_allclose(res.cov, ref.cov_params(), rtol=1e-6)


def test_profile_intervals_are_where_the_deviance_rises_by_the_quantile():
    """At each end b of a profile interval, the fit with that coefficient fixed at b (its
    column moved into the offset, fitted by ``gj.fit``) has a deviance (D̃ − D̂)/φ̂ = z²
    above the fit's (1e-7): logistic regression, where the interval is not symmetric, and a
    Gamma fit with φ̂ estimated and weights. A separated fit (no MLE) gets no finite
    interval for its separating coefficient."""
    rng, X = _data()
    y = (rng.uniform(size=M) < 1 / (1 + np.exp(-X @ [0.1, 1.5, -0.5]))).astype(float)
    weights = rng.uniform(0.5, 2.0, M)
    gamma = rng.gamma(2.0, np.exp(X @ [0.2, 0.3, -0.4]) / 2.0)
    z2 = stats.norm.ppf(0.95) ** 2
    for family, response, kw in ((F.Bernoulli(), y, {}), (F.Gamma(), gamma,
                                                        {"link": gj.links.Log(),
                                                         "weights": weights})):
        res = gj.fit(X, response, family, **kw)
        intervals = res.conf_int(0.1, method="profile")
        wald = np.asarray(res.conf_int(0.1))
        assert not np.allclose(intervals, wald, rtol=1e-3)  # not Wald's
        for j in range(3):
            others = np.delete(X, j, axis=1)
            for b in intervals[j]:
                fixed = gj.fit(others, response, family, offset=X[:, j] * b, **kw)
                rise = (float(fixed.deviance) - float(res.deviance)) / float(res.scale)
                np.testing.assert_allclose(rise, z2, rtol=1e-7)
    separated = (X[:, 1] > 0).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = gj.fit(X[:, :2], separated, F.Bernoulli())
        assert not np.isfinite(res.conf_int(method="profile")[1]).all()
    with pytest.raises(ValueError, match='method must be "wald" or "profile"'):
        res.conf_int(method="likelihood")
    with pytest.raises(ValueError, match="profile intervals are for unpenalised fits"):
        gj.fit(X, y, F.Bernoulli(), l2=0.1).conf_int(method="profile")
    with pytest.raises(ValueError, match="profile intervals are for one linear predictor"):
        gj.fit(X, rng.integers(0, 3, M), F.Multinomial(3)).conf_int(method="profile")


def test_null_deviance_without_intercept_is_the_offset_only_model():
    rng, X = _data()
    Xn = X[:, 1:]
    off = rng.normal(size=M) * 0.1
    y = rng.poisson(np.exp(off + X @ [0.0, 0.4, -0.2])).astype(float)
    res = gj.fit(Xn, y, family=F.Poisson(), offset=off)
    mu0 = np.exp(off)  # R: no intercept → null model μ = g⁻¹(offset)
    want = 2 * np.sum(y * np.log(np.where(y > 0, y / mu0, 1)) - (y - mu0))
    np.testing.assert_allclose(res.null_deviance, want, rtol=1e-10)
    assert int(res.df_null) == M


def test_null_deviance_with_offset_and_intercept_matches_statsmodels():
    rng, X = _data()
    off = rng.normal(size=M) * 0.3
    y = rng.poisson(np.exp(off + X @ [0.2, 0.4, -0.2])).astype(float)
    res = gj.fit(X, y, family=F.Poisson(), offset=off)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = sm.GLM(y, X, family=sm.families.Poisson(), offset=off).fit(tol=1e-13)
    np.testing.assert_allclose(res.null_deviance, ref.null_deviance, rtol=1e-8)
    assert int(res.df_null) == M - 1


def test_predict_with_new_offset_and_which():
    rng, X = _data()
    y = rng.poisson(np.exp(X @ [0.3, 0.4, -0.2])).astype(float)
    res = gj.fit(X, y, family=F.Poisson())
    off = np.full(M, 0.5)
    np.testing.assert_allclose(res.predict(X, offset=off), np.exp(X @ res.coef + 0.5),
                               rtol=1e-12)
    np.testing.assert_allclose(res.predict(X, which="linear"), X @ res.coef, rtol=1e-12)
    np.testing.assert_allclose(res.predict(X, which="natural"), X @ res.coef, rtol=1e-12)


def test_binomial_predicts_probabilities():
    rng, X = _data()
    n = rng.integers(1, 20, size=M)
    s = rng.binomial(n, 0.3)
    res = gj.fit(X, np.column_stack([s, n - s]).astype(float), family=F.Binomial())
    p = res.predict(X)
    assert np.all((p > 0) & (p < 1))
    np.testing.assert_allclose(p, 1 / (1 + np.exp(-X @ res.coef)), rtol=1e-12)


def test_batched_results_have_a_repr_and_refuse_a_single_summary():
    rng, X = _data()
    ys = rng.poisson(2.0, size=(3, M)).astype(float)
    res = jax.vmap(lambda y: gj.fit(X, y, family=F.Poisson()))(ys)
    assert "converged=3/3" in repr(res)
    try:
        res.summary()
    except ValueError as err:
        assert "single fit" in str(err)
    else:
        raise AssertionError("summary() of a batch should raise")


def test_beta_summary_reports_precision():
    rng, X = _data()
    mu = 1 / (1 + np.exp(-(X @ [0.2, 0.5, -0.3])))
    y = rng.beta(mu * 10, (1 - mu) * 10)
    res = gj.fit(X, y, family=F.Beta(), link=gj.links.Logit())
    text = res.summary()
    assert "(log precision)" in text and "Precision parameter phi" in text
    assert "no saturated model" in text


def test_influence_of_vector_families_batches_and_bad_kinds():
    """Hat values of any family sum to the coefficients (tr(B·I) = k); Cook's distances and
    standardized residuals need one residual per row; a batch is indexed first."""
    rng, X = _data()
    classes = rng.integers(0, 3, size=M)
    res = gj.fit(X, classes, family=F.Multinomial(n_classes=3))
    np.testing.assert_allclose(float(res.hat_values.sum()), res.params.shape[0], rtol=1e-10)
    for what in ("cooks_distance", "resid_pearson", "resid_deviance"):
        with pytest.raises(ValueError, match="take one residual per row; this family's mean "
                                             "has 3 components per row"):
            getattr(res, what)
    counts = gj.fit(X, rng.poisson(2.0, size=M).astype(float), family=F.Poisson())
    with pytest.raises(ValueError, match='kind must be "deviance" or "pearson"'):
        counts.resid_standardized("studentized")
    batch = gj.fit_many(X, rng.poisson(2.0, size=(2, M)).astype(float), family=F.Poisson())
    with pytest.raises(ValueError, match=r"index a batched result first \(res\[k\]\)"):
        batch.hat_values  # noqa: B018
    np.testing.assert_allclose(batch[1].hat_values.sum(), 3.0, rtol=1e-10)
