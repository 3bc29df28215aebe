"""Dense GLM fits on the CPU: glmjax beside glmax, glum, statsmodels and scikit-learn.

    python benchmarks/bench_fit.py [--family poisson|logistic] [--rows 200000] [--cols 50]

Float64. For glmjax: the first call in a fresh Python process (tracing and XLA compilation
included, the persistent compilation cache off). Steady state: 7 rounds in which glmjax and
every other library fit once each, in turn; the table gives each one's median time and the
median over the rounds of its time over glmjax's in the same round (the machine's changing
load then slows all alike). statsmodels (~5 s a fit) runs 3 times after the rounds. All solve
the same unpenalised maximum-likelihood problem to tight tolerances; the table reports each
one's largest coefficient difference from glmjax.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
from _common import interleaved_times, machine, median_time

SETUP = """
import numpy as np
rng = np.random.default_rng(0)
X = np.column_stack([np.ones({rows}), rng.normal(size=({rows}, {cols} - 1)) / np.sqrt({cols})])
beta = rng.normal(size={cols}) * 0.5
eta = X @ beta
y = (rng.poisson(np.exp(eta)) if "{family}" == "poisson"
     else (rng.uniform(size={rows}) < 1 / (1 + np.exp(-eta)))).astype(float)
"""

FIRST_CALL = """
import time, jax
jax.config.update("jax_enable_x64", True)
jax.config.update("jax_enable_compilation_cache", False)
import glmjax as gj
fam = gj.families.Poisson() if "{family}" == "poisson" else gj.families.Bernoulli()
start = time.perf_counter()
res = gj.fit(X, y, family=fam)
res.params.block_until_ready()
print(time.perf_counter() - start)
"""


def first_call_seconds(args) -> float:
    code = textwrap.dedent(SETUP + FIRST_CALL).format(**vars(args))
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", choices=["poisson", "logistic"], default="poisson")
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--cols", type=int, default=50)
    parser.add_argument("--skip", nargs="*", default=[], help="libraries to leave out")
    args = parser.parse_args()

    import jax

    jax.config.update("jax_enable_x64", True)
    import glmjax as gj

    namespace: dict = {}
    exec(textwrap.dedent(SETUP).format(**vars(args)), namespace)
    X, y = namespace["X"], namespace["y"]
    poisson = args.family == "poisson"

    first = [first_call_seconds(args) for _ in range(3)]
    fam = gj.families.Poisson() if poisson else gj.families.Bernoulli()
    Xj, yj = jax.device_put(X), jax.device_put(y)
    ref = gj.fit(Xj, yj, family=fam)
    coef = np.asarray(ref.coef)

    def done(coef, n_iter):  # waits for JAX's asynchronous result
        return jax.block_until_ready((np.asarray(coef), np.asarray(n_iter)))

    def glmjax_fit(X, y):
        r = gj.fit(X, y, family=fam)
        return done(r.coef, r.n_iter)

    # name -> a fit returning (coefficients, iterations) once it has finished
    fits = {"glmjax (IRLS), device arrays": lambda: glmjax_fit(Xj, yj),
            "glmjax (IRLS), numpy arrays": lambda: glmjax_fit(X, y)}
    if "glmax" not in args.skip:
        import glmax

        fam_gx = glmax.Poisson() if poisson else glmax.Binomial()

        def glmax_fit():
            g = glmax.fit(fam_gx, Xj, yj)
            return done(g.beta, g.num_iters)

        fits["glmax (JAX, IRLS), device arrays"] = glmax_fit
    if "glum" not in args.skip:
        from glum import GeneralizedLinearRegressor

        def glum_fit():
            g = GeneralizedLinearRegressor(
                family="poisson" if poisson else "binomial", alpha=0, fit_intercept=False,
                gradient_tol=1e-10).fit(X, y)
            return g.coef_, g.n_iter_

        fits["glum"] = glum_fit
    if "sklearn" not in args.skip:
        from sklearn.linear_model import LogisticRegression, PoissonRegressor

        def sk_fit():
            if poisson:
                s = PoissonRegressor(alpha=0, fit_intercept=False, solver="newton-cholesky",
                                     tol=1e-10, max_iter=1000).fit(X, y)
            else:
                s = LogisticRegression(C=np.inf, fit_intercept=False,
                                       solver="newton-cholesky", tol=1e-10).fit(X, y)
            return s.coef_, np.max(s.n_iter_)

        fits["scikit-learn (newton-cholesky)"] = sk_fit

    outputs = {name: fit() for name, fit in fits.items()}  # also compiles glmax's program
    medians, ratios = interleaved_times(fits)
    rows = [(name, medians[name], ratios[name], float(np.abs(np.ravel(c) - coef).max()), int(n))
            for name, (c, n) in outputs.items()]
    if "statsmodels" not in args.skip:  # ~5 s a fit: 3 fits, after the others
        import statsmodels.api as sm

        fam_sm = sm.families.Poisson() if poisson else sm.families.Binomial()

        def sm_fit():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return sm.GLM(y, X, family=fam_sm).fit(tol=1e-10)

        r = sm_fit()
        t = median_time(sm_fit, 3)
        rows.append(("statsmodels (IRLS), run after the others", t, t / rows[0][1],
                     np.abs(r.params - coef).max(), r.fit_history["iteration"]))

    print(f"# {args.family} fit, {args.rows} x {args.cols}, float64")
    print(f"# {machine()}")
    print("glmjax first call in a fresh process (compilation included), 3 runs: "
          + ", ".join(f"{t:.2f} s" for t in first) + f"; median {np.median(first):.2f} s")
    print("| library | steady-state fit (s), median | time / glmjax's in the same round, "
          "median | iterations | max abs coef difference |")
    print("|---|---|---|---|---|")
    for name, t, ratio, diff, n in rows:
        print(f"| {name} | {t:.3f} | {ratio:.2f} | {n} | {diff:.1e} |")
    # the machine's floor: the fit's information products XᵀWX, each at best one BLAS syrk
    # of X (NumPy's Xᵀ·X is dsyrk): the start's, and one per IRLS evaluation (the start's
    # point and each accepted step, none halved here)
    syrk = median_time(lambda: X.T @ X, 7)
    products = int(outputs["glmjax (IRLS), device arrays"][1]) + 2
    print(f"floor: {products} information products × one dsyrk of X ({syrk * 1e3:.1f} ms) = "
          f"{products * syrk:.3f} s; glmjax's fit = {rows[0][1] / (products * syrk):.2f}× it")

if __name__ == "__main__":
    main()
