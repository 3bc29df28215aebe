"""Derivatives through ``fit`` by the implicit function theorem, against finite differences."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import glmjax as gj
from glmjax import families as F

M = 80
H = 1e-6


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(31)
    X = np.column_stack([np.ones(M), rng.normal(size=(M, 2))])
    eta = X @ [0.3, 0.4, -0.2]
    return dict(X=X, counts=rng.poisson(np.exp(eta)).astype(float),
                positive=rng.gamma(2.0, np.exp(eta) / 2), binary=(rng.uniform(size=M) <
                                                                 1 / (1 + np.exp(-eta))) * 1.0,
                weights=rng.uniform(0.5, 2.0, size=M), offset=rng.normal(size=M) * 0.1)


def _central(f, x, direction):
    return (f(x + H * direction) - f(x - H * direction)) / (2 * H)


def _direction(shape, seed):
    return np.random.default_rng(seed).normal(size=shape)


@pytest.mark.parametrize("wrt", ["y", "weights", "offset", "X"])
def test_jvp_and_vjp_of_coefficients_match_finite_differences(data, wrt):
    X, y, w, off = data["X"], data["counts"], data["weights"], data["offset"]
    inputs = {"X": X, "y": y, "weights": w, "offset": off}

    def coef(value):
        args = {**inputs, wrt: value}
        return gj.fit(args["X"], args["y"], family=F.Poisson(), weights=args["weights"],
                      offset=args["offset"]).coef

    x = jnp.asarray(inputs[wrt])
    v = _direction(x.shape, 1)
    if wrt == "y":
        v = v * (y > 0)  # a zero count cannot move down
    if wrt == "X":
        v[:, 0] = 0.0  # keep the intercept column an intercept
    fd = _central(coef, x, v)
    _, jvp = jax.jvp(coef, (x,), (jnp.asarray(v),))
    np.testing.assert_allclose(jvp, fd, rtol=1e-6, atol=1e-9)
    u = _direction(3, 2)
    vjp = jax.grad(lambda x: jnp.dot(coef(x), u))(x)
    np.testing.assert_allclose(jnp.sum(vjp * v), jnp.dot(fd, u), rtol=1e-6, atol=1e-9)


def test_derivative_in_the_penalty(data):
    X, y = data["X"], data["binary"]
    coef = lambda lam: gj.fit(X, y, family=F.Bernoulli(), l2=lam).coef  # noqa: E731
    lam = jnp.asarray(0.05)
    np.testing.assert_allclose(jax.jacfwd(coef)(lam), _central(coef, lam, 1.0), rtol=1e-6)
    np.testing.assert_allclose(jax.jacrev(coef)(lam), _central(coef, lam, 1.0), rtol=1e-6)


def test_non_canonical_link_uses_the_observed_hessian(data):
    """Gamma with a log link: Fisher ≠ Hessian, and the implicit derivative needs the Hessian."""
    X, y = data["X"], data["positive"]

    def coef(y):
        return gj.fit(X, y, family=F.Gamma(), link=gj.links.Log()).coef

    v = _direction(M, 3)
    _, jvp = jax.jvp(coef, (jnp.asarray(y),), (jnp.asarray(v),))
    np.testing.assert_allclose(jvp, _central(coef, y, v), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("solver", ["lbfgs", "irls"])
def test_derivatives_of_statistics(data, solver):
    """Standard errors and the deviance are differentiable too (for any solver)."""
    X, y = data["X"], data["counts"]

    def stats(y):
        res = gj.fit(X, y, family=F.Poisson(), solver=solver, tol=1e-12 if solver == "lbfgs"
                     else None)
        return jnp.concatenate([res.stderr, res.deviance[None]])

    v = _direction(M, 4) * (y > 0)
    _, jvp = jax.jvp(stats, (jnp.asarray(y),), (jnp.asarray(v),))
    np.testing.assert_allclose(jvp, _central(stats, y, v), rtol=1e-5, atol=1e-8)


def test_tune_l2_by_gradient_descent_on_a_validation_loss():
    """The documented example: choose the ridge strength by gradient descent on log λ."""
    rng = np.random.default_rng(5)
    p = 20
    X = np.column_stack([np.ones(300), rng.normal(size=(300, p))])
    beta = np.r_[0.2, rng.normal(size=p) * 0.3]
    y = (rng.uniform(size=300) < 1 / (1 + np.exp(-X @ beta))).astype(float)
    X_train, y_train, X_val, y_val = X[:100], y[:100], X[100:], y[100:]

    def validation_loss(log_lam):
        res = gj.fit(X_train, y_train, family=F.Bernoulli(), l2=jnp.exp(log_lam))
        p_val = res.predict(X_val)
        return -jnp.mean(y_val * jnp.log(p_val) + (1 - y_val) * jnp.log1p(-p_val))

    loss_and_grad = jax.jit(jax.value_and_grad(validation_loss))
    log_lam = jnp.asarray(-6.0)
    first, g = loss_and_grad(log_lam)
    np.testing.assert_allclose(g, _central(validation_loss, log_lam, 1.0), rtol=1e-5)
    for _ in range(25):
        loss, g = loss_and_grad(log_lam)
        log_lam = log_lam - 40.0 * g
    # from 0.706 at λ = e⁻⁶ to the minimum near λ = e⁻²·² (0.611), where the gradient vanishes
    assert float(loss) < 0.615 < float(first)
    assert abs(float(g)) < 1e-3
