"""The result of a fit: coefficients, their covariance, likelihood statistics, residuals, summary.

Conventions are R's ``glm``: standard errors from the expected Fisher information times the
dispersion; z statistics with normal p-values when the dispersion is fixed, t statistics with
t(df_resid) p-values when it is estimated; AIC = −2ℓ + 2k with k counting the dispersion.
"""

from __future__ import annotations

import dataclasses
import math
import statistics

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.scipy.special import betainc, ndtr

from glmjax._compilation import filter_jit
from glmjax._covariances import hat_values, model_unit_covariance
from glmjax._information import BlockCovariance, diagonal
from glmjax._model import Problem, constant_columns
from glmjax._row_blocks import any_true, count_true, is_design
from glmjax.families import AbstractFamily
from glmjax.parametrizations import AbstractParametrization, MeanPrecision
from glmjax.solvers import IRLS, Status


def with_X(result: FitResult, X: Array) -> FitResult:
    """``result`` whose problem holds the design ``X``. A compiled program returns results
    with a placeholder in its place (an input returned from a program is copied; a batch of
    fits keeps a shared X once), and the caller puts the caller's X back with this."""
    return eqx.tree_at(lambda r: r.problem.X, result, X)


def without_X(result: FitResult, shape: tuple[int, ...] = (0,)) -> FitResult:
    """``result`` with an empty placeholder of ``shape`` for its design (``with_X``), and
    without the design's row outer products (``Problem.outer``)."""
    problem = dataclasses.replace(result.problem, outer=None)
    return with_X(dataclasses.replace(result, problem=problem),
                  jnp.zeros(shape, result.params.dtype))


def compiled_property(fn):
    """A property computed in one compiled program per shape (op by op, every operation would
    compile a program of its own on first use: ~30 ms each on the CPU)."""
    return property(filter_jit(fn))


@filter_jit
def null_model(problem: Problem) -> tuple[Array, Array]:
    """(deviance, residual df) of the intercept-only model with the same offset and extras.

    Without a constant column in X, the model with no coefficients, η = η(offset) (as R).
    Fitted by Fisher scoring; for families without a saturated model the "deviance" is −2ℓ.
    """
    fam, w = problem.family, problem.weights
    has_intercept = any_true(constant_columns(problem.X))
    q, r = problem.n_linear, problem.n_extra
    null = eqx.tree_at(
        lambda pr: (pr.X, pr.penalized),
        problem,
        (jnp.ones((problem.X.shape[0], 1), problem.X.dtype), jnp.zeros(q + r, problem.X.dtype)),
    )
    beta = IRLS().minimize(null, null.initial()).beta
    beta = jnp.where(has_intercept, beta, beta.at[:q].set(0.0))
    deviance = jnp.sum(w * fam.unit_deviance(null.y, null.eta(beta)))
    n_obs = count_true(w > 0)
    return deviance, n_obs - jnp.where(has_intercept, q, 0) - r

