"""Categorical and sparse designs (glmjax.Design) give the fits of their dense one-hot
matrices (1e-10), without forming them."""

import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import glmjax as gj
from glmjax import families as F

M = 600


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(12)
    return pd.DataFrame({
        "x": rng.normal(size=M),
        "region": pd.Categorical(rng.choice(["north", "south", "east", "west"], M)),
        "kind": rng.choice(["car", "van", "bike"], M),  # a string column
        "e": rng.uniform(0.5, 2.0, M),
    })


def _pair(frame):
    """(the design of frame with an intercept, the same matrix dense)."""
    X = gj.Design.from_frame(frame[["x", "region", "kind"]], intercept=True)
    return X, X.todense()


def test_the_design_is_its_one_hot_matrix(frame):
    X, dense = _pair(frame)
    assert X.names == ("(Intercept)", "x", "region[north]", "region[south]", "region[west]",
                       "kind[car]", "kind[van]")
    expected = np.column_stack([np.ones(M), frame.x, frame.region == "north",
                                frame.region == "south", frame.region == "west",
                                frame.kind == "car", frame.kind == "van"]).astype(float)
    np.testing.assert_array_equal(dense, expected)
    theta = np.linspace(-1, 1, 7)
    np.testing.assert_allclose(X @ jnp.asarray(theta), dense @ theta, rtol=1e-12)
    W = np.linspace(0.5, 2, M)
    np.testing.assert_allclose(X.gram(jnp.asarray(W)), dense.T @ (W[:, None] * dense),
                               rtol=1e-12)


@pytest.mark.parametrize("family", [F.Poisson(), F.Gaussian(), F.Binomial(), F.Multinomial(3),
                                    F.Beta(), F.Gamma()], ids=lambda f: f.name)
def test_every_kind_of_family_equals_the_one_hot_fit(frame, family, make_response):
    X, dense = _pair(frame)
    rng = np.random.default_rng(4)
    y = make_response(family.name, rng, dense @ (rng.normal(size=7) * 0.2))
    weights = rng.uniform(0.5, 2, M)
    got = gj.fit(X, y, family, weights=weights)
    want = gj.fit(dense, y, family, weights=weights)
    np.testing.assert_allclose(got.coef, want.coef, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got.stderr, want.stderr, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got.deviance, want.deviance, rtol=1e-10)
    np.testing.assert_allclose(got.null_deviance, want.null_deviance, rtol=1e-10)
    assert got.feature_names == X.names


def test_penalties_robust_errors_predictions_and_tests(frame):
    X, dense = _pair(frame)
    rng = np.random.default_rng(5)
    y = rng.poisson(frame.e * np.exp(0.3 * frame.x + (frame.kind == "van") * 0.5)).astype(float)
    offset = np.log(frame.e.values)
    for kwargs in ({"l2": 0.01}, {"l1": 0.002}, {"cov_type": "HC3"},
                   {"cov_type": "cluster", "groups": frame.region.values}):
        got = gj.fit(X, y, F.Poisson(), offset=offset, **kwargs)
        want = gj.fit(dense, y, F.Poisson(), offset=offset, **kwargs)
        np.testing.assert_allclose(got.coef, want.coef, rtol=1e-9, atol=1e-11, err_msg=str(kwargs))
        np.testing.assert_allclose(got.cov, want.cov, rtol=1e-8, atol=1e-14, err_msg=str(kwargs))
    fitted = gj.fit(X, y, F.Poisson(), offset=offset)
    reference = gj.fit(dense, y, F.Poisson(), offset=offset)
    new = frame.iloc[:5]
    np.testing.assert_allclose(fitted.predict(new, offset=offset[:5]),
                               reference.predict(dense[:5], offset=offset[:5]), rtol=1e-10)
    band = fitted.prediction(new, offset=offset[:5])
    np.testing.assert_allclose(band.upper, reference.prediction(dense[:5], offset=offset[:5]).upper,
                               rtol=1e-9)
    small = gj.fit(gj.Design.from_frame(frame[["x", "region"]], intercept=True), y, F.Poisson(),
                   offset=offset)
    assert gj.lr_test(small, fitted).df == 2
    np.testing.assert_allclose(gj.score_test(small, fitted).statistic,
                               gj.score_test(gj.fit(small.problem.X.todense(), y, F.Poisson(),
                                                    offset=offset), reference).statistic,
                               rtol=1e-8)
    assert "kind[van]" in fitted.summary()


def test_unseen_levels_raise_unless_mapped_to_the_reference(frame):
    X, _ = _pair(frame)
    y = np.random.default_rng(6).poisson(1.0, M).astype(float)
    res = gj.fit(X, y, F.Poisson())
    new = frame.iloc[:3].copy()
    new["kind"] = ["car", "boat", "van"]
    with pytest.raises(ValueError, match="column 'kind' has levels the fit did not see: boat"):
        res.predict(new)
    mapped = res.predict(new, unseen="reference")
    as_bike = res.predict(new.assign(kind=["car", "bike", "van"]))
    np.testing.assert_allclose(mapped, as_bike, rtol=1e-12)


