"""Against R itself (Debian's r-base-core, r-cran-mass, r-cran-sandwich, r-cran-jsonlite),
on MASS's quine data: ``glm.nb`` (with ``anova.negbin``'s likelihood-ratio test and
``hatvalues``, ``cooks.distance``, ``rstandard``), ``sandwich::vcovHC``/``vcovCL``,
``anova.glm`` (with score tests, ``test = "Rao"``) and ``predict.glm(se.fit = TRUE)``.
Skipped without ``Rscript``; every quantity is also tested without R (test_nuisance,
test_covariances, test_model_tests, test_fit_reference, test_results).

Tolerances: coefficients, standard errors, θ and 2·log-likelihood 1e-8; MASS's SE(θ) 1e-5
(glm.nb reports θ's standard error at the means of the fit before its last θ update);
covariances 1e-8; analysis of deviance, score tests, predictions, hat values and
standardized residuals 1e-8 (p-values near 1e-40, Cook's distances: 1e-7).
"""

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import glmjax as gj
from glmjax import families as F

pytestmark = pytest.mark.skipif(shutil.which("Rscript") is None, reason="R is not installed")
TERMS = "Eth + Sex + Age + Lrn"


@pytest.fixture(scope="module")
def r(tmp_path_factory):
    pd = pytest.importorskip("pandas")
    where = tmp_path_factory.mktemp("r")
    script = Path(__file__).parent / "r" / "reference.R"
    out = subprocess.run(["Rscript", str(script)], cwd=where, capture_output=True, text=True)
    if out.returncode != 0:
        pytest.skip(f"the R packages are missing: {out.stderr.strip()[-200:]}")
    ref = json.loads((where / "ref.json").read_text())
    return ref, pd.read_csv(where / "quine.csv")


def test_negative_binomial_equals_glm_nb(r):
    ref, quine = r
    res = gj.glm(f"Days ~ {TERMS}", quine, F.NegativeBinomial(alpha=None))
    alpha, nb = float(res.nuisance["alpha"]), ref["nb"]
    np.testing.assert_allclose(res.coef, nb["coef"], rtol=1e-8)
    np.testing.assert_allclose(res.stderr, nb["se"], rtol=1e-8)
    np.testing.assert_allclose(1 / alpha, nb["theta"][0], rtol=1e-8)
    np.testing.assert_allclose(float(res.nuisance_stderr["alpha"]) / alpha**2,
                               nb["se_theta"][0], rtol=1e-5)
    np.testing.assert_allclose(2 * float(res.loglik), nb["twologlik"][0], rtol=1e-10)
    influence = ref["nb_influence"]  # hatvalues, cooks.distance, rstandard
    np.testing.assert_allclose(res.hat_values, influence["hat"], rtol=1e-8)
    np.testing.assert_allclose(res.cooks_distance, influence["cooks"], rtol=1e-7)
    np.testing.assert_allclose(res.resid_standardized(), influence["rstandard"], rtol=1e-8)
    np.testing.assert_allclose(res.resid_standardized("pearson"),
                               influence["rstandard_pearson"], rtol=1e-8)
    small = gj.glm("Days ~ Eth", quine, F.NegativeBinomial(alpha=None))
    table, lr = gj.anova(small, res), ref["anova_nb"]  # MASS's anova.negbin
    np.testing.assert_allclose(1 / table.nuisance["alpha"], lr["theta"], rtol=1e-8)
    np.testing.assert_allclose(table.twologlik, lr["twologlik"], rtol=1e-10)
    np.testing.assert_allclose(table.statistic[1], lr["lr"][1], rtol=1e-8)
    np.testing.assert_allclose(table.pvalue[1], lr["p"][1], rtol=1e-8)


