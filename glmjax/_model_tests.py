"""Tests of models: Wald tests of linear hypotheses, likelihood-ratio and score (Rao) tests
and R's analysis-of-deviance table (``anova.glm``) for nested fits.

The deviance difference D₀ − D₁ of nested fits, divided by the dispersion φ of the larger
fit, is asymptotically χ² with the difference in residual degrees of freedom; where φ is
estimated, R's F test divides the mean deviance difference by φ with (Δdf, df_resid) degrees
of freedom. For a fixed dispersion (Poisson, Bernoulli, ...) the χ² statistic is
2(ℓ₁ − ℓ₀). Fits whose family parameters are estimated (``NegativeBinomial(alpha=None)``,
``Tweedie(power=None)``) have their deviances at their own estimates, so their difference is
not a test statistic: those fits are compared by the likelihood ratio 2(ℓ₁ − ℓ₀) itself
(MASS's ``anova.negbin``). The score test needs only the smaller fit: at its coefficients,
embedded in the larger model, S = Uᵀ I⁻¹ U with the larger model's score U and information
I (both by autodiff, at unit dispersion), divided by φ.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np
from scipy import stats

from glmjax._information import factor_solve, factorize, quadratic_form
from glmjax._model import spectrum_of
from glmjax._row_blocks import is_design


@dataclasses.dataclass(frozen=True)
class TestResult:
    """A test's ``statistic``, its degrees of freedom ``df`` (and ``df_denom`` for F) and
    ``pvalue``; ``distribution`` is "chi2" or "F"."""

    statistic: float
    df: float
    pvalue: float
    distribution: str
    df_denom: float | None = None


@dataclasses.dataclass(frozen=True)
class AnovaTable:
    """R's ``anova.glm`` table for nested fits, one row per fit (the first row has no test):
    residual df and deviance, then df, deviance, statistic and p-value against the row
    before. For fits with estimated family parameters (``nuisance``: their estimates, one
    array per parameter) it is MASS's ``anova.negbin`` table: ``twologlik`` = 2ℓ of each fit
    and the statistic the likelihood ratio, its difference (the deviances, at each fit's own
    estimates, are kept but not tested)."""

    resid_df: np.ndarray
    resid_dev: np.ndarray
    df: np.ndarray
    deviance: np.ndarray
    statistic: np.ndarray
    pvalue: np.ndarray
    test: str
    twologlik: np.ndarray | None = None
    nuisance: dict = dataclasses.field(default_factory=dict)
    labels: tuple[str, ...] | None = None  # the rows' names (the terms of one fit's table)

    def __str__(self) -> str:
        if self.twologlik is not None:
            return self._likelihood_ratio_table()
        f_test, shown = self.test == "F", self.test in ("F", "Rao")
        labels = self.labels or [str(k + 1) for k in range(len(self.resid_df))]
        width = max(6, max(len(label) for label in labels) + 2)
        head = (f"{'':{width}}{'Resid. Df':>10}{'Resid. Dev':>12}{'Df':>6}{'Deviance':>12}"
                + (f"{self.test:>11}" if shown else "")
                + f"{'Pr(>F)' if f_test else 'Pr(>Chi)':>11}")
        rows = ["Analysis of Deviance Table", "", head]
        for k in range(len(self.resid_df)):
            cells = f"{labels[k]:<{width}}{self.resid_df[k]:>10.0f}{self.resid_dev[k]:>12.4f}"
            if k:
                stat = f"{self.statistic[k]:>11.4f}" if shown else ""
                cells += (f"{self.df[k]:>6.0f}{self.deviance[k]:>12.4f}{stat}"
                          f"{self.pvalue[k]:>11.4g}")
            rows.append(cells)
        return "\n".join(rows)

    def _likelihood_ratio_table(self) -> str:
        names = list(self.nuisance)
        head = (f"{'':6}" + "".join(f"{name:>12}" for name in names)
                + f"{'Resid. Df':>10}{'2 x log-lik.':>15}{'Df':>6}{'LR stat.':>11}{'Pr(Chi)':>11}")
        rows = ["Likelihood ratio tests (family parameters estimated in each fit)", "", head]
        for k in range(len(self.resid_df)):
            cells = (f"{k + 1:<6}" + "".join(f"{self.nuisance[name][k]:>12.6g}" for name in names)
                     + f"{self.resid_df[k]:>10.0f}{self.twologlik[k]:>15.4f}")
            if k:
                cells += f"{self.df[k]:>6.0f}{self.statistic[k]:>11.4f}{self.pvalue[k]:>11.4g}"
            rows.append(cells)
        return "\n".join(rows)


def wald_test(result, R, q=None) -> TestResult:
    """H₀: R·θ = q for the flat parameters θ (``result.params``), with the fit's covariance Σ
    (its ``cov_type``): W = (Rθ − q)ᵀ (R Σ Rᵀ)⁻¹ (Rθ − q), χ²(rank R); F = W/rank(R) with
    (rank R, df_resid) degrees of freedom when the dispersion is estimated.

    Example:
        >>> import jax.numpy as jnp, glmjax as gj
        >>> X = jnp.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0], [1.0, 3.0], [1.0, 4.0]])
        >>> res = gj.fit(X, jnp.array([1.0, 2.0, 2.0, 5.0, 6.0]), gj.families.Poisson())
        >>> round(res.wald_test([[0.0, 1.0]]).df)
        1
    """
    _single(result, "wald_test")
    theta = np.asarray(result.params, np.float64)
    R = np.atleast_2d(np.asarray(R, np.float64))
    if R.ndim != 2 or R.shape[1] != theta.shape[0]:
        raise ValueError(f"R must have shape (r, {theta.shape[0]}), one column per parameter "
                         f"(result.param_names()); got {R.shape}.")
    q = np.zeros(R.shape[0]) if q is None else np.broadcast_to(np.asarray(q, np.float64),
                                                               (R.shape[0],))
    rank = np.linalg.matrix_rank(R)
    if rank < R.shape[0]:
        raise ValueError(f"the {R.shape[0]} rows of R are linearly dependent (rank {rank}): "
                         "each row must state a hypothesis of its own.")
    gap = R @ theta - q
    middle = np.asarray(quadratic_form(result.cov, jnp.asarray(R, result.params.dtype)))
    statistic = float(gap @ np.linalg.solve(middle, gap))
    if result.scale_estimated:
        df_denom = float(result.df_resid)
        rank = float(rank)
        return TestResult(statistic / rank, rank, float(stats.f.sf(statistic / rank, rank,
                                                                   df_denom)), "F", df_denom)
    return TestResult(statistic, float(rank), float(stats.chi2.sf(statistic, rank)), "chi2")


def lr_test(smaller, larger) -> TestResult:
    """The likelihood-ratio test of ``smaller`` nested in ``larger`` (same data, family and
    link): (D₀ − D₁)/φ₁ against χ² with Δdf = df_resid₀ − df_resid₁ (2(ℓ₁ − ℓ₀) when φ is
    fixed at 1, and for fits whose family parameters are estimated, as MASS's
    ``anova.negbin``).

    Example:
        >>> import jax.numpy as jnp, glmjax as gj
        >>> X = jnp.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0], [1.0, 3.0], [1.0, 4.0]])
        >>> y = jnp.array([1.0, 2.0, 2.0, 5.0, 6.0])
        >>> small = gj.fit(X[:, :1], y, gj.families.Poisson())
        >>> big = gj.fit(X, y, gj.families.Poisson())
        >>> gj.lr_test(small, big).df
        1.0
    """
    table = anova(smaller, larger, test="Chisq")
    return TestResult(float(table.statistic[1]), float(table.df[1]), float(table.pvalue[1]),
                      "chi2")


def anova(*fits, test: str = "Chisq") -> AnovaTable:
    """R's ``anova(fit₁, fit₂, ..., test = "Chisq" | "F" | "Rao")`` for nested fits, smallest
    first: each row tests the fit against the one before it, with the dispersion (and its df)
    of the largest fit, as R. One fit of a formula (``glm``) gives R's ``anova(fit)``: its
    terms added one at a time to the intercept, in the formula's order, each row named by
    its term (the smaller models are refitted). With "Rao" the statistic is R's "Rao" score
    (``score_test``) and its p-value that of the score divided by the dispersion. Fits with
    estimated family parameters (``res.nuisance``) are compared by their likelihood ratio
    2(ℓ₁ − ℓ₀), "Chisq" only (MASS's ``anova.negbin`` table).

    Example:
        >>> import jax.numpy as jnp, glmjax as gj
        >>> X = jnp.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0], [1.0, 3.0], [1.0, 4.0]])
        >>> y = jnp.array([1.0, 2.0, 2.0, 5.0, 6.0])
        >>> t = gj.anova(gj.fit(X[:, :1], y, gj.families.Poisson()),
        ...              gj.fit(X, y, gj.families.Poisson()))
        >>> t.resid_df.tolist()
        [4.0, 3.0]
    """
    if test not in ("Chisq", "F", "Rao"):
        raise ValueError(f'test must be "Chisq", "F" or "Rao"; got {test!r}.')
    if len(fits) == 1 and getattr(fits[0], "model_spec", None) is not None:
        fit, terms = fits[0], _terms(fits[0], "anova")
        if terms[0][0] != "1":
            raise ValueError("a table of terms added one at a time starts from the intercept; "
                             "for a formula without one, compare nested fits: "
                             "gj.anova(fit0, fit1, ...).")
        models = fit.model_spec.refits(fit, [[c for t in terms[:k] for c in t[2]]
                                             for k in range(1, len(terms))])
        table = anova(*models, fit, test=test)
        return dataclasses.replace(table, labels=("NULL", *(t[0] for t in terms[1:])))
    if len(fits) < 2:
        raise ValueError("anova compares at least two fits, the smallest first (or takes one "
                         "fit of a formula, gj.glm, for its terms one at a time).")
    for k, fit in enumerate(fits):
        _single(fit, "anova")
        if k:
            _check_nested(fits[k - 1], fit)
    resid_df = np.array([float(f.df_resid) for f in fits])
    resid_dev = np.array([float(f.deviance) for f in fits])
    df = np.r_[np.nan, resid_df[:-1] - resid_df[1:]]
    deviance = np.r_[np.nan, resid_dev[:-1] - resid_dev[1:]]
    if any(f.nuisance for f in fits):
        return _likelihood_ratios(fits, test, resid_df, resid_dev, df, deviance)
    largest = fits[int(np.argmin(resid_df))]
    scale, df_scale = float(largest.scale), float(largest.df_resid)
    with np.errstate(invalid="ignore"):
        if test == "F":
            statistic = deviance / df / scale
            pvalue = stats.f.sf(statistic, df, df_scale)
        elif test == "Rao":
            pairs = zip(fits[:-1], fits[1:], strict=True)
            statistic = np.r_[np.nan, [_rao(a, b) for a, b in pairs]]
            pvalue = stats.chi2.sf(statistic / scale, df)
        else:
            statistic = deviance / scale
            pvalue = stats.chi2.sf(statistic, df)
    return AnovaTable(resid_df, resid_dev, df, deviance, statistic, pvalue, test)


@dataclasses.dataclass(frozen=True)
class DropTable:
    """R's ``drop1`` table: the full model ("<none>") and each term that can be dropped
    alone, with the df it frees, the deviance and AIC without it, and the test of dropping
    it: "Chisq" (the deviance difference over the dispersion, χ²; R's "LRT", or "scaled
    dev." where the dispersion is not 1) or "F"."""

    labels: tuple[str, ...]
    df: np.ndarray
    deviance: np.ndarray
    aic: np.ndarray
    statistic: np.ndarray
    pvalue: np.ndarray
    test: str
    dispersion: float

    def __str__(self) -> str:
        name, p_name = (("F value", "Pr(>F)") if self.test == "F" else
                        ("LRT" if self.dispersion == 1 else "scaled dev.", "Pr(>Chi)"))
        width = max(len(label) for label in self.labels) + 2
        rows = ["Single term deletions", "",
                f"{'':{width}}{'Df':>4}{'Deviance':>12}{'AIC':>12}{name:>12}{p_name:>11}"]
        for k, label in enumerate(self.labels):
            cells = f"{label:<{width}}"
            cells += f"{'':>4}" if k == 0 else f"{self.df[k]:>4.0f}"
            cells += f"{self.deviance[k]:>12.4f}{self.aic[k]:>12.4f}"
            if k:
                cells += f"{self.statistic[k]:>12.4f}{self.pvalue[k]:>11.4g}"
            rows.append(cells)
        return "\n".join(rows)


def drop1(fit, test: str = "Chisq") -> DropTable:
    """R's ``drop1(fit, test = "Chisq" | "F")`` for a formula fit (``glm``): each term that
    no other term contains (an interaction's main effects stay while it does) is dropped
    alone and the model refitted (with the fit's family, link, weights and offset).

    With φ the fit's dispersion (1 for Binomial and Poisson) and D the deviance of each
    model: "Chisq" tests (D − D_full)/φ against χ²(df); "F" tests
    ((D − D_full)/df)/(D_full/df_resid) against F(df, df_resid) (R's, which divides by the
    full model's deviance, not its Pearson dispersion). AIC is R's: D/φ + 2·rank shifted to
    the full model's AIC. (For the Gaussian family alone R puts n·log(D/n), the deviance
    with σ² re-estimated in each model, in place of D/φ; glmjax treats every family alike,
    as its ``anova`` does.)

    Example:
        >>> import glmjax as gj
        >>> df = gj.datasets.load_dataframe("randhie")
        >>> table = gj.drop1(gj.glm("mdvis ~ lncoins + idp", df, gj.families.Poisson()))
        >>> table.labels
        ('<none>', 'lncoins', 'idp')
    """
    if test not in ("Chisq", "F"):
        raise ValueError(f'test must be "Chisq" or "F"; got {test!r}.')
    if getattr(fit, "model_spec", None) is None:
        raise ValueError("drop1 needs a formula fit (gj.glm), whose terms it can drop.")
    terms = [t for t in _terms(fit, "drop1") if t[0] != "1"]
    droppable = [t for t in terms if not any(t[1] < other[1] for other in terms)]
    models = fit.model_spec.refits(fit, [[c for c in range(fit.n_features) if c not in t[2]]
                                         for t in droppable])
    deviance = np.array([float(f.deviance) for f in (fit, *models)])
    rank = np.array([f.n_features for f in (fit, *models)], float)
    phi, rdf = float(fit.scale), float(fit.df_resid)
    scaled = deviance / phi
    aic = scaled + 2 * rank
    aic = aic + float(fit.aic) - aic[0]
    df = np.r_[np.nan, rank[0] - rank[1:]]
    with np.errstate(invalid="ignore", divide="ignore"):
        if test == "F":
            statistic = (np.maximum(deviance - deviance[0], 0) / df) / (deviance[0] / rdf)
            pvalue = stats.f.sf(statistic, df, rdf)
        else:
            statistic = np.maximum(scaled - scaled[0], 0)
            pvalue = stats.chi2.sf(statistic, df)
    statistic[0] = pvalue[0] = np.nan
    return DropTable(("<none>", *(t[0] for t in droppable)), df, deviance, aic, statistic,
                     pvalue, test, phi)


def _terms(fit, what: str) -> list:
    """A single formula fit's terms (``DesignSpec.terms``)."""
    _single(fit, what)
    fit.require_rows(what)
    return fit.model_spec.terms(fit)


def _likelihood_ratios(fits, test: str, resid_df, resid_dev, df, deviance) -> AnovaTable:
    """``anova`` of fits with estimated family parameters: MASS's ``anova.negbin``."""
    if test != "Chisq":
        raise ValueError(f'test={test!r} needs the family parameters held fixed; these fits '
                         'estimate them (res.nuisance), so they are compared by their '
                         'likelihood ratio: use test="Chisq" (as MASS\'s anova.negbin), or '
                         'fit every model with the largest fit\'s estimates.')
    twologlik = np.array([2 * float(f.loglik) for f in fits])
    statistic = np.r_[np.nan, np.diff(twologlik)]
    with np.errstate(invalid="ignore"):
        pvalue = stats.chi2.sf(statistic, df)
    # each fit's estimates (a fit that holds a parameter fixed: its family's value)
    nuisance = {name: np.array([float(f.nuisance[name]) if name in f.nuisance
                                else float(getattr(f.family, name)) for f in fits])
                for name in dict.fromkeys(n for f in fits for n in f.nuisance)}
    return AnovaTable(resid_df, resid_dev, df, deviance, statistic, pvalue, test, twologlik,
                      nuisance)


def score_test(smaller, larger) -> TestResult:
    """The score (Rao) test of ``smaller`` nested in ``larger``: S = U(β̃)ᵀ I(β̃)⁻¹ U(β̃) / φ₁
    against χ² with Δdf, where β̃ is the smaller fit in the larger model's coefficients and φ₁
    the larger fit's dispersion (R's ``anova(..., test = "Rao")``, whose "Rao" column is S·φ₁).

    Example:
        >>> import jax.numpy as jnp, glmjax as gj
        >>> X = jnp.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0], [1.0, 3.0], [1.0, 4.0]])
        >>> y = jnp.array([1.0, 2.0, 2.0, 5.0, 6.0])
        >>> small = gj.fit(X[:, :1], y, gj.families.Poisson())
        >>> round(gj.score_test(small, gj.fit(X, y, gj.families.Poisson())).statistic, 4)
        5.2812
    """
    table = anova(smaller, larger, test="Rao")
    return TestResult(float(table.statistic[1] / float(larger.scale)), float(table.df[1]),
                      float(table.pvalue[1]), "chi2")


def _rao(smaller, larger) -> float:
    """Uᵀ I⁻¹ U at unit dispersion: the larger model's score and information at the smaller
    fit (R's "Rao" column: the regression sum of squares of the smaller fit's working
    residuals on the larger design, with its working weights)."""
    smaller.require_rows("the score test's score and information")
    larger.require_rows("the score test's score and information")
    a, b = smaller.problem, larger.problem
    embed, _ = _embedding(b.X, a.X)  # Xs θ = Xl · embed(θ)
    theta, extra = (np.asarray(v, np.float64) for v in a.unpack(smaller.params))
    beta = np.concatenate([embed(theta).ravel(), extra]).astype(np.asarray(larger.params).dtype)
    score = b.score(beta)
    return float(score @ factor_solve(factorize(b.fisher(beta)), score))


def _single(result, what: str) -> None:
    if np.ndim(result.params) != 1:
        raise ValueError(f"{what} needs single fits; index a batched result first (res[k]).")


def _check_nested(smaller, larger) -> None:
    """``ValueError`` unless the two fits share family, parametrization kind, data and
    weights, have fewer parameters in ``smaller``, and span nested column spaces. Fits
    without their rows (``fit_chunked``) are checked for the number of observations only:
    that they share the data and nest is the caller's to vouch for."""
    if type(smaller.family) is not type(larger.family):
        raise ValueError(f"the fits have different families ({smaller.family.name}, "
                         f"{larger.family.name}): they are not nested.")
    with_rows = smaller.per_row and larger.per_row
    if with_rows:
        a, b = smaller.problem, larger.problem
        same = (np.shape(a.y) == np.shape(b.y)
                and np.array_equal(np.asarray(a.y), np.asarray(b.y))
                and np.array_equal(np.asarray(a.weights), np.asarray(b.weights))
                and np.array_equal(np.asarray(a.offset), np.asarray(b.offset)))
    elif smaller.per_row or larger.per_row:
        raise ValueError("compare a chunked fit with another chunked fit of the same data.")
    else:
        same = int(smaller.nobs) == int(larger.nobs)
    if not same:
        raise ValueError("the fits are not on the same data (y, weights and offset must be "
                         "equal): compare fits of one data set.")
    if not float(smaller.df_resid) > float(larger.df_resid):
        raise ValueError(f"the first fit must be the smaller: its residual df "
                         f"({float(smaller.df_resid):.0f}) must exceed the second's "
                         f"({float(larger.df_resid):.0f}). Pass the fits smallest first.")
    if not with_rows:
        return
    _, nested = _embedding(b.X, a.X)
    if not nested:
        raise ValueError("the smaller fit's columns are not in the span of the larger fit's: "
                         "the models are not nested.")


def _embedding(Xl, Xs):
    """(θ ↦ the coefficients of the larger design Xl that give Xs θ, whether Xs's columns are
    in Xl's span (to 1e-8)), by least squares of Xs's columns on Xl. For a ``structured``
    Xl (one large categorical, ``_information``) the normal equations are solved in blocks,
    and a smaller design with the same categorical keeps its level coefficients as they
    are: only its dense columns are regressed. Other designs are densified (moderate p)."""
    if not (is_design(Xl) and Xl.structured):
        dense_l, dense_s = _dense(Xl), _dense(Xs)
        coef, *_ = np.linalg.lstsq(dense_l, dense_s, rcond=None)
        nested = np.max(np.abs(dense_l @ coef - dense_s)) <= 1e-8 * max(
            1.0, np.max(np.abs(dense_s)))
        return (lambda theta: coef @ theta), nested
    shared = (is_design(Xs) and Xs.n_sparse == Xl.n_sparse and Xs.index.shape == Xl.index.shape
              and bool(np.array_equal(np.asarray(Xs.index), np.asarray(Xl.index))))
    columns = jnp.asarray(Xs.dense if shared else _dense(Xs), Xl.dtype)
    unit = Xl.gram(jnp.ones(Xl.shape[0], Xl.dtype))  # (a tiny ridge for a rank-deficient Xl)
    coef = spectrum_of(unit).solve(Xl.transposed_product(columns))
    residual = Xl @ coef - columns
    nested = float(jnp.max(jnp.abs(residual))) <= 1e-8 * max(
        1.0, float(jnp.max(jnp.abs(columns))))
    coef = np.asarray(coef, np.float64)
    if not shared:
        return (lambda theta: coef @ theta), nested
    p_d = Xs.n_dense

    def embed(theta):  # the dense part regressed, the shared levels' coefficients kept
        out = coef @ theta[:p_d]
        out[Xl.n_dense:] += theta[p_d:]
        return out

    return embed, nested


def _dense(X) -> np.ndarray:
    """X as a float64 NumPy array (a ``Design`` densified: these checks are for moderate p)."""
    return np.asarray(X.todense() if is_design(X) else X, np.float64)
