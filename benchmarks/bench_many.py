"""Many small fits: 1,000 independent logistic regressions of 500 × 10, float64, CPU.

    python benchmarks/bench_many.py [--fits 1000] [--rows 500] [--cols 10]
                                    [--chunk-sizes 1 4 16 64 250]

glmjax fits them all in one vmapped program (``gj.fit_many``); statsmodels loops over them.
Two designs: one X shared by every fit (y of shape (B, m); the information of all fits is
one matrix product with X's row outer products), and a stack of B designs (X of shape
(B, m, p)). Reports the first call (compilation included), the steady state (median of 3),
the largest coefficient difference, and the machine's floor for the shared design: the
IRLS evaluations times one BLAS product of the (B, m) weights with the (m, p(p+1)/2) outer
products. With ``--chunk-sizes``, also the steady state of ``fit_many`` on the stacked designs
at each ``chunk_size`` (run in turns, 7 rounds).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from _common import interleaved_times, logistic_batches, machine, median_time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fits", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument("--cols", type=int, default=10)
    parser.add_argument("--chunk-sizes", type=int, nargs="*", default=[])
    args = parser.parse_args()

    import jax

    jax.config.update("jax_enable_x64", True)
    import statsmodels.api as sm

    import glmjax as gj

    B, m, p = args.fits, args.rows, args.cols
    fam = gj.families.Bernoulli()
    print(f"# {B} logistic fits of {m} x {p}, float64")
    print(f"# {machine()}")
    print("| design | method | time (s) | speed-up over the statsmodels loop |")
    print("|---|---|---|---|")
    notes = [one_design(gj, sm, fam, B, m, p, shared) for shared in (True, False)]
    print("\n" + "\n\n".join(notes))
    if args.chunk_sizes:
        X, y = logistic_batches(np.random.default_rng(0), B, m, p)
        Xj, yj = jax.device_put(X), jax.device_put(y)
        runs = {size: lambda size=size: gj.fit_many(Xj, yj, family=fam, chunk_size=size)
                .params.block_until_ready() for size in args.chunk_sizes}
        for run in runs.values():
            run()  # compiles
        medians, _ = interleaved_times(runs, pause=0.0)
        print("\n| chunk_size (stacked X) | steady state (s), median of 7 in turns |\n|---|---|")
        for size, seconds in medians.items():
            print(f"| {size} | {seconds:.3f} |")


def one_design(gj, sm, fam, B: int, m: int, p: int, shared: bool) -> str:
    """Print the table rows of one design (and the floor for a shared X); return its note."""
    import jax

    X, y = logistic_batches(np.random.default_rng(0), B, m, p, shared_x=shared)
    Xj, yj = jax.device_put(X), jax.device_put(y)
    start = time.perf_counter()
    res = gj.fit_many(Xj, yj, family=fam)
    res.params.block_until_ready()
    first = time.perf_counter() - start
    steady = median_time(lambda: gj.fit_many(Xj, yj, family=fam).params.block_until_ready(), 3)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = np.array([sm.GLM(y[b], X if shared else X[b], family=sm.families.Binomial())
                        .fit(tol=1e-10).params for b in range(B)])
    t_sm = time.perf_counter() - start
    design = "one X shared" if shared else "B stacked X"
    print(f"| {design} | glmjax fit_many, first call (compilation included) | {first:.3f} | "
          f"{t_sm / first:.0f}x |")
    print(f"| {design} | glmjax fit_many, steady state | {steady:.3f} | {t_sm / steady:.0f}x |")
    print(f"| {design} | statsmodels GLM, Python loop | {t_sm:.3f} | 1x |")
    if shared:
        j, k = np.triu_indices(p)
        outer, weights = X[:, j] * X[:, k], np.random.default_rng(1).uniform(size=(B, m))
        product = median_time(lambda: weights @ outer, 7)
        evaluations = int(np.max(res.n_iter)) + 2  # the start, each step, the last check
        print(f"| {design} | floor: {evaluations} information products (B, m) @ (m, {j.size}), "
              f"NumPy BLAS, {product * 1e3:.2f} ms each | {evaluations * product:.3f} | |")
    diff = float(np.abs(np.asarray(res.coef) - ref).max())
    return (f"{design}: all converged: {bool(np.all(np.asarray(res.converged)))}; "
            f"max abs coefficient difference from statsmodels: {diff:.1e}")


if __name__ == "__main__":
    main()
