"""How close float32 IRLS fits come to float64 ones, at the default tolerance and tighter.

    python benchmarks/float32_accuracy.py [--rows 2000 200000] [--tols 1e-12 1e-13]

For every family, on designs of ``--rows`` rows with columns of scale 0.1 and 30, and for a
Poisson and a logistic fit with two nearly collinear columns (correlation 0.999 and
0.99999): y drawn from the family at known natural parameters, a float64 fit, then float32
fits at the default tolerance and at each of ``--tols``. Prints, per fit, the iterations,
whether it converged, and the largest distance of a float32 coefficient from the float64
one in float64 standard errors.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
from _common import machine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[2000, 200_000])
    parser.add_argument("--tols", type=float, nargs="+", default=[1e-12, 1e-13])
    args = parser.parse_args()

    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    import glmjax as gj

    F = gj.families
    natural = [  # a family and natural parameters well inside its domain
        (F.Gaussian(), 0.5), (F.Bernoulli(), 0.3), (F.Poisson(), 0.5),
        (F.NegativeBinomial(alpha=0.5), -1.0), (F.Exponential(), -1.0), (F.Gamma(), -1.0),
        (F.InverseGaussian(), -1.0), (F.Multinomial(n_classes=3), [0.1, -0.5, 0.8]),
        (F.Beta(), [2.0, 3.0]), (F.Dirichlet(n_components=3), [2.0, 3.0, 1.5]),
    ]
    tols = [None, *args.tols]
    print(f"**float32 against float64 IRLS fits**\n\nMachine and versions: {machine()}\n")
    print("| family | rows | design | float64 iterations | "
          + " | ".join(f"tol {t or 'default'}: iterations, gap (se)" for t in tols) + " |")
    print("|---|---|---|---|" + "---|" * len(tols))
    rng = np.random.default_rng(0)
    warnings.simplefilter("ignore")  # the float32 fits' accuracy is what is measured
    for n in args.rows:
        for scale in (0.1, 30.0):
            for family, eta0 in natural:
                eta0 = np.asarray(eta0)
                Z = rng.normal(size=(n, 3)) * scale
                effects = rng.normal(size=(3,) + eta0.shape) * (0.5 if family.name ==
                                                                "Bernoulli" else 0.05) / scale
                y = np.asarray(family.sample(jax.random.key(n), jnp.asarray(eta0 + Z @ effects)))
                X = np.column_stack([np.ones(n), Z])
                row(gj, family, X, y, tols, n, f"scale {scale}")
        for rho in (0.999, 0.99999):
            Z = rng.normal(size=(n, 3))
            Z[:, 1] = rho * Z[:, 0] + np.sqrt(1 - rho**2) * Z[:, 1]
            X = np.column_stack([np.ones(n), Z, 20 + rng.normal(size=n)])
            eta = 0.3 + Z @ [0.2, -0.1, 0.1]
            row(gj, F.Poisson(), X, rng.poisson(np.exp(eta)).astype(float), tols, n,
                f"correlation {rho}")
            row(gj, F.Bernoulli(), X, (rng.uniform(size=n) < 1 / (1 + np.exp(-eta))) * 1.0,
                tols, n, f"correlation {rho}")


def row(gj, family, X, y, tols, n, design) -> None:
    r64 = gj.fit(X, y, family)
    p64 = np.asarray(r64.params)
    se = np.asarray(r64.stderr).reshape(-1)
    cells = []
    for tol in tols:
        r32 = gj.fit(X.astype(np.float32), y.astype(np.float32), family, tol=tol)
        gap = np.abs(np.asarray(r32.params, float) - p64).reshape(-1)[: se.size] / se
        cells.append(f"{int(r32.n_iter)}{'' if bool(r32.converged) else ' (not converged)'}, "
                     f"{np.max(gap):.1e}")
    print(f"| {family.name} | {n:,} | {design} | {int(r64.n_iter)} | " + " | ".join(cells)
          + " |", flush=True)


if __name__ == "__main__":
    main()
