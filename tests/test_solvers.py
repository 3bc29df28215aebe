"""Solvers agree with each other; fits are jittable, vmappable, compile once per shape;
penalised fits agree with scikit-learn and glum; float32 works."""

import importlib

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import glmjax as gj
from glmjax import families as F

fitting = importlib.import_module("glmjax._fitting")

M = 300


@pytest.fixture(scope="module")
def poisson_data():
    rng = np.random.default_rng(11)
    X = np.column_stack([np.ones(M), rng.normal(size=(M, 3)) * 0.5])
    y = rng.poisson(np.exp(X @ [0.3, 0.5, -0.2, 0.1])).astype(float)
    return X, y


@pytest.fixture(scope="module")
def logistic_data():
    rng = np.random.default_rng(12)
    X = np.column_stack([np.ones(M), rng.normal(size=(M, 3))])
    y = (rng.uniform(size=M) < 1 / (1 + np.exp(-(X @ [0.2, 1.0, -0.5, 0.3])))).astype(float)
    return X, y


@pytest.mark.parametrize("solver,kw,rtol", [
    ("lbfgs", {}, 1e-6),
    ("gradient_ascent", {"learning_rate": 0.5, "tol": 1e-10}, 1e-7),
    (optax.adam(0.05), {"tol": 1e-7, "max_iter": 50000}, 1e-5),
], ids=["lbfgs", "gradient_ascent", "optax-adam"])
def test_solvers_reach_the_irls_optimum(poisson_data, solver, kw, rtol):
    X, y = poisson_data
    ref = gj.fit(X, y, family=F.Poisson())
    res = gj.fit(X, y, family=F.Poisson(), solver=solver, **kw)
    assert bool(res.converged)
    np.testing.assert_allclose(res.coef, ref.coef, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(res.deviance, ref.deviance, rtol=1e-9)


def test_seed_gradient_ascent_is_the_seed_update(logistic_data):
    """One step of solver="gradient_ascent" is θ + (β/m) Xᵀ(y − σ(Xθ)) from θ = init."""
    X, y = logistic_data
    theta0 = np.zeros(X.shape[1])
    with pytest.warns(gj.ConvergenceWarning, match=r"converge \(1 iterations, status MAX_ITER"):
        res = gj.fit(X, y, family=F.Bernoulli(), solver="gradient_ascent", learning_rate=0.3,
                     init=theta0, max_iter=1)
    want = theta0 + 0.3 / M * X.T @ (y - 1 / (1 + np.exp(-X @ theta0)))
    np.testing.assert_allclose(res.coef, want, rtol=1e-12)
    assert not bool(res.converged)


def test_jit_and_vmap_over_data(logistic_data):
    X, y = logistic_data
    rng = np.random.default_rng(0)
    ys = np.stack([y, (rng.uniform(size=M) < 0.5).astype(float), 1 - y])

    def coef(X, y):
        return gj.fit(X, y, family=F.Bernoulli()).coef

    batched = jax.vmap(coef, in_axes=(None, 0))(jnp.asarray(X), jnp.asarray(ys))
    for b, yy in zip(batched, ys, strict=True):
        np.testing.assert_allclose(b, gj.fit(X, yy, family=F.Bernoulli()).coef, rtol=1e-9)
    np.testing.assert_allclose(jax.jit(coef)(X, y), batched[0], rtol=1e-9)


def test_jitted_fit_returns_the_same_result_pytree(poisson_data):
    """Every leaf of the FitResult pytree (coefficients, covariance, fitted values, the data
    it keeps) is the same under jax.jit as eagerly."""
    X, y = poisson_data
    names = ["(Intercept)", "a", "b", "c"]  # under jit, the intercept cannot be detected
    eager = gj.fit(X, y, family=F.Poisson(), feature_names=names)
    jitted = jax.jit(lambda X, y: gj.fit(X, y, family=F.Poisson(), feature_names=names))(X, y)
    assert jax.tree.structure(jitted) == jax.tree.structure(eager)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12),
                 jitted, eager)


def test_vmap_over_stacked_designs(poisson_data):
    X, y = poisson_data
    rng = np.random.default_rng(4)
    Xs = np.stack([X, X * np.r_[1.0, rng.uniform(0.5, 2.0, size=3)]])
    res = jax.vmap(lambda X: gj.fit(X, y, family=F.Poisson()))(Xs)
    for k in range(2):
        np.testing.assert_allclose(res.coef[k], gj.fit(Xs[k], y, family=F.Poisson()).coef,
                                   rtol=1e-9)


def test_vmap_over_weights_and_offsets_returns_batched_results(poisson_data):
    X, y = poisson_data
    rng = np.random.default_rng(1)
    W = rng.uniform(0.5, 2.0, size=(4, M))
    O = rng.normal(size=(4, M)) * 0.1
    res = jax.vmap(lambda w, o: gj.fit(X, y, family=F.Poisson(), weights=w, offset=o))(W, O)
    assert res.coef.shape == (4, X.shape[1]) and res.converged.shape == (4,)
    one = gj.fit(X, y, family=F.Poisson(), weights=W[2], offset=O[2])
    np.testing.assert_allclose(res.coef[2], one.coef, rtol=1e-9)
    np.testing.assert_allclose(res.stderr[2], one.stderr, rtol=1e-9)