class FitResult(eqx.Module):
    """A fitted GLM. A pytree: results of ``jax.vmap``-ed fits stack along a leading axis,
    and ``res[k]`` is the k-th of them.

    Example:
        >>> import jax.numpy as jnp, glmjax as gj
        >>> X = jnp.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0], [1.0, 3.0]])
        >>> res = gj.fit(X, jnp.array([1.0, 2.0, 2.0, 5.0]), family=gj.families.Poisson())
        >>> res.coef.shape, res.predict(X).shape
        ((2,), (4,))
    """

    family: AbstractFamily
    parametrization: AbstractParametrization
    params: Array
    cov: Array
    loglik: Array
    deviance: Array
    scale: Array
    nobs: Array
    df_resid: Array
    n_iter: Array
    status_code: Array
    n_boundary: Array
    mean: Array
    variance: Array
    unit_deviance: Array
    problem: Problem
    n_features: int = eqx.field(static=True)
    n_linear: int = eqx.field(static=True)
    scale_estimated: bool = eqx.field(static=True)
    feature_names: tuple[str, ...] = eqx.field(static=True)
    solver: str = eqx.field(static=True)
    model_spec: object = eqx.field(static=True, default=None)  # set by ``glmjax.glm``
    cov_type: str = eqx.field(static=True, default="nonrobust")
    nuisance: dict = eqx.field(default_factory=dict)  # estimated family parameters
    nuisance_stderr: dict = eqx.field(default_factory=dict)
    nuisance_at_bound: dict = eqx.field(default_factory=dict)  # estimate at its range's end
    null_fit: tuple | None = None  # (null deviance, df) when computed with the fit
    # whether the per-row values (the data in ``problem``, mean, variance, unit deviances)
    # are kept: False for ``fit_chunked``, whose data need not fit in memory
    per_row: bool = eqx.field(static=True, default=True)

    @property
    def converged(self) -> Array:
        """Whether the solver met its stopping rule (one flag per fit in a batch)."""
        return self.status_code == Status.SUCCESS

    @property
    def status(self) -> Status | np.ndarray:
        """How the solver stopped: a ``glmjax.solvers.Status`` (SUCCESS, MAX_ITER, NONFINITE,
        STEP_FAILED; INVALID_INPUT for a fit of ``fit_many`` that failed a check), or the
        codes of a batch as an integer array."""
        code = np.asarray(self.status_code)
        return Status(int(code)) if code.ndim == 0 else code

    # ---- a batch of fits (``fit_many``, ``jax.vmap(fit)``) -----------------------------------
    def __len__(self) -> int:
        """The number of fits in a batched result; a single fit has no length."""
        if jnp.ndim(self.params) < 2:
            raise TypeError("a single fit has no len(); only batched results (fit_many, "
                            "jax.vmap(fit)) do.")
        return jnp.shape(self.params)[0]

    def __bool__(self) -> bool:  # truth must not ask __len__, which a single fit lacks
        return True

    def __getitem__(self, k: int) -> FitResult:
        """The k-th fit of a batched result, as a result of its own (``summary()`` and all).

        Example:
            >>> import jax.numpy as jnp, glmjax as gj
            >>> X = jnp.stack([jnp.ones(6), jnp.arange(6.0)], axis=1)
            >>> Y = jnp.array([[0, 1, 1, 2, 3, 5], [1, 0, 2, 1, 1, 2.0]])
            >>> res = gj.fit_many(X, Y, family=gj.families.Poisson())
            >>> len(res), res[1].coef.shape, [r.coef.shape for r in res]
            (2, (2,), [(2,), (2,)])
        """
        if jnp.ndim(self.params) < 2:
            raise TypeError("a single fit cannot be indexed; only batched results (fit_many, "
                            "jax.vmap(fit)) can.")
        if not isinstance(k, int | np.integer):
            raise TypeError(f"index a batch of fits with an integer; got {type(k).__name__}.")
        n = len(self)
        if not -n <= k < n:
            raise IndexError(f"index {k} is out of range for a batch of {n} fits.")
        index = np.asarray(int(k) % n)  # an array: one compiled program serves every k
        X = self.problem.X  # fit_many keeps a shared X once, unbatched
        one = _take(without_X(self, (n, 0)), index)
        return with_X(one, X if jnp.ndim(X) == 2 else _take(X, index))

    # ---- coefficients ---------------------------------------------------------------------
    def _shaped(self, flat: Array) -> Array:
        return shaped(flat, self.n_features, self.n_linear)

    @property
    def coef(self) -> Array:
        """Θ: shape (p,) with one linear predictor, else (p, q)."""
        return self._shaped(self.params)

    @property
    def extra(self) -> Array:
        """Parameters not attached to X (the log precision of mean–precision models)."""
        return self.params[..., self.n_features * self.n_linear :]

    @compiled_property
    def bse(self) -> Array:
        """Standard errors of all parameters, flat (coefficients, then extras)."""
        return jnp.sqrt(diagonal(self.cov))

    @compiled_property
    def stderr(self) -> Array:
        return self._shaped(self.bse)

    @compiled_property
    def zvalues(self) -> Array:
        return self.coef / self.stderr

    @compiled_property
    def pvalues(self) -> Array:
        """Two-sided p-values: normal, or t(df_resid) when the dispersion is estimated."""
        return self._shaped(self._pvalues(self.params / self.bse))

    def _pvalues(self, stat: Array) -> Array:
        if self.scale_estimated:
            df = jnp.expand_dims(self.df_resid, -1).astype(stat.dtype)
            return betainc(df / 2, 0.5, df / (df + stat**2))
        return 2 * ndtr(-jnp.abs(stat))

    def conf_int(self, alpha: float = 0.05, method: str = "wald") -> Array:
        """Intervals for the coefficients at level 1 − α; shape (..., 2).

        ``method="wald"``: coef ± z_{1−α/2}·stderr (R's ``confint.default``).
        ``method="profile"``: profile-likelihood intervals (R's ``confint`` of a glm, MASS's
        ``profile.glm``), {b : 2(ℓ(β̂) − ℓ̃(b))/φ̂ ≤ z²_{1−α/2}} with ℓ̃(b) maximised over the
        other parameters at βⱼ = b; not symmetric, and better than Wald's for small samples
        and large effects; an end is infinite where the likelihood never falls that far, NaN
        where a refit fails (a separated fit).
        For a single unpenalised fit with a dense X and one linear predictor.
        """
        alpha = _check_alpha(alpha)
        if method == "profile":
            from glmjax._profile import profile_conf_int

            return profile_conf_int(self, alpha)
        if method != "wald":
            raise ValueError(f'method must be "wald" or "profile"; got {method!r}.')
        return _conf_int(self, np.asarray(_normal_quantile(1 - alpha / 2)))

    @compiled_property
    def precision(self) -> Array | None:
        """φ of a mean–precision (Beta/Dirichlet) model (one per row with a precision
        design), else None."""
        if isinstance(self.parametrization, MeanPrecision):
            if self.parametrization.precision_design is not None:
                return jnp.exp(self.parametrization.log_precision(self.extra))
            return jnp.exp(self.extra[..., 0])
        return None

    # ---- likelihood statistics ------------------------------------------------------------
    @property
    def n_params(self) -> int:
        """k: coefficients, extras and the dispersion when it is estimated."""
        return self.params.shape[-1] + int(self.scale_estimated) + len(self.nuisance)

    @compiled_property
    def null_deviance(self) -> Array:
        """Deviance of the intercept-only model (with the offset); computed on first use.

        Without an intercept column, the model η = η(offset) with no coefficients (R). For
        families without a saturated model, −2ℓ of that model.
        """
        return self._null_model()[0]

    @compiled_property
    def df_null(self) -> Array:
        return self._null_model()[1]

    def _null_model(self) -> tuple[Array, Array]:
        """``model.null_model`` of each fit: one for a single fit, (B,) each for a batch."""
        if self.null_fit is not None:
            return self.null_fit
        if jnp.ndim(self.params) < 2:
            return null_model(self.problem)
        X = self.problem.X  # fit_many keeps a shared X once, unbatched; the rest is batched
        rest = eqx.tree_at(lambda pr: pr.X, self.problem, jnp.zeros((len(self), 0), X.dtype))
        return jax.vmap(lambda pr, X: null_model(eqx.tree_at(lambda q: q.X, pr, X)),
                        in_axes=(0, None if jnp.ndim(X) == 2 else 0))(rest, X)

    @compiled_property
    def aic(self) -> Array:
        """−2ℓ + 2k, k the estimated parameters (with φ and estimated family parameters)."""
        return -2 * self.loglik + 2 * self.n_params

    @compiled_property
    def bic(self) -> Array:
        """−2ℓ + k log n, n the rows with positive weight (R's ``BIC`` of a ``glm`` counts
        rows of zero weight too)."""
        return -2 * self.loglik + jnp.log(self.nobs) * self.n_params

    # ---- residuals (scalar families) -------------------------------------------------------
    @compiled_property
    def resid_response(self) -> Array:
        """T(yᵢ) − E[T(yᵢ)]."""
        self.require_rows("residuals")
        return self.problem.family.sufficient_stat(self.problem.y) - self.mean

    def require_rows(self, what: str) -> None:
        """``ValueError`` for a result without its per-row values (``fit_chunked``)."""
        if not self.per_row:
            raise ValueError(f"{what} need the data of every row, which a chunked fit does "
                             "not keep: compute them chunk by chunk from res.predict(X).")

    @compiled_property
    def resid_pearson(self) -> Array:
        """(T(yᵢ) − μᵢ) √wᵢ / √V(μᵢ)."""
        self._require_scalar("Pearson residuals")
        return self.resid_response * jnp.sqrt(self.problem.weights / self.variance)

    @compiled_property
    def resid_deviance(self) -> Array:
        """sign(T(yᵢ) − μᵢ) √dᵢ, with Σ dᵢ the deviance."""
        self._require_scalar("deviance residuals")
        return jnp.sign(self.resid_response) * jnp.sqrt(jnp.maximum(self.unit_deviance, 0))

    @compiled_property
    def resid_working(self) -> Array:
        """(T(yᵢ) − μᵢ) ∂Lᵢ/∂μᵢ, the residual of IRLS's working response (R's
        ``residuals(fit, "working")``), with ∂μ/∂L by autodiff through the link."""
        self._require_scalar("working residuals")
        if jnp.ndim(self.params) != 1:
            raise ValueError("working residuals are per fit: index a batched result first "
                             "(res[k]).")
        problem = self.problem
        linear, extra = problem.linear(self.params), problem.unpack(self.params)[1]

        def mean_of(lin):
            return problem.family.mean(problem.parametrization.natural(problem.family, lin,
                                                                       extra))

        slope = jax.jvp(mean_of, (linear,), (jnp.ones_like(linear),))[1]
        return self.resid_response / slope.reshape(self.resid_response.shape)

    def _require_scalar(self, what: str) -> None:
        """``ValueError`` unless the family's mean is one number per row."""
        if jnp.ndim(self.mean) != jnp.ndim(self.params):
            raise ValueError(f"{what} take one residual per row; this family's mean has "
                             f"{jnp.shape(self.mean)[-1]} components per row (see "
                             "resid_response).")

    # ---- influence ---------------------------------------------------------------------------
    @compiled_property
    def hat_values(self) -> Array:
        """Leverages hᵢ = tr(wᵢ∇²A(ηᵢ) Jᵢ B Jᵢᵀ), Jᵢ = ∂ηᵢ/∂β and B the inverse (penalised)
        information at unit dispersion: the diagonal of the weighted working model's hat
        matrix, any family and link (R's ``hatvalues``, statsmodels' ``hat_matrix_diag``).
        They sum to the number of coefficients of an unpenalised fit.

        Example:
            >>> import jax.numpy as jnp, glmjax as gj
            >>> X = jnp.stack([jnp.ones(5), jnp.arange(5.0)], axis=1)
            >>> res = gj.fit(X, jnp.array([1.0, 2.0, 2.0, 5.0, 6.0]), gj.families.Poisson())
            >>> round(float(res.hat_values.sum()), 6)
            2.0
        """
        self.require_rows("hat values")
        if jnp.ndim(self.params) != 1:
            raise ValueError("hat values are per fit: index a batched result first (res[k]).")
        unit_cov = model_unit_covariance(self.problem, self.params)
        if isinstance(unit_cov, BlockCovariance):
            raise ValueError("hat values need the dense covariance, which this fit keeps in "
                             "blocks (a categorical of 1,024 levels or more).")
        return hat_values(self.problem, self.params, unit_cov)

    @compiled_property
    def cooks_distance(self) -> Array:
        """Dᵢ = rᵢ² hᵢ / (φ k (1 − hᵢ)²) with rᵢ the Pearson residual, hᵢ the hat value, φ
        the dispersion and k the coefficients (R's ``cooks.distance``, statsmodels'
        ``cooks_distance``); scalar families."""
        self._require_scalar("Cook's distances")
        h, r = self.hat_values, self.resid_pearson
        return r**2 * h / (self.scale * self.params.shape[-1] * (1 - h) ** 2)

    def resid_standardized(self, kind: str = "deviance") -> Array:
        """rᵢ / √(φ(1 − hᵢ)), rᵢ the ``"deviance"`` or ``"pearson"`` residual and hᵢ the hat
        value (R's ``rstandard(type=)``; statsmodels' ``resid_studentized`` is the Pearson
        kind); scalar families."""
        if kind not in ("deviance", "pearson"):
            raise ValueError(f'kind must be "deviance" or "pearson"; got {kind!r}.')
        r = self.resid_deviance if kind == "deviance" else self.resid_pearson
        return r / jnp.sqrt(self.scale * (1 - self.hat_values))

    def plot_diagnostics(self, title: str | None = None):
        """Observed vs fitted, residuals vs fitted and a normal Q-Q plot (``glmjax.plots``)."""
        from glmjax.plots import plot_diagnostics

        return plot_diagnostics(self, title)

    # ---- prediction ------------------------------------------------------------------------
    def predict(self, X, offset=None, which: str = "mean", precision_design=None,
                unseen: str = "raise") -> Array:
        """E[y | x] for new rows (``which="mean"``), or η (``"natural"``) or L (``"linear"``).

        Multinomial returns all K class probabilities, shape (m, K); Beta and Dirichlet E[y].
        A fit from a formula (``glmjax.glm``) also takes a data frame, encoded as the data it
        was fitted on, and ``offset`` as a column name; so does a fit of a data frame with
        categorical columns, or of a sparse matrix (a ``Design``). A level of a categorical
        the fit did not see raises, unless ``unseen="reference"`` (its reference level's
        coding). A model with a precision design needs the new rows' Z as
        ``precision_design`` (a formula fit builds it from the frame).
        """
        X, offset, param = self._new_rows(X, offset, precision_design, unseen)
        return predict(self.family, param, self.params, self.n_linear, X, offset, which)

    def prediction(self, X, offset=None, level: float = 0.95,
                   precision_design=None, unseen: str = "raise") -> Prediction:
        """Predictions with standard errors and intervals, as R's ``predict.glm(se.fit =
        TRUE)`` on both scales.

        ``link`` is L = xᵀθ + offset and ``link_se`` = √(xᵀ Σ x) with Σ = ``cov`` (the fit's
        ``cov_type``); ``mean`` is E[y | x] and ``mean_se`` its delta-method standard error
        |∂μ/∂β| Σ; ``lower``/``upper`` the interval L ± z·se mapped through the inverse link
        (z the normal quantile of ``level``), or, where the mean is not a function of one
        linear predictor (Multinomial and Dirichlet, per class), mean ± z·mean_se.

        Example:
            >>> import jax.numpy as jnp, glmjax as gj
            >>> X = jnp.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0], [1.0, 3.0]])
            >>> res = gj.fit(X, jnp.array([1.0, 2.0, 2.0, 5.0]), gj.families.Poisson())
            >>> p = res.prediction(X[:2])
            >>> bool(jnp.all((p.lower < p.mean) & (p.mean < p.upper)))
            True
        """
        if not (isinstance(level, int | float) and 0 < level < 1):
            raise ValueError(f"level must be a number with 0 < level < 1; got {level!r}.")
        X, offset, param = self._new_rows(X, offset, precision_design, unseen)
        X, offset = _checked_rows(self.family, param, self.params, self.n_linear, X, offset)
        z = np.asarray(_normal_quantile(0.5 + level / 2), self.params.dtype)
        result = _prediction(self.family, param, self.params, self.cov, self.n_linear, X,
                             offset, z)
        return dataclasses.replace(result, level=float(level))

    def wald_test(self, R, q=None):
        """The Wald test of R·θ = q for the flat parameters (``glmjax._model_tests``): χ², or
        F where the dispersion is estimated; with the fit's ``cov_type``."""
        from glmjax._model_tests import wald_test

        return wald_test(self, R, q)

    def _new_rows(self, X, offset, precision_design, unseen: str = "raise"):
        """(X, offset, parametrization) for new rows: a data frame encoded through the
        formula or the fitted design's layout, the precision design of a mean–precision
        model swapped in."""
        if unseen not in ("raise", "reference"):
            raise ValueError(f"unseen must be 'raise' or 'reference'; got {unseen!r}.")
        fitted = self.problem.X
        if self.model_spec is not None:
            X, offset, Z = self.model_spec.design(X, offset, unseen)
            precision_design = Z if Z is not None else precision_design
        elif is_design(fitted) and not is_design(X) and fitted.layout is not None:
            X = fitted.layout.encode(X, unseen)
        param = self.parametrization
        if getattr(param, "precision_design", None) is not None:
            if precision_design is None:
                raise ValueError("this model has a precision design (log phi = Z gamma): pass "
                                 "precision_design=, the rows of Z for the rows of X.")
            Z = jnp.asarray(precision_design, self.params.dtype)
            if Z.shape != (jnp.shape(X)[0], param.precision_design.shape[1]):
                raise ValueError(f"precision_design must have shape ({jnp.shape(X)[0]}, "
                                 f"{param.precision_design.shape[1]}); got {Z.shape}.")
            param = eqx.tree_at(lambda p: p.precision_design, param, Z)
        return X, offset, param

    # ---- reading ---------------------------------------------------------------------------
    def param_names(self) -> list[str]:
        """A name for each flat parameter: ``feature`` or ``feature[k]`` (k the class of a
        softmax, the component of a Dirichlet, or its name in ``class_names``), then
        extras."""
        q = self.n_linear
        classes = self.parametrization.linear_classes(self.family)
        labels = [self.class_names[k] for k in classes] if self.class_names else classes
        names = [f"{f}[{j}]" if q > 1 else f for f in self.feature_names for j in labels]
        extras = []
        if isinstance(self.parametrization, MeanPrecision):
            extras = [f"(phi)_{n}" for n in self.parametrization.precision_names] or [
                f"(phi)_z{j}" for j in range(self.params.shape[-1] - len(names))]
            if self.parametrization.precision_design is None:
                extras = ["(log precision)"]
        return names + extras

    @property
    def class_names(self) -> tuple[str, ...] | None:
        """The names of y's classes (components) from a formula's response: a categorical's
        levels, or the component columns; None otherwise."""
        names = getattr(self.model_spec, "response_names", None)
        return names if names and len(names) == self.family.natural_dim else None

    def __repr__(self) -> str:
        return (
            f"FitResult({self.family.name}, link={self.parametrization.describe(self.family)}, "
            f"n={_num(self.nobs)}, converged={_boolstr(self.converged)}, "
            f"deviance={_num(self.deviance)})"
        )

    def coef_table(self, alpha: float = 0.05) -> dict[str, list]:
        """Every parameter (flat: coefficients, then extras) with its name, estimate, standard
        error, z (or t) statistic, p-value and Wald interval, as columns of plain lists."""
        return self._coef_table(summary_numbers(self), alpha)

    def _coef_table(self, numbers: dict, alpha: float) -> dict[str, list]:
        """Columns of plain lists; a coefficient held at zero by an L1 penalty (standard
        error 0) has None for its statistic and p-value (not estimated)."""
        est, se = numbers["params"], numbers["bse"]
        z = _normal_quantile(1 - _check_alpha(alpha) / 2)
        held = se == 0

        def unless_held(values):
            return [None if h else float(v) for v, h in zip(values, held, strict=True)]

        with np.errstate(divide="ignore", invalid="ignore"):
            statistic = est / se
        return {
            "name": self.param_names(), "estimate": est.tolist(), "stderr": se.tolist(),
            "statistic": unless_held(statistic), "pvalue": unless_held(numbers["pvalue"]),
            "conf_low": (est - z * se).tolist(), "conf_high": (est + z * se).tolist(),
        }

    def summary(self) -> str:
        """A coefficient table and fit statistics in the manner of R's ``summary.glm``."""
        stat_name = "t value" if self.scale_estimated else "z value"
        p_name = "Pr(>|t|)" if self.scale_estimated else "Pr(>|z|)"
        numbers = summary_numbers(self)
        table = self._coef_table(numbers, 0.05)
        names, est, se, pv = (table[k] for k in ("name", "estimate", "stderr", "pvalue"))
        width = max(len(n) for n in names) + 2
        lines = [
            f"Generalized linear model: {self.family.name} family, "
            f"link: {self.parametrization.describe(self.family)}"
            + ("" if self.class_names is None or len(set(self.parametrization.linear_classes(
                self.family))) == len(self.class_names) else "; classes: " + ", ".join(
                f"{k} {name}" for k, name in enumerate(self.class_names)))
            + ("" if self.cov_type == "nonrobust" else
               f"; covariance: {self.cov_type} (sandwich)"),
            f"Solver: {self.solver}; "
            + ("not run: " + Status.INVALID_INPUT.advice(self.solver)
               if self.status == Status.INVALID_INPUT else
               ("converged" if bool(self.converged) else "DID NOT CONVERGE")
               + f" after {int(self.n_iter)} iterations"),
            "",
            "Coefficients:",
            f"{'':{width}}{'Estimate':>12}{'Std. Error':>12}{stat_name:>10}{p_name:>11}",
        ]
        held = [p is None for p in pv]
        est_text, se_text = _column(est), _column(se)
        for name, b, s, z, p, h in zip(names, est_text, se_text, table["statistic"], pv, held,
                                       strict=True):
            if h:  # held at zero by the L1 term: no standard error, statistic or p-value
                lines.append(f"{name:{width}}{b:>12}{'.':>12}{'.':>10}{'.':>11}")
            else:
                lines.append(f"{name:{width}}{b:>12}{s:>12}{z:>10.3f}{_pformat(p):>11} "
                             f"{_stars(p)}".rstrip())
        lines += ["---", "Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1"]
        if any(held):
            lines.append(f"({sum(held)} coefficients held at zero by the L1 penalty: '.' "
                         "marks what is not estimated)")
        lines.append("")
        for name, value in self.nuisance.items():  # as MASS's glm.nb prints theta
            tail = ("at the end of its range (the likelihood rises towards it)"
                    if bool(self.nuisance_at_bound[name])
                    else f"std. error {float(self.nuisance_stderr[name]):.4g}")
            lines.append(f"{name} (estimated by maximum likelihood): {float(value):.6g}, {tail}")
        precision = numbers["precision"]
        if precision is not None and np.ndim(precision) == 0:
            lines.append(f"Precision parameter phi: {float(precision):.5g}")
        elif precision is not None:
            lines.append("Precision: log phi = Z gamma, the (phi)_ coefficients above")
        if self.family.has_saturated:
            how = "estimated" if self.scale_estimated else "taken"
            lines.append(f"(Dispersion parameter for {self.family.name} family {how} to be "
                         f"{float(self.scale):.6g})")
        lines += [
            "",
            f"    Null deviance: {float(numbers['null_deviance']):.6g}  on "
            f"{int(numbers['df_null'])}"
            "  degrees of freedom",
            f"Residual deviance: {float(self.deviance):.6g}  on {int(self.df_resid)}"
            "  degrees of freedom",
            f"Log-likelihood: {float(self.loglik):.6g}   AIC: {float(numbers['aic']):.6g}"
            f"   BIC: {float(numbers['bic']):.6g}",
        ]
        if not self.family.has_saturated:
            lines.append("(no saturated model for this family: deviance = -2 log-likelihood)")
        if int(self.n_boundary) > 0:
            lines.append(f"Warning: fitted means on the boundary for {int(self.n_boundary)} "
                         "observations (separation): the MLE does not exist.")
        return "\n".join(lines)


