"""Sandwich covariances against statsmodels and closed forms (R's sandwich::vcovHC and vcovCL
definitions). Tolerance: rtol 1e-8 on covariance matrices (statsmodels' IRLS fit to 1e-13).

statsmodels' GLM computes HC0 and cluster sandwiches as R does; its "HC1" for a GLM is HC0
without R's n/(n − k), and it has no HC2/HC3 for GLMs, so those are built here from its hat
values (R's hatvalues) and observation scores.
"""

import warnings

import numpy as np
import pytest
import statsmodels.api as sm

import glmjax as gj
from glmjax import families as F
from glmjax import links as L
from glmjax._results import predict

M = 300


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(21)
    X = np.column_stack([np.ones(M), rng.normal(size=(M, 2))])
    mu = np.exp(X @ [0.3, 0.2, -0.1])
    return dict(X=X, counts=rng.poisson(mu * rng.gamma(2.0, 0.5, M)).astype(float),
                positive=rng.gamma(2.0, mu / 2.0), groups=rng.integers(0, 12, M),
                weights=rng.uniform(0.5, 2.0, M))


def _statsmodels(y, X, family, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sm.GLM(y, X, family=family, **kw).fit(tol=1e-13, **kw.pop("fit", {}))


def _by_hand(ref, y, X, kind):
    """HC0 to HC3 from statsmodels' pieces: B = cov_params()/scale, uᵢ = score_obs, hᵢ."""
    bread = ref.cov_params() / ref.scale
    u = ref.model.score_obs(ref.params, scale=1.0)
    h = ref.get_influence().hat_matrix_diag
    factor = {"HC0": 1.0, "HC1": M / (M - X.shape[1]), "HC2": 1 / (1 - h),
              "HC3": 1 / (1 - h) ** 2}[kind]
    meat = (u * np.broadcast_to(factor, (M,))[:, None]).T @ u
    return bread @ meat @ bread


@pytest.mark.parametrize("kind", ["HC0", "HC1", "HC2", "HC3"])
def test_heteroskedasticity_consistent(data, kind):
    X, y = data["X"], data["counts"]
    ref = _statsmodels(y, X, sm.families.Poisson())
    res = gj.fit(X, y, F.Poisson(), cov_type=kind)
    np.testing.assert_allclose(res.cov, _by_hand(ref, y, X, kind), rtol=1e-8, atol=1e-11)
    if kind == "HC0":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            direct = sm.GLM(y, X, family=sm.families.Poisson()).fit(tol=1e-13, cov_type="HC0")
        np.testing.assert_allclose(res.cov, direct.cov_params(), rtol=1e-8, atol=1e-11)
    assert res.cov_type == kind and f"covariance: {kind}" in res.summary()
    np.testing.assert_allclose(res.coef, ref.params, rtol=1e-8)  # the fit is the same


def test_cluster_is_r_vcovcl(data):
    """R's vcovCL for a glm: HC0 with the G/(G − 1) adjustment; statsmodels' cluster
    sandwich without its corrections times G/(G − 1)."""
    X, y, groups = data["X"], data["counts"], data["groups"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = sm.GLM(y, X, family=sm.families.Poisson()).fit(
            tol=1e-13, cov_type="cluster", cov_kwds={"groups": groups, "use_correction": False})
    res = gj.fit(X, y, F.Poisson(), cov_type="cluster", groups=groups)
    np.testing.assert_allclose(res.cov, ref.cov_params() * 12 / 11, rtol=1e-8, atol=1e-11)
    labels = np.array([f"g{k}" for k in groups])  # any labels
    again = gj.fit(X, y, F.Poisson(), cov_type="cluster", groups=labels)
    np.testing.assert_allclose(again.cov, res.cov, rtol=1e-12)


def test_non_canonical_link_with_weights_and_dispersion(data):
    """Gamma, log link, prior weights, estimated dispersion (which cancels): the closed form
    I = Σ wᵢ xᵢxᵢᵀ, uᵢ = wᵢ (yᵢ − μᵢ)/μᵢ xᵢ, hᵢ = wᵢ xᵢᵀ I⁻¹ xᵢ."""
    X, y, w = data["X"], data["positive"], data["weights"]
    for kind in ("HC0", "HC3"):
        res = gj.fit(X, y, F.Gamma(), L.Log(), weights=w, cov_type=kind)
        mu = np.asarray(res.predict(X))
        bread = np.linalg.inv(X.T @ (w[:, None] * X))
        u = (w * (y - mu) / mu)[:, None] * X
        h = w * np.einsum("ij,jk,ik->i", X, bread, X)
        factor = np.ones(M) if kind == "HC0" else 1 / (1 - h) ** 2
        np.testing.assert_allclose(res.cov, bread @ ((u * factor[:, None]).T @ u) @ bread,
                                   rtol=1e-8, atol=1e-11)


def test_every_family_batched_and_penalised(data):
    """fit_many gives each fit its own sandwich (clusters too); a vector family (Multinomial)
    and a penalised fit have one too (B the penalised information's inverse)."""
    X, y = data["X"], data["counts"]
    Y = np.stack([y, y[::-1]])
    groups = np.array(["a", "b", "c", "d"])[np.arange(M) % 4]  # labels, read once
    for cov_type, kwargs in (("HC1", {}), ("cluster", {"groups": groups})):
        many = gj.fit_many(X, Y, family=F.Poisson(), cov_type=cov_type, **kwargs)
        for b in range(2):
            one = gj.fit(X, Y[b], F.Poisson(), cov_type=cov_type, **kwargs)
            np.testing.assert_allclose(many.cov[b], one.cov, rtol=1e-10)
    with pytest.raises(ValueError, match=r"groups must have shape \(\d+,\), one label per row"):
        gj.fit_many(X, Y, family=F.Poisson(), cov_type="cluster", groups=groups[:-1])
    path = gj.fit_path(X, y, F.Poisson(), l1_ratio=0.0, alphas=[0.1], cov_type="cluster",
                       groups=groups)  # each fit of a path, too
    one = gj.fit(X, y, F.Poisson(), l2=0.1, cov_type="cluster", groups=groups)
    np.testing.assert_allclose(path.fits.cov[0], one.cov, rtol=1e-8)
    labels = (np.arange(M) * 7) % 3
    multi = gj.fit(X, labels, F.Multinomial(n_classes=3), cov_type="HC0")
    assert multi.stderr.shape == (3, 2) and np.all(np.isfinite(multi.stderr))
    ridge = gj.fit(X, y, F.Poisson(), l2=0.1, cov_type="HC0")
    assert np.all(np.asarray(ridge.stderr) > 0)


def test_bad_covariance_arguments(data):
    X, y = data["X"], data["counts"]
    with pytest.raises(ValueError, match="cov_type must be one of"):
        gj.fit(X, y, F.Poisson(), cov_type="HC9")
    with pytest.raises(ValueError, match='cov_type="cluster" needs groups='):
        gj.fit(X, y, F.Poisson(), cov_type="cluster")
    with pytest.raises(ValueError, match="groups must have shape"):
        gj.fit(X, y, F.Poisson(), cov_type="cluster", groups=np.zeros(3))
    with pytest.raises(ValueError, match="at least 2 groups"):
        gj.fit(X, y, F.Poisson(), cov_type="cluster", groups=np.zeros(M))


def test_prediction_matches_statsmodels_on_both_scales(data):
    """R's predict.glm(se.fit = TRUE): the link scale √(xᵀΣx), the response scale by the delta
    method; intervals on the link scale mapped through the inverse link (statsmodels'
    get_prediction). Gamma, log link, an offset, estimated dispersion; then a sandwich Σ."""
    X, y = data["X"], data["positive"]
    offset = np.linspace(-0.1, 0.1, M)
    res = gj.fit(X, y, F.Gamma(), L.Log(), offset=offset)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = sm.GLM(y, X, family=sm.families.Gamma(sm.families.links.Log()),
                     offset=offset).fit(tol=1e-13)
    new, new_offset = X[:7], offset[:7]
    got = res.prediction(new, offset=new_offset, level=0.9)
    want = ref.get_prediction(new, offset=new_offset).summary_frame(alpha=0.1)
    np.testing.assert_allclose(got.mean, want["mean"], rtol=1e-7)
    np.testing.assert_allclose(got.mean_se, want["mean_se"], rtol=1e-6)
    np.testing.assert_allclose(got.lower, want["mean_ci_lower"], rtol=1e-6)
    np.testing.assert_allclose(got.upper, want["mean_ci_upper"], rtol=1e-6)
    np.testing.assert_allclose(got.link, new @ ref.params + new_offset, rtol=1e-7)
    link_se = np.sqrt(np.einsum("ij,jk,ik->i", new, ref.cov_params(), new))
    np.testing.assert_allclose(got.link_se, link_se, rtol=1e-6)
    robust = gj.fit(X, y, F.Gamma(), L.Log(), offset=offset, cov_type="HC3")
    link_se = np.sqrt(np.einsum("ij,jk,ik->i", new, np.asarray(robust.cov), new))
    np.testing.assert_allclose(robust.prediction(new, offset=new_offset).link_se, link_se,
                               rtol=1e-10)


def test_prediction_of_vector_families_and_batches(data):
    X = data["X"]
    labels = (np.arange(M) * 7) % 3
    res = gj.fit(X, labels, F.Multinomial(n_classes=3))
    got = res.prediction(X[:4])
    assert got.mean.shape == (4, 3) and got.mean_se.shape == (4, 3)
    np.testing.assert_allclose(got.mean, res.predict(X[:4]), rtol=1e-12)
    # the delta method by central differences of the probabilities in the coefficients
    eps = 1e-6
    grads = []
    for k in range(res.params.shape[0]):
        step = np.zeros(res.params.shape[0])
        step[k] = eps
        plus = predict(res.family, res.parametrization, res.params + step, res.n_linear, X[:4])
        minus = predict(res.family, res.parametrization, res.params - step, res.n_linear, X[:4])
        grads.append((np.asarray(plus) - np.asarray(minus)) / (2 * eps))
    J = np.stack(grads, -1)
    want = np.sqrt(np.einsum("ick,kl,icl->ic", J, np.asarray(res.cov), J))
    np.testing.assert_allclose(got.mean_se, want, rtol=1e-5)
    many = gj.fit_many(X, np.stack([data["counts"], data["counts"][::-1]]), family=F.Poisson())
    batch = many.prediction(X[:3])
    one = gj.fit(X, data["counts"][::-1], F.Poisson()).prediction(X[:3])
    np.testing.assert_allclose(batch.upper[1], one.upper, rtol=1e-10)
    with pytest.raises(ValueError, match="level must be a number with 0 < level < 1"):
        res.prediction(X[:2], level=95)