@pytest.mark.parametrize("cov_type", ["HC0", "HC1", "HC2", "HC3", "cluster"])
def test_sandwiches_equal_the_sandwich_package(r, cov_type):
    ref, quine = r
    groups = "Age" if cov_type == "cluster" else None
    res = gj.glm(f"Days ~ {TERMS}", quine, F.Poisson(), cov_type=cov_type, groups=groups)
    expected = ref["cl_default"] if cov_type == "cluster" else ref["hc"][cov_type]
    np.testing.assert_allclose(np.asarray(res.cov).ravel(order="F"), expected, rtol=1e-8)


def test_analysis_of_deviance_equals_anova_glm(r):
    ref, quine = r
    fits = [gj.glm(f, quine, F.Poisson()) for f in
            ("Days ~ 1", "Days ~ Eth", f"Days ~ {TERMS}")]
    table, a = gj.anova(*fits, test="Chisq"), ref["anova"]
    np.testing.assert_allclose(table.resid_df, a["resid_df"])
    np.testing.assert_allclose(table.resid_dev, a["resid_dev"], rtol=1e-10)
    np.testing.assert_allclose(table.deviance[1:], a["dev"][1:], rtol=1e-9)
    np.testing.assert_allclose(table.pvalue[1:], a["p"][1:], rtol=1e-8)
    quine = quine.assign(y=quine.Days + 1)
    gamma = [gj.glm(f, quine, F.Gamma(), link=gj.links.Log()) for f in
             ("y ~ Eth", f"y ~ {TERMS}")]
    table = gj.anova(*gamma, test="F")
    np.testing.assert_allclose(table.statistic[1], ref["anova_f"]["f"][1], rtol=1e-8)
    np.testing.assert_allclose(table.pvalue[1], ref["anova_f"]["p"][1], rtol=1e-8)
    for models, expected in ((fits, ref["rao"]), (gamma, ref["rao_gamma"])):  # score tests
        table = gj.anova(*models, test="Rao")
        np.testing.assert_allclose(table.statistic[1:], expected["rao"][1:], rtol=1e-8)
        # p-values near 1e-40: d log p ≈ dS/2 turns S's 1e-10 into 1e-8
        np.testing.assert_allclose(table.pvalue[1:], expected["p"][1:], rtol=1e-7)
    # one fit: R's anova(fit), its terms added one at a time
    table, s = gj.anova(fits[-1]), ref["anova_seq"]
    assert table.labels == ("NULL", "Eth", "Sex", "Age", "Lrn")
    np.testing.assert_allclose(table.resid_df, s["resid_df"])
    np.testing.assert_allclose(table.resid_dev, s["resid_dev"], rtol=1e-10)
    np.testing.assert_allclose(table.deviance[1:], s["dev"][1:], rtol=1e-9)
    np.testing.assert_allclose(table.pvalue[1:], s["p"][1:], rtol=1e-7)
    table = gj.anova(gamma[-1], test="F")
    np.testing.assert_allclose(table.statistic[1:], ref["anova_seq_f"]["f"][1:], rtol=1e-8)
    np.testing.assert_allclose(table.pvalue[1:], ref["anova_seq_f"]["p"][1:], rtol=1e-8)


def test_single_term_deletions_equal_drop1(r):
    ref, quine = r
    table, d = gj.drop1(gj.glm(f"Days ~ {TERMS}", quine, F.Poisson())), ref["drop1"]
    assert table.labels == ("<none>", "Eth", "Sex", "Age", "Lrn")
    np.testing.assert_allclose(table.deviance, d["dev"], rtol=1e-10)
    np.testing.assert_allclose(table.aic, d["aic"], rtol=1e-10)
    np.testing.assert_allclose(table.statistic[1:], d["lrt"][1:], rtol=1e-8)
    np.testing.assert_allclose(table.pvalue[1:], d["p"][1:], rtol=1e-7)
    gamma = gj.glm("y ~ Eth * Sex + Age + Lrn", quine.assign(y=quine.Days + 1), F.Gamma(),
                   link=gj.links.Log())
    table = gj.drop1(gamma, test="F")  # Eth and Sex stay while Eth:Sex does
    assert table.labels == ("<none>", "Age", "Lrn", "Eth:Sex")
    np.testing.assert_allclose(table.deviance, d["f_dev"], rtol=1e-10)
    np.testing.assert_allclose(table.aic, d["f_aic"], rtol=1e-10)
    np.testing.assert_allclose(table.statistic[1:], d["f"][1:], rtol=1e-8)
    np.testing.assert_allclose(table.pvalue[1:], d["f_p"][1:], rtol=1e-8)