def summary_numbers(result: FitResult) -> dict[str, np.ndarray]:
    """For a single fit, the numbers of ``summary()`` that the result does not store
    (standard errors, p-values, the null deviance, AIC, BIC, the precision), from one
    compiled program (op by op, a first ``summary()`` compiled ~50 programs: 2.6 s for the
    README's Poisson fit)."""
    if jnp.ndim(result.params) != 1:
        raise ValueError("a coefficient table needs a single fit; index a batched result "
                         "first (res[k]).")
    return jax.device_get(_summary_numbers(result))


@filter_jit
def _summary_numbers(result: FitResult) -> dict[str, Array]:
    null_deviance, df_null = result._null_model()
    return {"params": result.params, "bse": result.bse,
            "pvalue": result._pvalues(result.params / result.bse),
            "null_deviance": null_deviance, "df_null": df_null, "aic": result.aic,
            "bic": result.bic, "precision": result.precision}


@filter_jit
def _conf_int(result: FitResult, z: Array) -> Array:
    coef, stderr = result.coef, result.stderr
    return jnp.stack([coef - z * stderr, coef + z * stderr], axis=-1)


def _check_alpha(alpha) -> float:
    if not isinstance(alpha, int | float | np.floating) or not 0 < alpha < 1:
        raise ValueError(f"alpha must be a number with 0 < alpha < 1 (0.05 for 95% "
                         f"intervals); got {alpha!r}.")
    return float(alpha)


