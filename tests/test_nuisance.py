"""Family parameters estimated by maximum likelihood: the negative binomial's α (MASS's
glm.nb) against statsmodels' NB2 maximum likelihood (coefficients and α to 1e-6, the
log-likelihood to 1e-9) and MASS's theta.ml standard error written out with scipy."""

import warnings
from pathlib import Path

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import special

import glmjax as gj
from glmjax import families as F

M = 400


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(17)
    X = np.column_stack([np.ones(M), rng.normal(size=(M, 2))])
    mu = np.exp(X @ [0.5, 0.3, -0.2])
    y = rng.negative_binomial(1 / 0.6, 1 / (1 + 0.6 * mu)).astype(float)
    return X, y, mu


def test_negative_binomial_alpha_by_maximum_likelihood(data):
    X, y, _ = data
    res = gj.fit(X, y, F.NegativeBinomial(alpha=None))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = sm.NegativeBinomial(y, X, loglike_method="nb2").fit(
            method="newton", maxiter=200, tol=1e-12, disp=0)
    alpha = float(res.nuisance["alpha"])
    np.testing.assert_allclose(res.coef, ref.params[:3], rtol=1e-6)
    np.testing.assert_allclose(alpha, ref.params[3], rtol=1e-6)
    np.testing.assert_allclose(res.loglik, ref.llf, rtol=1e-9)
    np.testing.assert_allclose(res.aic, -2 * ref.llf + 2 * 4, rtol=1e-9)  # α counts
    assert isinstance(res.family.alpha, type(res.coef)) and float(res.family.alpha) == alpha
    # MASS: SE(θ) = 1/√i(θ) at the fitted means, θ = 1/α; SE(α) = SE(θ)/θ²
    mu, theta = np.asarray(res.predict(X)), 1 / alpha
    info = np.sum(-special.polygamma(1, theta + y) + special.polygamma(1, theta) - 1 / theta
                  + 2 / (theta + mu) - (y + theta) / (theta + mu) ** 2)
    np.testing.assert_allclose(res.nuisance_stderr["alpha"], 1 / np.sqrt(info) / theta**2,
                               rtol=1e-7)
    # the coefficients' standard errors: the GLM at the estimated α (as glm.nb)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fixed = sm.GLM(y, X, family=sm.families.NegativeBinomial(alpha=alpha)).fit(tol=1e-13)
    np.testing.assert_allclose(res.stderr, fixed.bse, rtol=1e-6)
    assert "alpha (estimated by maximum likelihood)" in res.summary()


def test_each_fit_of_a_batch_gets_its_own_alpha(data):
    X, y, _ = data
    Y = np.stack([y, y[::-1]])
    many = gj.fit_many(X, Y, family=F.NegativeBinomial(alpha=None))
    assert many.nuisance["alpha"].shape == (2,)
    for b in range(2):
        one = gj.fit(X, Y[b], F.NegativeBinomial(alpha=None))
        np.testing.assert_allclose(many.nuisance["alpha"][b], one.nuisance["alpha"], rtol=1e-8)
        np.testing.assert_allclose(many.coef[b], one.coef, rtol=1e-8)


