"""Per-gene negative-binomial fits with their own α: genes × cells of one design, float64, CPU.

    python benchmarks/bench_nb_genes.py [--genes 4000] [--cells 2000] [--statsmodels-genes 100]
                                        [--chunk-sizes 250 1000 4000]

Synthetic NB counts: an intercept, a two-level condition and a normal covariate, log size
factors as the offset, log-normal α per gene. glmjax fits every gene with
``gj.fit_many(X, Y, NegativeBinomial(alpha=None), offset=...)`` (α by maximum likelihood, X
shared), and with ``cox_reid=True`` (the Cox–Reid adjusted profile likelihood). Beside it,
in the same run: glmGamPoi's ``glm_gp`` (R, when ``Rscript`` with glmGamPoi is installed;
``size_factors = FALSE, overdispersion_shrinkage = FALSE``, ``do_cox_reid_adjustment``
FALSE and TRUE; only the call to ``glm_gp`` is timed, inside R), PyDESeq2's genewise
dispersions when it is installed (one IRLS fit at the moment estimate of α, then the
Cox–Reid adjusted α at those means, the first half of DESeq2's dispersion step), and a
statsmodels loop of ``NegativeBinomial(...).fit()`` over the first ``--statsmodels-genes``
genes, scaled to all genes. Reports coefficient and α agreement with glmGamPoi, and for the
genes where α differs most, the log-likelihoods of both fits. With ``--chunk-sizes``, also
glmjax's steady state at each ``chunk_size`` of ``fit_many``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from _common import machine, median_time

R_SCRIPT = """
suppressMessages(library(glmGamPoi))
X <- as.matrix(read.csv("X.csv", header = FALSE)); colnames(X) <- NULL
Y <- as.matrix(read.csv("Y.csv", header = FALSE)); off <- scan("off.csv", quiet = TRUE)
cr <- as.logical(commandArgs(trailingOnly = TRUE)[1])
t <- system.time(fit <- glm_gp(Y, design = X, offset = off, size_factors = FALSE,
                               overdispersion_shrinkage = FALSE,
                               do_cox_reid_adjustment = cr, verbose = FALSE))
