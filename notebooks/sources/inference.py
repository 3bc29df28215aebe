"""Notebook 5: tests of models, robust errors and prediction bands (cells for ``build.py``)."""

# ruff: noqa: E501

CELLS = [
    ("md", """# Tests of models, robust standard errors and prediction bands

How many times a year does a person visit a physician, and how does that depend on what the
visit costs them? The RAND Health Insurance Experiment assigned families at random to
insurance plans with different coinsurance rates (`lncoins` = log(coinsurance + 1)); `mdvis`
counts each person's visits. This notebook asks the questions an analysis of count data
asks, each with one call:

1. Are the counts overdispersed? A negative-binomial fit estimates α (`NegativeBinomial(alpha=None)`, MASS's `glm.nb`).
2. Which terms matter? An analysis of deviance of nested fits (`gj.anova`, R's `anova.glm`), likelihood-ratio, score and Wald tests.
3. How much do the standard errors move under misspecification? Sandwich covariances (`cov_type="HC0"`, R's `sandwich`).
4. What does the model predict, and how sure is it? `res.prediction(...)`: the mean with a 95% band, as R's `predict.glm(se.fit = TRUE)`."""),
    ("code", """import os

import jax
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import glmjax as gj

jax.config.update("jax_enable_x64", True)
F = gj.families
SMALL = os.environ.get("GLMJAX_NOTEBOOK_SMALL") == "1"
hie = gj.datasets.load_dataframe("randhie")
if SMALL:
    hie = hie.sample(2000, random_state=0)
hie.describe().T[["mean", "std", "min", "max"]]"""),
    ("md", """## 1. Poisson or negative binomial?

A Poisson GLM forces the variance to equal the mean. The negative binomial's variance is
μ + αμ²; α is estimated with the coefficients by maximum likelihood, and its standard error
comes from the observed information of its profile likelihood."""),
    ("code", """terms = "lncoins + idp + lpi + fmde + physlm + disea + hlthg + hlthf + hlthp"
poisson = gj.glm(f"mdvis ~ {terms}", hie, F.Poisson())
nb = gj.glm(f"mdvis ~ {terms}", hie, F.NegativeBinomial(alpha=None))
print(nb.summary())
mu = np.asarray(poisson.predict(hie))
pearson = np.sum((hie.mdvis - mu) ** 2 / mu) / float(poisson.df_resid)
print(f"Pearson dispersion of the Poisson fit: {pearson:.2f}")
print(f"AIC: Poisson {float(poisson.aic):.0f}, negative binomial {float(nb.aic):.0f}")"""),
    ("md", """The Poisson fit's Pearson dispersion is far above 1 and the negative binomial's AIC is far
below the Poisson's: the counts are overdispersed, and α̂ (with its standard error) says by
how much.

## 2. Which terms matter: analysis of deviance

Nested fits, smallest first. For a fixed α the deviance differences are χ² statistics (R's
`anova.glm(test = "Chisq")`); here α is held at the largest model's estimate so that the
deviances are comparable, as R's `anova` of `negative.binomial(theta)` fits."""),
    ("code", """fixed = F.NegativeBinomial(alpha=float(nb.nuisance["alpha"]))
formulas = ["mdvis ~ 1", "mdvis ~ lncoins + idp", f"mdvis ~ {terms}"]
fits = [gj.glm(f, hie, fixed) for f in formulas]
print(gj.anova(*fits, test="Chisq"))
print()
print(gj.anova(*fits, test="Rao"))"""),
    ("md", """Every block of terms reduces the deviance by far more than its degrees of freedom. The
score (Rao) test needs only the smaller model's fit and agrees with the likelihood-ratio test.

Fits that each estimate α (`alpha=None`) have their deviances at different α, so their
difference is not a test statistic: `gj.anova` compares such fits by their likelihood ratio
2(ℓ₁ − ℓ₀) instead, with each fit's α̂ (MASS's `anova.negbin`)."""),
    ("code", """estimated = [gj.glm(f, hie, F.NegativeBinomial(alpha=None)) for f in formulas]
print(gj.anova(*estimated))"""),
    ("md", """A single hypothesis is a Wald test: does the coinsurance effect vanish, and is the
individual deductible's effect equal to it?"""),
    ("code", """names = list(nb.feature_names)
R = np.zeros((2, len(nb.params)))
R[0, names.index("lncoins")] = 1
R[1, names.index("lncoins")], R[1, names.index("idp")] = 1, -1
print(nb.wald_test(R))
print(gj.lr_test(fits[0], fits[1]))"""),
    ("md", """## 3. Robust standard errors

If the variance function is wrong, the model's standard errors are wrong; the sandwich
(`cov_type="HC0"`, Huber–White) is not. The Poisson fit's sandwich errors come close to the
negative binomial's model-based ones: the Poisson coefficients are consistent for the mean,
and the sandwich repairs their uncertainty."""),
    ("code", """robust = gj.glm(f"mdvis ~ {terms}", hie, F.Poisson(), cov_type="HC0")
table = pd.DataFrame({"Poisson": np.asarray(poisson.stderr),
                      "Poisson HC0": np.asarray(robust.stderr),
                      "negative binomial": np.asarray(nb.stderr)}, index=names)
table.round(4)"""),
    ("md", """## 4. Predictions with a 95% band

`res.prediction(new_data)` returns the linear predictor and its standard error, the mean and
its delta-method standard error, and the interval on the link scale mapped through the
inverse link (always inside the mean's range, as R's `predict.glm` users compute it). Here:
expected visits against the coinsurance rate, for a person with the other covariates at
their means, with and without an individual deductible."""),
    ("code", """grid = np.linspace(hie.lncoins.min(), hie.lncoins.max(), 60)
fig, ax = plt.subplots(figsize=(7, 4))
for idp, colour in ((0, "C0"), (1, "C3")):
    new = pd.DataFrame({c: np.full(grid.size, hie[c].mean()) for c in hie.columns if c != "mdvis"})
    new["lncoins"], new["idp"] = grid, idp
    band = nb.prediction(new, level=0.95)
    ax.plot(np.expm1(grid), band.mean, color=colour, label=f"individual deductible = {idp}")
    ax.fill_between(np.expm1(grid), band.lower, band.upper, color=colour, alpha=0.25)
ax.set_xlabel("coinsurance rate (%)")
ax.set_ylabel("expected physician visits per year")
ax.set_title("Negative-binomial fit: mean and 95% band")
ax.legend();"""),
    ("md", """Visits fall as the coinsurance rate rises, the RAND experiment's headline finding, and an
individual deductible lowers them at every rate. The band is narrowest in the middle of the
range of `lncoins` and widest at its ends, where a prediction leans most on the slope."""),
]
