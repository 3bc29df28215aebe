"""Fits against statsmodels (IRLS to tol 1e-12) and R's formulas, in float64.

Tolerances: coefficients and standard errors rtol 1e-6 (R-grade), deviances and
log-likelihoods rtol 1e-8. statsmodels' log-likelihood for Gamma and inverse Gaussian uses
the Pearson dispersion; R (and glmjax) use deviance/n, so those are checked against R's
formula computed with scipy.stats.
"""

import warnings

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats
from statsmodels.discrete.discrete_model import MNLogit

import glmjax as gj
from glmjax import families as F
from glmjax import links as L

SM = sm.families
M = 250


def _compound_poisson_gamma(rng, mu, phi, p):
    """Tweedie draws by NumPy: N ~ Poisson(μ^{2−p}/(φ(2−p))) gamma summands."""
    n = rng.poisson(mu ** (2 - p) / (phi * (2 - p)))
    scale = phi * (p - 1) * mu ** (p - 1)
    return np.where(n > 0, rng.gamma(np.maximum(n, 1) * (2 - p) / (p - 1), scale), 0.0)


def _tweedie_logpdf(y, mu, phi, p):
    """Σ log p(y), p(y) = Σₙ Poisson(n; λ) Gamma(y; n(2 − p)/(p − 1), φ(p − 1)μ^{p−1}),
    by scipy.stats over n = 1..3000 (P(0) = e^{−λ})."""
    lam, shape = mu ** (2 - p) / (phi * (2 - p)), (2 - p) / (p - 1)
    n = np.arange(1, 3000)[:, None]
    dens = stats.poisson.pmf(n, lam) * stats.gamma.pdf(y, n * shape, scale=phi * (p - 1) *
                                                        mu ** (p - 1))
    return np.sum(np.where(y > 0, np.log(np.sum(dens, 0) + (y == 0)), -lam))


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    X = np.column_stack([np.ones(M), rng.normal(size=M), rng.uniform(size=M)])
    eta = X @ [0.5, 0.3, -0.4]
    mu = np.exp(eta)
    trials = rng.integers(1, 12, size=M)
    succ = rng.binomial(trials, 1 / (1 + np.exp(-eta)))
    return dict(
        X=X, rng=rng,
        gaussian=rng.normal(eta, 0.5),
        bernoulli=(rng.uniform(size=M) < 1 / (1 + np.exp(-eta))).astype(float),
        binomial=np.column_stack([succ, trials - succ]).astype(float),
        poisson=rng.poisson(mu).astype(float),
        gamma=rng.gamma(2.0, mu / 2.0),
        inverse_gaussian=rng.wald(1 / np.sqrt(X @ [1.0, 0.2, 0.3]), 3.0),
        negative_binomial=rng.negative_binomial(1 / 0.7, 1 / (1 + 0.7 * mu)).astype(float),
        tweedie=_compound_poisson_gamma(rng, mu, phi=1.3, p=1.5),
        offset=rng.normal(size=M) * 0.1,
        weights=rng.uniform(0.5, 2.0, size=M),
    )


CASES = [
    # (name, glmjax family, glmjax link, statsmodels family)
    ("gaussian", F.Gaussian(), None, SM.Gaussian()),
    ("gaussian", F.Gaussian(), L.Log(), SM.Gaussian(SM.links.Log())),
    ("bernoulli", F.Bernoulli(), None, SM.Binomial()),
    ("bernoulli", F.Bernoulli(), L.Probit(), SM.Binomial(SM.links.Probit())),
    ("bernoulli", F.Bernoulli(), L.CLogLog(), SM.Binomial(SM.links.CLogLog())),
    ("binomial", F.Binomial(), None, SM.Binomial()),
    ("binomial", F.Binomial(), L.Probit(), SM.Binomial(SM.links.Probit())),
    ("poisson", F.Poisson(), None, SM.Poisson()),
    ("poisson", F.Poisson(), L.Sqrt(), SM.Poisson(SM.links.Sqrt())),
    ("gamma", F.Gamma(), L.Inverse(), SM.Gamma()),
    ("gamma", F.Gamma(), L.Log(), SM.Gamma(SM.links.Log())),
    ("inverse_gaussian", F.InverseGaussian(), L.InverseSquared(), SM.InverseGaussian()),
    ("inverse_gaussian", F.InverseGaussian(), L.Log(), SM.InverseGaussian(SM.links.Log())),
    ("negative_binomial", F.NegativeBinomial(alpha=0.7), L.Log(), SM.NegativeBinomial(alpha=0.7)),
    ("tweedie", F.Tweedie(power=1.5), L.Log(), SM.Tweedie(var_power=1.5)),
    ("tweedie", F.Tweedie(power=1.2), L.Identity(),
     SM.Tweedie(SM.links.Identity(), var_power=1.2)),
]


