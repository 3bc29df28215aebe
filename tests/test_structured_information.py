"""A design whose sparse part is one large categorical keeps XᵀWX and the covariance in
blocks (glmjax._information): the same fits, standard errors, predictions and tests as the
dense one-hot matrix (1e-10), at a size where the dense information would not fit."""

import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import glmjax as gj
from glmjax import families as F
from glmjax._information import (
    BlockCovariance,
    BlockInformation,
    add_diagonal,
    diagonal,
    factor_inverse,
    factor_solve,
    factorize,
    quadratic_form,
    scaled,
)

K = 1030  # levels: at least glmjax._design.STRUCTURED_LEVELS
M = 3 * K


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(21)
    codes = rng.permutation(np.arange(M) % K)  # every level seen three times
    frame = pd.DataFrame({"x": rng.normal(size=M),
                          "shop": pd.Categorical.from_codes(codes, [f"s{j}" for j in range(K)])})
    effect = rng.normal(scale=0.3, size=K)[codes]
    X = gj.Design.from_frame(frame, intercept=True)
    return frame, X, X.todense(), effect


def test_the_blocks_are_the_dense_matrices():
    rng = np.random.default_rng(0)
    a, k = 3, 6
    B = rng.normal(size=(k, a))
    info = BlockInformation(jnp.asarray(B.T @ B + 5 * np.eye(a)), jnp.asarray(B),
                            jnp.asarray(rng.uniform(1, 2, k)))
    H = np.asarray(info.todense())
    np.testing.assert_allclose(diagonal(info), np.diag(H))
    np.testing.assert_allclose(scaled(info, 2.0).todense(), 2 * H)
    v = rng.uniform(size=a + k)
    np.testing.assert_allclose(add_diagonal(info, jnp.asarray(v)).todense(), H + np.diag(v))
    g = rng.normal(size=(a + k, 2))
    factor = factorize(info)
    np.testing.assert_allclose(factor_solve(factor, jnp.asarray(g)), np.linalg.solve(H, g),
                               rtol=1e-10)
    cov = factor_inverse(factor)
    inverse = np.linalg.inv(H)
    np.testing.assert_allclose(np.asarray(cov), inverse, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(cov.diagonal(), np.diag(inverse), rtol=1e-10)
    np.testing.assert_allclose((3 * cov).todense(), 3 * inverse, rtol=1e-10, atol=1e-14)
    R = rng.normal(size=(2, a + k))
    np.testing.assert_allclose(quadratic_form(cov, jnp.asarray(R)), R @ inverse @ R.T,
                               rtol=1e-10)


@pytest.mark.parametrize(("family", "link"), [(F.Poisson(), None), (F.Gamma(), gj.links.Log()),
                                              (F.Bernoulli(), None)],
                         ids=["poisson", "gamma-log", "bernoulli"])
def test_fits_equal_the_one_hot_fit(data, family, link):
    frame, X, dense, effect = data
    rng = np.random.default_rng(31)
    eta = 0.3 * frame.x.values + effect
    if family.name == "Poisson":
        y = rng.poisson(np.exp(1.5 + eta)).astype(float)
    elif family.name == "Gamma":
        y = rng.gamma(4.0, np.exp(eta) / 4.0)
    else:
        y = (rng.uniform(size=M) < 1 / (1 + np.exp(-eta))).astype(float)
    weights = rng.uniform(0.5, 2, M)
    kwargs = {"weights": weights, "offset": 0.1 * frame.x.values, "l2": 1e-3}
    got = gj.fit(X, y, family, link, **kwargs)
    want = gj.fit(dense, y, family, link, **kwargs)
    assert isinstance(got.cov, BlockCovariance) and got.problem.X.structured
    np.testing.assert_allclose(got.coef, want.coef, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got.stderr, want.stderr, rtol=1e-10)
    np.testing.assert_allclose(np.asarray(got.cov), want.cov, rtol=1e-9, atol=1e-14)
    for name in ("deviance", "null_deviance", "aic", "scale"):
        np.testing.assert_allclose(getattr(got, name), getattr(want, name), rtol=1e-10)
    assert got.n_iter == want.n_iter


def test_inference_by_level_name(data):
    frame, X, dense, effect = data
    rng = np.random.default_rng(32)
    y = rng.poisson(np.exp(2.0 + 0.3 * frame.x.values + effect)).astype(float)
    got = gj.fit(X, y, F.Poisson())  # unpenalised: drop_first makes it full rank
    want = gj.fit(dense, y, F.Poisson())
    np.testing.assert_allclose(got.coef, want.coef, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got.conf_int(), want.conf_int(), rtol=1e-10, atol=1e-10)
    assert "shop[s1029]" in got.summary()
    new = frame.iloc[[0, 5, 7]].copy()
    new["shop"] = pd.Categorical(["s0", "s3", "s1029"], categories=frame.shop.cat.categories)
    p, q = got.prediction(new, offset=np.full(3, 0.2)), want.prediction(
        X.layout.encode(new).todense(), offset=np.full(3, 0.2))
    for name in ("link", "link_se", "mean", "mean_se", "lower", "upper"):
        np.testing.assert_allclose(getattr(p, name), getattr(q, name), rtol=1e-10)
    R = np.zeros((2, X.shape[1]))
    R[0, 1], R[1, 5], R[1, 6] = 1, 1, -1
    np.testing.assert_allclose(got.wald_test(R).statistic, want.wald_test(R).statistic,
                               rtol=1e-9)
    lbfgs = gj.fit(X, y, F.Poisson(), solver="lbfgs", tol=1e-10)
    np.testing.assert_allclose(lbfgs.stderr, want.stderr, rtol=1e-5)


def test_rank_deficiency_and_what_stays_dense(data):
    frame, X, dense, effect = data
    rng = np.random.default_rng(33)
    y = rng.poisson(np.exp(2.0 + effect)).astype(float)
    every_level = gj.Design.from_frame(frame, intercept=True, drop_first=False)
    with pytest.raises(ValueError, match=r"columns '\(Intercept\)' and the levels "
                                         r"'shop\[s0\]' … 'shop\[s1029\]' are linearly dependent"):
        gj.fit(every_level, y, F.Poisson())
    assert gj.fit(every_level, y, F.Poisson(), l2=1e-3).converged  # the penalty identifies it
    rows = frame.shop != "s7"
    with pytest.raises(ValueError, match=r"column 'shop\[s7\]' is all zeros"):
        gj.fit(X, y, F.Poisson(), weights=rows.astype(float))
    # robust errors need the dense covariance: a categorical this small still gets them
    robust = gj.fit(X, y, F.Poisson(), cov_type="HC0")
    assert not robust.problem.X.structured and robust.cov.shape == (K + 1, K + 1)


def test_a_categorical_of_900000_levels():
    rng = np.random.default_rng(9)
    m, levels = 20_000, 900_000
    codes = rng.integers(0, levels, m)
    X = gj.Design.from_codes(np.column_stack([np.ones(m), rng.normal(size=m)]), [codes],
                             [levels], ["id"])
    y = rng.poisson(np.exp(0.2 * X.dense[:, 1])).astype(float)
    res = gj.fit(X, y, F.Poisson(), l2=1e-3)
    assert res.converged and res.stderr.shape == (levels + 1,)
    assert np.all(np.isfinite(res.stderr))
    with pytest.raises(ValueError, match=r"kept in blocks: as a dense array it would take"):
        np.asarray(res.cov)
    with pytest.raises(ValueError, match=r"hat values need the dense covariance, which this "
                                         r"fit keeps in blocks"):
        res.hat_values  # noqa: B018
    with pytest.raises(ValueError, match=r"900,001 coefficients: its information matrix .* "
                                         r"keeps them in blocks only for"):
        gj.fit(X, y, F.Poisson(), l2=1e-3, cov_type="HC0")


def test_tests_of_nested_models(data):
    frame, X, dense, effect = data
    rng = np.random.default_rng(34)
    y = rng.poisson(np.exp(2.0 + 0.3 * frame.x.values + effect)).astype(float)
    without_x = gj.Design.from_frame(frame[["shop"]], intercept=True)
    smaller = [gj.fit(without_x, y, F.Poisson()), gj.fit(without_x.todense(), y, F.Poisson())]
    larger = [gj.fit(X, y, F.Poisson()), gj.fit(dense, y, F.Poisson())]
    assert smaller[0].problem.X.structured and larger[0].problem.X.structured
    got, want = (gj.anova(s, g, test="Rao") for s, g in zip(smaller, larger, strict=True))
    for column in ("deviance", "statistic", "pvalue"):
        np.testing.assert_allclose(getattr(got, column)[1], getattr(want, column)[1], rtol=1e-8)
    intercept_only = gj.fit(np.ones((M, 1)), y, F.Poisson())
    np.testing.assert_allclose(gj.lr_test(intercept_only, larger[0]).statistic,
                               gj.lr_test(intercept_only, larger[1]).statistic, rtol=1e-10)
    other = np.column_stack([np.ones(M), rng.normal(size=M)])
    with pytest.raises(ValueError, match="not in the span of the larger fit's"):
        gj.anova(gj.fit(other, y, F.Poisson()), larger[0])


def test_formulas_and_sparse_matrices_of_one_entry_per_row(data):
    import scipy.sparse as sp

    frame, X, dense, effect = data
    rng = np.random.default_rng(35)
    table = frame.assign(y=rng.poisson(np.exp(1.5 + 0.3 * frame.x.values + effect)),
                         id=frame.shop.cat.codes)
    formula = gj.glm("y ~ x + C(id)", table, family=F.Poisson())
    assert isinstance(formula.cov, BlockCovariance)
    np.testing.assert_allclose(formula.coef, gj.fit(dense, table.y, F.Poisson()).coef,
                               rtol=1e-10, atol=1e-12)
    scaled_levels = dense.copy()
    scaled_levels[:, 2:] *= 2.5  # one entry per row, not 1: SᵀWS is still diagonal
    got = gj.fit(sp.csr_matrix(scaled_levels), table.y, F.Poisson())
    want = gj.fit(scaled_levels, table.y, F.Poisson())
    assert isinstance(got.cov, BlockCovariance)
    np.testing.assert_allclose(got.stderr, want.stderr, rtol=1e-10)
    p, q = got.prediction(sp.csr_matrix(scaled_levels[:20])), want.prediction(scaled_levels[:20])
    np.testing.assert_allclose(p.link_se, q.link_se, rtol=1e-10)
    np.testing.assert_allclose(p.mean_se, q.mean_se, rtol=1e-10)


def test_differentiating_a_blocked_fit_says_it_is_not_supported(data):
    import jax

    frame, X, dense, effect = data
    y = np.random.default_rng(40).poisson(np.exp(2.0 + effect)).astype(float)

    def first_coef(w):
        return gj.fit(X, y, F.Poisson(), weights=w).coef[0]

    with pytest.raises(NotImplementedError, match="kept in blocks"):
        jax.grad(first_coef)(jnp.ones(M))