def test_coefficients_at_alpha_zero_are_the_poisson_fit_after_a_flat_last_round(monkeypatch):
    """A low-count gene (mean 0.48) whose α jumps to 0 in a round where the likelihood in α
    is already flat: the coefficients are solved again at α = 0 (they were the round's
    before the jump, 1.6e-3 from the Poisson fit). The gene is number 1560 of
    benchmarks/bench_nb_genes.py's data."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from bench_nb_genes import counts

    X, Y, offset = counts(np.random.default_rng(0), 4000, 2000)
    y = Y[1560]
    res = gj.fit(X, y, F.NegativeBinomial(alpha=None), offset=offset)
    assert float(res.nuisance["alpha"]) == 0.0 and bool(res.nuisance_at_bound["alpha"])
    np.testing.assert_allclose(res.coef, gj.fit(X, y, F.Poisson(), offset=offset).coef,
                               rtol=1e-7, atol=1e-9)


def test_no_overdispersion_is_reported_as_alpha_zero_with_a_flag(data):
    """Poisson data: the likelihood rises towards α = 0 (its score there, ½Σ[(y − μ)² − y]
    at the Poisson fit, is negative), so α̂ = 0, flagged, and the fit is Poisson's (1e-7);
    in a batch beside an overdispersed fit, neither is a failure."""
    X, y_nb, mu = data
    y = np.random.default_rng(3).poisson(mu).astype(float)
    poisson = gj.fit(X, y, F.Poisson())
    mu_p = np.asarray(poisson.predict(X))
    assert np.sum((y - mu_p) ** 2 - y) < 0  # the boundary case
    res = gj.fit(X, y, F.NegativeBinomial(alpha=None))
    assert float(res.nuisance["alpha"]) == 0.0 and bool(res.nuisance_at_bound["alpha"])
    assert np.isnan(res.nuisance_stderr["alpha"]) and bool(res.converged)
    np.testing.assert_allclose(res.coef, poisson.coef, rtol=1e-7)
    np.testing.assert_allclose(res.loglik, poisson.loglik, rtol=1e-9)
    assert "alpha (estimated by maximum likelihood): 0, at the end of its range" in res.summary()
    many = gj.fit_many(X, np.stack([y, y_nb]), F.NegativeBinomial(alpha=None))
    assert many.converged.all()
    assert many.nuisance_at_bound["alpha"].tolist() == [True, False]
    assert float(many.nuisance["alpha"][0]) == 0.0 and float(many.nuisance["alpha"][1]) > 0.1


def test_tweedie_power_and_dispersion_by_maximum_likelihood():
    """Tweedie(power=None): (p, φ) maximise the profile likelihood, as a scipy search over p
    of statsmodels' GLM fits and statsmodels' series density maximised over φ finds them
    (p and φ to 1e-5: statsmodels' series is ~5e-8 off per observation; coefficients to 1e-6)."""
    from scipy import optimize

    rng = np.random.default_rng(11)
    X = np.column_stack([np.ones(M), rng.normal(size=M)])
    mu, p, phi = np.exp(X @ [0.5, 0.3]), 1.4, 1.3
    n = rng.poisson(mu ** (2 - p) / (phi * (2 - p)))
    y = np.where(n > 0, rng.gamma(np.maximum(n, 1) * (2 - p) / (p - 1), phi * (p - 1)
                                  * mu ** (p - 1)), 0.0)
    res = gj.fit(X, y, F.Tweedie(power=None))

    def profile(power):  # −max_φ ℓ(p, φ) at the GLM fit for this p
        fam = sm.families.Tweedie(var_power=power, link=sm.families.links.Log())
        fitted = sm.GLM(y, X, family=fam).fit(tol=1e-13)
        inner = optimize.minimize_scalar(
            lambda log_phi: -fam.loglike(y, fitted.mu, scale=np.exp(log_phi)),
            bounds=(-3, 3), method="bounded", options={"xatol": 1e-10})
        return inner.fun, np.exp(inner.x), fitted.params

    best = optimize.minimize_scalar(lambda q: profile(q)[0], bounds=(1.05, 1.95),
                                    method="bounded", options={"xatol": 1e-9})
    _, phi_ref, coef_ref = profile(best.x)
    np.testing.assert_allclose(float(res.nuisance["power"]), best.x, rtol=1e-5)
    np.testing.assert_allclose(float(res.scale), phi_ref, rtol=1e-5)
    np.testing.assert_allclose(res.coef, coef_ref, rtol=1e-6)
    np.testing.assert_allclose(float(res.loglik), -best.fun, rtol=1e-7)
    assert 0 < float(res.nuisance_stderr["power"]) < 0.1
    assert "power (estimated by maximum likelihood)" in res.summary()


def test_cox_reid_adjusted_alpha(data):
    """cox_reid=True: α maximises ℓ(α; μ̂) − ½ log det(Xᵀ diag(μ̂/(1 + αμ̂)) X) at the fitted
    means μ̂ of the GLM at α (edgeR's and glmGamPoi's fixed point), here found by scipy over
    statsmodels' NB GLM fits (α to 1e-6, coefficients to 1e-6); the adjustment raises α."""
    from scipy import optimize

    X, y, _ = data
    res = gj.fit(X, y, F.NegativeBinomial(alpha=None), cox_reid=True)

    def adjusted(alpha, mu):
        r = 1 / alpha
        ll = np.sum(special.gammaln(y + r) - special.gammaln(r) - special.gammaln(y + 1)
                    + r * np.log(r / (r + mu)) + y * np.log(mu / (r + mu)))
        return ll - 0.5 * np.linalg.slogdet(X.T @ (X * (mu / (1 + alpha * mu))[:, None]))[1]

    alpha = 0.5
    for _ in range(50):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            glm = sm.GLM(y, X, family=sm.families.NegativeBinomial(alpha=alpha)).fit(tol=1e-13)
        new = np.exp(optimize.minimize_scalar(
            lambda u, mu=glm.mu: -adjusted(np.exp(u), mu), bounds=(-5, 3), method="bounded",
            options={"xatol": 1e-12}).x)
        if abs(new / alpha - 1) < 1e-11:
            break
        alpha = new
    np.testing.assert_allclose(float(res.nuisance["alpha"]), alpha, rtol=1e-6)
    np.testing.assert_allclose(res.coef, glm.params, rtol=1e-6)
    plain = gj.fit(X, y, F.NegativeBinomial(alpha=None))
    assert float(res.nuisance["alpha"]) > float(plain.nuisance["alpha"])
    with pytest.raises(ValueError, match="cox_reid=True adjusts the estimate"):
        gj.fit(X, y, F.NegativeBinomial(alpha=0.5), cox_reid=True)
