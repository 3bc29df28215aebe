"""glum's home ground: a wide insurance data set of categorical columns, fitted as glum's
"wide-insurance" benchmark does (Poisson frequency, Gamma severity, Tweedie p = 1.5 pure
premium; L2 penalty α = 0.001), by glmjax (a ``Design``: integer codes, never one-hot) and
glum (tabmat's categorical matrices), side by side.

    python benchmarks/bench_insurance.py [--rows 600000] [--memory-runs 5]
                                         [--high-rows 1000000] [--high-levels 900000]

The data is synthetic with the benchmark's shape (generated here, no download): 8
categorical columns with 320 levels in all and one numeric column, exposure, claim counts and
amounts. Both libraries take the same pandas frame (categorical dtypes), fit an intercept
and every level (no reference level: the penalty identifies them, glum's ``drop_first=False``)
and minimise the same objective; the table gives each fit's median time over interleaved
rounds, the largest coefficient difference, and each library's peak resident memory over
the frame's size, measured in five fresh processes per library (the median, and the range:
the peak of resident memory varies from process to process with what the allocators keep).
Then glum's "categorical-simulated" shape: one categorical with 900,000 levels in 1,000,000
rows, each library once, or the error that says why it cannot fit it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

LEVELS = (5, 10, 15, 25, 35, 50, 80, 100)  # 320 levels in 8 categorical columns
ALPHA = 0.001


def make_frame(rows: int, seed: int = 0):
    import pandas as pd

    rng = np.random.default_rng(seed)
    columns, eta = {}, np.full(rows, -2.0)
    for k, n_levels in enumerate(LEVELS):
        popularity = rng.dirichlet(np.ones(n_levels) * 2)
        codes = rng.choice(n_levels, rows, p=popularity)
        columns[f"c{k}"] = pd.Categorical.from_codes(codes, [f"l{j}" for j in range(n_levels)])
        eta += rng.normal(scale=0.2, size=n_levels)[codes]
    columns["age"] = rng.uniform(18, 80, rows)
    eta += 0.01 * (columns["age"] - 45)
    exposure = rng.uniform(0.1, 1.0, rows)
    claims = rng.poisson(exposure * np.exp(eta))
    severity = rng.gamma(2.0, np.exp(7 + 0.1 * (eta + 2)) / 2.0)
    frame = pd.DataFrame(columns)
    frame["exposure"], frame["claims"] = exposure, claims
    frame["amount"] = claims * severity
    return frame


FEATURES = [f"c{k}" for k in range(len(LEVELS))] + ["age"]


def problems(frame):
    """(name, rows, y, weights, offset) of the three models."""
    pp = frame["amount"].to_numpy() / frame["exposure"].to_numpy()
    claimed = frame["claims"].to_numpy() > 0
    return [
        ("Poisson frequency", slice(None), frame["claims"].to_numpy(float), None,
         np.log(frame["exposure"].to_numpy())),
        ("Gamma severity", claimed, (frame["amount"] / frame["claims"]).to_numpy()[claimed],
         frame["claims"].to_numpy(float)[claimed], None),
        ("Tweedie p=1.5 pure premium", slice(None), pp, frame["exposure"].to_numpy(), None),
    ]


def fit_glmjax(frame, name, rows, y, weights, offset):
    import jax

    jax.config.update("jax_enable_x64", True)
    import glmjax as gj

    family = {"Poisson frequency": gj.families.Poisson(), "Gamma severity": gj.families.Gamma(),
              "Tweedie p=1.5 pure premium": gj.families.Tweedie(power=1.5)}[name]
    link = None if name == "Poisson frequency" else gj.links.Log()
    X = gj.Design.from_frame(frame.loc[rows, FEATURES], drop_first=False, intercept=True)
    res = gj.fit(X, y, family, link, weights=weights, offset=offset, l2=ALPHA)
    coef = np.asarray(res.coef)  # (Intercept), age, the levels: in glum's order
    return np.r_[coef[0], coef[2:], coef[1]], res


def fit_glum(frame, name, rows, y, weights, offset):
    from glum import GeneralizedLinearRegressor, TweedieDistribution

    family = {"Poisson frequency": "poisson", "Gamma severity": "gamma",
              "Tweedie p=1.5 pure premium": TweedieDistribution(1.5)}[name]
    model = GeneralizedLinearRegressor(family=family, link="log", alpha=ALPHA, l1_ratio=0.0,
                                       drop_first=False, gradient_tol=1e-10)
    model.fit(frame.loc[rows, FEATURES], y, sample_weight=weights, offset=offset)
    return np.r_[model.intercept_, model.coef_], model


def _rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096


def measure_memory(library: str, rows: int) -> dict:
    """In this process (``--child``): the resident memory the fits add, at their peak (sampled
    every 5 ms on a thread), after a first fit of each model (imports and compiled programs
    are not the fits' memory)."""
    import threading

    frame = make_frame(rows)
    fitter = fit_glmjax if library == "glmjax" else fit_glum
    for problem in problems(frame):
        fitter(frame, *problem)
    base, peak, done = _rss(), [0], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _rss())
            time.sleep(0.005)

    thread = threading.Thread(target=sample)
    thread.start()
    for problem in problems(frame):
        fitter(frame, *problem)
    done.set()
    thread.join()
    data = frame[FEATURES + ["exposure", "claims", "amount"]]
    return {"extra_gb": (peak[0] - base) / 2**30,
            "frame_gb": data.memory_usage(deep=True).sum() / 2**30}