def _normal_quantile(p: float) -> float:
    return statistics.NormalDist().inv_cdf(p)


@filter_jit  # one program for every leaf (indexed op by op, each shape compiled its own)
def _take(tree, k: Array):
    return jax.tree.map(lambda leaf: leaf[k], tree)


def _column(values, digits: int = 4) -> list[str]:
    """Numbers with one number of decimals for the whole column, as R's ``printCoefmat``:
    enough for ``digits`` significant digits of the smallest non-zero magnitude;
    scientific notation when that would take more than 8 decimals.

    Example:
        >>> _column([0.21465, -0.0813, 12.5])
        ['0.21465', '-0.08130', '12.50000']
    """
    values = np.asarray(values, float)
    finite = np.abs(values[np.isfinite(values) & (values != 0)])
    if finite.size == 0:
        return [f"{v:.1f}" for v in values]
    decimals = max(1, digits - 1 - int(np.floor(np.log10(finite.min()))))
    if decimals > 8 or finite.max() >= 1e15:
        return [f"{v:.{digits - 1}e}" for v in values]
    return [f"{v:.{decimals}f}" for v in values]


def _pformat(p: float) -> str:
    return "< 2e-16" if p < 2e-16 else f"{p:.3g}"


def _stars(p: float) -> str:
    if math.isnan(p):
        return ""
    return next(s for cut, s in ((1e-3, "***"), (1e-2, "**"), (0.05, "*"), (0.1, "."), (2, ""))
                if p < cut)


