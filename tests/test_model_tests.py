"""Wald, likelihood-ratio and score tests and R's analysis of deviance against statsmodels
(its GLM Wald and score tests and deviances, its OLS anova_lm) and scipy. Tolerance: rtol
1e-7."""

import warnings

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.anova import anova_lm

import glmjax as gj
from glmjax import families as F

M = 200


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(5)
    X = np.column_stack([np.ones(M), rng.normal(size=(M, 3))])
    counts = rng.poisson(np.exp(X @ [0.3, 0.25, -0.1, 0.0])).astype(float)
    real = X @ [1.0, 0.5, 0.0, -0.2] + rng.normal(size=M)
    return X, counts, real


def _sm(y, X, family):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sm.GLM(y, X, family=family).fit(tol=1e-13)


def test_wald_tests_match_statsmodels(data):
    X, counts, real = data
    R = np.array([[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, -1.0]])
    q = np.array([0.2, 0.0])
    res, ref = gj.fit(X, counts, F.Poisson()), _sm(counts, X, sm.families.Poisson())
    got, want = res.wald_test(R, q), ref.wald_test((R, q), use_f=False, scalar=True)
    np.testing.assert_allclose(got.statistic, want.statistic, rtol=1e-7)
    np.testing.assert_allclose(got.pvalue, want.pvalue, rtol=1e-7)
    assert got.distribution == "chi2" and got.df == 2
    res, ref = gj.fit(X, real, F.Gaussian()), _sm(real, X, sm.families.Gaussian())
    got, want = res.wald_test(R, q), ref.wald_test((R, q), use_f=True, scalar=True)
    np.testing.assert_allclose(got.statistic, want.statistic, rtol=1e-7)
    np.testing.assert_allclose(got.pvalue, want.pvalue, rtol=1e-7)
    assert got.distribution == "F" and got.df_denom == M - 4


def test_likelihood_ratio_and_anova_chisq(data):
    X, counts, _ = data
    fits = [gj.fit(X[:, :k], counts, F.Poisson()) for k in (1, 2, 4)]
    refs = [_sm(counts, X[:, :k], sm.families.Poisson()) for k in (1, 2, 4)]
    lr = gj.lr_test(fits[0], fits[2])
    np.testing.assert_allclose(lr.statistic, 2 * (refs[2].llf - refs[0].llf), rtol=1e-7)
    np.testing.assert_allclose(lr.pvalue, stats.chi2.sf(lr.statistic, 3), rtol=1e-10)
    assert lr.df == 3
    table = gj.anova(*fits)
    np.testing.assert_allclose(table.resid_dev, [r.deviance for r in refs], rtol=1e-8)
    np.testing.assert_allclose(table.resid_df, [r.df_resid for r in refs])
    np.testing.assert_allclose(table.deviance[1:], [refs[0].deviance - refs[1].deviance,
                                                     refs[1].deviance - refs[2].deviance],
                               rtol=1e-7)
    np.testing.assert_allclose(table.pvalue[1:], stats.chi2.sf(table.deviance[1:], [1, 2]),
                               rtol=1e-7)
    assert "Analysis of Deviance Table" in str(table) and "Pr(>Chi)" in str(table)