def test_compiles_once_per_shape(poisson_data):
    X, y = poisson_data
    gj.fit(X, y, family=F.Poisson())
    before = fitting._TRACE_COUNT[0]
    for k in range(3):
        gj.fit(X, y + k, family=F.Poisson(), offset=np.full(M, 0.1 * k))
    assert fitting._TRACE_COUNT[0] == before
    gj.fit(X[:-1], y[:-1], family=F.Poisson())  # a new shape compiles once more
    assert fitting._TRACE_COUNT[0] == before + 1


def test_differentiable_loglik_of_fit_through_jit(poisson_data):
    """The fit is a pure function: jax.jit over it composes with other code."""
    X, y = poisson_data
    f = jax.jit(lambda y: gj.fit(X, y, family=F.Poisson()).deviance)
    np.testing.assert_allclose(f(y), gj.fit(X, y, family=F.Poisson()).deviance, rtol=1e-12)


def test_l2_matches_sklearn_and_glum(poisson_data, logistic_data):
    from glum import GeneralizedLinearRegressor
    from sklearn.linear_model import LogisticRegression, PoissonRegressor, Ridge

    X, y = poisson_data
    lam = 0.05
    res = gj.fit(X, y, family=F.Poisson(), l2=lam)
    sk = PoissonRegressor(alpha=lam, tol=1e-12, max_iter=10000, solver="newton-cholesky")
    sk.fit(X[:, 1:], y)
    np.testing.assert_allclose(res.coef, np.r_[sk.intercept_, sk.coef_], rtol=1e-6)
    gl = GeneralizedLinearRegressor(family="poisson", alpha=lam, l1_ratio=0.0,
                                    gradient_tol=1e-12).fit(X[:, 1:], y)
    np.testing.assert_allclose(res.coef, np.r_[gl.intercept_, gl.coef_], rtol=1e-6)

    X, y = logistic_data
    res = gj.fit(X, y, family=F.Bernoulli(), l2=lam)
    lr = LogisticRegression(C=1 / (M * lam), tol=1e-12, max_iter=10000).fit(X[:, 1:], y)
    np.testing.assert_allclose(res.coef, np.r_[lr.intercept_, lr.coef_[0]], rtol=1e-6)

    yg = X @ [1.0, 2.0, -1.0, 0.5] + np.random.default_rng(3).normal(size=M)
    res = gj.fit(X, yg, family=F.Gaussian(), l2=lam)
    ridge = Ridge(alpha=M * lam, tol=1e-12).fit(X[:, 1:], yg)
    np.testing.assert_allclose(res.coef, np.r_[ridge.intercept_, ridge.coef_], rtol=1e-8)


def test_l2_makes_rank_deficient_design_fittable(poisson_data):
    X, y = poisson_data
    Xd = np.column_stack([X, X[:, 1]])
    res = gj.fit(Xd, y, family=F.Poisson(), l2=0.1)
    assert bool(res.converged)
    np.testing.assert_allclose(res.coef[1], res.coef[-1], rtol=1e-8)  # split evenly


@pytest.mark.parametrize("family,link", [(F.Poisson(), None), (F.Bernoulli(), None),
                                         (F.Gamma(), gj.links.Log())], ids=str)