def _num(x) -> str:
    return f"{float(x):.6g}" if jnp.ndim(x) == 0 else f"array{tuple(jnp.shape(x))}"


def _boolstr(x) -> str:
    return str(bool(x)) if jnp.ndim(x) == 0 else f"{int(jnp.sum(x))}/{jnp.size(x)}"


def shaped(flat: Array, p: int, q: int) -> Array:
    """The Θ block of flat parameters: shape (..., p) when q = 1, else (..., p, q)."""
    block = flat[..., : p * q]
    return block if q == 1 else block.reshape(block.shape[:-1] + (p, q))


def predict(family: AbstractFamily, param: AbstractParametrization, params: Array,
            n_linear: int, X, offset=None, which: str = "mean") -> Array:
    """E[y | x] (``which="mean"``), η (``"natural"``) or L = XΘ + offset (``"linear"``) of the
    model with flat coefficients ``params`` (Θ of shape (p, ``n_linear``), then extras), in
    one compiled program per shape (op by op, a first prediction compiled ~10 programs)."""
    if which not in ("mean", "natural", "linear"):
        raise ValueError(f"which must be 'mean', 'natural' or 'linear'; got {which!r}.")
    X, offset = _checked_rows(family, param, params, n_linear, X, offset)
    return _predict(family, param, params, n_linear, X, offset, which)


