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


def test_formula_errors_are_clear(frame):
    with pytest.raises(ValueError, match="cannot build the design from formula.*nosuch"):
        gj.glm("count ~ x + nosuch", frame, F.Poisson())
    with pytest.raises(ValueError, match="cannot build the design from formula"):
        gj.glm("count ~ x +* ", frame, F.Poisson())
    with pytest.raises(ValueError, match="formula must be a string 'response ~ terms'"):
        gj.glm("count", frame, F.Poisson())
    with pytest.raises(ValueError, match="weights column 'nosuch' is not in the data"):
        gj.glm("count ~ x", frame, F.Poisson(), weights="nosuch")
    with pytest.raises(ValueError, match="precision formulas .* are not supported yet"):
        gj.glm("count ~ x | z", frame, F.Beta())
    with pytest.raises(ValueError, match="the response has 3 levels"):
        gj.glm("region ~ x", frame, F.Multinomial(n_classes=4))
    nan = frame.copy()
    nan.loc[3, "x"] = np.nan
    with pytest.raises(ValueError, match="cannot build the design from formula"):
        gj.glm("count ~ x", nan, F.Poisson())
