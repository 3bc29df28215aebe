"""Autodiff score vs the seed's hand-derived gradient Xᵀ(T(y) − h(X)), every canonical family.

For each family with the canonical link, times (jitted, steady state; the two in turns, 15
rounds: the median of each and the median of the per-round ratio)
  autodiff:  jax.grad(θ ↦ Σ [ηᵢᵀT(yᵢ) − A(ηᵢ)]),  η = Xθ
  by hand:   Xᵀ(T(y) − h(Xθ)) with h the closed-form mean (softmax for Multinomial, with
             θ of shape (p, K)),
checks that they agree (max relative difference) and prints the time ratio.

    python benchmarks/bench_score.py [--rows 1000000] [--cols 100] [--float32]
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np
from _common import interleaved_times, machine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--cols", type=int, default=100)
    parser.add_argument("--float32", action="store_true")
    args = parser.parse_args()
    if not args.float32:
        jax.config.update("jax_enable_x64", True)
    import glmjax as gj
    from glmjax.reference import hand_mean

    dtype = jnp.float32 if args.float32 else jnp.float64
    rng = np.random.default_rng(0)
    X = jnp.asarray(rng.normal(size=(args.rows, args.cols)) / np.sqrt(args.cols), dtype)
    print(f"# score benchmark: {args.rows} x {args.cols}, {jnp.dtype(dtype).name}")
    print(f"# {machine()}")
    print("| family | autodiff (ms) | by hand (ms) | ratio | max rel. difference |")
    print("|---|---|---|---|---|")
    families = [gj.families.Gaussian(), gj.families.Bernoulli(), gj.families.Binomial(10.0),
                gj.families.Poisson(), gj.families.NegativeBinomial(alpha=0.5),
                gj.families.Exponential(), gj.families.Gamma(), gj.families.InverseGaussian(),
                gj.families.Multinomial(n_classes=5)]
    for fam in families:
        shape = (args.cols,) if fam.natural_dim == 0 else (args.cols, fam.natural_dim)
        theta = jnp.asarray(rng.normal(size=shape) * 0.3, dtype)
        if fam.name in ("Exponential", "Gamma", "InverseGaussian", "NegativeBinomial"):
            shift = -1.0 - jnp.max(jnp.abs(X @ theta))  # keep η = Xθ + c < 0
        else:
            shift = 0.0
        eta = X @ theta + shift
        y = fam.sample(jax.random.key(1), eta)

        # X is an argument, as inside gj.fit: a closed-over X is a compile-time constant
        # that XLA may pre-transpose, which would skew the comparison
        @jax.jit
        def autodiff(theta, X, fam=fam, y=y, shift=shift):
            return jax.grad(lambda t: jnp.sum(fam.log_kernel(y, X @ t + shift)))(theta)

        @jax.jit
        def by_hand(theta, X, fam=fam, y=y, shift=shift):
            resid = fam.sufficient_stat(y) - hand_mean(fam)(X @ theta + shift)
            return resid @ X if resid.ndim == 1 else (resid.T @ X).T

        a, h = autodiff(theta, X), by_hand(theta, X)
        diff = float(jnp.max(jnp.abs(a - h)) / jnp.max(jnp.abs(h)))
        medians, ratios = interleaved_times(
            {"by hand": lambda: by_hand(theta, X).block_until_ready(),  # noqa: B023
             "autodiff": lambda: autodiff(theta, X).block_until_ready()},  # noqa: B023
            rounds=15, pause=0.0)
        print(f"| {fam.name} | {medians['autodiff'] * 1e3:.1f} | "
              f"{medians['by hand'] * 1e3:.1f} | {ratios['autodiff']:.2f} | {diff:.1e} |")


if __name__ == "__main__":
    main()
