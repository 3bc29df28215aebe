"""Many small fits: 1,000 independent logistic regressions of 500 × 10, float64, CPU.

    python benchmarks/bench_many.py [--fits 1000] [--rows 500] [--cols 10]
                                    [--chunk-sizes 1 4 16 64 250]

glmjax fits them all in one vmapped program (``gj.fit_many``, stacked X and y); statsmodels
loops over them. Reports the first call (compilation included), the steady state (median of
3) and the largest coefficient difference. With ``--chunk-sizes``, also the steady state of
``fit_many`` at each ``chunk_size`` (run in turns, 7 rounds): small chunks keep a chunk's
data in the cache for all of its IRLS iterations, large ones share each kernel launch among
more fits.
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

    rng = np.random.default_rng(0)
    B, m, p = args.fits, args.rows, args.cols
    X, y = logistic_batches(rng, B, m, p)
    Xj, yj = jax.device_put(X), jax.device_put(y)
    fam = gj.families.Bernoulli()

    start = time.perf_counter()
    res = gj.fit_many(Xj, yj, family=fam)
    res.params.block_until_ready()
    first = time.perf_counter() - start
    steady = median_time(lambda: gj.fit_many(Xj, yj, family=fam).params.block_until_ready(), 3)

    def loop():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return [sm.GLM(y[b], X[b], family=sm.families.Binomial()).fit(tol=1e-10).params
                    for b in range(B)]

    start = time.perf_counter()
    ref = np.array(loop())
    t_sm = time.perf_counter() - start
    diff = float(np.abs(np.asarray(res.coef) - ref).max())
    print(f"# {B} logistic fits of {m} x {p}, float64")
    print(f"# {machine()}")
    print("| method | time (s) | speed-up over the statsmodels loop |")
    print("|---|---|---|")
    print(f"| glmjax fit_many, first call (compilation included) | {first:.3f} | "
          f"{t_sm / first:.0f}x |")
    print(f"| glmjax fit_many, steady state | {steady:.3f} | {t_sm / steady:.0f}x |")
    print(f"| statsmodels GLM, Python loop | {t_sm:.3f} | 1x |")
    print(f"all converged: {bool(np.all(np.asarray(res.converged)))}; "
          f"max abs coefficient difference: {diff:.1e}")
    if args.chunk_sizes:
        runs = {size: lambda size=size: gj.fit_many(Xj, yj, family=fam, chunk_size=size)
                .params.block_until_ready() for size in args.chunk_sizes}
        for run in runs.values():
            run()  # compiles
        medians, _ = interleaved_times(runs, pause=0.0)
        print("\n| chunk_size | steady state (s), median of 7 in turns |\n|---|---|")
        for size, seconds in medians.items():
            print(f"| {size} | {seconds:.3f} |")


if __name__ == "__main__":
    main()
