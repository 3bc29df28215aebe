"""Every family against scipy.stats, finite differences and its own identity E[T(y)] = ∂A/∂η.

One harness: each family joins by adding a ``Case`` (family, valid η, y values, and the scipy
distribution at matched parameters).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special, stats

import glmjax as gj
from glmjax import families as F


@dataclass
class Case:
    family: Any
    etas: list  # natural parameters, including near the edges of the domain
    y: np.ndarray  # points in the support
    scipy_logpdf: Callable  # (y, eta) -> log density at matched parameters
    mean: Callable  # closed-form E[T(y)]
    # scipy's binary families round p = σ(η) when |η| is large; there a stable closed form
    edge_logpdf: Callable | None = None


def _beta_mean(eta):
    a, b = eta[..., 0], eta[..., 1]
    return np.stack([special.digamma(a) - special.digamma(a + b),
                     special.digamma(b) - special.digamma(a + b)], -1)


CASES = {
    "gaussian": Case(F.Gaussian(), [-30.0, -1.3, 0.0, 2.5, 40.0], np.array([-2.0, 0.0, 1.5, 7.0]),
                     lambda y, e: stats.norm.logpdf(y, e, 1.0), lambda e: e),
    "bernoulli": Case(F.Bernoulli(), [-30.0, -2.0, 0.0, 0.7, 25.0], np.array([0.0, 1.0]),
                      lambda y, e: stats.bernoulli.logpmf(y, special.expit(e)), special.expit,
                      lambda y, e: y * special.log_expit(e) + (1 - y) * special.log_expit(-e)),
    "binomial": Case(F.Binomial(n_trials=7.0), [-20.0, -1.0, 0.0, 2.0, 15.0],
                     np.arange(8.0), lambda y, e: stats.binom.logpmf(y, 7, special.expit(e)),
                     lambda e: 7 * special.expit(e),
                     lambda y, e: (special.gammaln(8) - special.gammaln(y + 1)
                                   - special.gammaln(8 - y) + y * special.log_expit(e)
                                   + (7 - y) * special.log_expit(-e))),
    "poisson": Case(F.Poisson(), [-25.0, -2.0, 0.0, 1.5, 5.0], np.array([0.0, 1.0, 4.0, 30.0]),
                    lambda y, e: stats.poisson.logpmf(y, np.exp(e)), np.exp),
    "exponential": Case(F.Exponential(), [-1e3, -3.0, -1.0, -0.2, -1e-3],
                        np.array([0.01, 0.5, 2.0, 9.0]),
                        lambda y, e: stats.expon.logpdf(y, scale=-1 / e), lambda e: -1 / e),
    "gamma": Case(F.Gamma(), [-50.0, -2.0, -0.5, -0.01], np.array([0.01, 0.5, 2.0, 9.0]),
                  lambda y, e: stats.gamma.logpdf(y, 1.0, scale=-1 / e), lambda e: -1 / e),
    "inverse_gaussian": Case(
        F.InverseGaussian(), [-20.0, -2.0, -0.5, -0.02], np.array([0.05, 0.5, 2.0, 9.0]),
        lambda y, e: stats.invgauss.logpdf(y, 1 / np.sqrt(-2 * e)),  # λ = 1, mu = μ/λ
        lambda e: 1 / np.sqrt(-2 * e)),
    "negative_binomial": Case(
        F.NegativeBinomial(alpha=0.6), [-8.0, -2.0, -0.5, -0.05], np.array([0.0, 1.0, 5.0, 40.0]),
        lambda y, e: stats.nbinom.logpmf(y, 1 / 0.6, 1 - np.exp(e)),
        lambda e: np.exp(e) / (0.6 * (1 - np.exp(e)))),
    "multinomial": Case(
        F.Multinomial(n_classes=3), [[0.0, 0.0, 0.0], [1.0, -2.0, 0.5], [20.0, -20.0, 0.0]],
        np.array([0, 1, 2]),
        lambda y, e: stats.multinomial.logpmf(np.eye(3)[y], 1, special.softmax(e, -1)),
        lambda e: special.softmax(e, -1)),
    "beta": Case(F.Beta(), [[0.7, 0.9], [2.0, 5.0], [30.0, 4.0], [1.0, 1.0]],
                 np.array([0.01, 0.3, 0.5, 0.97]),
                 lambda y, e: stats.beta.logpdf(y, e[..., 0], e[..., 1]), _beta_mean),
    "dirichlet": Case(
        F.Dirichlet(n_components=3), [[1.0, 1.0, 1.0], [0.6, 2.0, 5.0], [20.0, 3.0, 1.5]],
        np.array([[0.2, 0.3, 0.5], [0.01, 0.01, 0.98], [0.6, 0.3, 0.1]]),
        lambda y, e: stats.dirichlet.logpdf(y, e),
        lambda e: special.digamma(e) - special.digamma(e.sum(-1, keepdims=True))),
}

def _tweedie_logpdf(y, eta, p=1.5):
    """The compound Poisson–gamma density (φ = 1) by scipy.stats: Σₙ Poisson(n; λ)
    Gamma(y; n(2 − p)/(p − 1), (p − 1)μ^{p−1}), n = 1..2000; P(0) = e^{−λ}."""
    mu = ((1 - p) * eta) ** (1 / (1 - p))
    lam = mu ** (2 - p) / (2 - p)
    if y == 0:
        return -lam
    n = np.arange(1, 2000)
    dens = stats.poisson.pmf(n, lam) * stats.gamma.pdf(y, n * (2 - p) / (p - 1),
                                                       scale=(p - 1) * mu ** (p - 1))
    return np.log(dens.sum())


CASES["tweedie"] = Case(
    F.Tweedie(power=1.5), [-20.0, -2.8, -1.4, -0.45], np.array([0.0, 0.3, 2.0, 9.0]),
    _tweedie_logpdf, lambda e: (-0.5 * e) ** -2.0)

IDS = list(CASES)


@pytest.fixture(params=IDS)
def case(request):
    return CASES[request.param]


def _etas(case):
    return [np.asarray(e, np.float64) for e in case.etas]


def test_log_prob_matches_scipy(case):
    """log p(y | η) = ηᵀT(y) − A(η) + log b(y) agrees with scipy.stats (rtol 1e-10)."""
    for eta in _etas(case):
        for y in case.y:
            got = float(case.family.log_prob(jnp.asarray(y), jnp.asarray(eta)))
            edge = case.edge_logpdf is not None and np.max(np.abs(eta)) > 10
            want = float((case.edge_logpdf if edge else case.scipy_logpdf)(y, eta))
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10, err_msg=f"{eta=} {y=}")


def test_mean_is_gradient_and_matches_closed_form(case):
    """mean = ∂A/∂η (autodiff) equals the closed form and central differences of A."""
    fam = case.family
    for eta in _etas(case):
        mean = np.asarray(fam.mean(jnp.asarray(eta)))
        np.testing.assert_allclose(mean, case.mean(eta), rtol=1e-10, atol=1e-12)
        h = 1e-6 * np.maximum(1.0, np.abs(eta))
        if eta.ndim == 0:
            fd = (fam.log_partition(eta + h) - fam.log_partition(eta - h)) / (2 * h)
        else:
            fd = np.array([(fam.log_partition(eta + h * e) - fam.log_partition(eta - h * e))
                           / (2 * h[i]) for i, e in enumerate(np.eye(eta.size))])
        np.testing.assert_allclose(mean, fd, rtol=1e-6, atol=1e-6)


def test_variance_is_jacobian_of_mean(case):
    """variance = ∇²A: symmetric, positive semi-definite, the derivative of the mean."""
    fam = case.family
    for eta in _etas(case):
        var = np.asarray(fam.variance(jnp.asarray(eta)))
        jac = np.asarray(jax.jacfwd(fam.mean)(jnp.asarray(eta)))
        np.testing.assert_allclose(var, jac, rtol=1e-10, atol=1e-14)
        if var.ndim == 2:
            np.testing.assert_allclose(var, var.T, atol=1e-12)
            assert np.linalg.eigvalsh(var).min() > -1e-12
        else:
            assert var >= 0


def test_batched_and_jitted_mean(case):
    fam = case.family
    etas = jnp.asarray(np.stack(_etas(case)))
    want = np.stack([np.asarray(fam.mean(e)) for e in etas])
    # the family is a pytree argument: its array fields are traced, not baked in
    np.testing.assert_allclose(jax.jit(lambda f, e: f.mean(e))(fam, etas), want, rtol=1e-12)
    np.testing.assert_allclose(jax.vmap(fam.mean)(etas), want, rtol=1e-12)


def test_identity_expectation_equals_gradient(case):
    """gj.check_identity: E[T(y)] by sums/quadrature/Monte Carlo equals ∂A/∂η."""
    etas = jnp.asarray(np.stack(_etas(case)))
    chk = gj.check_identity(case.family, etas, n_samples=100_000)
    if chk.method == "monte carlo":
        assert np.all(np.asarray(chk.error) <= 5 * np.asarray(chk.stderr) + 1e-12)
    else:
        np.testing.assert_allclose(chk.total_mass, 1.0, rtol=1e-8)
        scale = 1 + np.abs(np.asarray(chk.derivative))
        assert np.all(np.asarray(chk.error) <= 1e-8 * scale), (chk.method, chk.error)


def test_sample_mean_agrees(case):
    """Samples have mean E[T(y)] (within 5 Monte Carlo standard errors)."""
    fam = case.family
    eta = jnp.asarray(_etas(case)[1])
    draws = fam.sample(jax.random.key(3), eta, (100_000,))
    assert bool(jnp.all(fam.in_support(draws)))
    t = fam.sufficient_stat(draws)
    se = jnp.std(t, axis=0) / np.sqrt(t.shape[0])
    assert np.all(np.abs(np.asarray(jnp.mean(t, axis=0) - fam.mean(eta))) <= 5 * se + 1e-12)


@pytest.mark.parametrize("name", [n for n in IDS if n not in ("multinomial",)])
def test_natural_from_mean_inverts_mean(name):
    fam = CASES[name].family
    for eta in _etas(CASES[name]):
        if np.any(np.abs(eta) > 20):
            continue  # the mean saturates in float64 there
        back = fam.natural_from_mean(fam.mean(jnp.asarray(eta)))
        np.testing.assert_allclose(back, eta, rtol=1e-7, atol=1e-9)


def test_multinomial_natural_from_mean_up_to_a_constant():
    fam = F.Multinomial(n_classes=3)
    eta = jnp.array([1.0, -2.0, 0.5])
    back = fam.natural_from_mean(fam.mean(eta))
    np.testing.assert_allclose(back - back[0], eta - eta[0], rtol=1e-12)


@pytest.mark.parametrize("fam", [F.Bernoulli(), F.Binomial(n_trials=3.0)],
                         ids=["bernoulli", "binomial"])
def test_binary_mean_and_variance_in_both_tails(fam):
    """σ(η) and σ(η)σ(−η), derived from A(η) = log(1 + e^η) by autodiff, against scipy's
    expit to 1e-13 relative for |η| ≤ 700 (the variance 1 − σ rounded would be 0 for η > 37);
    at η = 0 exactly, the mean is n/2 and the variance n/4."""
    n = float(fam.n_trials) if isinstance(fam, F.Binomial) else 1.0
    eta = np.array([-700.0, -40.0, -1.5, 0.0, 1e-3, 2.0, 40.0, 700.0])
    mean, variance = (np.asarray(f(jnp.asarray(eta))) for f in (fam.mean, fam.variance))
    np.testing.assert_allclose(mean, n * special.expit(eta), rtol=1e-13)
    np.testing.assert_allclose(variance, n * special.expit(eta) * special.expit(-eta),
                               rtol=1e-13)
    assert mean[3] == n / 2 and variance[3] == n / 4


def test_negative_binomial_mean_and_variance_in_both_tails():
    """With r = 1/α and q = e^η: mean rq/(1 − q), variance rq/(1 − q)², by autodiff of
    A(η) = −r log(1 − e^η), against the closed forms to 1e-13 relative from η = −700 (where
    differentiating expm1 gave 0) to η = −1e-8 (where log1p(−e^η) cancels)."""
    fam, r = F.NegativeBinomial(alpha=0.5), 2.0
    eta = np.array([-700.0, -40.0, -5.0, -np.log(2.0), -0.5, -1e-3, -1e-8])
    q, one_minus_q = np.exp(eta), -np.expm1(eta)
    mean, variance = (np.asarray(f(jnp.asarray(eta))) for f in (fam.mean, fam.variance))
    np.testing.assert_allclose(mean, r * q / one_minus_q, rtol=1e-13)
    np.testing.assert_allclose(variance, r * q / one_minus_q**2, rtol=1e-13)


def test_log_gamma_and_its_derivatives_match_scipy():
    """log Γ, ψ (its gradient) and ψ' (its second gradient), from their series, against
    scipy.special from 1e-100 to 1e17, across the switch at 10 and at the integers: to 2e-14
    of max(|value|, 1) in float64; float32 in, float32 out."""
    from glmjax.families._base import log_gamma

    rng = np.random.default_rng(7)
    x = np.concatenate([rng.uniform(0, 12, 2000), np.exp(rng.uniform(-30, 40, 2000)),
                        [1e-100, 1e-8, 1.0, 2.0, 10 - 1e-12, 10.0, 10 + 1e-12, 1e17]])
    derivatives = [log_gamma, jax.grad(log_gamma), jax.grad(jax.grad(log_gamma))]
    references = [special.gammaln(x), special.digamma(x), special.polygamma(1, x)]
    for f, reference in zip(derivatives, references, strict=True):
        got = np.asarray(jax.jit(jax.vmap(f))(jnp.asarray(x)))
        np.testing.assert_array_less(np.abs(got - reference) / np.maximum(np.abs(reference), 1),
                                     2e-14)
    assert log_gamma(jnp.float32(3.5)).dtype == jnp.float32


def test_log_gamma_ratio_and_its_derivatives_equal_exact_sums():
    """log Γ(y + r) − log Γ(r) = Σⱼ₌₀^{y−1} log(r + j) for counts y, with its derivatives in r
    (Σ 1/(r + j) and −Σ 1/(r + j)², the negative binomial's α steps), summed exactly
    (math.fsum) for r from 1e-8 to 1e12, on both sides of the switch to Stirling's series at
    r = 10⁴: to 1e-11 relative (the difference of log Γ's loses ~1e-11 in the derivatives
    just below the switch) plus 1e-14 of the terms' scale (1, 1/r, 1/r²; all three are 0 at
    y = 0)."""
    import math

    from glmjax.families._base import log_gamma_ratio

    y, r = (a.ravel() for a in np.meshgrid(
        np.array([0, 1, 2, 7, 10, 25, 100, 2500.0]),
        np.array([1e-8, 1e-3, 0.5, 1.0, 10.0, 60.0, 6000.0, 9999.0, 10001.0, 1e5, 1e8, 1e12])))
    terms = (np.log, lambda v: 1 / v, lambda v: -1 / v**2)
    sums = np.array([[math.fsum(f(ri + np.arange(int(yi)))) for f in terms]
                     for yi, ri in zip(y, r, strict=True)])
    d1 = jax.grad(log_gamma_ratio, argnums=1)
    scale = np.column_stack([np.ones_like(r), 1 / r, 1 / r**2])
    for k, f in enumerate([log_gamma_ratio, d1, jax.grad(d1, argnums=1)]):
        got = np.asarray(jax.jit(jax.vmap(f))(jnp.asarray(y), jnp.asarray(r)))
        np.testing.assert_array_less(np.abs(got - sums[:, k]),
                                     1e-11 * np.abs(sums[:, k]) + 1e-14 * scale[:, k])


@pytest.mark.parametrize("fam", [F.Beta(), F.Dirichlet(3)], ids=["beta", "dirichlet"])
def test_log_partition_outside_the_natural_domain_is_infinite_with_finite_gradient(fam):
    """A(η) = +∞ where some ηₖ ≤ 0 (the solvers' step control sees the edge), and its
    autodiff gradient there is finite (0), not NaN; inside, A matches scipy's log B(η)."""
    k = fam.natural_dim
    for eta in (-np.ones(k), np.r_[2.0, np.zeros(k - 1)], np.r_[-3.5, np.full(k - 1, 2.0)]):
        assert float(fam.log_partition(jnp.asarray(eta))) == np.inf
        assert np.all(np.asarray(jax.grad(fam.log_partition)(jnp.asarray(eta))) == 0)
    eta = np.linspace(0.5, 3.0, k)
    expected = np.sum(special.gammaln(eta)) - special.gammaln(np.sum(eta))
    np.testing.assert_allclose(float(fam.log_partition(jnp.asarray(eta))), expected, rtol=1e-13)


def test_float32_mean_and_identity():
    """Float32 in, float32 out; the identity still holds to float32 accuracy."""
    fam = F.Poisson()
    eta = jnp.asarray([-1.0, 0.5, 2.0], jnp.float32)
    assert fam.mean(eta).dtype == jnp.float32
    assert fam.variance(eta).dtype == jnp.float32
    chk = gj.check_identity(fam, eta)
    assert np.all(np.asarray(chk.error) <= 1e-5 * (1 + np.asarray(chk.derivative)))


def test_dispersion_log_prob_matches_scipy():
    """Families with a dispersion φ: log p(y | η, φ) at matched scipy parameters."""
    y, phi = np.array([0.3, 1.0, 4.0]), 0.7
    mu = 1.8
    np.testing.assert_allclose(
        F.Gaussian().log_prob(y, mu, phi), stats.norm.logpdf(y, mu, np.sqrt(phi)), rtol=1e-12)
    np.testing.assert_allclose(  # Gamma: shape 1/φ, mean μ
        F.Gamma().log_prob(y, -1 / mu, phi), stats.gamma.logpdf(y, 1 / phi, scale=mu * phi),
        rtol=1e-12)
    np.testing.assert_allclose(  # inverse Gaussian: λ = 1/φ, scipy's mu = μ/λ, scale = λ
        F.InverseGaussian().log_prob(y, -0.5 / mu**2, phi),
        stats.invgauss.logpdf(y, mu * phi, scale=1 / phi), rtol=1e-12)


def test_tweedie_base_measure_of_many_rows_equals_row_by_row():
    """From 8,192 rows Tweedie's log b(y, φ) runs its series only at the rows with y > 0, in
    blocks (``_at_positive_rows``): equal to the row-by-row values (1e-12), zeros included."""
    rng = np.random.default_rng(3)
    y = np.where(rng.uniform(size=10_000) < 0.9, 0.0, rng.gamma(2.0, 3.0, 10_000))
    phi = rng.uniform(0.5, 2.0, 10_000)
    family = F.Tweedie(power=1.4)
    many = np.asarray(family.log_base_measure(y, phi))
    parts = np.concatenate([np.asarray(family.log_base_measure(y[k:k + 1000], phi[k:k + 1000]))
                            for k in range(0, 10_000, 1000)])
    np.testing.assert_allclose(many, parts, rtol=1e-12, atol=1e-12)
    assert np.all(many[y == 0] == 0.0) and np.all(many[y > 0] != 0.0)


def test_family_is_a_pytree_with_array_parameters():
    fam = F.NegativeBinomial(alpha=0.5)
    leaves = jax.tree_util.tree_leaves(fam)
    assert len(leaves) == 1 and isinstance(leaves[0], jax.Array)
    means = jax.vmap(lambda a: F.NegativeBinomial(alpha=a).mean(-1.0))(jnp.array([0.5, 1.0]))
    r = 1 / np.array([0.5, 1.0])
    np.testing.assert_allclose(means, r * np.exp(-1) / (1 - np.exp(-1)), rtol=1e-12)


def test_invalid_class_counts():
    with pytest.raises(ValueError, match="n_classes >= 2"):
        F.Multinomial(n_classes=1)
    with pytest.raises(ValueError, match="n_components >= 2"):
        F.Dirichlet(n_components=1)
