"""Notebook 1: the seed walk-through (cells for ``notebooks/build.py``)."""

# ruff: noqa: E501
CELLS = [
    ("md", """# The seed, executed: exponential families, A(η), and the identity E[T(y)] = ∂A/∂η

Every family in glmjax writes down its log-partition A(η) and nothing about its mean.
This notebook follows the seed document: it derives each family's mean h(η) = ∂A/∂η with
`jax.grad`, checks the identity numerically, and fits a Poisson GLM both with the seed's
gradient ascent and with Fisher scoring."""),
    ("code", """import os
import warnings

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

import glmjax as gj

jax.config.update("jax_enable_x64", True)  # before any array is made
F = gj.families
SMALL = os.environ.get("GLMJAX_NOTEBOOK_SMALL") == "1"  # CI runs the notebooks small"""),
    ("md", """## 1. The mean is the gradient of the log-partition

For the Bernoulli family the seed derives A(η) = −ln(1 − φ) = ln(1 + e^η) and, after a page
of algebra, ∂A/∂η = σ(η). Here `family.mean` is `jax.grad` of `log_partition`: we plot it
beside the closed forms the seed derives by hand."""),
    ("code", """eta = jnp.linspace(-4, 2, 200)
fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
for ax, fam, closed, name in [
    (axes[0], F.Gaussian(), eta, "Gaussian: h(η) = η"),
    (axes[1], F.Bernoulli(), jax.nn.sigmoid(eta), "Bernoulli: h(η) = σ(η)"),
    (axes[2], F.Poisson(), jnp.exp(eta), "Poisson: h(η) = e^η"),
]:
    ax.plot(eta, fam.log_partition(eta), label="A(η)")
    ax.plot(eta, fam.mean(eta), lw=3, alpha=0.6, label="jax.grad(A)")
    ax.plot(eta, closed, "k--", label="closed form")
    ax.set_title(name)
    ax.set_xlabel("η")
    ax.legend()
plt.tight_layout()"""),
    ("md", """## 2. The identity, checked numerically for every family

`gj.check_identity` computes E[T(y) | η] from the density alone (exact sums for counts and
classes, quadrature for continuous y, Monte Carlo for the simplex) and compares it with the
autodiff gradient."""),
    ("code", """cases = {
    "Gaussian": (F.Gaussian(), [-1.0, 0.0, 3.0]),
    "Bernoulli": (F.Bernoulli(), [-3.0, 0.0, 2.0]),
    "Multinomial (K=3)": (F.Multinomial(n_classes=3), [[0.0, 1.0, -1.0]]),
    "Poisson": (F.Poisson(), [-2.0, 0.0, 2.0]),
    "Exponential": (F.Exponential(), [-3.0, -1.0, -0.2]),
    "Gamma": (F.Gamma(), [-3.0, -1.0, -0.2]),
    "Beta": (F.Beta(), [[2.0, 5.0], [0.8, 0.9]]),
    "Dirichlet (K=3)": (F.Dirichlet(n_components=3), [[1.0, 2.0, 3.0]]),
    "Binomial (n=7)": (F.Binomial(n_trials=7.0), [-1.0, 1.0]),
    "Negative binomial": (F.NegativeBinomial(alpha=0.5), [-2.0, -0.3]),
    "Inverse Gaussian": (F.InverseGaussian(), [-2.0, -0.1]),
}
print(f"{'family':20s} {'method':12s} {'max |E[T] − ∂A/∂η|':>20s} {'MC std. error':>14s}")
for name, (fam, etas) in cases.items():
    chk = gj.check_identity(fam, jnp.array(etas))
    print(f"{name:20s} {chk.method:12s} {float(jnp.max(chk.error)):20.2e} "
          f"{float(jnp.max(chk.stderr)):14.2e}")"""),
    ("md", """## 3. The seed's gradient ascent against Fisher scoring

The seed fits θ by gradient ascent, θ ← θ + α Xᵀ(T(y) − h(Xθ)) with α = β/m. glmjax offers
that rule (`solver="gradient_ascent"`) beside Fisher scoring (IRLS, the default), which
rescales the same gradient by the inverse Fisher information. On the RAND Health Insurance
Experiment (20,190 people; physician visits), we follow the log-likelihood of each one
iteration at a time (`max_iter=1`, restarting from the previous coefficients). Gradient ascent
needs standardised features (its step must stay below 2/λ_max of the information; with the
raw columns, whose scales differ by 100×, no single β works), so both run on them."""),
    ("code", """data = gj.datasets.load_randhie()
Z = (data.X[:, 1:] - data.X[:, 1:].mean(0)) / data.X[:, 1:].std(0)
X, y = jnp.asarray(np.column_stack([data.X[:, 0], Z])), jnp.asarray(data.y)
fam = F.Poisson()
best = gj.fit(X, y, family=fam)

def trace(solver, steps, **kw):
    theta, path = jnp.zeros(X.shape[1]), []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gj.ConvergenceWarning)
        for _ in range(steps):
            res = gj.fit(X, y, family=fam, solver=solver, init=theta, max_iter=1, **kw)
            theta = res.params
            path.append(float(res.loglik))
    return np.array(path)

fisher = trace("irls", 8)
n_ascent = 100 if SMALL else 1000
ascent = trace("gradient_ascent", n_ascent, learning_rate=0.1)


def gap(path):
    return np.maximum(float(best.loglik) - path, 1e-12)


plt.figure(figsize=(6, 3.5))
plt.semilogy(np.arange(1, 9), gap(fisher), "o-", label="Fisher scoring (IRLS)")
plt.semilogy(np.arange(1, n_ascent + 1), gap(ascent), label="seed's gradient ascent, β = 0.1")
plt.xscale("log")
plt.xlabel("iteration")
plt.ylabel("ℓ(θ̂) − ℓ(θ)")
plt.legend()
plt.title("RAND HIE Poisson GLM")
plt.tight_layout()"""),
    ("md", """Fisher scoring reaches the maximum to rounding error in six iterations; the seed's
gradient ascent needs about 150 here, on standardised features (its step must stay below 2/λ_max of
the information, so directions of small curvature converge slowly). Both use the same
autodiff score. The fitted model, on the original (unstandardised) columns:"""),
    ("code", """res = gj.fit(data.X, data.y, family=fam, feature_names=data.feature_names)
print(res.summary())"""),
]
