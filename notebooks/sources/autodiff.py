"""Notebook 4: autodiff against hand-derived gradients (cells for ``build.py``)."""

# ruff: noqa: E501

CELLS = [
    ("md", """# Benchmarking autodiff against hand-derived gradients

The seed derives, family by family, the gradient of the log-likelihood of a canonical GLM,
∇ℓ(θ) = Xᵀ(T(y) − h(Xθ)), with h(η) = ∂A/∂η worked out by hand. glmjax writes only A(η) and
lets `jax.grad` differentiate ℓ(θ) = Σ [ηᵢᵀT(yᵢ) − A(ηᵢ)] directly. Does that cost anything?
Here both are jitted and timed, for every canonical family, and compared entry by entry.
The hand-derived side is written as rᵀX (r = T(y) − h(Xθ)): with X a run-time argument that
is XLA's fast form on the CPU (Xᵀr first copies a transposed X).
(`benchmarks/bench_score.py` runs the same comparison at 10⁶ × 100.)"""),
    ("code", """import os
import statistics
import time

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

import glmjax as gj
from glmjax.reference import hand_mean

jax.config.update("jax_enable_x64", True)
SMALL = os.environ.get("GLMJAX_NOTEBOOK_SMALL") == "1"
F = gj.families
m, p = (20_000, 20) if SMALL else (500_000, 100)
rng = np.random.default_rng(0)
X = jnp.asarray(rng.normal(size=(m, p)) / np.sqrt(p))


def median_time(fn, repeats=7):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)"""),
    ("code", """families = [F.Gaussian(), F.Bernoulli(), F.Binomial(n_trials=10.0), F.Poisson(),
            F.NegativeBinomial(alpha=0.5), F.Exponential(), F.Gamma(), F.InverseGaussian(),
            F.Multinomial(n_classes=5)]
rows = []
for fam in families:
    shape = (p,) if fam.natural_dim == 0 else (p, fam.natural_dim)
    theta = jnp.asarray(rng.normal(size=shape) * 0.3)
    negative = fam.name in ("Exponential", "Gamma", "InverseGaussian", "NegativeBinomial")
    shift = -1.0 - float(jnp.max(jnp.abs(X @ theta))) if negative else 0.0  # η inside the domain
    y = fam.sample(jax.random.key(1), X @ theta + shift)

    # X is an argument, as inside gj.fit (a closed-over X would be a compile-time constant,
    # which lets XLA pre-transpose it and skews the comparison)
    def loglik(t, X, fam=fam, y=y, shift=shift):
        return jnp.sum(fam.log_kernel(y, X @ t + shift))

    autodiff = jax.jit(jax.grad(loglik))
    by_hand = jax.jit(lambda t, X, fam=fam, y=y, shift=shift:
                      (fam.sufficient_stat(y) - hand_mean(fam)(X @ t + shift)).T @ X)
    a, h = autodiff(theta, X), by_hand(theta, X).T
    rows.append((fam.name,
                 1e3 * median_time(lambda: autodiff(theta, X).block_until_ready()),  # noqa: B023
                 1e3 * median_time(lambda: by_hand(theta, X).block_until_ready()),  # noqa: B023
                 float(jnp.max(jnp.abs(a - h)) / jnp.max(jnp.abs(h)))))

print(f"{'family':18s}{'autodiff ms':>12s}{'by hand ms':>12s}{'ratio':>8s}{'rel. diff':>11s}")
for name, ta, th, diff in rows:
    print(f"{name:18s}{ta:12.2f}{th:12.2f}{ta / th:8.2f}{diff:11.1e}")"""),
    ("code", """names = [r[0] for r in rows]
ratios = [r[1] / r[2] for r in rows]
fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
axes[0].bar(names, ratios)
axes[0].axhline(1.0, color="k", lw=1)
axes[0].axhline(1.1, color="r", ls="--", lw=1, label="issue 3's limit, 1.1")
axes[0].set_ylabel("time autodiff / time by hand")
axes[0].set_title(f"Score at {m:,} x {p}")
axes[0].tick_params(axis="x", rotation=45)
axes[0].legend()
axes[1].bar(names, [max(r[3], 1e-17) for r in rows])
axes[1].set_yscale("log")
axes[1].set_ylabel("max relative difference")
axes[1].set_title("Agreement")
axes[1].tick_params(axis="x", rotation=45)
plt.tight_layout()"""),
    ("md", """The ratios scatter around 1 and the two agree to rounding: the autodiff gradient is one pass
for Xθ and one for rᵀX, like the formula written by hand, so deriving the mean from A costs
nothing at run time. (This notebook was executed on a shared 2-core machine where single
timings vary by tens of percent; `benchmarks/bench_score.py` and `benchmarks/RESULTS.md` hold
the repeated measurement.)

## How time grows with the rows

For the Poisson family, both versions against m; each is one pass of X·θ and one of Xᵀr."""),
    ("code", """sizes = [1_000, 5_000, 20_000] if SMALL else [10_000, 50_000, 200_000, 500_000]
fam = F.Poisson()
theta = jnp.asarray(rng.normal(size=p) * 0.3)
curves = {"autodiff": [], "by hand": []}
for n in sizes:
    Xn = X[:n]
    yn = fam.sample(jax.random.key(2), Xn @ theta)
    auto = jax.jit(jax.grad(lambda t, Xn, yn: jnp.sum(fam.log_kernel(yn, Xn @ t))))
    hand = jax.jit(lambda t, Xn, yn: (yn - jnp.exp(Xn @ t)) @ Xn)
    for name, f in (("autodiff", auto), ("by hand", hand)):
        f(theta, Xn, yn).block_until_ready()
        curves[name].append(1e3 * median_time(
            lambda f=f, Xn=Xn, yn=yn: f(theta, Xn, yn).block_until_ready()))
plt.figure(figsize=(5, 3.5))
for name, t in curves.items():
    plt.loglog(sizes, t, "o-", label=name)
plt.xlabel("rows")
plt.ylabel("ms (median)")
plt.title("Poisson score")
plt.legend()
plt.tight_layout()"""),
]
