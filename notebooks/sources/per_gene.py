"""Notebook 6: per-gene negative-binomial fits, single-cell style (cells for ``build.py``)."""

# ruff: noqa: E501

CELLS = [
    ("md", """# Thousands of negative-binomial fits on one design

Single-cell RNA-seq gives a count for every gene in every cell. A differential-expression
analysis fits one negative-binomial GLM per gene, all on the same design (an intercept, a
condition and a covariate, with log size factors as the offset), each with its own
overdispersion α. `gj.fit_many(X, Y, NegativeBinomial(alpha=None), offset=...)` fits them in
one compiled program: X is shared, so the information of every gene's fit is one matrix
product, and every gene gets its own α by maximum likelihood (or from the Cox–Reid adjusted
profile likelihood that edgeR, DESeq2 and glmGamPoi use, with `cox_reid=True`).
`benchmarks/bench_nb_genes.py` times it against glmGamPoi."""),
    ("code", """import os
import time
import warnings

import jax
import matplotlib.pyplot as plt
import numpy as np

import glmjax as gj

jax.config.update("jax_enable_x64", True)
SMALL = os.environ.get("GLMJAX_NOTEBOOK_SMALL") == "1"
rng = np.random.default_rng(0)
genes, cells = (100, 200) if SMALL else (3000, 600)
condition = np.repeat([0.0, 1.0], cells // 2)
X = np.column_stack([np.ones(cells), condition, rng.normal(size=cells)])
log_size = rng.normal(scale=0.3, size=cells)  # log size factors: the offset
responds = rng.uniform(size=genes) < 0.2
beta = np.column_stack([rng.normal(1, 1.5, genes), rng.normal(0, 0.5, genes) * responds,
                        rng.normal(0, 0.2, genes)])
mu = np.exp(beta @ X.T + log_size)
def trend(mean):  # overdispersion falls with expression, as in real data
    return 0.05 + 0.5 / mean

alpha = trend(np.exp(beta[:, 0])) * np.exp(rng.normal(0, 0.5, genes))
alpha[rng.uniform(size=genes) < 0.05] = 1e-8  # 5% of the genes are Poisson
r = 1 / alpha[:, None]
Y = rng.poisson(rng.gamma(r, mu / r)).astype(float)
print(f"{genes} genes x {cells} cells; {np.mean(Y == 0):.0%} of the counts are zero; "
      f"{int(np.sum(beta[:, 1] != 0))} genes respond to the condition")"""),
    ("code", """family = gj.families.NegativeBinomial(alpha=None)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    res = gj.fit_many(X, Y, family, offset=log_size)          # compiles, then fits
    start = time.perf_counter()
    res = gj.fit_many(X, Y, family, offset=log_size)
    res.params.block_until_ready()
    seconds = time.perf_counter() - start
    cr = gj.fit_many(X, Y, family, offset=log_size, cox_reid=True)
alpha_hat = np.asarray(res.nuisance["alpha"])
print(f"{genes} fits in {seconds:.2f} s; {int(np.sum(res.converged))} converged; "
      f"{int(np.sum(res.nuisance_at_bound['alpha']))} genes at alpha = 0 (no overdispersion)")"""),
    ("md", """## α against the mean

Each gene's α̂ against its mean count, on log scales, with the trend the data were drawn
from. Genes with few counts carry little information about α: their estimates scatter
widely around the trend, and the Poisson genes (and some others with few counts) sit at the
boundary α = 0, drawn at the bottom of the plot: there the likelihood rises towards the
Poisson model, and `res.nuisance_at_bound` flags them. The Cox–Reid adjustment, which
accounts for the coefficients estimated alongside α, lifts the small estimates."""),
    ("code", """means = Y.mean(axis=1)
floor = 1e-3
fig, ax = plt.subplots(figsize=(7, 4.5))
ax.scatter(means, np.maximum(alpha_hat, floor), s=4, alpha=0.4, label="maximum likelihood")
ax.scatter(means, np.maximum(np.asarray(cr.nuisance["alpha"]), floor), s=4, alpha=0.4,
           label="Cox–Reid adjusted")
grid = np.geomspace(means.min(), means.max(), 100)
ax.plot(grid, trend(grid), color="black", lw=1.5, label="trend of the true α")
ax.set(xscale="log", yscale="log", xlabel="mean count",
       ylabel="overdispersion α (α = 0 drawn at 1e-3)")
ax.set_title("Per-gene negative-binomial overdispersion")
ax.legend(markerscale=3);"""),
    ("md", """## Which genes respond to the condition?

Each fit carries its own covariance: the Wald z statistic of the condition coefficient is
`coef / stderr`, gene by gene, and Benjamini–Hochberg turns the p-values into a list at a
10% false discovery rate."""),
    ("code", """from scipy import stats

z = np.asarray(res.coef[:, 1] / res.stderr[:, 1])
p = np.maximum(2 * stats.norm.sf(np.abs(z)), 1e-300)
ranked = np.sort(p) * genes / np.arange(1, genes + 1)
threshold = np.max(np.sort(p)[ranked <= 0.1], initial=0.0)
called = p <= threshold
truth = responds
print(f"{int(called.sum())} genes called at FDR 10%; {int(np.sum(called & truth))} of them respond "
      f"(false discovery proportion {np.sum(called & ~truth) / max(called.sum(), 1):.1%})")
fig, ax = plt.subplots(figsize=(6, 4))
ax.scatter(np.asarray(res.coef[:, 1]), -np.log10(p), s=4, c=np.where(truth, "C3", "C0"), alpha=0.5)
ax.set(xlabel="condition effect (log fold change)", ylabel="-log10 p",
       title="Wald tests, one per gene (red: genes that respond)");"""),
]
