"""The accelerator benchmark: the same fits on whatever device JAX finds, float32 and float64.

    python benchmarks/bench_gpu.py [--rows 2000000] [--cols 100] [--out results.json]

Runs unchanged on a CUDA machine (``pip install -U "jax[cuda13]"``, or cuda12) and on the
CPU (an NVIDIA H200's run is in CHANGELOG.md). Records the device, the versions
and, per dtype: a Poisson and a logistic IRLS fit (first call and steady state; the float32
fits' distance from the float64 ones, and a float32 Poisson fit with full-precision matrix
products), 1,000 logistic fits of 500 × 10 through ``fit_many`` beside a statsmodels loop
over them on the host's CPU (when statsmodels is installed), the autodiff score against the
hand-derived Xᵀ(y − μ), and the minibatch loop's rows per second against the bound of one
streaming pass over X. Prints a Markdown table and writes the numbers as JSON.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from _common import machine, median_time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--cols", type=int, default=100)
    parser.add_argument("--out", default="bench_gpu_results.json")
    args = parser.parse_args()

    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    import glmjax as gj

    device = jax.devices()[0]
    m, p = args.rows, args.cols
    rng = np.random.default_rng(0)
    X64 = np.column_stack([np.ones(m), rng.normal(size=(m, p - 1)) * 0.1])
    eta = X64 @ (rng.normal(size=p) * 0.2)
    counts = rng.poisson(np.exp(eta)).astype(float)
    binary = (rng.uniform(size=m) < 1 / (1 + np.exp(-eta))).astype(float)
    B, mb, pb = 1000, 500, 10
    Xb = np.concatenate([np.ones((B, mb, 1)), rng.normal(size=(B, mb, pb - 1))], axis=2)
    yb = (rng.uniform(size=(B, mb)) < 0.5).astype(float)

    results = {"device": str(device), "device_kind": device.device_kind, "machine": machine(),
               "rows": m, "cols": p, "numbers": {}}
    params = {}
    for dtype in (jnp.float32, jnp.float64):
        name = jnp.dtype(dtype).name
        results["numbers"][name], params[name] = measure(gj, dtype, X64, counts, binary, Xb, yb)
    seconds = statsmodels_loop(Xb, yb)  # on the host's CPU, side by side with fit_many
    for name in ("float32", "float64"):
        numbers = results["numbers"][name]
        numbers["statsmodels loop over the 1000 fits (s)"] = seconds
        numbers["1000 logistic fits: speed-up over statsmodels"] = (
            seconds / numbers["1000 logistic fits (s)"])
    for label, theta32 in params["float32"].items():  # float32's error, against float64's fit
        gap = np.max(np.abs(theta32 - params["float64"][label.split(",")[0]]))
        results["numbers"]["float32"][f"{label}: max abs(θ32 − θ64)"] = float(gap)
        results["numbers"]["float64"][f"{label}: max abs(θ32 − θ64)"] = float("nan")

    print(f"**glmjax on {device.device_kind} ({device.platform}), {m:,} x {p}**\n")
    print(f"Machine and versions: {machine()}\n")
    print("| measure | float32 | float64 |\n|---|---|---|")
    for key in results["numbers"]["float32"]:
        print(f"| {key} | " + " | ".join(f"{results['numbers'][d][key]:.4g}"
                                          for d in ("float32", "float64")) + " |")
    with open(args.out, "w") as fh:
        json.dump(results, fh, indent=2)
    print(f"\nwrote {args.out}")


def statsmodels_loop(Xb, yb) -> float:
    """Seconds for statsmodels to fit the stacked logistic fits one by one (NaN when it is
    not installed)."""
    try:
        import statsmodels.api as sm
    except ImportError:
        return float("nan")
    import warnings

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for X, y in zip(Xb, yb, strict=True):
            sm.GLM(y, X, family=sm.families.Binomial()).fit(tol=1e-10)
    return time.perf_counter() - start


def measure(gj, dtype, X64, counts, binary, Xb, yb) -> tuple[dict, dict]:
    """Every timing for one dtype, and the fitted coefficients (as NumPy) by fit."""
    import jax
    import jax.numpy as jnp
    import optax

    X = jax.device_put(X64.astype(dtype))
    numbers, params = {}, {}
    counts_j = jax.device_put(counts.astype(dtype))
    for label, family, yj in (("poisson", gj.families.Poisson(), counts_j),
                              ("logistic", gj.families.Bernoulli(),
                               jax.device_put(binary.astype(dtype)))):

        def run(yj=yj, family=family):
            return jax.block_until_ready(gj.fit(X, yj, family))

        start = time.perf_counter()
        res = run()
        numbers[f"{label} fit first call (s)"] = time.perf_counter() - start
        numbers[f"{label} fit steady (s)"] = median_time(run, 5)
        numbers[f"{label} fit iterations"] = int(res.n_iter)
        numbers[f"{label} fit converged"] = bool(res.converged)
        params[label] = np.asarray(res.params, float)
    # On a GPU, JAX's default precision may multiply float32 matrices in TF32 (10 mantissa
    # bits); "highest" asks for full float32 products.
    with jax.default_matmul_precision("highest"):
        res = jax.block_until_ready(gj.fit(X, counts_j, gj.families.Poisson()))
        numbers["poisson fit, highest matmul precision, steady (s)"] = median_time(
            lambda: jax.block_until_ready(gj.fit(X, counts_j, gj.families.Poisson())), 5)
        params["poisson, highest matmul precision"] = np.asarray(res.params, float)
    Xbj, ybj = jax.device_put(Xb.astype(dtype)), jax.device_put(yb.astype(dtype))

    def many():
        return gj.fit_many(Xbj, ybj, gj.families.Bernoulli()).params.block_until_ready()

    start = time.perf_counter()
    many()
    numbers["1000 logistic fits, first call (s)"] = time.perf_counter() - start
    numbers["1000 logistic fits (s)"] = median_time(many, 3)
    theta = jnp.zeros(X.shape[1], dtype)
    auto = jax.jit(jax.grad(lambda t: jnp.sum(counts_j * (X @ t) - jnp.exp(X @ t))))
    hand = jax.jit(lambda t: X.T @ (counts_j - jnp.exp(X @ t)))
    for name, score in (("autodiff", auto), ("hand-derived", hand)):
        score(theta).block_until_ready()
        numbers[f"score {name} (ms)"] = 1e3 * median_time(
            lambda score=score: score(theta).block_until_ready())
    numbers["score autodiff / hand-derived"] = (numbers["score autodiff (ms)"]
                                                / numbers["score hand-derived (ms)"])
    res = gj.fit_minibatch((X, counts_j), gj.families.Poisson(), batch_size=65536, n_epochs=3,
                           optimizer=optax.adam(1e-2), verbose=False)
    numbers["minibatch rows/s"] = res.rows_per_second
    # the bound: no step can beat one streaming pass over its rows of X
    v = jnp.ones(X.shape[1], dtype)
    one_pass = jax.jit(lambda X, v: X @ v)
    one_pass(X, v).block_until_ready()
    bound = X.shape[0] / median_time(lambda: one_pass(X, v).block_until_ready())
    numbers["bound rows/s (one pass over X)"] = bound
    numbers["minibatch / bound"] = res.rows_per_second / bound
    return numbers, params


if __name__ == "__main__":
    main()
