"""Scaling curves, float64, CPU: fit time against rows, against features and against the
number of fits, plotted in one PNG of three panels (``benchmarks/scaling.png`` unless
``--out`` says otherwise).

    python benchmarks/bench_scaling.py [--quick] [--out scaling.png]

Each point is the median of 3 steady-state runs (compilation excluded; one compile per
shape). Rows and features: Poisson IRLS, glmjax against glum and scikit-learn. Fits:
``gj.fit_many`` over B logistic fits of 500 × 10 against a statsmodels loop.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
from _common import logistic_batches, machine, median_time

HERE = Path(__file__).parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, smaller points")
    parser.add_argument("--out", type=Path, default=HERE / "scaling.png")
    args = parser.parse_args()

    import jax

    jax.config.update("jax_enable_x64", True)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import statsmodels.api as sm
    from glum import GeneralizedLinearRegressor
    from sklearn.linear_model import PoissonRegressor

    import glmjax as gj

    rng = np.random.default_rng(0)

    def poisson_data(m, p):
        X = np.column_stack([np.ones(m), rng.normal(size=(m, p - 1)) * 0.3])
        y = rng.poisson(np.exp(X @ (rng.normal(size=p) * 0.2))).astype(float)
        return X, y

    def single_fit_times(m, p):
        X, y = poisson_data(m, p)
        Xj, yj = jax.device_put(X), jax.device_put(y)
        fam = gj.families.Poisson()
        gj.fit(Xj, yj, fam).params.block_until_ready()
        glum_model = GeneralizedLinearRegressor(family="poisson", alpha=0, fit_intercept=False)
        sk = PoissonRegressor(alpha=0, fit_intercept=False, solver="newton-cholesky")
        return (median_time(lambda: gj.fit(Xj, yj, fam).params.block_until_ready(), 3),
                median_time(lambda: glum_model.fit(X, y), 3),
                median_time(lambda: sk.fit(X, y), 3))

    rows = [1_000, 10_000, 100_000] if args.quick else [1_000, 10_000, 100_000, 400_000]
    cols = [5, 20, 50] if args.quick else [5, 20, 50, 100, 200]
    fits = [10, 100, 300] if args.quick else [10, 100, 300, 1000]
    labels = ("glmjax", "glum", "scikit-learn")
    by_rows = np.array([single_fit_times(m, 20) for m in rows])
    by_cols = np.array([single_fit_times(50_000, p) for p in cols])

    def many_times(B, m=500, p=10):
        X, y = logistic_batches(rng, B, m, p)
        Xj, yj = jax.device_put(X), jax.device_put(y)
        fam = gj.families.Bernoulli()
        gj.fit_many(Xj, yj, fam).params.block_until_ready()

        def loop():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for b in range(B):
                    sm.GLM(y[b], X[b], family=sm.families.Binomial()).fit()

        return (median_time(lambda: gj.fit_many(Xj, yj, fam).params.block_until_ready(), 3),
                median_time(loop, 1))

    by_fits = np.array([many_times(B) for B in fits])

    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for ax, xs, times, names, xlabel, title in (
        (axes[0], rows, by_rows, labels, "rows (20 features)", "Poisson fit vs rows"),
        (axes[1], cols, by_cols, labels, "features (50,000 rows)", "Poisson fit vs features"),
        (axes[2], fits, by_fits, ("glmjax fit_many", "statsmodels loop"),
         "number of logistic fits (500 x 10)", "many fits"),
    ):
        for j, name in enumerate(names):
            ax.loglog(xs, times[:, j], "o-", label=name)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("seconds (median, steady state)")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.suptitle(machine(), fontsize=7)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"Machine and versions: {machine()}\n")
    for name, xs, times, heads in (("rows", rows, by_rows, labels),
                                   ("features", cols, by_cols, labels),
                                   ("fits", fits, by_fits, ("fit_many", "statsmodels loop"))):
        print(f"| {name} | " + " | ".join(f"{h} (s)" for h in heads) + " |")
        print("|---" * (len(heads) + 1) + "|")
        for x, t in zip(xs, times, strict=True):
            print(f"| {x:,} | " + " | ".join(f"{v:.4f}" for v in t) + " |")
        print()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
