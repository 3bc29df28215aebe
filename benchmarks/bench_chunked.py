"""An exact Poisson fit of data bigger than it should hold: ``fit_chunked`` over .npy files,
against one plain streaming read of the same files (the floor of a pass) and Spark's
``GeneralizedLinearRegression`` (IRLS, ``local[2]``) on the same rows from Parquet.

    python benchmarks/bench_chunked.py [--rows 50000000] [--cols 50] [--dir /tmp/glmjax-chunked]
                                       [--spark]

The data (float32, an intercept and cols − 1 normal columns, Poisson counts) is written once
to ``--dir`` and reused. Each measurement runs in a fresh process, so its peak resident
memory (``VmHWM``) is its own. Printed per pass over the data: glmjax's IRLS passes, the
plain read (every byte of the files read into a buffer, chunk by chunk, no arithmetic; the
fit itself maps its full chunks instead of reading them), and the BLAS floor of a
pass's arithmetic (one ``ssyrk`` per chunk: the information's product, the bulk of a pass).
A subset check fits the first rows both in memory and in chunks, in float64.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))


def write_data(folder: Path, rows: int, cols: int, block: int = 1 << 20) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if (folder / "done").exists():
        meta = json.loads((folder / "done").read_text())
        if meta == {"rows": rows, "cols": cols}:
            return
    rng = np.random.default_rng(0)
    beta = np.r_[0.3, rng.normal(size=cols - 1) * 0.3 / np.sqrt(cols)].astype(np.float32)
    X = np.lib.format.open_memmap(folder / "X.npy", "w+", np.float32, (rows, cols))
    y = np.lib.format.open_memmap(folder / "y.npy", "w+", np.float32, (rows,))
    for start in range(0, rows, block):
        stop = min(start + block, rows)
        x = rng.standard_normal((stop - start, cols), dtype=np.float32)
        x[:, 0] = 1
        X[start:stop] = x
        y[start:stop] = rng.poisson(np.exp(x @ beta))
    X.flush()
    y.flush()
    del X, y
    (folder / "done").write_text(json.dumps({"rows": rows, "cols": cols}))


def measure(kind: str, folder: str, chunk_rows: int) -> dict:
    """One measurement in this process (``--child``): a dict with seconds and peak RSS."""
    out: dict = {}
    if kind == "read":  # every byte of both files into two aligned buffers, chunk by chunk
        from glmjax._chunk_sources import NpyFile
        from glmjax._transfer import aligned_empty

        files = [NpyFile(f"{folder}/{name}.npy", name) for name in ("X", "y")]
        rows = files[0].shape[0]
        buffers = [aligned_empty((chunk_rows,) + f.shape[1:], f.dtype) for f in files]
        times = []
        for _ in range(2):
            start = time.perf_counter()
            for first in range(0, rows, chunk_rows):
                stop = min(first + chunk_rows, rows)
                for f, buffer in zip(files, buffers, strict=True):
                    f.rows(first, stop).read_into(buffer[:stop - first])
            times.append(time.perf_counter() - start)
        out = {"seconds": min(times), "rows": rows}
    elif kind == "syrk":
        from scipy.linalg import blas

        X = np.load(f"{folder}/X.npy", mmap_mode="r")
        a = np.asfortranarray(X[:chunk_rows].T)  # (cols, chunk_rows): C = A·Aᵀ
        start = time.perf_counter()
        blas.ssyrk(1.0, a)
        out = {"seconds_per_chunk": time.perf_counter() - start,
               "chunks": -(-X.shape[0] // chunk_rows)}
    elif kind == "glmjax":
        import logging

        import glmjax as gj

        passes = []

        class Collect(logging.Handler):
            def emit(self, record):
                passes.append(record.args)

        logger = logging.getLogger("glmjax.chunked")
        logger.setLevel(logging.INFO)
        logger.addHandler(Collect())
        start = time.perf_counter()
        res = gj.fit_chunked((f"{folder}/X.npy", f"{folder}/y.npy"), gj.families.Poisson(),
                             chunk_rows=chunk_rows, verbose=False)
        out = {"seconds": time.perf_counter() - start, "n_iter": int(res.n_iter),
               "passes": [[what, seconds] for _, what, _, seconds in passes],
               "coef": np.asarray(res.coef, float).tolist()}
    elif kind == "subset":
        import jax

        jax.config.update("jax_enable_x64", True)
        import glmjax as gj

        X = np.load(f"{folder}/X.npy", mmap_mode="r")[:1_000_000].astype(np.float64)
        y = np.load(f"{folder}/y.npy", mmap_mode="r")[:1_000_000].astype(np.float64)
        full = gj.fit(X, y, gj.families.Poisson())
        chunked = gj.fit_chunked((X, y), gj.families.Poisson(), chunk_rows=chunk_rows,
                                 verbose=False)
        out = {"coef": float(np.max(np.abs(np.asarray(full.coef - chunked.coef)))),
               "stderr": float(np.max(np.abs(np.asarray(full.stderr - chunked.stderr))
                                      / np.asarray(full.stderr))),
               "deviance": float(abs(full.deviance - chunked.deviance) / full.deviance)}
    elif kind == "spark":
        out = spark_fit(folder)
    out["max_rss_gb"] = peak_rss_gib()
    return out


def peak_rss_gib() -> float:
    """This process's peak resident memory (``VmHWM``): unlike ``ru_maxrss``, which keeps the
    peak of the process that forked it (here the writer, which mapped the whole file)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**20
    return float("nan")