def _ids(case):
    return f"{case[0]}-{'canonical' if case[2] is None else case[2].name}"


def _reference(y, X, sm_family, **kw):
    """statsmodels' IRLS, polished by its Newton's method (observed Hessian, quadratic
    convergence: IRLS with a non-canonical link converges linearly and statsmodels' stopping
    rule can leave ~1e-6 relative error), then one IRLS pass there for the statistics."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = sm.GLM(y, X, family=sm_family, **kw)
        start = model.fit(tol=1e-13, maxiter=200).params
        polished = model.fit(method="newton", start_params=start, tol=1e-14, maxiter=100,
                             disp=0).params
        return model.fit(start_params=polished, tol=1e-13, maxiter=200)


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_matches_statsmodels(data, case):
    name, family, link, sm_family = case
    X, y = data["X"], data[name]
    res = gj.fit(X, y, family=family, link=link)
    ref = _reference(y, X, sm_family)
    assert bool(res.converged)
    np.testing.assert_allclose(res.coef, ref.params, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(res.stderr, ref.bse, rtol=1e-6)
    np.testing.assert_allclose(res.deviance, ref.deviance, rtol=1e-8)
    np.testing.assert_allclose(res.null_deviance, ref.null_deviance, rtol=1e-8)
    np.testing.assert_allclose(res.scale, ref.scale, rtol=1e-6)
    np.testing.assert_allclose(res.predict(X), ref.fittedvalues, rtol=1e-6)
    assert int(res.df_resid) == ref.df_resid
    if not family.has_dispersion:  # statsmodels' llf scale differs from R's: see below
        np.testing.assert_allclose(res.loglik, ref.llf, rtol=1e-8)
    if name == "tweedie":  # at the Pearson scale, as statsmodels' llf (whose series stops
        # early: 5e-8 off at y = 5, μ = 2, p = 1.2), against the compound Poisson sum
        want = _tweedie_logpdf(y, np.asarray(res.predict(X)), float(res.scale), family.power)
        np.testing.assert_allclose(res.loglik, want, rtol=1e-10)
    np.testing.assert_allclose(res.resid_pearson, ref.resid_pearson, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(res.resid_deviance, ref.resid_deviance, rtol=1e-6, atol=1e-8)
    if name == "binomial":  # R's (y/n − p)/(dp/dη); statsmodels' is n² times that
        p, eta = np.asarray(res.predict(X)), np.asarray(res.predict(X, which="linear"))
        slope = p * (1 - p) if link is None else stats.norm.pdf(eta)
        want = (y[:, 0] / y.sum(1) - p) / slope
        np.testing.assert_allclose(res.resid_working, want, rtol=1e-8, atol=1e-10)
    else:
        np.testing.assert_allclose(res.resid_working, ref.resid_working, rtol=1e-6,
                                   atol=1e-8)


@pytest.mark.parametrize("case", [CASES[7], CASES[9], CASES[3], CASES[12]], ids=_ids)
def test_influence_matches_statsmodels(data, case):
    """Hat values, Cook's distances and standardized Pearson residuals against statsmodels'
    ``get_influence(observed=False)``, whose working weights are the expected information's
    as R's ``hatvalues`` (rtol 1e-6): canonical and non-canonical links, fixed and estimated
    dispersion. The hat values sum to the number of coefficients."""
    name, family, link, sm_family = case
    X, y = data["X"], data[name]
    res = gj.fit(X, y, family=family, link=link)
    ref = _reference(y, X, sm_family).get_influence(observed=False)
    np.testing.assert_allclose(res.hat_values, ref.hat_matrix_diag, rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(float(res.hat_values.sum()), X.shape[1], rtol=1e-10)
    np.testing.assert_allclose(res.cooks_distance, ref.cooks_distance[0], rtol=1e-6,
                               atol=1e-12)
    np.testing.assert_allclose(res.resid_standardized("pearson"), ref.resid_studentized,
                               rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize("name,family,link,sm_family", [CASES[7], CASES[10], CASES[2]],
                         ids=["poisson", "gamma-log", "bernoulli"])
def test_weights_and_offset_match_statsmodels(data, name, family, link, sm_family):
    X, y, w, off = data["X"], data[name], data["weights"], data["offset"]
    res = gj.fit(X, y, family=family, link=link, weights=w, offset=off)
    ref = _reference(y, X, sm_family, var_weights=w, offset=off)  # R's prior weights
    np.testing.assert_allclose(res.coef, ref.params, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(res.stderr, ref.bse, rtol=1e-6)
    np.testing.assert_allclose(res.deviance, ref.deviance, rtol=1e-8)
    np.testing.assert_allclose(res.null_deviance, ref.null_deviance, rtol=1e-7)


def test_binomial_proportions_with_trial_weights_equal_counts(data):
    X, Y = data["X"], data["binomial"]
    trials = Y.sum(1)
    a = gj.fit(X, Y, family=F.Binomial())
    b = gj.fit(X, Y[:, 0] / trials, family=F.Binomial(), weights=trials)
    np.testing.assert_allclose(a.coef, b.coef, rtol=1e-10)
    np.testing.assert_allclose(a.stderr, b.stderr, rtol=1e-10)
    np.testing.assert_allclose(a.deviance, b.deviance, rtol=1e-10)
    np.testing.assert_allclose(a.loglik, b.loglik, rtol=1e-10)


def test_r_loglik_and_aic_for_dispersion_families(data):
    """R: logLik uses dispersion deviance/n; AIC counts it as a parameter (k = p + 1)."""
    X = data["X"]
    for name, family, link, dens in [
        ("gamma", F.Gamma(), L.Log(),
         lambda y, mu, d: stats.gamma.logpdf(y, 1 / d, scale=mu * d)),
        ("inverse_gaussian", F.InverseGaussian(), L.Log(),
         lambda y, mu, d: stats.invgauss.logpdf(y, mu * d, scale=1 / d)),
        ("gaussian", F.Gaussian(), None, lambda y, mu, d: stats.norm.logpdf(y, mu, np.sqrt(d))),
    ]:
        y = data[name]
        res = gj.fit(X, y, family=family, link=link)
        mu = np.asarray(res.predict(X))
        disp = float(res.deviance) / M
        want = dens(y, mu, disp).sum()
        np.testing.assert_allclose(res.loglik, want, rtol=1e-10, err_msg=name)
        np.testing.assert_allclose(res.aic, -2 * want + 2 * (X.shape[1] + 1), rtol=1e-10)
        np.testing.assert_allclose(res.bic, -2 * want + np.log(M) * (X.shape[1] + 1),
                                   rtol=1e-10)


def test_exponential_is_gamma_with_unit_dispersion(data):
    X, y = data["X"], data["gamma"]
    res = gj.fit(X, y, family=F.Exponential(), link=L.Log())
    ref = _reference(y, X, SM.Gamma(SM.links.Log()))
    np.testing.assert_allclose(res.coef, ref.params, rtol=1e-6)
    np.testing.assert_allclose(res.stderr, ref.bse / np.sqrt(ref.scale), rtol=1e-6)
    np.testing.assert_allclose(res.loglik, stats.expon.logpdf(y, scale=res.predict(X)).sum(),
                               rtol=1e-10)


def test_default_links_are_rs(data):
    """link=None is R's default: Gamma's inverse, inverse Gaussian's 1/mu^2, the negative
    binomial's and Tweedie's log; summary() names it."""
    X = data["X"]
    for name, family, link, r_name in [
        ("gamma", F.Gamma(), L.Inverse(), "inverse"),
        ("inverse_gaussian", F.InverseGaussian(), L.InverseSquared(), "1/mu^2"),
        ("negative_binomial", F.NegativeBinomial(alpha=0.7), L.Log(), "log"),
        ("tweedie", F.Tweedie(), L.Log(), "log"),
        ("poisson", F.Poisson(), L.Log(), "log"),
        ("bernoulli", F.Bernoulli(), L.Logit(), "logit"),
    ]:
        default = gj.fit(X, data[name], family=family)
        explicit = gj.fit(X, data[name], family=family, link=link)
        np.testing.assert_allclose(default.coef, explicit.coef, rtol=1e-8, err_msg=name)
        assert f"link: {r_name}" in default.summary(), name


def test_gamma_canonical_is_minus_r_inverse(data):
    """η = −1/μ (canonical) and R's inverse link μ = 1/L give opposite coefficients."""
    X, y = data["X"], data["gamma"]
    canonical = gj.fit(X, y, family=F.Gamma(), link="canonical")
    inverse = gj.fit(X, y, family=F.Gamma())
    np.testing.assert_allclose(canonical.coef, -inverse.coef, rtol=1e-8)
    np.testing.assert_allclose(canonical.deviance, inverse.deviance, rtol=1e-10)