def main() -> None:
    from _common import interleaved_times, machine

    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=600_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--memory-runs", type=int, default=5,
                        help="fresh processes per library for the memory peak (it varies by "
                             "±40 MiB from process to process with what the allocators keep)")
    parser.add_argument("--high-rows", type=int, default=1_000_000,
                        help="rows of the high-cardinality data set (0: skip it)")
    parser.add_argument("--high-levels", type=int, default=900_000)
    args = parser.parse_args()
    print(machine())
    frame = make_frame(args.rows)
    print(f"\n{args.rows:,} rows; {len(LEVELS)} categorical columns, {sum(LEVELS)} levels; one "
          f"numeric column; L2 alpha = {ALPHA}; both libraries fit from the pandas frame\n")
    print("| model | glmjax (s) | glum (s) | glmjax / glum | max abs coef difference |")
    print("|---|---|---|---|---|")
    for problem in problems(frame):
        name = problem[0]
        coef_j, res = fit_glmjax(frame, *problem)  # compiles
        coef_g, _ = fit_glum(frame, *problem)
        times, ratios = interleaved_times({
            "glmjax": lambda p=problem: fit_glmjax(frame, *p),
            "glum": lambda p=problem: fit_glum(frame, *p),
        }, rounds=args.rounds)
        print(f"| {name} | {times['glmjax']:.2f} | {times['glum']:.2f} | "
              f"{1 / ratios['glum']:.2f} | {np.max(np.abs(coef_j - coef_g)):.1e} |")
        assert bool(res.converged)
    print()
    for library in ("glmjax", "glum"):
        script = (f"import sys, json; sys.path.insert(0, {str(HERE)!r}); "
                  f"import bench_insurance as b; "
                  f"print('RESULT', json.dumps(b.measure_memory({library!r}, {args.rows})))")
        runs = []
        for _ in range(args.memory_runs):
            out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
            line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
            if line is None:
                print(f"{library}: memory run failed: {out.stderr[-500:]}")
                break
            runs.append(json.loads(line[7:]))
        if not runs:
            continue
        frame_gb = runs[0]["frame_gb"]
        extra = sorted(run["extra_gb"] / frame_gb for run in runs)
        print(f"{library}: the fits' peak resident memory above the process's before them, "
              f"median of {len(runs)} fresh processes: "
              f"{extra[len(extra) // 2] * frame_gb * 1024:.0f} MiB = "
              f"{extra[len(extra) // 2]:.1f}× the data frame ({frame_gb * 1024:.0f} MiB; "
              f"runs {extra[0]:.1f}–{extra[-1]:.1f}×)")

    if args.high_rows:
        high_cardinality(args.high_rows, args.high_levels)