def write_parquet(folder: Path, block: int = 1 << 20) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    target = folder / "parquet"
    if (target / "done").exists():
        return target
    target.mkdir(exist_ok=True)
    X = np.load(folder / "X.npy", mmap_mode="r")
    y = np.load(folder / "y.npy", mmap_mode="r")
    for k, start in enumerate(range(0, X.shape[0], block * 4)):
        stop = min(start + block * 4, X.shape[0])
        columns = {f"x{j}": X[start:stop, j] for j in range(1, X.shape[1])}
        columns["y"] = y[start:stop]
        pq.write_table(pa.table(columns), target / f"part-{k:04d}.parquet")
    (target / "done").write_text("")
    return target


def spark_fit(folder: str) -> dict:
    from pyspark.ml.feature import VectorAssembler
    from pyspark.ml.regression import GeneralizedLinearRegression
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master("local[2]").config("spark.driver.memory", "8g")
             .config("spark.ui.enabled", "false").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    frame = spark.read.parquet(f"{folder}/parquet")
    features = [c for c in frame.columns if c != "y"]
    data = VectorAssembler(inputCols=features, outputCol="features").transform(frame)
    glr = GeneralizedLinearRegression(family="poisson", link="log", maxIter=25, tol=1e-8,
                                      labelCol="y")
    start = time.perf_counter()
    model = glr.fit(data)
    seconds = time.perf_counter() - start
    summary = model.summary
    out = {"seconds": seconds, "n_iter": int(summary.numIterations),
           "coef": [float(model.intercept)] + [float(c) for c in model.coefficients]}
    spark.stop()
    return out


def child(kind: str, folder: Path, chunk_rows: int, env=None) -> dict:
    script = (f"import sys, json; sys.path.insert(0, {str(HERE)!r}); import bench_chunked as b; "
              f"print('RESULT', json.dumps(b.measure({kind!r}, {str(folder)!r}, {chunk_rows})))")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"{kind} failed:\n{proc.stderr[-3000:]}")


def main() -> None:
    from _common import machine

    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=50_000_000)
    parser.add_argument("--cols", type=int, default=50)
    parser.add_argument("--chunk-rows", type=int, default=1 << 18)
    parser.add_argument("--dir", default="/tmp/glmjax-chunked")
    parser.add_argument("--spark", action="store_true", help="also fit with pyspark")
    args = parser.parse_args()
    folder = Path(args.dir)
    print(machine())
    tic = time.perf_counter()
    write_data(folder, args.rows, args.cols)
    size = os.path.getsize(folder / "X.npy") / 2**30
    print(f"\ndata: {args.rows:,} × {args.cols} float32, X.npy {size:.2f} GiB "
          f"(written in {time.perf_counter() - tic:.0f} s or reused); chunks of "
          f"{args.chunk_rows:,} rows\n")
    read = child("read", folder, args.chunk_rows)
    syrk = child("syrk", folder, args.chunk_rows)
    fit = child("glmjax", folder, args.chunk_rows)
    irls = [s for what, s in fit["passes"] if what == "IRLS"]
    per_pass = float(np.median(irls))
    floor = syrk["seconds_per_chunk"] * syrk["chunks"]
    print(f"one plain streaming read of X.npy and y.npy: {read['seconds']:.2f} s "
          f"({size / read['seconds']:.2f} GiB/s), peak RSS {read['max_rss_gb']:.2f} GiB")
    print(f"BLAS floor of a pass's arithmetic (ssyrk per chunk × chunks): {floor:.2f} s = "
          f"{floor / read['seconds']:.2f}× the plain read")
    print(f"glmjax fit_chunked: {fit['seconds']:.1f} s in all, {len(fit['passes'])} passes "
          f"({fit['n_iter']} IRLS steps); IRLS pass median {per_pass:.2f} s = "
          f"{per_pass / read['seconds']:.2f}× the plain read, {per_pass / floor:.2f}× the "
          f"floor; peak RSS {fit['max_rss_gb']:.2f} GiB")
    print("  passes: " + ", ".join(f"{what} {s:.2f} s" for what, s in fit["passes"]))
    subset = child("subset", folder, args.chunk_rows)
    print(f"subset check (first 1,000,000 rows, float64, chunked against in memory): "
          f"coefficients max |Δ| {subset['coef']:.1e}, standard errors max rel. "
          f"{subset['stderr']:.1e}, deviance rel. {subset['deviance']:.1e}")
    if args.spark:
        tic = time.perf_counter()
        write_parquet(folder)
        print(f"\nParquet copy for Spark written in {time.perf_counter() - tic:.0f} s or reused")
        spark = child("spark", folder, args.chunk_rows)
        diff = np.max(np.abs(np.asarray(spark["coef"]) - np.asarray(fit["coef"])))
        print(f"Spark GeneralizedLinearRegression (IRLS, local[2]): {spark['seconds']:.1f} s "
              f"({spark['n_iter']} iterations, {spark['seconds'] / spark['n_iter']:.1f} s "
              f"each) = {spark['seconds'] / fit['seconds']:.1f}× glmjax's whole fit; "
              f"coefficients max |Δ| from glmjax {diff:.1e} (driver peak RSS "
              f"{spark['max_rss_gb']:.2f} GiB, the JVM's not counted)")


if __name__ == "__main__":
    main()