def test_multinomial_matches_mnlogit(data):
    rng, X = data["rng"], data["X"]
    K = 4
    B = rng.normal(size=(3, K - 1))
    logits = np.column_stack([np.zeros(M), X @ B])
    P = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    labels = np.array([rng.choice(K, p=p) for p in P])
    res = gj.fit(X, labels, family=F.Multinomial(n_classes=K))
    ref = MNLogit(labels, X).fit(method="newton", tol=1e-12, disp=0)
    np.testing.assert_allclose(res.coef, ref.params, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(res.stderr, ref.bse, rtol=1e-6)
    np.testing.assert_allclose(res.loglik, ref.llf, rtol=1e-10)
    np.testing.assert_allclose(res.null_deviance, -2 * ref.llnull, rtol=1e-8)
    probs = res.predict(X)
    assert probs.shape == (M, K)
    np.testing.assert_allclose(probs, ref.predict(X), rtol=1e-6)
    for same in (np.eye(K)[labels], np.eye(K, dtype=int)[labels], labels.astype(float)):
        again = gj.fit(X, same, family=F.Multinomial(n_classes=K))  # one-hot, float labels
        np.testing.assert_allclose(again.coef, res.coef, rtol=1e-10)


def test_beta_mean_precision_matches_statsmodels_betamodel(data):
    """R betareg's model. Coefficients and φ against statsmodels' BetaModel; standard errors
    against the expected information Jᵀ∇²A J built from closed-form trigamma terms."""
    from scipy.special import polygamma
    from statsmodels.othermod.betareg import BetaModel

    rng, X = data["rng"], data["X"]
    mu = 1 / (1 + np.exp(-(X @ [0.2, 0.5, -0.3])))
    y = rng.beta(mu * 8, (1 - mu) * 8)
    res = gj.fit(X, y, family=F.Beta(), link=L.Logit())
    ref = BetaModel(y, X).fit(disp=0, gtol=1e-12)
    np.testing.assert_allclose(res.coef, ref.params[:3], rtol=1e-6)
    np.testing.assert_allclose(res.precision, np.exp(ref.params[3]), rtol=1e-6)
    np.testing.assert_allclose(res.loglik, ref.llf, rtol=1e-10)
    # expected information, by hand: η = (μφ, (1−μ)φ), ∇²A from trigamma
    m_hat = 1 / (1 + np.exp(-(X @ np.asarray(res.coef))))
    phi = float(res.precision)
    a, b = m_hat * phi, (1 - m_hat) * phi
    t1, t2, t12 = polygamma(1, a), polygamma(1, b), polygamma(1, a + b)
    V = np.stack([np.stack([t1 - t12, -t12 * np.ones(M)], -1),
                  np.stack([-t12 * np.ones(M), t2 - t12], -1)], -2)
    dmu = m_hat * (1 - m_hat)
    J = np.zeros((M, 2, 4))
    J[:, 0, :3] = (phi * dmu)[:, None] * X
    J[:, 1, :3] = (-phi * dmu)[:, None] * X
    J[:, 0, 3], J[:, 1, 3] = a, b  # ∂η/∂log φ
    info = np.einsum("iap,iab,ibq->pq", J, V, J)
    np.testing.assert_allclose(res.cov, np.linalg.inv(info), rtol=1e-6)


def test_dirichlet_two_components_is_beta(data):
    rng, X = data["rng"], data["X"]
    y = rng.beta(2.0, 3.0, size=M)
    beta = gj.fit(X, y, family=F.Beta())
    dirichlet = gj.fit(X, np.column_stack([y, 1 - y]), family=F.Dirichlet(n_components=2))
    np.testing.assert_allclose(dirichlet.coef, beta.coef, rtol=1e-8)
    np.testing.assert_allclose(dirichlet.loglik, beta.loglik, rtol=1e-10)
    np.testing.assert_allclose(dirichlet.stderr, beta.stderr, rtol=1e-7)


def test_dirichlet_common_and_alternative(data):
    """Score zero at the optimum; log-likelihood equals scipy's Dirichlet density."""
    rng, X = data["rng"], data["X"]
    alpha = np.exp(X @ np.array([[0.5, 1.0, 0.2], [0.3, -0.2, 0.1], [0.0, 0.4, -0.5]]))
    y = np.stack([rng.dirichlet(a) for a in alpha])
    fam = F.Dirichlet(n_components=3)
    common = gj.fit(X, y, family=fam)
    assert common.coef.shape == (3, 3)
    alpha_hat = np.exp(X @ np.asarray(common.coef))
    want = sum(stats.dirichlet.logpdf(yi, ai) for yi, ai in zip(y, alpha_hat, strict=True))
    np.testing.assert_allclose(common.loglik, want, rtol=1e-10)
    assert float(np.abs(common.problem.score(common.params)).max()) < 1e-6
    alt = gj.fit(X, y, family=fam, link=gj.parametrizations.MeanPrecision())
    assert alt.coef.shape == (3, 2) and float(alt.precision) > 0
    assert float(np.abs(alt.problem.score(alt.params)).max()) < 1e-6
    assert float(alt.loglik) <= float(common.loglik) + 1e-8  # a sub-model of "common"
    np.testing.assert_allclose(alt.predict(X).sum(1), 1.0, rtol=1e-12)


def test_randhie_poisson_matches_statsmodels():
    """The README's main job on the bundled data set."""
    data = gj.datasets.load_randhie()
    res = gj.fit(data.X, data.y, family=F.Poisson(), feature_names=data.feature_names)
    ref = sm.GLM(data.y, data.X, family=SM.Poisson()).fit(tol=1e-13)
    np.testing.assert_allclose(res.coef, ref.params, rtol=1e-7)
    np.testing.assert_allclose(res.stderr, ref.bse, rtol=1e-7)
    np.testing.assert_allclose(res.deviance, ref.deviance, rtol=1e-10)
    assert "(Intercept)" in res.summary() and "lncoins" in res.summary()


def test_dispersion_estimators(data):
    """scale="ml" (MASS::gamma.shape's maximum likelihood at the fitted means, against the
    root of its score by scipy), "deviance" (D/df), "pearson" on Poisson (quasi-Poisson,
    statsmodels' scale="X2"); rtol 1e-8 on the dispersion, 1e-6 on standard errors."""
    from scipy import optimize, special

    X, y = data["X"], data["gamma"]
    res = gj.fit(X, y, family=F.Gamma(), link=L.Log(), scale="ml")
    mu = np.asarray(res.predict(X))

    def minus_loglik(k):  # the Gamma density with shape k at the fitted means
        return -np.sum(k * np.log(k) - special.gammaln(k) + (k - 1) * np.log(y)
                       - k * np.log(mu) - k * y / mu)

    def score(k):
        return np.sum(np.log(k) + 1 - special.digamma(k) + np.log(y / mu) - y / mu)

    k = optimize.brentq(score, 0.1, 100, xtol=1e-15)
    np.testing.assert_allclose(res.scale, 1 / k, rtol=1e-8)
    np.testing.assert_allclose(res.loglik, -minus_loglik(k), rtol=1e-10)
    gauss = gj.fit(X, data["gaussian"], family=F.Gaussian(), scale="ml")
    np.testing.assert_allclose(gauss.scale, gauss.deviance / M, rtol=1e-8)
    dev = gj.fit(X, y, family=F.Gamma(), link=L.Log(), scale="deviance")
    np.testing.assert_allclose(dev.scale, dev.deviance / (M - 3), rtol=1e-12)
    quasi = gj.fit(X, data["poisson"], family=F.Poisson(), scale="pearson")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = sm.GLM(data["poisson"], X, family=SM.Poisson()).fit(scale="X2", tol=1e-13)
    np.testing.assert_allclose(quasi.stderr, ref.bse, rtol=1e-6)
    assert quasi.scale_estimated and "t value" in quasi.summary()
    with pytest.raises(ValueError, match='scale="ml" needs a family whose density has a '
                       "dispersion"):
        gj.fit(X, data["poisson"], family=F.Poisson(), scale="ml")
    with pytest.raises(ValueError, match="scale must be None, one of"):
        gj.fit(X, y, family=F.Gamma(), scale="mom")