def test_fits_with_estimated_alpha_are_compared_by_their_likelihood_ratio(data):
    """Negative-binomial fits with α estimated in each (MASS's ``anova.negbin``): the
    statistic is 2(ℓ₁ − ℓ₀) with each fit at its own α̂, here against statsmodels' discrete
    NB2 model, which estimates α jointly by its own maximum likelihood; the difference of
    the deviances, each at its own α̂, is not the test."""
    X, counts, _ = data
    rng = np.random.default_rng(6)
    y = rng.negative_binomial(2.0, 2.0 / (2.0 + np.exp(X @ [0.8, 0.3, -0.2, 0.1])))
    fits = [gj.fit(X[:, :k], y, F.NegativeBinomial(alpha=None)) for k in (1, 2, 4)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        refs = [sm.NegativeBinomial(y, X[:, :k]).fit(method="newton", tol=1e-12, maxiter=200,
                                                     disp=False) for k in (1, 2, 4)]
    np.testing.assert_allclose([float(f.nuisance["alpha"]) for f in fits],
                               [r.params[-1] for r in refs], rtol=1e-6)
    lr = gj.lr_test(fits[0], fits[2])
    np.testing.assert_allclose(lr.statistic, 2 * (refs[2].llf - refs[0].llf), rtol=1e-7)
    np.testing.assert_allclose(lr.pvalue, stats.chi2.sf(lr.statistic, 3), rtol=1e-10)
    assert lr.df == 3
    table = gj.anova(*fits)
    np.testing.assert_allclose(table.twologlik, [2 * r.llf for r in refs], rtol=1e-9)
    np.testing.assert_allclose(table.statistic[1:], np.diff(table.twologlik), rtol=1e-12)
    np.testing.assert_allclose(table.nuisance["alpha"], [r.params[-1] for r in refs],
                               rtol=1e-6)
    deviance_gap = float(fits[0].deviance - fits[2].deviance)
    assert abs(deviance_gap - lr.statistic) > 1e-3 * lr.statistic  # not the same statistic
    shown = str(table)
    assert "Likelihood ratio tests" in shown and "LR stat." in shown and "alpha" in shown
    for test in ("F", "Rao"):
        with pytest.raises(ValueError, match='these fits estimate them .*use test="Chisq"'):
            gj.anova(*fits, test=test)


@pytest.mark.parametrize("link", [None, gj.links.Sqrt()], ids=["log", "sqrt"])
def test_score_test_matches_statsmodels(data, link):
    """The score test at the smaller fit with the expected information: statsmodels'
    ``score_test(exog_extra=..., observed=False)``, for the canonical and a non-canonical
    link; the anova table's Rao rows equal it, and the likelihood-ratio statistic is near it."""
    X, counts, _ = data
    sm_link = sm.families.links.Sqrt() if link is not None else sm.families.links.Log()
    small, large = (gj.fit(X[:, :k], counts, F.Poisson(), link) for k in (2, 4))
    ref = _sm(counts, X[:, :2], sm.families.Poisson(sm_link)).score_test(
        exog_extra=X[:, 2:], observed=False, return_object=True)
    got = gj.score_test(small, large)
    np.testing.assert_allclose(got.statistic, ref.statistic[0], rtol=1e-7)
    np.testing.assert_allclose(got.pvalue, ref.pvalue[0], rtol=1e-7)
    assert got.df == 2 == ref.k_constraint and got.distribution == "chi2"
    table = gj.anova(small, large, test="Rao")
    assert table.statistic[1] == got.statistic and "Rao" in str(table)
    assert abs(got.statistic - gj.lr_test(small, large).statistic) < 0.1 * got.statistic


def test_anova_f_for_gaussian_is_ols_anova(data):
    """R's anova.glm(test = "F") for Gaussian fits equals the F test of nested least squares
    (statsmodels' anova_lm), with the larger fit's dispersion."""
    X, _, real = data
    small, large = gj.fit(X[:, :2], real, F.Gaussian()), gj.fit(X, real, F.Gaussian())
    table = gj.anova(small, large, test="F")
    want = anova_lm(sm.OLS(real, X[:, :2]).fit(), sm.OLS(real, X).fit())
    np.testing.assert_allclose(table.statistic[1], want["F"][1], rtol=1e-7)
    np.testing.assert_allclose(table.pvalue[1], want["Pr(>F)"][1], rtol=1e-7)
    assert "Pr(>F)" in str(table)


def test_one_formula_fit_adds_its_terms_one_at_a_time(data, monkeypatch):
    """R's anova(fit): the table of the nested fits intercept, + x1, + x1 + x2:x3 (a
    Gamma fit with weights, an offset and a log link), rows named by term."""
    pd = pytest.importorskip("pandas")
    X, _, real = data
    rng = np.random.default_rng(6)
    frame = pd.DataFrame({"x1": X[:, 1], "x2": X[:, 2], "x3": X[:, 3], "y": np.exp(real / 4),
                          "w": rng.uniform(0.5, 2, M), "o": 0.1 * rng.normal(size=M)})
    kw = {"link": gj.links.Log(), "weights": "w", "offset": "o"}
    fits = [gj.glm(f, frame, F.Gamma(), **kw) for f in ("y ~ 1", "y ~ x1", "y ~ x1 + x2:x3")]
    for test in ("F", "Rao"):
        table, nested = gj.anova(fits[-1], test=test), gj.anova(*fits, test=test)
        assert table.labels == ("NULL", "x1", "x2:x3")
        for field in ("resid_df", "resid_dev", "statistic", "pvalue"):
            np.testing.assert_allclose(getattr(table, field), getattr(nested, field),
                                       rtol=1e-9, err_msg=field)
    assert str(table).splitlines()[3].startswith("NULL")
    with pytest.raises(ValueError, match="starts from the intercept"):
        gj.anova(gj.glm("y ~ 0 + x1 + x2", frame, F.Gamma(), **kw))
    with pytest.raises(ValueError, match="for unpenalised fits"):
        gj.anova(gj.glm("y ~ x1", frame, F.Gamma(), l2=0.1, **kw))
    from glmjax import _design

    monkeypatch.setattr(_design, "DENSE_REFIT_BYTES", 1000)  # categorical: a Design
    with pytest.raises(ValueError, match=r"takes dense subsets of the 200 × 4 design"):
        gj.anova(gj.glm("y ~ x1 + C(g)", frame.assign(g=np.arange(M) % 3), F.Gamma(), **kw))
    with pytest.raises(ValueError, match=r"at least two fits, .* \(or takes one fit of a formula"):
        gj.anova(gj.fit(X, real, F.Gaussian()))


def test_single_term_deletions_are_the_fits_without_each_term(data):
    """R's drop1: each term no other term contains, dropped alone. Against the fits of the
    smaller formulas: Poisson (φ = 1: the AIC column is each fit's own AIC, the statistic
    its deviance difference) and Gamma with an interaction, whose main effects stay."""
    pd = pytest.importorskip("pandas")
    X, counts, real = data
    frame = pd.DataFrame({"x1": X[:, 1], "x2": X[:, 2], "x3": X[:, 3], "n": counts,
                          "y": np.exp(real / 4)})
    full = gj.glm("n ~ x1 + x2 + x3", frame, F.Poisson())
    table = gj.drop1(full)
    assert table.labels == ("<none>", "x1", "x2", "x3")
    for k, formula in enumerate(("n ~ x2 + x3", "n ~ x1 + x3", "n ~ x1 + x2"), start=1):
        smaller = gj.glm(formula, frame, F.Poisson())
        np.testing.assert_allclose(table.aic[k], smaller.aic, rtol=1e-10)
        np.testing.assert_allclose(table.statistic[k], smaller.deviance - full.deviance,
                                   rtol=1e-8)
        np.testing.assert_allclose(table.pvalue[k], gj.lr_test(smaller, full).pvalue,
                                   rtol=1e-7)
    gamma = gj.glm("y ~ x1 * x2 + x3", frame, F.Gamma(), link=gj.links.Log())
    table = gj.drop1(gamma, test="F")
    assert table.labels == ("<none>", "x3", "x1:x2")
    smaller = gj.glm("y ~ x1 * x2", frame, F.Gamma(), link=gj.links.Log())
    rms = float(gamma.deviance) / float(gamma.df_resid)
    f = (float(smaller.deviance) - float(gamma.deviance)) / rms
    np.testing.assert_allclose(table.statistic[1], f, rtol=1e-8)
    np.testing.assert_allclose(table.pvalue[1], stats.f.sf(f, 1, float(gamma.df_resid)),
                               rtol=1e-8)
    assert "scaled dev." in str(gj.drop1(gamma)) and "Single term deletions" in str(table)
    with pytest.raises(ValueError, match="drop1 needs a formula fit"):
        gj.drop1(gj.fit(X, counts, F.Poisson()))
    with pytest.raises(ValueError, match='test must be "Chisq" or "F"'):
        gj.drop1(full, test="Rao")


def test_fits_that_are_not_nested_or_not_comparable(data):
    X, counts, real = data
    a, b = gj.fit(X[:, :2], counts, F.Poisson()), gj.fit(X, counts, F.Poisson())
    with pytest.raises(ValueError, match="Pass the fits smallest first"):
        gj.anova(b, a)
    with pytest.raises(ValueError, match="not on the same data"):
        gj.lr_test(a, gj.fit(X, counts[::-1], F.Poisson()))
    with pytest.raises(ValueError, match="different families"):
        gj.lr_test(gj.fit(X[:, :2], real, F.Gaussian()), b)
    with pytest.raises(ValueError, match="not in the span"):
        gj.lr_test(gj.fit(X[:, [0, 3]], counts, F.Poisson()), gj.fit(X[:, :3], counts,
                                                                         F.Poisson()))
    with pytest.raises(ValueError, match='test must be "Chisq", "F" or "Rao"'):
        gj.anova(a, b, test="LRT")
    with pytest.raises(ValueError, match="R must have shape"):
        b.wald_test([[1.0, 0.0]])
    with pytest.raises(ValueError, match="linearly dependent"):
        b.wald_test([[0.0, 1.0, 0.0, 0.0], [0.0, 2.0, 0.0, 0.0]])
