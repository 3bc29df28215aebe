"""The optax minibatch loop's throughput against the memory-bandwidth bound, CPU.

    python benchmarks/bench_minibatch.py [--rows 1000000] [--cols 100] [--batch 8192]

The bound: a step must read its batch of X at least once, so no loop can beat the rows per
second of one streaming pass over X (measured here as the median time of X @ v, a
read-bound BLAS gemv over the whole matrix). Reports ``fit_minibatch``'s steady-state rows
per second (its own count, compilation excluded) for device-resident arrays and for host
(NumPy) arrays streamed through the prefetch thread, each shuffled by rows, shuffled in blocks
of 64 rows and in order, float32 and float64, with the median over ``--rounds`` rounds of its
ratio to the bound measured right after it (the configurations run in turns); and the rows
per second of the compiled steps alone (batches already stacked on the device), which shows
what reading the batches costs. Issue 3's target: at least half of the bound.
"""

from __future__ import annotations

import argparse

import numpy as np
from _common import machine, median_time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--cols", type=int, default=100)
    parser.add_argument("--batch", type=int, default=8192)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import optax

    import glmjax as gj

    rng = np.random.default_rng(0)
    m, p = args.rows, args.cols
    X64 = np.column_stack([np.ones(m), rng.normal(size=(m, p - 1)) * 0.1])
    y = rng.poisson(np.exp(X64 @ (rng.normal(size=p) * 0.1))).astype(np.float64)
    print(f"**Minibatch Poisson, {m:,} x {p}, batch {args.batch}, adam**\n")
    print(f"Machine and versions: {machine()}\n")
    print("| dtype | data | batches | rows/s | bound rows/s (one pass over X) | ratio |")
    print("|---|---|---|---|---|---|")
    optimizer = optax.adam(1e-2)  # one object: the steps compile once per configuration
    configs = (("device", True, 1), ("device", True, 64), ("device", False, 1),
               ("host", True, 1), ("host", True, 64), ("host", False, 1))
    for dtype in (np.float32, np.float64):
        X = X64.astype(dtype)
        v = np.ones(p, dtype)
        arrays = {"device": (jnp.asarray(X), jnp.asarray(y.astype(dtype))),
                  "host": (X, y.astype(dtype))}
        rates: dict = {c: [] for c in configs}
        bounds: dict = {c: [] for c in configs}
        for _ in range(args.rounds):  # in turns, the bound next to each run: the load varies
            for where, shuffle, block in configs:
                res = gj.fit_minibatch(arrays[where], gj.families.Poisson(),
                                       batch_size=args.batch, n_epochs=args.epochs,
                                       optimizer=optimizer, steps_per_call=32,
                                       shuffle=shuffle, shuffle_block=block, verbose=False)
                rates[where, shuffle, block].append(res.rows_per_second)
                bounds[where, shuffle, block].append(m / median_time(lambda X=X, v=v: X @ v,
                                                                     repeats=5))
        for (where, shuffle, block), rate in rates.items():
            bound = bounds[where, shuffle, block]
            ratio = np.median(np.divide(rate, bound))
            order = ("in order" if not shuffle else "shuffled rows" if block == 1
                     else f"shuffled blocks of {block} rows")
            print(f"| {np.dtype(dtype).name} | {where} | {order} | {np.median(rate):,.0f} | "
                  f"{np.median(bound):,.0f} | {ratio:.2f} |")
        bound = m / median_time(lambda X=X, v=v: X @ v)
        steps = _steps_only(X, y.astype(dtype), args.batch)
        print(f"| {np.dtype(dtype).name} | device | the compiled steps alone | {steps:,.0f} | "
              f"{bound:,.0f} | {steps / bound:.2f} |")


def _steps_only(X, y, batch: int, n_steps: int = 32) -> float:
    """Rows/s of the loop's compiled program alone (32 Adam steps over batches already on the
    device): what the loop costs beyond gathering the batches."""
    import jax.numpy as jnp
    import optax

    import glmjax as gj
    from glmjax import _training as training

    family = gj.families.Poisson()
    param = family.parametrization(None)
    rows = n_steps * batch
    group = (jnp.asarray(X[:rows].reshape(n_steps, batch, -1)),
             jnp.asarray(y[:rows].reshape(n_steps, batch)),
             jnp.ones((n_steps, batch), X.dtype), jnp.zeros((n_steps, batch), X.dtype))
    optimizer = optax.adam(1e-2)
    params = jnp.zeros(X.shape[1], X.dtype)
    state = optimizer.init(params)
    mask, l2 = jnp.ones(X.shape[1], X.dtype), jnp.zeros((), X.dtype)
    def run():
        return training._run_steps(optimizer, family, param, params, state, group, l2, mask,
                                   float(batch))[2].block_until_ready()

    run()  # compiles
    return rows / median_time(run)


if __name__ == "__main__":
    main()
