"""The optax minibatch loop's throughput against the memory-bandwidth bound, CPU.

    python benchmarks/bench_minibatch.py [--rows 1000000] [--cols 100] [--batch 8192]

The bound: a step must read its batch of X at least once, so no loop can beat the rows per
second of one streaming pass over X (measured here as the median time of X @ v, a
read-bound BLAS gemv over the whole matrix). Reports ``fit_minibatch``'s steady-state rows
per second (its own count, compilation excluded) for device-resident arrays, shuffled and in
order, and for host (NumPy) arrays streamed through the prefetch thread, float32 and float64,
and the ratio to the bound; and the rows per second of the compiled steps alone (batches
already on the device), which shows what gathering the batches costs. Issue 3's target: at
least half of the bound.
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
    for dtype in (np.float32, np.float64):
        X = X64.astype(dtype)
        v = np.ones(p, dtype)
        bound = m / median_time(lambda X=X, v=v: X @ v)
        for where, shuffle in (("device", True), ("device", False), ("host", True)):
            data = (jnp.asarray(X), jnp.asarray(y.astype(dtype))) if where == "device" else \
                (X, y.astype(dtype))
            res = gj.fit_minibatch(data, gj.families.Poisson(), batch_size=args.batch,
                                   n_epochs=args.epochs, optimizer=optax.adam(1e-2),
                                   steps_per_call=32, shuffle=shuffle, verbose=False)
            rate = res.rows_per_second
            order = "shuffled" if shuffle else "in order"
            print(f"| {np.dtype(dtype).name} | {where} | {order} | {rate:,.0f} | {bound:,.0f} | "
                  f"{rate / bound:.2f} |")
        steps = _steps_only(X, y.astype(dtype), args.batch)
        print(f"| {np.dtype(dtype).name} | device | the compiled steps alone | {steps:,.0f} | "
              f"{bound:,.0f} | {steps / bound:.2f} |")


def _steps_only(X, y, batch: int, n_steps: int = 32) -> float:
    """Rows/s of the loop's compiled program alone (32 Adam steps over batches already on the
    device): what the loop costs beyond gathering the batches."""
    import jax.numpy as jnp
    import optax

    import glmjax as gj
    from glmjax import parametrizations, training

    family = gj.families.Poisson()
    param = parametrizations.resolve(family, None)
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