write.table(fit$Beta, "beta.csv", sep = ",", row.names = FALSE, col.names = FALSE)
write.table(fit$overdispersions, "alpha.csv", row.names = FALSE, col.names = FALSE)
cat(t[["elapsed"]], "\\n", file = "seconds.txt")
cat(as.character(packageVersion("glmGamPoi")), "\\n", file = "version.txt")
"""


def counts(rng: np.random.Generator, genes: int, cells: int):
    X = np.column_stack([np.ones(cells), np.repeat([0.0, 1.0], [cells // 2, cells - cells // 2]),
                         rng.normal(size=cells)])
    offset = rng.normal(scale=0.3, size=cells)
    beta = np.column_stack([rng.normal(1, 1.5, genes), rng.normal(0, 0.5, genes),
                            rng.normal(0, 0.2, genes)])
    mu = np.exp(beta @ X.T + offset)
    r = 1 / np.exp(rng.normal(-1.5, 1, genes))[:, None]
    return X, rng.poisson(rng.gamma(r, mu / r)).astype(float), offset


def glmgampoi(X, Y, offset, cox_reid: bool):
    """(seconds, coefficients, α, version) from glmGamPoi, or None without R/glmGamPoi."""
    if shutil.which("Rscript") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        np.savetxt(d / "X.csv", X, delimiter=",")
        np.savetxt(d / "Y.csv", Y, delimiter=",", fmt="%d")
        np.savetxt(d / "off.csv", offset)
        (d / "fit.R").write_text(R_SCRIPT)
        out = subprocess.run(["Rscript", "fit.R", str(cox_reid).upper()], cwd=d,
                             capture_output=True, text=True)
        if out.returncode != 0:
            print(f"(glmGamPoi not run: {out.stderr.strip().splitlines()[-1:]})")
            return None
        return (float((d / "seconds.txt").read_text()),
                np.loadtxt(d / "beta.csv", delimiter=",", ndmin=2),
                np.loadtxt(d / "alpha.csv", ndmin=1), (d / "version.txt").read_text().strip())


def pydeseq2(X, Y, offset):
    """(seconds, α) of PyDESeq2's ``fit_genewise_dispersions`` with the size factors e^offset
    (2 processes), or None without PyDESeq2."""
    try:
        import pandas as pd
        from pydeseq2.dds import DeseqDataSet
    except ImportError:
        return None
    frame = pd.DataFrame(Y.T.astype(int), columns=[f"g{i}" for i in range(len(Y))])
    meta = pd.DataFrame({"condition": np.where(X[:, 1] > 0, "B", "A"), "x": X[:, 2]},
                        index=frame.index.astype(str))
    frame.index = meta.index
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        dds = DeseqDataSet(counts=frame, metadata=meta, design="~condition + x", quiet=True,
                           n_cpus=2)
        dds.obsm["size_factors"] = np.exp(offset)
        dds.fit_genewise_dispersions()
        seconds = time.perf_counter() - start
    return seconds, np.asarray(dds.var["genewise_dispersions"], float)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--genes", type=int, default=4000)
    parser.add_argument("--cells", type=int, default=2000)
    parser.add_argument("--statsmodels-genes", type=int, default=100)
    parser.add_argument("--chunk-sizes", type=int, nargs="*", default=[])
    args = parser.parse_args()

    import jax

    jax.config.update("jax_enable_x64", True)
    import statsmodels.api as sm

    import glmjax as gj

    X, Y, offset = counts(np.random.default_rng(0), args.genes, args.cells)
    G, n = Y.shape
    fam = gj.families.NegativeBinomial(alpha=None)

    def fit(chunk_size=None, cox_reid=False):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = gj.fit_many(X, Y, family=fam, offset=offset, chunk_size=chunk_size,
                              cox_reid=cox_reid)
        res.params.block_until_ready()
        return res

    k = min(args.statsmodels_genes, G)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for g in range(k):
            sm.NegativeBinomial(Y[g], X, offset=offset, loglike_method="nb2").fit(disp=0)
    t_sm = (time.perf_counter() - start) * G / k

    print(f"# {G} genes x {n} cells, negative binomial with per-gene alpha, float64")
    print(f"# {machine()}")
    print("| alpha from | method | time (s) | relative to glmGamPoi |")
    print("|---|---|---|---|")
    notes = []
    for cox_reid in (False, True):
        what = "Cox-Reid adjusted profile" if cox_reid else "maximum likelihood"
        start = time.perf_counter()
        res = fit(cox_reid=cox_reid)
        first = time.perf_counter() - start
        steady = median_time(lambda cr=cox_reid: fit(cox_reid=cr), 3)
        ref = glmgampoi(X, Y, offset, cox_reid)
        base = ref[0] if ref else float("nan")
        print(f"| {what} | glmjax fit_many, first call (compilation included) | {first:.2f} | "
              f"{first / base:.2f} |")
        print(f"| {what} | glmjax fit_many, steady state | {steady:.2f} | {steady / base:.2f} |")
        if ref:
            print(f"| {what} | glmGamPoi {ref[3]} glm_gp (R) | {ref[0]:.2f} | 1.00 |")
        if not cox_reid:
            print(f"| {what} | statsmodels NegativeBinomial loop ({k} genes, scaled to {G}) | "
                  f"{t_sm:.1f} | {t_sm / base:.1f} |")
        notes.append(agreement(gj, X, Y, offset, res, ref, what, cox_reid))
        deseq = pydeseq2(X, Y, offset) if cox_reid else None
        if deseq:
            print(f"| {what} | PyDESeq2 genewise dispersions (one round) | {deseq[0]:.2f} | "
                  f"{deseq[0] / base:.2f} |")
            alpha = np.asarray(res.nuisance["alpha"])
            both = (alpha > 1e-6) & (deseq[1] > 1e-6)
            notes.append(f"PyDESeq2's one-round alpha against glmjax's Cox-Reid alpha: median "
                         f"relative difference "
                         f"{np.median(np.abs(deseq[1][both] / alpha[both] - 1)):.1e}.")
    print("\n" + "\n\n".join(notes))
    if args.chunk_sizes:
        print("\n| chunk_size | glmjax steady state (s) |\n|---|---|")
        for size in args.chunk_sizes:
            fit(size)  # compiles
            print(f"| {size} | {median_time(lambda size=size: fit(size), 3):.2f} |")


def agreement(gj, X, Y, offset, res, ref, what: str, cox_reid: bool) -> str:
    """The note on one estimator: convergence, boundary genes and agreement with glmGamPoi."""
    coef, alpha = np.asarray(res.coef), np.asarray(res.nuisance["alpha"])
    G = len(alpha)
    note = (f"{what}: glmjax {int(np.sum(res.converged))} of {G} converged; "
            f"{int(np.sum(alpha == 0))} genes at the boundary alpha = 0 (no overdispersion).")
    if ref is None:
        return note + " (glmGamPoi not run: no Rscript with glmGamPoi.)"
    _, beta_gp, alpha_gp, _ = ref
    interior = alpha > 0
    rel = np.abs(alpha - alpha_gp)[interior] / alpha_gp[interior]
    boundary = (f"max {alpha_gp[~interior].max():.1e}" if (~interior).any() else "none")
    note += (f" Against glmGamPoi: coefficients max |diff| {np.abs(coef - beta_gp).max():.1e} "
             f"(median {np.median(np.abs(coef - beta_gp)):.1e}); alpha relative difference "
             f"median {np.median(rel):.1e}, 99th percentile {np.quantile(rel, 0.99):.1e}, "
             f"max {rel.max():.1e}; glmGamPoi's alpha on glmjax's boundary genes: {boundary}.")
    if not cox_reid:
        worst = np.argsort(-np.abs(alpha - alpha_gp) / np.maximum(alpha_gp, 1e-12))[:3]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gaps = [float(res.loglik[g]) - float(gj.fit(
                X, Y[g], gj.families.NegativeBinomial(alpha=max(alpha_gp[g], 1e-12)),
                offset=offset).loglik) for g in worst]
        note += (" Where alpha differs most (genes " + ", ".join(map(str, worst)) + "), "
                 "glmjax's log-likelihood minus that at glmGamPoi's alpha: "
                 + ", ".join(f"{gap:+.1e}" for gap in gaps) + ".")
    return note


if __name__ == "__main__":
    main()