def test_sparse_matrices_bcoo_and_mixed_blocks():
    from jax.experimental import sparse as jsparse

    rng = np.random.default_rng(7)
    S = sp.random(M, 40, density=0.04, random_state=1, format="csr")
    dense_part = np.column_stack([np.ones(M), rng.normal(size=M)])
    X = sp.hstack([dense_part, S], format="csr")
    y = rng.poisson(np.exp(0.2 + 0.3 * dense_part[:, 1])).astype(float)
    want = gj.fit(X.toarray(), y, F.Poisson(), l2=0.01)
    design = gj.Design.from_matrix(X)
    assert design.n_dense == 2 and design.n_sparse == 40
    for source in (X, X.tocsc(), jsparse.BCOO.from_scipy_sparse(X)):
        got = gj.fit(source, y, F.Poisson(), l2=0.01)
        np.testing.assert_allclose(got.coef, want.coef, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(got.stderr, want.stderr, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(got.predict(X[:4]), want.predict(X.toarray()[:4]), rtol=1e-10)


def test_integer_codes_at_high_cardinality():
    rng = np.random.default_rng(8)
    codes = rng.integers(0, 50, M)
    X = gj.Design.from_codes(np.ones((M, 1)), [codes], [50], ["shop"])
    y = rng.poisson(np.exp(0.1 * (codes % 5))).astype(float) + (np.arange(M) < 50)
    got = gj.fit(X, y, F.Poisson(), l2=1e-3)
    want = gj.fit(X.todense(), y, F.Poisson(), l2=1e-3)
    np.testing.assert_allclose(got.coef, want.coef, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match=r"categorical 'shop' has code 50 at row 3, outside 0..49"):
        gj.Design.from_codes(np.ones((4, 1)), [np.array([0, 1, 2, 50])], [50], ["shop"])
    # 900,000 levels (glum's categorical-simulated): a dense information would need TBs;
    # one categorical keeps it in blocks (tests/test_structured_information.py), not two
    big = gj.Design.from_codes(np.ones((M, 1)), [np.arange(M) % 900_000, codes],
                               [900_000, 50], ["id", "shop"])
    with pytest.raises(ValueError, match=r"900,049 coefficients: its information matrix .* "
                                         r"would not fit in this device's memory"):
        gj.fit(big, y, F.Poisson())
    with pytest.raises(ValueError, match="900,000 coefficients"):
        gj.fit_chunked(lambda: iter([(np.ones((2, 900_000)), y[:2])]), F.Poisson())


def test_formulas_estimators_and_bad_designs(frame):
    from glmjax.estimators import GLMRegressor

    y = np.random.default_rng(9).poisson(np.exp(0.2 + 0.3 * frame.x)).astype(float)
    data = frame.assign(y=y)
    res = gj.glm("y ~ x + C(region) + kind", data, F.Poisson())
    assert gj.Design is type(res.problem.X)
    dense = gj.fit(res.problem.X.todense(), y, F.Poisson())
    np.testing.assert_allclose(res.coef, dense.coef, rtol=1e-10)
    model = GLMRegressor(family="poisson").fit(frame[["x", "region", "kind"]], y)
    np.testing.assert_allclose(model.intercept_, res.coef[0], rtol=1e-9)
    np.testing.assert_allclose(model.predict(frame[["x", "region", "kind"]][:3]),
                               res.predict(data[:3]), rtol=1e-9)
    with pytest.raises(ValueError, match="categorical column 'kind' has missing values"):
        gj.Design.from_frame(frame.assign(kind=[None] + list(frame.kind[1:])))
    with pytest.raises(ValueError, match="X contains NaN"):
        gj.Design.from_matrix(sp.csr_matrix(np.array([[1.0, np.nan], [0.0, 1.0]])))
    with pytest.raises(TypeError, match="fit_many takes X as a dense array"):
        gj.fit_many(frame[["x", "region"]], np.stack([y, y]), F.Poisson())
    full = gj.Design.from_frame(frame[["x", "region"]], drop_first=False, intercept=True)
    with pytest.raises(ValueError, match=r"rank deficient .*'\(Intercept\)'.*'region"):
        gj.fit(full, y, F.Poisson())


def test_paths_and_cross_validation(frame):
    X, dense = _pair(frame)
    y = np.random.default_rng(10).poisson(np.exp(0.2 + 0.3 * frame.x)).astype(float)
    got = gj.fit_path(X, y, F.Poisson(), l1_ratio=0.5, n_alphas=6)
    want = gj.fit_path(dense, y, F.Poisson(), l1_ratio=0.5, n_alphas=6)
    np.testing.assert_allclose(got.coef, want.coef, rtol=1e-9, atol=1e-12)
    assert got.fits.feature_names == X.names
    cv = gj.fit_cv(frame[["x", "region", "kind"]].assign(c=1.0), y, F.Poisson(), n_alphas=4,
                   n_folds=3, seed=1)
    assert cv.cv_deviances.shape == (1, 3, 4)