def _checked_rows(family, param, params, n_linear, X, offset):
    """(X, offset) for a prediction, as arrays; ``ValueError`` for wrong shapes."""
    X = X if isinstance(X, jax.Array) or is_design(X) else np.asarray(X)
    p = (params.shape[-1] - param.n_extra(family)) // n_linear
    if X.ndim != 2 or X.shape[1] != p:
        raise ValueError(f"X must have shape (m, {p}); got {X.shape}.")
    if offset is not None and not isinstance(offset, jax.Array):
        offset = np.asarray(offset)
    if offset is not None and jnp.shape(offset) != (X.shape[0],):
        raise ValueError(f"offset must have shape ({X.shape[0]},), one value per row of X; "
                         f"got {jnp.shape(offset)}.")
    return X, offset


class Prediction(eqx.Module):
    """``FitResult.prediction``: each field (m,), or (m, K) per class; ``level`` the
    intervals' coverage."""

    link: Array
    link_se: Array
    mean: Array
    mean_se: Array
    lower: Array
    upper: Array
    level: float = eqx.field(static=True, default=0.95)


@filter_jit
def _prediction(family, param, params, cov, n_linear, X, offset, z) -> Prediction:
    if params.ndim == 2:  # a batch of fits
        return jax.vmap(lambda b, c: _prediction(family, param, b, c, n_linear, X, offset, z)
                        )(params, cov)

    def link_of(b):
        return _predict(family, param, b, n_linear, X, offset, "linear")

    def mean_of(b):
        return _predict(family, param, b, n_linear, X, offset, "mean")

    def se(fn):
        J = jax.jacfwd(fn)(params)  # (..., k)
        return jnp.sqrt(jnp.maximum(jnp.einsum("...k,kl,...l->...", J, cov, J), 0))

    def mean_at(linear):  # one linear predictor: the mean at L, with the extras at theirs
        return family.response_mean(param.natural(family, linear[:, None], params[X.shape[1]:]))

    link, mean = link_of(params), mean_of(params)
    if isinstance(cov, BlockCovariance):  # (one linear predictor) mean_se = |dμ/dL| link_se
        link_se = jnp.sqrt(jnp.maximum(cov.row_variances(X.astype(params.dtype)), 0))
        mean_se = jnp.abs(jax.jvp(mean_at, (link,), (jnp.ones_like(link),))[1]) * link_se
    else:
        link_se, mean_se = se(link_of), se(mean_of)
    if n_linear == 1 and mean.ndim == 1:  # the link-scale interval through the inverse link
        a, b = mean_at(link - z * link_se), mean_at(link + z * link_se)
        lower, upper = jnp.minimum(a, b), jnp.maximum(a, b)
    else:
        lower, upper = mean - z * mean_se, mean + z * mean_se
    return Prediction(link=link, link_se=link_se, mean=mean, mean_se=mean_se, lower=lower,
                      upper=upper)


@filter_jit
def _predict(family, param, params, n_linear, X, offset, which):
    if params.ndim == 2:  # a batch of fits: each one's prediction for the same rows
        return jax.vmap(lambda b: _predict(family, param, b, n_linear, X, offset, which))(
            params)
    X = X.astype(params.dtype) if is_design(X) else jnp.asarray(X, params.dtype)
    p = X.shape[1]
    linear = X @ params[: p * n_linear].reshape(p, n_linear)
    if offset is not None:
        linear = linear + jnp.asarray(offset, X.dtype)[:, None]
    if which == "linear":
        return linear[:, 0] if n_linear == 1 else linear
    eta = param.natural(family, linear, params[p * n_linear:])
    return eta if which == "natural" else family.response_mean(eta)