def test_float32_fit_close_to_float64(family, link):
    rng = np.random.default_rng(5)
    X = np.column_stack([np.ones(M), rng.normal(size=(M, 2))])
    eta = X @ [0.2, 0.4, -0.3]
    y = {"Poisson": lambda: rng.poisson(np.exp(eta)),
         "Bernoulli": lambda: rng.uniform(size=M) < 1 / (1 + np.exp(-eta)),
         "Gamma": lambda: rng.gamma(2.0, np.exp(eta) / 2)}[family.name]().astype(float)
    r64 = gj.fit(X, y, family=family, link=link)
    r32 = gj.fit(X.astype(np.float32), y.astype(np.float32), family=family, link=link)
    assert r32.coef.dtype == jnp.float32 and r32.stderr.dtype == jnp.float32
    assert bool(r32.converged)
    np.testing.assert_allclose(r32.coef, r64.coef, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(r32.stderr, r64.stderr, rtol=1e-4)
    np.testing.assert_allclose(r32.deviance, r64.deviance, rtol=1e-5)


def test_multinomial_and_beta_under_vmap():
    rng = np.random.default_rng(9)
    X = np.column_stack([np.ones(M), rng.normal(size=M)])
    labels = rng.integers(0, 3, size=(2, M))
    res = jax.vmap(lambda y: gj.fit(X, y, family=F.Multinomial(n_classes=3)))(labels)
    assert res.coef.shape == (2, 2, 2)
    np.testing.assert_allclose(
        res.coef[1], gj.fit(X, labels[1], family=F.Multinomial(n_classes=3)).coef, rtol=1e-9)


def test_start_is_r_first_irls_iterate_and_least_squares_elsewhere(poisson_data):
    """Poisson (canonical): one weighted least-squares step of R's glm.fit from the starting
    means (z = η₀ + (y − μ₀)/μ₀, W = wμ₀); Gamma (canonical, η < 0): least squares of η₀."""
    X, y = poisson_data
    w = np.linspace(0.5, 2.0, M)
    offset = np.linspace(-0.2, 0.2, M)

    def problem(family, y):
        return fitting.checked_problem(
            family, family.parametrization("canonical"), jnp.asarray(X), jnp.asarray(y),
            jnp.asarray(w), jnp.asarray(offset), jnp.asarray(0.0))[0]

    def wls(W, z):
        return np.linalg.solve(X.T @ (W[:, None] * X), X.T @ (W * z))

    mu0 = 0.5 * (y + np.average(y, weights=w))
    eta0 = np.log(mu0)
    expected = wls(w * mu0, eta0 - offset + (y - mu0) / mu0)
    np.testing.assert_allclose(problem(F.Poisson(), y).initial(), expected, rtol=1e-10)

    y_gamma = y + 0.5
    eta0 = -1 / (0.5 * (y_gamma + np.average(y_gamma, weights=w)))
    np.testing.assert_allclose(problem(F.Gamma(), y_gamma).initial(), wls(w, eta0 - offset),
                               rtol=1e-10)


def test_gram_spectrum_solves_the_start_and_reveals_rank():
    """``GramSpectrum``: the eigendecomposition of D⁻¹GD⁻¹ solves G θ = b like a direct solve
    (well-conditioned G, badly scaled columns), and gives a finite θ for a singular G."""
    from glmjax._model import GramSpectrum

    rng = np.random.default_rng(3)
    X = rng.normal(size=(200, 5)) * np.array([1e-3, 1.0, 10.0, 1e3, 1.0])
    G, b = X.T @ X, rng.normal(size=(5, 2))
    spectrum = GramSpectrum.of(jnp.asarray(G))
    np.testing.assert_allclose(spectrum.solve(jnp.asarray(b)), np.linalg.solve(G, b),
                               rtol=1e-9)
    unit = np.sqrt(np.diag(G))
    np.testing.assert_allclose(spectrum.evals, np.linalg.eigvalsh(G / np.outer(unit, unit)),
                               rtol=1e-12, atol=1e-14)
    singular = GramSpectrum.of(jnp.asarray(np.column_stack([X, X[:, 1]]).T
                                           @ np.column_stack([X, X[:, 1]])))
    assert singular.evals[0] < 1e-12 * singular.evals[-1]
    assert np.all(np.isfinite(singular.solve(jnp.ones((6, 1)))))


def test_solver_objects_names_and_a_users_own():
    """Strings map to the solver classes through one table; settings are fields; a user's own
    AbstractSolver subclass is used as given."""
    from glmjax.solvers import SOLVERS, AbstractSolver, SolverResult, as_solver, status_code

    assert {name: cls.__name__ for name, cls in SOLVERS.items()} == {
        "irls": "IRLS", "proximal_newton": "ProximalNewton", "lbfgs": "LBFGS",
        "gradient_ascent": "GradientAscent"}
    assert as_solver("lbfgs", tol=1e-9) == gj.solvers.LBFGS(tol=1e-9)
    assert as_solver(optax.sgd(0.1)).name == "optax"

    class FixedSteps(AbstractSolver):  # plain gradient descent, a fixed number of steps
        tol: float | None = None
        max_iter: int | None = None
        name = "fixed_steps"

        def minimize(self, problem, beta0):
            def step(beta, _):
                return beta - 0.5 * jax.grad(problem.objective)(beta), None

            beta, _ = jax.lax.scan(step, beta0, None, length=self.iterations())
            grad = jax.grad(problem.objective)(beta)
            done = jnp.max(jnp.abs(grad)) <= self.tolerance(beta.dtype)
            return SolverResult(beta=beta, n_iter=jnp.asarray(self.iterations()),
                                status=status_code(done, jnp.all(jnp.isfinite(grad))))

    X = np.column_stack([np.ones(50), np.linspace(-1, 1, 50)])
    y = np.arange(50) % 4 + 0.0
    ref = gj.fit(X, y, family=F.Poisson())
    res = gj.fit(X, y, family=F.Poisson(), solver=FixedSteps(max_iter=3000))
    assert res.solver == "fixed_steps" and res.status == gj.solvers.Status.SUCCESS
    np.testing.assert_allclose(res.coef, ref.coef, rtol=1e-6)


def test_the_seeds_ascent_converges_by_default_on_the_bundled_data():
    """The README's solver="gradient_ascent" on RAND HIE, whose columns' scales differ 100×:
    the default first step and its step control converge to the IRLS optimum."""
    data = gj.datasets.load_randhie()
    ref = gj.fit(data.X, data.y, family=F.Poisson())
    res = gj.fit(data.X, data.y, family=F.Poisson(), solver="gradient_ascent")
    assert res.status == gj.solvers.Status.SUCCESS
    np.testing.assert_allclose(res.coef, ref.coef, rtol=1e-5, atol=1e-6)
