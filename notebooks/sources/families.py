"""Notebook 2: one regression per family, with diagnostic plots (cells for ``build.py``)."""

# ruff: noqa: E501

CELLS = [
    ("md", """# One regression per family, with diagnostics

Eight GLMs, one per family the seed names: linear, logistic, softmax, Poisson, exponential,
gamma, beta and Dirichlet regression. Real data where the bundled sets have a fitting
response (the 1996 American National Election Study and the RAND Health Insurance
Experiment), realistic simulations otherwise. Each fit is a formula on a data frame
(`gj.glm`) or a design matrix (`gj.fit`), and each gets the three standard diagnostic plots:
observed against fitted, residuals against fitted, and a normal Q-Q plot of the
standardised residuals (`res.plot_diagnostics()`)."""),
    ("code", """import os
import warnings

import jax
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import glmjax as gj

jax.config.update("jax_enable_x64", True)
F, L = gj.families, gj.links
SMALL = os.environ.get("GLMJAX_NOTEBOOK_SMALL") == "1"
rng = np.random.default_rng(2026)
anes = gj.datasets.load_dataframe("anes96")
randhie = gj.datasets.load_dataframe("randhie")
if SMALL:
    randhie = randhie.sample(3000, random_state=0)
anes.head()"""),
    ("md", """## 1. Linear regression (Gaussian): left–right self-placement

`selfLR` places each respondent on a 7-point liberal–conservative scale. A Gaussian GLM with
the identity link is ordinary least squares; the dispersion σ² is estimated (Pearson χ²/df,
as R) and the tests are t tests."""),
    ("code", """linear = gj.glm("selfLR ~ age + educ + income + C(vote)", anes, F.Gaussian())
print(linear.summary())
linear.plot_diagnostics("Gaussian: selfLR");"""),
    ("md", """The response takes seven values, so the residuals fall on stripes; the Q-Q plot is close to
the line in the middle and short-tailed at the ends, as a bounded scale must be.

## 2. Logistic regression (Bernoulli): the 1996 vote

`vote` is 1 for a Dole vote and 0 for Clinton."""),
    ("code", """logistic = gj.glm("vote ~ selfLR + age + educ + income", anes, F.Bernoulli())
print(logistic.summary())
logistic.plot_diagnostics("Bernoulli: vote for Dole");"""),
    ("md", """For 0/1 outcomes the observed-vs-fitted panel shows two bands; the binned means of the
residuals stay near zero across the fitted probabilities, which is the check that matters.

## 3. Softmax regression (Multinomial): party identification

`PID` runs from 0 (strong Democrat) to 6 (strong Republican); we collapse it into Democrat,
independent and Republican and fit a multinomial logit with Democrats as the reference."""),
    ("code", """anes["party"] = pd.cut(anes.PID, [-1, 2, 3, 6], labels=["Democrat", "Independent", "Republican"])
softmax = gj.glm("party ~ selfLR + age + educ + income", anes, F.Multinomial(n_classes=3))
print(softmax.summary())
probs = np.asarray(softmax.predict(anes))
fig, ax = plt.subplots(figsize=(6, 3.5))
order = np.argsort(anes.selfLR.values + 0.01 * rng.normal(size=len(anes)))
for k, name in enumerate(["Democrat", "Independent", "Republican"]):
    ax.plot(anes.selfLR.values[order], probs[order, k], ".", alpha=0.4, label=name)
ax.set_xlabel("self-placement (selfLR)")
ax.set_ylabel("fitted probability")
ax.legend()
softmax.plot_diagnostics("Multinomial: party (residuals per class)");"""),
    ("md", """## 4. Poisson regression: physician visits (RAND HIE)

The README's main job: outpatient visits against insurance (log coinsurance, deductible),
income and health. Counts are overdispersed here, which the residual spread and the Q-Q plot
show plainly; the negative binomial family is the usual next step."""),
    ("code", """poisson = gj.glm("mdvis ~ lncoins + idp + lpi + fmde + physlm + disea + hlthg + hlthf + hlthp",
                 randhie, F.Poisson())
print(poisson.summary())
poisson.plot_diagnostics("Poisson: MD visits")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    negbin = gj.glm("mdvis ~ lncoins + idp + lpi + fmde + physlm + disea + hlthg + hlthf + hlthp",
                    randhie, F.NegativeBinomial(alpha=1.0))
print(f"AIC Poisson {float(poisson.aic):.0f}  vs negative binomial (α = 1) {float(negbin.aic):.0f}")"""),
    ("md", """## 5. Exponential regression: waiting times (simulated)

Times between service calls at sites that differ in load and staff; the rate is
log-linear in the covariates. The exponential family's canonical parameter is η = −λ; we fit
the log link, log E[y] = xᵀθ, as a survival analyst would."""),
    ("code", """m = 500 if SMALL else 4000
sites = pd.DataFrame({"load": rng.uniform(0, 2, m), "staff": rng.integers(1, 6, m)})
mean_wait = np.exp(1.0 + 0.6 * sites.load - 0.25 * sites.staff)
sites["wait"] = rng.exponential(mean_wait)
exponential = gj.glm("wait ~ load + staff", sites, F.Exponential(), L.Log())
print(exponential.summary())
exponential.plot_diagnostics("Exponential: waiting time");"""),
    ("md", """The truth is log E[y] = 1 + 0.6·load − 0.25·staff; the estimates are within about two
standard errors of it.

## 6. Gamma regression: claim severity (simulated)

Insurance claim amounts with a shape of 2 (coefficient of variation 0.7), log link, as in
the actuarial literature. The dispersion 1/shape is estimated."""),
    ("code", """claims = pd.DataFrame({"age": rng.uniform(18, 80, m), "urban": rng.integers(0, 2, m)})
mu = np.exp(7.0 + 0.01 * (claims.age - 50) + 0.3 * claims.urban)
claims["amount"] = rng.gamma(2.0, mu / 2.0)
gamma = gj.glm("amount ~ age + C(urban)", claims, F.Gamma(), L.Log())
print(gamma.summary())
gamma.plot_diagnostics("Gamma: claim amount");"""),
    ("md", """## 7. Beta regression: the share of income spent on housing (simulated)

Proportions in (0, 1) with a mean–precision model as R's betareg: logit(μ) = xᵀθ and a
constant precision φ estimated jointly (reported in the summary)."""),
    ("code", """homes = pd.DataFrame({"income": rng.lognormal(0, 0.4, m), "city": rng.integers(0, 2, m)})
mu = 1 / (1 + np.exp(-(-0.8 - 0.6 * np.log(homes.income) + 0.4 * homes.city)))
phi = 30.0
homes["share"] = np.clip(rng.beta(mu * phi, (1 - mu) * phi), 1e-6, 1 - 1e-6)
beta = gj.glm("share ~ np.log(income) + C(city)", homes, F.Beta(), L.Logit())
print(beta.summary())
beta.plot_diagnostics("Beta: housing share");"""),
    ("md", """## 8. Dirichlet regression: how a day is split (simulated)

Time-use compositions (sleep, work, leisure) with the "common" parametrization of
DirichletReg: log α_k = xᵀθ_k for every component."""),
    ("code", """people = pd.DataFrame({"age": rng.uniform(20, 70, m), "children": rng.integers(0, 4, m)})
Xd = np.column_stack([np.ones(m), (people.age - 45) / 10, people.children])
theta = np.array([[3.0, 3.3, 2.6], [0.05, -0.1, 0.08], [-0.05, 0.05, -0.15]])
alpha = np.exp(Xd @ theta)
day = np.array([rng.dirichlet(a) for a in alpha])
dirichlet = gj.fit(Xd, day, F.Dirichlet(n_components=3), L.Log(),
                   feature_names=["(Intercept)", "age/10", "children"])
print(dirichlet.summary())
print("true θ:\\n", theta)
dirichlet.plot_diagnostics("Dirichlet: sleep / work / leisure");"""),
    ("md", """Every fit above is a single compiled program (input checks, Fisher scoring, statistics);
the same code runs on a GPU unchanged."""),
]
