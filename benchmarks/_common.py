"""Shared helpers for the benchmark scripts: timing and a description of the machine."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from importlib import metadata

import jax
import numpy as np


def median_time(fn: Callable[[], object], repeats: int = 7) -> float:
    """Median wall time of ``fn()`` (which must block until its result is ready)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved_times(fns: dict[str, Callable[[], object]], rounds: int = 7, pause: float = 0.5
                      ) -> tuple[dict[str, float], dict[str, float]]:
    """Run every ``fns`` entry once per round, in turn: (median time of each, median over the
    rounds of its time divided by the first entry's time in the same round). On a shared
    machine load comes and goes; in turns it slows all of them alike, so the per-round ratio
    is steadier than a ratio of separately taken medians. A pause of ``pause`` seconds before
    each run lets the previous library's BLAS threads, which spin for a while after a call,
    go idle instead of slowing the next one."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            time.sleep(pause)
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    first = next(iter(times.values()))
    medians = {name: statistics.median(t) for name, t in times.items()}
    ratios = {name: statistics.median(a / b for a, b in zip(t, first, strict=True))
              for name, t in times.items()}
    return medians, ratios


def machine() -> str:
    versions = []
    for pkg in ("jax", "jaxlib", "numpy", "glmax", "glum", "statsmodels", "scikit-learn"):
        try:
            versions.append(f"{pkg} {metadata.version(pkg)}")
        except metadata.PackageNotFoundError:
            pass
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh if "model name" in line)
    except (OSError, StopIteration):
        pass
    return (f"{cpu}, {os.cpu_count()} cores, {jax.devices()[0].platform}; Python "
            f"{platform.python_version()}; " + ", ".join(versions))


def logistic_batches(rng: np.random.Generator, n_fits: int, rows: int, cols: int,
                     shared_x: bool = False):
    """(X, y) for ``n_fits`` independent logistic regressions: X (B, m, p), or (m, p) shared
    by every fit with ``shared_x``, with an intercept column, coefficients N(0, 0.3²), y
    Bernoulli; float64 NumPy arrays."""
    shape = (rows,) if shared_x else (n_fits, rows)
    X = np.concatenate([np.ones((*shape, 1)), rng.normal(size=(*shape, cols - 1))], axis=-1)
    beta = rng.normal(size=(n_fits, cols)) * 0.3
    eta = beta @ X.T if shared_x else np.einsum("bmp,bp->bm", X, beta)
    return X, (rng.uniform(size=(n_fits, rows)) < 1 / (1 + np.exp(-eta))).astype(float)
