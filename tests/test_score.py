"""The autodiff score equals the seed's hand-derived Xᵀ(T(y) − h(X)) for canonical links."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import glmjax as gj
from glmjax import families as F
from glmjax._model import Problem
from glmjax.parametrizations import Canonical, LogAlpha

M, P = 400, 5


def _data(rng, family):
    X = np.column_stack([np.ones(M), rng.normal(size=(M, P - 1))])
    eta_shape = (M,) if family.natural_dim == 0 else (M, family.natural_dim)
    eta = {
        "Gaussian": lambda: rng.normal(size=eta_shape),
        "Bernoulli": lambda: rng.normal(size=eta_shape),
        "Binomial": lambda: rng.normal(size=eta_shape),
        "Poisson": lambda: rng.normal(size=eta_shape),
        "Multinomial": lambda: rng.normal(size=eta_shape),
        "Beta": lambda: rng.uniform(0.5, 3, size=eta_shape),
        "Dirichlet": lambda: rng.uniform(0.5, 3, size=eta_shape),
    }.get(family.name, lambda: -rng.uniform(0.3, 2, size=eta_shape))()
    y = family.sample(jax.random.key(1), jnp.asarray(eta))
    return jnp.asarray(X), y


SCALAR = [F.Gaussian(), F.Bernoulli(), F.Binomial(n_trials=5.0), F.Poisson(), F.Exponential(),
          F.Gamma(), F.InverseGaussian(), F.NegativeBinomial(alpha=0.5)]


def _problem(family, param, X, y):
    prepared, y_prep, w = family.prepare(y, jnp.ones(X.shape[0]))
    q, r = param.n_linear(family), param.n_extra(family)
    return Problem(family=prepared, parametrization=param, X=X, y=y_prep, weights=w,
                   offset=jnp.zeros(X.shape[0]), l2=jnp.zeros(()),
                   penalized=jnp.zeros(X.shape[1] * q + r))


@pytest.mark.parametrize("family", SCALAR, ids=lambda f: f.name)
def test_autodiff_score_equals_seed_formula_scalar(rng, family):
    X, y = _data(rng, family)
    # Binomial's 1-D response is a proportion of n_trials (R's convention)
    y_in = y / family.n_trials if isinstance(family, F.Binomial) else y
    problem = _problem(family, Canonical(), X, y_in)
    theta = problem.initial()  # a point inside the natural domain
    eta = X @ theta
    hand = X.T @ (family.sufficient_stat(y) - family.mean(eta))  # the seed's Xᵀ(T(y) − h(X))
    np.testing.assert_allclose(problem.score(theta), hand, rtol=1e-10, atol=1e-10)


def test_autodiff_score_equals_seed_formula_softmax(rng):
    """Multinomial: ∂ℓ/∂θ_k = Xᵀ(1{y = k} − softmax_k) for the K − 1 free classes."""
    fam = F.Multinomial(n_classes=4)
    X, y = _data(rng, fam)
    problem = _problem(fam, fam.parametrization(None), X, y)
    theta = jnp.asarray(rng.normal(size=(P, 3)) * 0.3)
    probs = fam.mean(jnp.insert(X @ theta, 0, 0.0, axis=1))
    hand = X.T @ (fam.sufficient_stat(y) - probs)[:, 1:]
    np.testing.assert_allclose(problem.score(theta.ravel()), hand.ravel(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("family", [F.Beta(), F.Dirichlet(n_components=3)], ids=lambda f: f.name)
def test_autodiff_score_chain_rule_log_alpha(rng, family):
    """log α = XΘ: ∂ℓ/∂Θ = Xᵀ[(T(y) − ∂A/∂η) ⊙ α] — the seed's rule times ∂η/∂L = α."""
    X, y = _data(rng, family)
    problem = _problem(family, LogAlpha(), X, y)
    theta = jnp.asarray(rng.normal(size=(P, family.natural_dim)) * 0.1)
    alpha = jnp.exp(X @ theta)
    hand = X.T @ ((family.sufficient_stat(y) - family.mean(alpha)) * alpha)
    np.testing.assert_allclose(problem.score(theta.ravel()), hand.ravel(), rtol=1e-10, atol=1e-9)


@pytest.mark.parametrize("family,link", [(F.Poisson(), gj.links.Sqrt()),
                                         (F.Bernoulli(), gj.links.Probit()),
                                         (F.Gamma(), gj.links.Log())], ids=str)
def test_score_and_fisher_against_finite_differences(rng, family, link):
    """Non-canonical links: the score is the gradient (central differences of ℓ) and the
    expected information is E[−∇²ℓ] = Jᵀ∇²A J (J by finite differences of η(θ))."""
    X, y = _data(rng, family)
    problem = _problem(family, family.parametrization(link), X, y)
    theta = problem.initial()
    h = 1e-6
    basis = np.eye(P)
    fd = np.array([(problem.loglik(theta + h * e) - problem.loglik(theta - h * e)) / (2 * h)
                   for e in basis])
    np.testing.assert_allclose(problem.score(theta), fd, rtol=1e-6, atol=1e-6)
    J = np.stack([(problem.eta(theta + h * e) - problem.eta(theta - h * e)) / (2 * h)
                  for e in basis], axis=1)
    var = np.asarray(family.variance(problem.eta(theta)))
    np.testing.assert_allclose(problem.fisher(theta), J.T @ (var[:, None] * J), rtol=1e-6)
