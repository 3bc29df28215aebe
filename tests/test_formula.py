"""Formulas on pandas and polars frames, against statsmodels' formula API (1e-6)."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf

import glmjax as gj
from glmjax import families as F


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(4)
    m = 400
    df = pd.DataFrame({
        "x": rng.normal(size=m), "z": rng.uniform(1, 3, size=m),
        "region": rng.choice(["north", "south", "east"], size=m),
        "exposure": rng.uniform(0.5, 2.0, size=m), "w": rng.uniform(0.5, 2.0, size=m),
    })
    eta = 0.3 + 0.4 * df.x - 0.2 * np.log(df.z) + (df.region == "south") * 0.3
    df["count"] = rng.poisson(np.exp(eta + np.log(df.exposure)))
    df["success"] = rng.binomial(5, 1 / (1 + np.exp(-eta)))
    df["failure"] = 5 - df["success"]
    df["bought"] = rng.uniform(size=m) < 1 / (1 + np.exp(-eta))
    return df


FORMULA = "count ~ x + C(region) + np.log(z)"


def _aligned(res, series):
    """statsmodels' values in glmjax's column order (patsy puts factors first)."""
    renamed = series.rename(index=lambda n: "(Intercept)" if n == "Intercept" else n)
    assert sorted(renamed.index) == sorted(res.feature_names)
    return renamed[list(res.feature_names)].values


def test_poisson_with_offset_and_weights_matches_statsmodels(frame):
    res = gj.glm(FORMULA, frame, F.Poisson(), offset=np.log(frame.exposure), weights="w")
    ref = smf.glm(FORMULA, frame, family=sm.families.Poisson(),
                  offset=np.log(frame.exposure), freq_weights=frame.w).fit(tol=1e-12)
    np.testing.assert_allclose(res.coef, _aligned(res, ref.params), rtol=1e-6)
    np.testing.assert_allclose(res.stderr, _aligned(res, ref.bse), rtol=1e-6)
    text = res.summary()
    assert "C(region)[T.south]" in text and "np.log(z)" in text


def test_predict_on_a_new_frame_reuses_the_encoding(frame):
    res = gj.glm(FORMULA, frame, F.Poisson())
    new = frame.iloc[[5, 0, 9]].copy()
    new["region"] = ["south", "south", "east"]  # fewer levels than the fit saw
    expected = res.predict(np.column_stack([
        np.ones(3), new.x, new.region == "north", new.region == "south", np.log(new.z)]))
    np.testing.assert_allclose(res.predict(new), expected, rtol=1e-12)
    with_offset = res.predict(new.assign(off=1.0), offset="off")
    np.testing.assert_allclose(with_offset, np.e * expected, rtol=1e-12)


def test_polars_frame_gives_the_pandas_answer(frame):
    pl = pytest.importorskip("polars")
    a = gj.glm(FORMULA, frame, F.Poisson(), weights="w")
    b = gj.glm(FORMULA, pl.from_pandas(frame), F.Poisson(), weights="w")
    np.testing.assert_allclose(b.coef, a.coef, rtol=1e-12)
    assert b.feature_names == a.feature_names


def test_a_data_frame_for_X_names_the_coefficients(frame):
    """Without a formula, a pandas or polars X names the coefficients by its columns (as
    statsmodels' GLM does), in fit, fit_many, fit_path and fit_cv."""
    X = sm.add_constant(frame[["x", "z"]])  # columns const, x, z
    res = gj.fit(X, frame["count"], F.Poisson())
    ref = sm.GLM(frame["count"], X, family=sm.families.Poisson()).fit(tol=1e-12)
    assert res.feature_names == ("const", "x", "z") == tuple(ref.params.index)
    np.testing.assert_allclose(res.coef, ref.params.values, rtol=1e-6)
    assert res.summary().splitlines()[5].startswith("const ")
    pl = pytest.importorskip("polars")
    polars_fit = gj.fit(pl.from_pandas(X), frame["count"], F.Poisson())
    assert polars_fit.feature_names == ("const", "x", "z")
    Y = np.stack([frame["count"], frame["success"]]).astype(float)
    assert gj.fit_many(X, Y, F.Poisson()).feature_names == ("const", "x", "z")
    assert gj.fit_path(X, frame["count"], F.Poisson(), n_alphas=3)[1].feature_names == (
        "const", "x", "z")
    cv = gj.fit_cv(X, frame["count"], F.Poisson(), n_alphas=3, n_folds=3)
    assert cv.best.feature_names == ("const", "x", "z")
    named = gj.fit(X, frame["count"], F.Poisson(), feature_names=["a", "b", "c"])
    assert named.feature_names == ("a", "b", "c")  # the caller's names win


def test_binomial_bernoulli_and_multinomial_responses(frame):
    binom = gj.glm("success + failure ~ x", frame, F.Binomial())
    ref = smf.glm("success + failure ~ x", frame, family=sm.families.Binomial()).fit(tol=1e-12)
    np.testing.assert_allclose(binom.coef, _aligned(binom, ref.params), rtol=1e-6)
    bern = gj.glm("bought ~ x + region", frame, F.Bernoulli())
    ref = smf.glm("bought ~ x + region", frame.assign(bought=frame.bought * 1.0),
                  family=sm.families.Binomial()).fit(tol=1e-12)
    np.testing.assert_allclose(bern.coef, _aligned(bern, ref.params), rtol=1e-6)
    multi = gj.glm("region ~ x + z", frame, F.Multinomial(n_classes=3))
    codes = frame.assign(code=pd.Categorical(frame.region).codes)  # levels sorted, as formulaic
    ref = smf.mnlogit("code ~ x + z", codes).fit(disp=0, method="newton", tol=1e-12)
    np.testing.assert_allclose(multi.coef, ref.params.values, rtol=1e-5)
    # coefficients named by level; the header says which class is the reference
    assert multi.class_names == ("east", "north", "south")
    assert multi.param_names()[:2] == ["(Intercept)[north]", "(Intercept)[south]"]
    assert "softmax (reference class 0); classes: 0 east, 1 north, 2 south" in multi.summary()
    parts = frame.assign(a=0.2, b=0.3 + 0.1 * (frame.x > 0), c=0.4 - 0.1 * (frame.x > 0) + 0.1)
    dirichlet = gj.glm("a + b + c ~ x | x", parts, F.Dirichlet(3))  # b, c against a
    assert dirichlet.param_names()[:4] == ["(Intercept)[b]", "(Intercept)[c]", "x[b]", "x[c]"]


def _demean(v):
    return v - v.mean()


def test_names_of_the_callers_scope_and_cbind(frame):
    """A function and a constant of the caller's (as R's formula environment, statsmodels'
    eval_env), kept through pickling for predictions; a variable named as a column does not
    shadow it; R's cbind(successes, failures) for Binomial."""
    import math
    import pickle

    power = 2  # noqa: F841 (used by the formula)
    x = np.zeros(3)  # noqa: F841 (a column of the same name wins)
    res = gj.glm("count ~ _demean(x) + I(z ** power) + I(math.pi * exposure)", frame,
                 F.Poisson())
    X = np.column_stack([np.ones(len(frame)), frame.x - frame.x.mean(), frame.z**2,
                         math.pi * frame.exposure])
    np.testing.assert_allclose(res.coef, gj.fit(X, frame["count"], F.Poisson()).coef,
                               rtol=1e-10)
    new = frame.iloc[:4]  # the transform evaluated on the new rows, as R's predict.glm
    expected = res.predict(np.column_stack([np.ones(4), new.x - new.x.mean(), new.z**2,
                                            math.pi * new.exposure]))
    np.testing.assert_allclose(res.predict(new), expected, rtol=1e-12)
    np.testing.assert_allclose(pickle.loads(pickle.dumps(res)).predict(new), expected,
                               rtol=1e-12)
    cbind = gj.glm("cbind(success, failure) ~ x", frame, F.Binomial())
    plus = gj.glm("success + failure ~ x", frame, F.Binomial())
    np.testing.assert_allclose(cbind.coef, plus.coef, rtol=1e-12)


def test_offset_terms_as_in_r(frame):
    """R's ``offset(log(exposure))`` in the formula: the fit with ``offset=``, and predictions
    on new rows include it (as R's predict.glm), added to an ``offset=`` given too."""
    res = gj.glm("count ~ x + offset(np.log(exposure)) + C(region)", frame, F.Poisson())
    ref = gj.glm("count ~ x + C(region)", frame, F.Poisson(), offset=np.log(frame.exposure))
    np.testing.assert_allclose(res.coef, ref.coef, rtol=1e-12)
    assert res.feature_names == ref.feature_names
    new = frame.iloc[:5]
    np.testing.assert_allclose(res.predict(new), ref.predict(new, offset=np.log(new.exposure)),
                               rtol=1e-12)
    np.testing.assert_allclose(res.predict(new.assign(one=1.0), offset="one"),
                               np.e * res.predict(new), rtol=1e-12)
    only = gj.glm("count ~ offset(np.log(exposure))", frame, F.Poisson())
    assert only.feature_names == ("(Intercept)",)
    with pytest.raises(ValueError, match=r"must be added to the other terms"):
        gj.glm("count ~ x * offset(exposure)", frame, F.Poisson())


def test_formula_errors_are_clear(frame):
    with pytest.raises(ValueError, match="cannot build the design from formula.*nosuch"):
        gj.glm("count ~ x + nosuch", frame, F.Poisson())
    with pytest.raises(ValueError, match="cannot build the design from formula"):
        gj.glm("count ~ x +* ", frame, F.Poisson())
    with pytest.raises(ValueError, match="formula must be a string 'response ~ terms'"):
        gj.glm("count", frame, F.Poisson())
    with pytest.raises(ValueError, match="weights column 'nosuch' is not in the data"):
        gj.glm("count ~ x", frame, F.Poisson(), weights="nosuch")
    with pytest.raises(ValueError, match="a precision part after '|' is for Beta and Dirichlet"):
        gj.glm("count ~ x | z", frame, F.Poisson())
    with pytest.raises(ValueError, match="the response has 3 levels"):
        gj.glm("region ~ x", frame, F.Multinomial(n_classes=4))
    nan = frame.copy()
    nan.loc[3, "x"] = np.nan
    with pytest.raises(ValueError, match="cannot build the design from formula.*null values"
                                         ".*drop them first"):
        gj.glm("count ~ x", nan, F.Poisson())
    res = gj.glm(FORMULA, frame, F.Poisson())
    with pytest.raises(ValueError, match=r"a categorical has levels the fit did not see: "
                                         r"\{'west'\}; pass unseen='reference'"):
        res.predict(frame.iloc[:2].assign(region=["west", "south"]))


def test_beta_precision_formula_matches_statsmodels_betamodel(frame):
    """betareg's y ~ x | z: log φᵢ = zᵢᵀγ. Coefficients against statsmodels' BetaModel with
    exog_precision; standard errors against the expected information computed here
    independently, as the Hessian of ℓ with T(y) replaced by its fitted expectation."""
    import jax
    import jax.numpy as jnp
    from statsmodels.othermod.betareg import BetaModel

    rng = np.random.default_rng(8)
    mu = 1 / (1 + np.exp(-(0.2 + 0.5 * frame.x)))
    phi = np.exp(2.0 + 0.8 * np.log(frame.z))
    data = frame.assign(share=rng.beta(mu * phi, (1 - mu) * phi))
    res = gj.glm("share ~ x | np.log(z)", data, F.Beta())
    X = np.column_stack([np.ones(len(data)), data.x])
    Z = np.column_stack([np.ones(len(data)), np.log(data.z)])
    ref = BetaModel(data.share.values, X, exog_precision=Z).fit(method="newton", maxiter=200,
                                                                  disp=0)
    np.testing.assert_allclose(res.params, ref.params, rtol=1e-6, atol=1e-8)
    assert res.param_names()[2:] == ["(phi)_(Intercept)", "(phi)_np.log(z)"]
    np.testing.assert_allclose(res.predict(data.iloc[:4]),
                               ref.predict(exog=X[:4], exog_precision=Z[:4]), rtol=1e-7)
    with pytest.raises(ValueError, match="pass precision_design="):
        res.predict(X[:4])

    def eta(beta):
        m = jax.nn.sigmoid(X @ beta[:2])
        p = jnp.exp(Z @ beta[2:])
        return jnp.stack([m * p, (1 - m) * p], axis=1)

    fam = F.Beta()
    expected_t = fam.mean(eta(res.params))  # E[T] at the fit, held fixed
    surrogate = lambda b: jnp.sum(eta(b) * expected_t) - jnp.sum(fam.log_partition(eta(b)))  # noqa: E731
    info = -jax.hessian(surrogate)(res.params)
    np.testing.assert_allclose(res.cov, np.linalg.inv(info), rtol=1e-6)

    bad = gj.parametrizations.MeanPrecision(gj.links.Logit(), precision_design=Z[:10])
    with pytest.raises(ValueError, match=r"precision_design must have shape \(400, r\)"):
        gj.fit(X, data.share.values, F.Beta(), bad)
    Z[3, 1] = np.nan
    bad = gj.parametrizations.MeanPrecision(gj.links.Logit(), precision_design=Z)
    with pytest.raises(ValueError, match="precision_design contains NaN or infinite values"):
        gj.fit(X, data.share.values, F.Beta(), bad)