def high_cardinality(rows: int, levels: int) -> None:
    """glum's "categorical-simulated" shape: one categorical with ``levels`` levels (uniform)
    beside two normal columns, Poisson, L2 α = 0.001; each library once (its fit, or why it
    cannot)."""
    import pandas as pd

    rng = np.random.default_rng(1)
    codes = rng.integers(0, levels, rows)
    frame = pd.DataFrame({"x1": rng.normal(size=rows), "x2": rng.normal(size=rows),
                          "g": pd.Categorical.from_codes(codes, [f"l{j}" for j in range(levels)])})
    eta = 0.3 * frame["x1"] - 0.2 * frame["x2"] + rng.normal(scale=0.3, size=levels)[codes]
    y = rng.poisson(np.exp(eta)).astype(float)
    print(f"\nHigh cardinality: {rows:,} rows, one categorical with {levels:,} levels and two "
          f"numeric columns, Poisson, L2 alpha = {ALPHA}, each library once\n")
    print("| library | time (s) | iterations | max abs coef difference from glmjax | "
          "max abs gradient of the objective | standard errors |")
    print("|---|---|---|---|---|---|")
    X1, X2 = frame["x1"].to_numpy(), frame["x2"].to_numpy()

    def gradient(coef):  # of −ℓ/m + (α/2)‖θ‖² (intercept unpenalised), both libraries' objective
        mu = np.exp(coef[0] + coef[1] * X1 + coef[2] * X2 + coef[3:][codes])
        r = (y - mu) / rows
        score = np.r_[r.sum(), X1 @ r, X2 @ r, np.bincount(codes, r, levels)]
        return np.max(np.abs(-score + ALPHA * np.r_[0.0, coef[1:]]))

    def glmjax():
        import jax

        jax.config.update("jax_enable_x64", True)
        import glmjax as gj

        X = gj.Design.from_frame(frame, drop_first=False, intercept=True)
        res = gj.fit(X, y, gj.families.Poisson(), l2=ALPHA)  # information in blocks
        stderr = np.asarray(res.stderr)
        finite = bool(np.isfinite(stderr).all())
        return (np.asarray(res.coef), int(res.n_iter),
                f"all {stderr.size:,}" if finite else "not all finite")

    def glum(solver):
        from glum import GeneralizedLinearRegressor

        model = GeneralizedLinearRegressor(family="poisson", alpha=ALPHA, l1_ratio=0.0,
                                           drop_first=False, gradient_tol=1e-10, solver=solver)
        model.fit(frame, y)
        return np.r_[model.intercept_, model.coef_], int(model.n_iter_), "not computed"

    reference = None
    for name, fitter in (("glmjax (IRLS, information in blocks)", glmjax),
                         ("glum (IRLS-CD)", lambda: glum("irls-cd")),
                         ("glum (L-BFGS)", lambda: glum("lbfgs"))):
        start = time.perf_counter()
        try:
            coef, n_iter, errors = fitter()
        except (ValueError, MemoryError) as error:
            reason = str(error).split(". ")[0]
            print(f"| {name} | cannot: {type(error).__name__}: {reason} | | | | |")
            continue
        seconds = time.perf_counter() - start
        if fitter is glmjax:
            reference = coef
        diff = "" if reference is None else f"{np.max(np.abs(coef - reference)):.1e}"
        print(f"| {name} | {seconds:.2f} | {n_iter} | {diff} | {gradient(coef):.1e} | "
              f"{errors} |")


if __name__ == "__main__":
    main()
