"""Dense GLM fits on the CPU: glmjax beside glmax, glum, statsmodels and scikit-learn.

    python benchmarks/bench_fit.py [--family poisson|logistic] [--rows 200000] [--cols 50]

Float64. For glmjax: the first call in a fresh Python process (tracing and XLA compilation
included, the persistent compilation cache off), then the steady state (median of 7 calls with
the same shapes). For the others: the median of 3 fits. All solve the same unpenalised
maximum-likelihood problem to tight tolerances; the table reports each one's largest
coefficient difference from glmjax.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
from _common import machine, median_time

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
    rows = []

    first = [first_call_seconds(args) for _ in range(3)]
    fam = gj.families.Poisson() if poisson else gj.families.Bernoulli()
    Xj, yj = jax.device_put(X), jax.device_put(y)
    ref = gj.fit(Xj, yj, family=fam)
    steady = median_time(lambda: gj.fit(Xj, yj, family=fam).params.block_until_ready())
    steady_np = median_time(lambda: gj.fit(X, y, family=fam).params.block_until_ready())
    coef = np.asarray(ref.coef)
    rows.append(("glmjax (IRLS), device arrays", steady, 0.0, int(ref.n_iter)))
    rows.append(("glmjax (IRLS), numpy arrays", steady_np, 0.0, int(ref.n_iter)))

    if "glmax" not in args.skip:
        import glmax

        fam_gx = glmax.Poisson() if poisson else glmax.Binomial()
        g = glmax.fit(fam_gx, Xj, yj)
        t = median_time(lambda: glmax.fit(fam_gx, Xj, yj).beta.block_until_ready())
        rows.append(("glmax (JAX, IRLS), device arrays", t,
                     np.abs(np.asarray(g.beta) - coef).max(), int(g.num_iters)))
    if "glum" not in args.skip:
        from glum import GeneralizedLinearRegressor

        def glum_fit():
            return GeneralizedLinearRegressor(
                family="poisson" if poisson else "binomial", alpha=0, fit_intercept=False,
                gradient_tol=1e-10).fit(X, y)

        g = glum_fit()
        rows.append(("glum", median_time(glum_fit, 3), np.abs(g.coef_ - coef).max(), g.n_iter_))
    if "sklearn" not in args.skip:
        from sklearn.linear_model import LogisticRegression, PoissonRegressor

        def sk_fit():
            if poisson:
                return PoissonRegressor(alpha=0, fit_intercept=False, solver="newton-cholesky",
                                        tol=1e-10, max_iter=1000).fit(X, y)
            return LogisticRegression(penalty=None, fit_intercept=False,
                                      solver="newton-cholesky", tol=1e-10).fit(X, y)

        s = sk_fit()
        rows.append(("scikit-learn (newton-cholesky)", median_time(sk_fit, 3),
                     np.abs(np.ravel(s.coef_) - coef).max(), int(np.max(s.n_iter_))))
    if "statsmodels" not in args.skip:
        import statsmodels.api as sm

        fam_sm = sm.families.Poisson() if poisson else sm.families.Binomial()

        def sm_fit():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return sm.GLM(y, X, family=fam_sm).fit(tol=1e-10)

        r = sm_fit()
        rows.append(("statsmodels (IRLS)", median_time(sm_fit, 3),
                     np.abs(r.params - coef).max(), r.fit_history["iteration"]))

    print(f"# {args.family} fit, {args.rows} x {args.cols}, float64")
    print(f"# {machine()}")
    print("glmjax first call in a fresh process (compilation included), 3 runs: "
          + ", ".join(f"{t:.2f} s" for t in first) + f"; median {np.median(first):.2f} s")
    print("| library | steady-state fit (s) | vs glmjax (device arrays) | iterations "
          "| max abs coef difference |")
    print("|---|---|---|---|---|")
    for name, t, diff, n in rows:
        print(f"| {name} | {t:.3f} | {t / rows[0][1]:.2f}x | {n} | {diff:.1e} |")


if __name__ == "__main__":
    main()