def test_profile_intervals_equal_confint(r):
    """R's confint of a glm interpolates a spline through its grid of refits; glmjax finds
    each end as a root (so: 5e-5)."""
    ref, quine = r
    quine = quine.assign(y=quine.Days + 1)
    for name, fit in (("poisson", gj.glm(f"Days ~ {TERMS}", quine, F.Poisson())),
                      ("gamma", gj.glm(f"y ~ {TERMS}", quine, F.Gamma(), link=gj.links.Log()))):
        np.testing.assert_allclose(fit.conf_int(method="profile"), ref["confint"][name],
                                   atol=5e-5, err_msg=name)


def test_prediction_equals_predict_glm(r):
    ref, quine = r
    res = gj.glm(f"Days ~ {TERMS}", quine, F.Poisson())
    pred = res.prediction(quine)
    for field in ("link", "link_se", "mean", "mean_se"):
        np.testing.assert_allclose(getattr(pred, field), ref["pred"][field], rtol=1e-8)


@pytest.mark.parametrize("cox_reid", [False, True], ids=["ml", "cox_reid"])
def test_per_gene_negative_binomial_equals_glmgampoi(tmp_path, cox_reid):
    """``fit_many`` with per-gene α on 40 genes × 300 cells against glmGamPoi's ``glm_gp``
    (no shrinkage, size factors given as the offset): coefficients to 1e-4; α to glmGamPoi's
    own tolerance, the median relative difference below 1e-3 (glmGamPoi stops earlier: where
    they differ most, glmjax's likelihood is the higher, bench_nb_genes.py); genes whose α
    glmjax puts at 0 get a tiny one from glmGamPoi."""
    rng = np.random.default_rng(2)
    genes, cells = 40, 300
    X = np.column_stack([np.ones(cells), np.repeat([0.0, 1.0], cells // 2),
                         rng.normal(size=cells)])
    offset = rng.normal(scale=0.3, size=cells)
    beta = np.column_stack([rng.normal(1.5, 1, genes), rng.normal(0, 0.5, genes),
                            rng.normal(0, 0.2, genes)])
    mu = np.exp(beta @ X.T + offset)
    r = 1 / np.exp(rng.normal(-1.5, 0.7, genes))[:, None]
    Y = rng.poisson(rng.gamma(r, mu / r)).astype(float)
    np.savetxt(tmp_path / "X.csv", X, delimiter=",")
    np.savetxt(tmp_path / "Y.csv", Y, delimiter=",", fmt="%d")
    np.savetxt(tmp_path / "off.csv", offset)
    script = Path(__file__).parent / "r" / "glmgampoi.R"
    out = subprocess.run(["Rscript", str(script)], cwd=tmp_path, capture_output=True, text=True)
    if out.returncode != 0:
        pytest.skip(f"glmGamPoi is missing: {out.stderr.strip()[-200:]}")
    tag = "_cr" if cox_reid else ""
    beta_gp = np.loadtxt(tmp_path / f"beta{tag}.csv", delimiter=",")
    alpha_gp = np.loadtxt(tmp_path / f"alpha{tag}.csv")
    res = gj.fit_many(X, Y, F.NegativeBinomial(alpha=None), offset=offset, cox_reid=cox_reid)
    alpha = np.asarray(res.nuisance["alpha"])
    np.testing.assert_allclose(res.coef, beta_gp, atol=1e-4)
    interior = alpha > 0
    assert np.median(np.abs(alpha / alpha_gp - 1)[interior]) < 1e-3
    assert np.all(alpha_gp[~interior] < 1e-4)
