"""``fit``: validate the inputs, run a solver in one compiled program, return a ``FitResult``."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from functools import partial

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import Array
from jax.typing import ArrayLike

from glmjax import _checks as checks
from glmjax._compilation import filter_jit, is_tracer
from glmjax._covariances import check_cov_type, model_unit_covariance, robust
from glmjax._design import as_design
from glmjax._information import scaled
from glmjax._model import Problem
from glmjax._results import FitResult, with_X, without_X
from glmjax._row_blocks import any_true, count_true, is_design
from glmjax._transfer import as_float_array, as_response, check_numeric
from glmjax.families import AbstractFamily
from glmjax.parametrizations import AbstractParametrization
from glmjax.solvers import AbstractSolver, ProximalNewton, SolverResult, Status, as_solver, implicit


class ConvergenceWarning(UserWarning):
    """The solver stopped before its convergence criterion was met."""


class SeparationWarning(UserWarning):
    """Fitted means reached the boundary of the mean space: the MLE does not exist."""


class InvalidInputWarning(UserWarning):
    """Fits of a batch whose inputs failed a check were skipped (``fit_many(...,
    invalid="skip")``)."""


class RankDeficiencyWarning(UserWarning):
    """Columns of X are (nearly) linearly dependent where only part of X was seen (the
    first batch of ``fit_minibatch``); ``fit`` raises instead."""


def fit(
    X: ArrayLike,
    y: ArrayLike,
    family: AbstractFamily,
    link=None,
    *,
    weights: ArrayLike | None = None,
    offset: ArrayLike | None = None,
    l2: float = 0.0,
    l1: float = 0.0,
    solver: str | AbstractSolver | optax.GradientTransformation = "irls",
    init: ArrayLike | None = None,
    tol: float | None = None,
    max_iter: int | None = None,
    scale: float | None = None,
    learning_rate: float | None = None,
    feature_names: Sequence[str] | None = None,
    cov_type: str = "nonrobust",
    groups: ArrayLike | None = None,
    cox_reid: bool = False,
) -> FitResult:
    """Fit a GLM by maximum likelihood: θ̂ = argmax Σ wᵢ log p(yᵢ | η(xᵢᵀθ + offsetᵢ)).

    Args:
      X: the (m, p) design matrix; no intercept is added (the seed's x₁ = 1 is a column).
      y: the response in the family's form (see ``DESIGN.md``): one value per row, (m, 2)
        (successes, failures) for Binomial, labels or one-hot rows for Multinomial, rows on
        the simplex for Dirichlet.
      family: a ``glmjax.families`` instance.
      link: None (the family's default link, R's: ``family.default_link()``), "canonical"
        (the seed's η = θᵀx; softmax for Multinomial, log α for Beta/Dirichlet), a
        ``glmjax.links`` link on the mean, or a ``glmjax.parametrizations`` instance.
      weights: prior (frequency) weights, shape (m,); trials for Binomial proportions.
      offset: a known term added to every linear predictor, shape (m,).
      l2: ridge strength λ₂ on the objective −ℓ/Σw + (λ₂/2)‖θ‖² + λ₁‖θ‖₁, as scikit-learn
        and glum (their α(1 − l1_ratio)); columns of X that are constant (intercepts) are not
        penalised. Either penalty lifts the full-rank requirement on X.
      l1: lasso strength λ₁ (glum's and scikit-learn's α·l1_ratio). With l1 > 0 the "irls"
        solver takes proximal Newton steps (coordinate descent on the quadratic model, as
        glmnet and glum); coefficients it sets to zero get standard error 0, the others'
        come from the penalised information on the active set.
      solver: a ``glmjax.solvers`` instance (``IRLS()``, ``LBFGS()``, ``Optax(optimizer)``,
        ``GradientAscent(learning_rate)``, ``ProximalNewton()`` or a user's own
        ``AbstractSolver``), its name ("irls", Fisher scoring, the default; "lbfgs";
        "gradient_ascent", the seed's θ ← θ + (β/m) Xᵀ(T(y) − h(X)) with step control), or
        any optax ``GradientTransformation``.
      init: starting coefficients, flat (p·q + extras,) or shaped like ``coef``. By default
        ``Problem.initial``: R's first IRLS iterate for the canonical Gaussian, Bernoulli,
        Binomial and Poisson fits, else least squares of the starting linear predictor.
      tol: IRLS stops when the Newton decrement ≤ tol·(|f| + 0.1) (default 1e-20 in float64,
        1e-10 in float32; see ``glmjax.solvers.IRLS``); first-order solvers when
        ‖∇f‖∞ ≤ tol (1e-8 / 1e-5). When given, it replaces the solver's own setting.
      max_iter: iteration limit (IRLS 100, L-BFGS 2000, others 20000); replaces the solver's.
      learning_rate: the first β of ``solver="gradient_ascent"`` (default 1).
      scale: the dispersion φ: None (R's: Pearson χ²/df_resid for the families with a
        dispersion, else 1), "pearson" (also for Poisson or Binomial: quasi-likelihood
        standard errors), "deviance" (deviance/df_resid), "ml" (maximum likelihood at the
        fitted means, MASS's ``gamma.shape`` for Gamma; the log-likelihood is reported there),
        or a number > 0 (fixed).
      feature_names: names of the columns of X for ``summary()``; by default a data frame's
        column names (pandas, polars), else "(Intercept)" for a column of ones and x0, x1, ...
      cov_type: "nonrobust" (the model's, R's ``vcov``), "HC0", "HC1", "HC2", "HC3" (R's
        ``sandwich::vcovHC``) or "cluster" (``sandwich::vcovCL``, with ``groups``): the
        covariance behind ``stderr``, ``conf_int`` and ``summary()`` (``glmjax._covariances``).
      groups: one cluster label per row, for ``cov_type="cluster"``.
      cox_reid: estimate the family's parameters set to None (NegativeBinomial's α,
        Tweedie's power) from the Cox–Reid adjusted profile likelihood
        ℓ(ν; μ̂) − ½ log det I_β(β̂; ν) (edgeR's, DESeq2's and glmGamPoi's default), which
        corrects the profile likelihood's downward bias in small samples; by default
        (False) plain maximum likelihood, as MASS's ``glm.nb``.

    Returns:
      A ``FitResult``. Inputs are checked before the solver runs; with concrete inputs a bad
      value raises ``ValueError``, inside ``jit`` it raises through ``equinox.error_if``. For
      batches prefer ``fit_many`` to ``jax.vmap(fit)``: it checks each fit on the host and
      names the failing one, and its calls from several threads take turns. On jaxlib 0.10.2's
      CPU backend two programs of vmapped fits running at once, from two threads, can hang:
      their batched LAPACK calls block XLA's worker threads (``glmjax._many._one_batch_at_a_time``);
      do not run your own ``jax.vmap(fit)`` while another batch of fits (yours or
      ``fit_many``) runs in another thread. (A hang under ``vmap`` with ~1,000 fits in one
      thread, with an earlier version of the fit program, was not reproduced since in runs of
      1,000 and 2,000 fits.)

    Example:
        >>> import jax.numpy as jnp, glmjax as gj
        >>> X = jnp.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0], [1.0, 3.0]])
        >>> res = gj.fit(X, jnp.array([0.0, 1.0, 0.0, 1.0]), family=gj.families.Bernoulli())
        >>> res.coef.shape, bool(res.converged)
        ((2,), True)
    """
    inputs = prepare(X, y, family, link, weights=weights, offset=offset, l2=l2, l1=l1,
                     solver=solver, init=init, tol=tol, max_iter=max_iter, scale=scale,
                     learning_rate=learning_rate, feature_names=feature_names,
                     cov_type=cov_type, groups=groups, cox_reid=cox_reid)
    result, scan, ok = solve(inputs)
    if is_tracer(ok):  # inside a user's jit or vmap: the checks raise through equinox
        checked = checks.error_if_bad(scan, family, result.params)
        for name, value in (("l2", inputs.l2), ("l1", inputs.l1)):  # as_penalty could not look
            if is_tracer(value):
                checked = eqx.error_if(checked, ~(jnp.isfinite(value) & (value >= 0)),
                                       f"{name} must be a finite number ≥ 0.")
        return eqx.tree_at(lambda r: r.params, result, checked)
    if not bool(ok):
        raise_for_inputs(inputs, scan)
    if inputs.feature_names is None:
        result = dataclasses.replace(result, feature_names=default_names(scan.ones_columns))
    _warn(result)
    return result


class Inputs(eqx.Module):
    """What ``prepare`` makes of a fit's arguments: checked shapes, arrays of the fit's dtype,
    the parametrization and the solver; ``solve`` takes nothing else."""

    family: AbstractFamily
    parametrization: AbstractParametrization
    X: Array
    y: Array
    weights: Array
    offset: Array
    l2: Array
    l1: Array | None
    init: Array | None
    solver: AbstractSolver
    scale: float | Array | None
    groups: Array | None
    feature_names: tuple[str, ...] | None = eqx.field(static=True)
    cov_type: str = eqx.field(static=True)
    n_groups: int = eqx.field(static=True)
    outer: Array | None = None  # X's packed row outer products (``Problem.outer``)
    vmapped: bool = eqx.field(static=True, default=False)  # under ``fit_many``'s vmap
    cox_reid: bool = eqx.field(static=True, default=False)


def prepare(X, y, family: AbstractFamily, link=None, *, weights=None, offset=None, l2=0.0,
            l1=0.0, solver="irls", init=None, tol=None, max_iter=None, scale=None,
            learning_rate=None, feature_names=None, cov_type="nonrobust",
            groups=None, cox_reid=False) -> Inputs:
    """Check the arguments of ``fit`` (shapes, types, settings: ``ValueError`` or
    ``TypeError`` naming the argument) and bring them into the fit's dtype on the device.

    The values (NaN, the support, rank) are checked by ``solve``, in the compiled program.
    Every entry point (``fit``, ``fit_many``, ``fit_path``, ``fit_cv``) prepares its fits
    here; it runs on concrete or traced arrays.
    """
    if not isinstance(family, AbstractFamily):
        raise TypeError(f"family must be a glmjax.families instance; got {family!r}")
    X, feature_names = as_design_matrix(X, feature_names)
    m, p = X.shape
    y = as_response(y)
    family.check_response_shape(y, m)
    weights = as_vector(weights, "weights", m, X.dtype, 1.0)
    offset = as_vector(offset, "offset", m, X.dtype, 0.0)
    param = family.parametrization(link)
    design = getattr(param, "precision_design", None)
    if design is not None and (jnp.ndim(design) != 2 or jnp.shape(design)[0] != m):
        raise ValueError(f"precision_design must have shape ({m}, r), one row per row of X; "
                         f"got {jnp.shape(design)}.")
    if design is not None and not is_tracer(design) and not bool(jnp.all(jnp.isfinite(design))):
        raise ValueError("precision_design contains NaN or infinite values.")
    solver = as_solver(solver, tol=tol, max_iter=max_iter, learning_rate=learning_rate)
    if feature_names is not None:
        feature_names = tuple(str(n) for n in feature_names)
        if len(feature_names) != p:
            raise ValueError(f"feature_names has {len(feature_names)} names for {p} columns.")
    n_params = p * param.n_linear(family) + param.n_extra(family)
    if init is not None:
        init = jnp.asarray(init, X.dtype).ravel()
        if init.shape != (n_params,):
            raise ValueError(f"init must have {n_params} values; got {init.size}.")
    l2, l1 = (as_penalty(v, name, X.dtype) for v, name in ((l2, "l2"), (l1, "l1")))
    if l1 is not None:
        if not solver.handles_l1:
            raise ValueError(f"l1 > 0 needs solver='irls' (proximal Newton); got {solver.name!r}.")
        solver = ProximalNewton(solver.tol, solver.max_iter, solver.max_halvings)
    cov_type, codes, n_groups = check_cov_type(cov_type, groups, m)
    if not isinstance(cox_reid, bool):
        raise TypeError(f"cox_reid must be True or False; got {cox_reid!r}.")
    if (is_design(X) and X.large_diagonal_block and n_params == p
            and l1 is None and cov_type == "nonrobust" and not family.estimated_nuisance()):
        X = dataclasses.replace(X, structured=True)  # XᵀWX in blocks (``_information``)
    else:
        checks.information_fits(n_params, X.dtype)
    if cox_reid and not family.estimated_nuisance():
        raise ValueError(f"cox_reid=True adjusts the estimate of a family parameter set to "
                         f"None (NegativeBinomial(alpha=None), Tweedie(power=None)); "
                         f"{family.name} estimates none.")
    return Inputs(family=family, parametrization=param, X=X, y=y, weights=weights,
                  offset=offset, l2=l2, l1=l1, init=init, solver=solver,
                  scale=_as_scale(scale, family), groups=codes, feature_names=feature_names,
                  cov_type=cov_type, n_groups=n_groups, cox_reid=cox_reid)


def solve(inputs: Inputs) -> tuple[FitResult, checks.Scan, Array]:
    """The pure kernel of every fit: (result, the scan of the inputs, ok). Traceable; when
    ``ok`` is False (a value check failed) the solver was skipped and the result's status is
    ``INVALID_INPUT``; ``raise_for_inputs`` says why on the host."""
    a = inputs
    result, scan, ok = _fit_compiled(a.family, a.parametrization, a.X, a.y, a.weights,
                                     a.offset, a.l2, a.l1, a.init, a.solver, a.scale,
                                     (a.cov_type, a.groups, a.n_groups), a.outer, a.vmapped,
                                     a.cox_reid)
    names = a.feature_names or tuple(f"x{j}" for j in range(a.X.shape[1]))
    result = dataclasses.replace(with_X(result, a.X), solver=a.solver.name, feature_names=names)
    return result, scan, ok


def raise_for_inputs(inputs: Inputs, scan: checks.Scan) -> None:
    """On the host: the ``ValueError`` for a fit whose inputs failed ``solve``'s checks."""
    a = inputs
    arrays = {"weights": a.weights, "offset": a.offset}
    if not is_design(a.X):  # (a design's values are checked when it is built)
        arrays["X"] = a.X
    if jnp.issubdtype(a.y.dtype, jnp.floating):
        arrays["y"] = a.y
    prepared, _, _ = checks.prepare(a.family, a.y, a.weights, a.X.dtype)
    checks.raise_for_bad_values(scan, prepared, arrays)
    names = a.feature_names or default_names(scan.ones_columns)
    X = a.X
    if is_design(X):  # (a structured design is too large to densify: generic messages)
        X = None if X.structured else X.todense()
    checks.raise_for_rank_deficiency(scan, names, X, a.weights)
    raise ValueError("the inputs failed a check that has no message of its own; please "
                     "report this with the data's shapes.")


def checked_problem(family, param, X, y, weights, offset, l2, l1=None, outer=None):
    """(``Problem``, ``checks.Scan``, ok): the response prepared, the inputs scanned (with
    the products of the starting values), and the penalty mask (constant columns and extras
    unpenalised); traceable."""
    prepared, y_prep, w_prep = checks.prepare(family, y, weights, X.dtype)
    problem = Problem(family=prepared, parametrization=param, X=X, y=y_prep, weights=w_prep,
                      offset=offset, l2=l2, penalized=jnp.zeros(0, X.dtype), l1=l1,
                      outer=outer)
    scan = checks.scan(X, y, weights, offset, prepared, y_prep, w_prep, *problem.start_rows(),
                       outer)
    ok = checks.passed(scan, l2 if l1 is None else l2 + l1)
    q, r = param.n_linear(family), param.n_extra(family)
    penalized = jnp.concatenate([
        jnp.repeat(~scan.constant_columns, q).astype(X.dtype), jnp.zeros(r, X.dtype)
    ])
    return eqx.tree_at(lambda pr: pr.penalized, problem, penalized), scan, ok


# ---- the compiled program ------------------------------------------------------------------
_TRACE_COUNT = [0]


@filter_jit
def _fit_compiled(family, param, X, y, weights, offset, l2, l1, init, solver, scale,
                  covariance=("nonrobust", None, 0), outer=None, vmapped=False,
                  cox_reid=False):
    """Check the inputs and, when they pass, solve and compute the statistics.

    One program per input shape: the checks, the solver and the statistics compile together.
    ``vmapped`` (``fit_many``): the solver runs whatever the checks say and the failed fits'
    results are replaced after; under ``vmap`` a ``lax.cond`` on a per-fit flag would run both
    branches anyway, on copies of every operand (a shared X included) for each fit.
    """
    _TRACE_COUNT[0] += 1
    estimated = family.estimated_nuisance()  # fields set to None: estimated by ML
    if estimated and family.has_dispersion and scale is None:
        scale = "ml"  # φ by maximum likelihood with them (the profile maximises over both)
    start = family.nuisance_start(y, weights) if estimated else {}
    problem, scan, ok = checked_problem(family.with_nuisance(start), param, X, y, weights,
                                        offset, l2, l1, outer)

    traced = []  # the solver's output, as ``cond`` traced ``solve`` (before ``skip``)

    def solve(problem):
        first = scan.spectrum, scan.X_rhs, scan.start_extra
        beta0 = problem.initial(first) if init is None else init
        if estimated:  # the alternation's last round is the fit (its iterations: all rounds')
            solved, nuisance = _profile_nuisance(solver, problem, beta0, start, cox_reid)
            solved = implicit.solved(_with_nuisance(problem, nuisance), solved)
        else:
            solved = implicit.solve(solver, problem, jax.lax.stop_gradient(beta0))
            nuisance = start
        traced.append((solved, nuisance))
        return traced[-1]

    def skip(problem):  # bad input: zeros of the solver's output structure
        shapes = traced[-1] if traced else jax.eval_shape(solve, problem)  # not traced twice
        zeros = jax.tree.map(jnp.zeros_like, shapes[0])
        return (eqx.tree_at(lambda s: s.status, zeros,
                            jnp.full(shapes[0].status.shape, Status.INVALID_INPUT, jnp.int32)),
                start)

    if vmapped:
        solved, nuisance = jax.tree.map(partial(jnp.where, ok), solve(problem), skip(problem))
    else:
        solved, nuisance = jax.lax.cond(ok, solve, skip, problem)
    problem = _with_nuisance(problem, nuisance)
    result = _statistics(problem, solved, family.with_nuisance(nuisance), scale, covariance)
    if estimated:
        reported, stderr, at_bound = _reported_nuisance(problem, solved.beta, nuisance,
                                                        result.scale, cox_reid)
        result = dataclasses.replace(result, nuisance=reported, nuisance_stderr=stderr,
                                     nuisance_at_bound=at_bound)
    # X goes back in outside: an input returned from a compiled program is copied
    result = without_X(result)
    return result, scan, ok


def _statistics(problem: Problem, solved: SolverResult, family, scale, covariance
                ) -> FitResult:
    fam, w, beta = problem.family, problem.weights, solved.beta
    eta = problem.eta(beta)
    mean = fam.mean(eta)
    variance = fam.variance(eta)
    nobs = count_true(w > 0)
    if fam.has_saturated:
        unit_dev = w * fam.unit_deviance(problem.y, eta)
        deviance = jnp.sum(unit_dev)
    else:
        unit_dev = jnp.zeros_like(w)
    # the dispersion: Pearson χ²/df for the families that have one (R), else 1
    df_resid = nobs - problem.n_params
    phi, phi_ll = jnp.ones((), beta.dtype), 1.0
    if fam.has_dispersion or scale in ("pearson", "ml"):  # (scalar families)
        pearson = jnp.sum(w * (problem.y - mean) ** 2 / variance) / df_resid
    if fam.has_dispersion:
        phi = pearson
        # the log-likelihood at the family's choice of φ (R's deviance/Σw for Gaussian, Gamma)
        phi_ll = fam.loglik_dispersion(jnp.sum(unit_dev), jnp.sum(w), phi)
    if scale == "pearson":
        phi = pearson
    elif scale == "deviance":
        phi = jnp.sum(unit_dev) / df_resid
    elif scale == "ml":
        phi = phi_ll = _ml_dispersion(fam, problem.y, eta, w, pearson)
    elif scale is not None:
        phi = jnp.asarray(scale, beta.dtype)
    loglik = jnp.sum(w * fam.log_prob(problem.y, eta, phi_ll))
    if not fam.has_saturated:
        deviance = -2 * loglik
    cov_type, codes, n_groups = covariance
    unit_cov = _covariance(problem, solved)
    cov = (scaled(unit_cov, phi) if cov_type == "nonrobust"
           else robust(problem, beta, unit_cov, cov_type, codes, n_groups))
    return FitResult(
        family=family, parametrization=problem.parametrization, params=beta, cov=cov, loglik=loglik,
        deviance=deviance, scale=phi, nobs=nobs, df_resid=df_resid,
        n_iter=solved.n_iter, status_code=solved.status,
        n_boundary=_count_boundary(fam, mean, w), mean=mean, variance=variance,
        unit_deviance=unit_dev, problem=problem,
        n_features=problem.n_features, n_linear=problem.n_linear,
        scale_estimated=(fam.has_dispersion and scale is None) or isinstance(scale, str),
        feature_names=(), solver="",
        cov_type=cov_type,
    )


def _with_nuisance(problem: Problem, values: dict) -> Problem:
    return eqx.tree_at(lambda pr: pr.family, problem, problem.family.with_nuisance(values))


_NUISANCE_LIMIT = 18.42  # |u| of the unconstrained scale: within 1e-8 of the range's ends


def _unconstrained(family: AbstractFamily, values: dict) -> Array:
    """The nuisance parameters on their unconstrained scale u: log(ν − lower), or the logit of
    ν's position in a bounded range (``family.nuisance_range``)."""
    def one(name, value):
        lower, upper = family.nuisance_range(name)
        if upper == float("inf"):
            return jnp.log(value - lower)
        return jnp.log(value - lower) - jnp.log(upper - value)

    return jnp.stack([one(name, value) for name, value in values.items()])


def _constrained(family: AbstractFamily, names: list, u: Array) -> dict:
    """``_unconstrained``'s inverse: the parameters named ``names`` at u."""
    def one(name, u):
        lower, upper = family.nuisance_range(name)
        if upper == float("inf"):
            return lower + jnp.exp(u)
        return lower + (upper - lower) * jax.nn.sigmoid(u)

    return {name: one(name, u[k]) for k, name in enumerate(names)}


def _profile_loglik(problem: Problem, beta: Array, values: dict, phi: Array,
                    cox_reid: bool = False):
    """(u ↦ Σ wᵢ log p(yᵢ | μᵢ, ν(u), φ), u at ``values``): the log-likelihood of the nuisance
    parameters ν, on their unconstrained scale u, at the means μ of the coefficients β. For
    a family with a dispersion φ, u ends with log φ (from ``phi``): the profile maximises
    over both. ``cox_reid``: minus ½ log det of the coefficients' information I_β(β; ν, φ)
    (Cox & Reid 1987)."""
    names, family = list(values), problem.family
    dispersed = family.has_dispersion
    mean = family.mean(problem.eta(beta))

    def loglik(u):
        fam = family.with_nuisance(_constrained(family, names, u))
        eta = fam.natural_from_mean(mean)
        dispersion = jnp.exp(u[-1]) if dispersed else 1.0
        value = jnp.sum(problem.weights * fam.log_prob(problem.y, eta, dispersion))
        if cox_reid:
            info = eqx.tree_at(lambda pr: pr.family, problem, fam).fisher(beta) / dispersion
            value = value - jnp.sum(jnp.log(jnp.diagonal(jnp.linalg.cholesky(info))))
        return value

    u = _unconstrained(family, values)
    return loglik, jnp.concatenate([u, jnp.log(phi)[None]]) if dispersed else u


def _profile_nuisance(solver, problem: Problem, beta0: Array, start: dict,
                      cox_reid: bool = False) -> tuple[SolverResult, dict]:
    """MASS's ``glm.nb`` alternation: the coefficients by the solver at fixed nuisance
    parameters, then the nuisance parameters (with log φ for a family with a dispersion) by
    Newton's method on their log-likelihood at the fitted means (on the unconstrained scale,
    within ±``_NUISANCE_LIMIT``), until they change by less than 1e-8 there, or are already
    at the maximum within its rounding error (at most 25 rounds); ``cox_reid``: on the
    adjusted profile likelihood. Returns the last round's solver result (as MASS, at the
    estimates before their last change of at most 1e-8; its ``n_iter`` counts every round's
    iterations) and the estimates. Where the estimates moved further in a round whose
    likelihood was already flat (a jump to the end of their range: no overdispersion), one
    more round solves the coefficients at them, without moving them again."""
    names, family = list(start), problem.family
    limit = jnp.asarray([_NUISANCE_LIMIT] * len(names) + [jnp.inf] * family.has_dispersion)

    def cond(state):
        k, _, _, _, done, _ = state
        return (k < 25) & ~done

    def body(state):
        k, previous, values, phi, _, settle = state
        current = _with_nuisance(problem, values)
        solved = solver.minimize(current, previous.beta)
        solved = eqx.tree_at(lambda s: s.n_iter, solved, solved.n_iter + previous.n_iter)
        loglik, u = _profile_loglik(current, solved.beta, values, phi, cox_reid)
        new, flat = _newton_unconstrained(loglik, u, max_steps=30, limit=limit, tol=1e-8,
                                          n_bounded=len(names))
        new = jnp.where(settle, u, new)  # a settling round keeps the estimates
        moved = jnp.max(jnp.abs(new - u)) > 1e-8
        phi = jnp.exp(new[-1]) if family.has_dispersion else phi
        return (k + 1, solved, _constrained(family, names, new), phi, settle | ~moved,
                flat & moved)

    fam0 = _with_nuisance(problem, start)
    eta0 = fam0.eta(beta0)
    mean0, var0, w = fam0.family.mean(eta0), fam0.family.variance(eta0), problem.weights
    phi0 = jnp.sum(w * (problem.y - mean0) ** 2 / var0) / jnp.sum(w)  # Pearson, at the start
    # the loop's first state: β0 and no iterations (the first round replaces the rest)
    solved0 = jax.tree.map(jnp.zeros_like, jax.eval_shape(solver.minimize, fam0, beta0))
    start_state = (0, eqx.tree_at(lambda s: s.beta, solved0, beta0), start,
                   phi0.astype(beta0.dtype), jnp.asarray(False), jnp.asarray(False))
    _, solved, values, _, _, _ = jax.lax.while_loop(cond, body, start_state)
    return jax.lax.stop_gradient(solved), jax.lax.stop_gradient(values)


def _reported_nuisance(problem: Problem, beta: Array, values: dict, phi: Array,
                       cox_reid: bool = False) -> tuple[dict, dict, dict]:
    """(estimates, standard errors, at the bound) as ``FitResult`` reports them.

    An estimate within 1e-8 of an end of its range (the likelihood still rising towards it;
    for the negative binomial, no overdispersion: α → 0 and the Poisson fit) is reported as
    that end, flagged, with a NaN standard error; the fit itself keeps the parameter 1e-8
    inside. Standard errors come from the observed information of the nuisance
    log-likelihood at the fitted means (MASS's ``theta.ml``; with φ, at its estimate
    ``phi``; adjusted with ``cox_reid``), mapped from the unconstrained scale by the delta
    method.
    """
    family, names = problem.family, list(values)
    loglik, u = _profile_loglik(problem, beta, values, phi, cox_reid)
    cov_u = jnp.linalg.inv(-jax.jacfwd(jax.jacfwd(loglik))(u))
    slope = jnp.diagonal(jax.jacfwd(  # dν/du
        lambda v: jnp.stack(list(_constrained(family, names, v).values())))(u[:len(names)]))
    estimates, stderr, at_bound = {}, {}, {}
    for k, name in enumerate(names):
        lower, upper = family.nuisance_range(name)
        low, high = u[k] <= -_NUISANCE_LIMIT + 1e-6, u[k] >= _NUISANCE_LIMIT - 1e-6
        at_bound[name] = low | high
        estimates[name] = jnp.where(low, lower, jnp.where(high, upper, values[name]))
        stderr[name] = jnp.where(at_bound[name], jnp.nan, slope[k] * jnp.sqrt(cov_u[k, k]))
    return estimates, stderr, at_bound


def _ml_dispersion(family, y, eta, weights, start) -> Array:
    """argmax_φ Σ wᵢ log p(yᵢ | ηᵢ, φ) at the fitted η (MASS's ``gamma.shape`` for Gamma):
    ``_newton_unconstrained`` on log φ from ``start``."""

    def loglik(u):
        return jnp.sum(weights * family.log_prob(y, eta, jnp.exp(u[0])))

    return jnp.exp(_newton_unconstrained(loglik, jnp.log(start)[None], max_steps=40)[0][0])


def _newton_unconstrained(loglik, u: Array, max_steps: int, limit=jnp.inf, tol: float = 1e-10,
                          n_bounded: int = 0) -> tuple[Array, Array]:
    """Newton's method maximising ``loglik`` over unconstrained parameters u (a vector):
    (u, whether its first step already gained less than the rounding error).

    It stops when a step moves no coordinate by more than ``tol``, or would raise ``loglik``
    by less than 1e-12·(|ℓ| + 1) (on a flat likelihood the derivatives are rounding noise),
    after at most ``max_steps`` steps. Each step moves at most 2 in every coordinate and u
    stays within ±``limit`` (a number, or one per coordinate); where the Hessian is not
    negative definite the step is ±½ along the gradient. Each of the first ``n_bounded``
    coordinates whose derivative points towards the end ±limit, both at u and at that end,
    where the likelihood is at least as high as at u, starts there (the likelihood rises
    towards the end of the parameter's range: no overdispersion, for the negative binomial).
    Derivatives by forward mode: a family's density may be a ``while_loop`` (Tweedie's
    series).
    """
    basis = jnp.eye(u.shape[0], dtype=u.dtype)

    def value_and_grad(v):  # one forward pass for ℓ and ∇ℓ (one trace of ``loglik``)
        return jax.vmap(lambda e: jax.jvp(loglik, (v,), (e,)), out_axes=(None, 0))(basis)

    def grad_twice(v):
        value, grad = value_and_grad(v)
        return grad, (grad, value)

    limit = jnp.broadcast_to(jnp.asarray(limit, u.dtype), u.shape)
    if n_bounded:  # the gradient at u, and at the end each bounded coordinate's points to
        here_value, here = value_and_grad(u)
        for k in range(n_bounded):
            end = jnp.sign(here[k]) * limit[k]
            # only that end: the other may be costly (Tweedie's series at p → 2 has ~10⁹/φ
            # terms around its peak) and cannot change the decision
            def end_terms(v, k=k):  # ℓ and ∂ℓ/∂u_k at the end
                value, grad = value_and_grad(v)
                return value, grad[k]

            end_value, end_k = jax.lax.cond(
                here[k] != 0, end_terms,
                lambda v: (jnp.full((), -jnp.inf, v.dtype), jnp.zeros((), v.dtype)),
                u.at[k].set(end))
            # and the likelihood is at least as high there (in float32 the derivative far
            # out may be rounding noise of either sign)
            towards = ((jnp.sign(end_k) == jnp.sign(end)) & (here[k] != 0)
                       & (end_value >= here_value))
            u = u.at[k].set(jnp.where(towards, end, u[k]))

    def cond(state):
        k, _, done, _ = state
        return (k < max_steps) & ~done

    def body(state):
        k, u, _, flat = state
        hess, (grad, value) = jax.jacfwd(grad_twice, has_aux=True)(u)
        move = jnp.linalg.solve(hess, grad)
        newton_ok = jnp.all(jnp.isfinite(move)) & (jnp.linalg.det(-hess) > 0)
        gain = jnp.where(newton_ok, 0.5 * jnp.abs(jnp.dot(grad, move)), jnp.inf)
        move = jnp.where(newton_ok, -move, 0.5 * jnp.sign(grad))
        new = jnp.clip(u + jnp.clip(move, -2.0, 2.0), -limit, limit)
        small_gain = gain <= 1e-12 * (jnp.abs(value) + 1)
        done = (jnp.max(jnp.abs(new - u)) <= tol) | small_gain
        return k + 1, new, done, jnp.where(k == 0, small_gain, flat)

    _, u, _, flat = jax.lax.while_loop(cond, body, (0, u, jnp.asarray(False), jnp.asarray(False)))
    return u, flat


def _covariance(problem: Problem, solved: SolverResult) -> Array:
    """(I(β̂) + Σw λ₂M)⁻¹, the covariance of the coefficients at unit dispersion: from the
    inverse the solver computed (IRLS without L1), else from its information or the model's."""
    if solved.information_inverse is not None:  # the solvers' information is I/Σw + λ₂M
        return scaled(solved.information_inverse, 1 / jnp.sum(problem.weights))
    return model_unit_covariance(problem, solved.beta, solved.information)


def _count_boundary(family: AbstractFamily, mean: Array, weights: Array) -> Array:
    """Observations whose fitted mean is within 10ε of a finite end of the mean space."""
    low, high = (jnp.asarray(b, mean.dtype) for b in family.mean_bounds())
    span = jnp.where(jnp.isfinite(high - low), high - low, 1.0)
    eps = 10 * jnp.finfo(mean.dtype).eps * span
    edge = (mean - low < eps) | (high - mean < eps)
    if edge.ndim > 1:
        edge = any_true(edge.reshape(edge.shape[0], -1), 1)
    return count_true(edge & (weights > 0))


SCALES = ("pearson", "deviance", "ml")


def _as_scale(scale, family: AbstractFamily) -> float | str | None:
    """None (R's choice), an estimator of ``SCALES`` or a fixed dispersion, a finite number
    > 0; "ml" only for a family with a dispersion in its density."""
    if scale is None:
        return None
    if isinstance(scale, str):
        if scale not in SCALES:
            raise ValueError(f"scale must be None, one of {SCALES} or a number > 0; got "
                             f"{scale!r}.")
        if scale in ("pearson", "deviance") and family.natural_dim:
            raise ValueError(f'scale="{scale}" is for families with one mean per row; the '
                             f"{family.name} family's dispersion is fixed at 1.")
        if scale == "ml" and not family.has_dispersion:
            raise ValueError(f'scale="ml" needs a family whose density has a dispersion '
                             f"(Gaussian, Gamma, inverse Gaussian, Tweedie); the "
                             f"{family.name} family's is fixed at 1.")
        return scale
    if is_tracer(scale):
        return scale
    try:
        value = float(scale)
    except (TypeError, ValueError):
        value = float("nan")
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"scale must be None (estimated as R does), one of {SCALES} or a "
                         f"finite number > 0 (a fixed dispersion); got {scale!r}.")
    return value


def as_penalty(value, name: str, dtype) -> Array | np.ndarray | None:
    """The penalty as a scalar of ``dtype`` (a NumPy scalar when concrete); None for a
    concrete zero of l1 (no term compiled)."""
    if is_tracer(value):
        return jnp.asarray(value, dtype)
    value = np.asarray(value, dtype)
    if value.shape != ():
        raise ValueError(f"{name} must be a scalar; got shape {value.shape}.")
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number ≥ 0; got {value}.")
    # a NumPy scalar reaches the compiled program as an argument (jnp.asarray would compile)
    return None if value == 0 and name == "l1" else value


# ---- input checks --------------------------------------------------------------------------
def as_design_matrix(X, feature_names=None):
    """(X, its column names or None): a ``Design`` for categorical or sparse columns (a data
    frame with categorical or string columns, scipy.sparse, ``BCOO``), else a floating-point
    (m, p) array."""
    design = as_design(X, feature_names)
    if feature_names is None:
        feature_names = column_names(X) if design is None else design.names
    return (_as_float_matrix(X) if design is None else design), feature_names


def _as_float_matrix(X) -> Array:
    X = as_float_array(X)
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D (m, p) design matrix; got shape {X.shape}.")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"X must have at least one row and one column; got shape {X.shape}.")
    return X


def as_vector(v, name: str, m: int, dtype, fill: float) -> Array:
    """``v`` as a length-m vector of ``dtype`` (``fill`` everywhere when None); checks the shape."""
    # built outside the compiled program (a constant vector there is constant-folded slowly),
    # and on the host (a device op would compile on first use)
    if v is None:
        return np.full((m,), fill, dtype)
    v = jnp.asarray(check_numeric(v, name), dtype)
    if v.shape != (m,):
        raise ValueError(f"{name} must have shape ({m},), one value per row of X; got {v.shape}.")
    return v


def column_names(X) -> tuple[str, ...] | None:
    """The column names of a data frame (pandas, polars), else None."""
    columns = getattr(X, "columns", None)
    if columns is None or isinstance(X, np.ndarray | jax.Array):
        return None
    return tuple(str(c) for c in columns)


def ones_columns(X: Array) -> Array:
    """Which columns of X (m, p), or of a stack (B, m, p), are all ones (in every fit).

    As Σ|x − 1| = 0: XLA's CPU backend reduces floats about twice as fast as booleans. A sum,
    not a maximum: under ``jit`` jaxlib 0.10.2's CPU ``jnp.max`` drops NaN from long axes, and
    a column holding NaN is not a column of ones."""
    return jnp.sum(jnp.abs(X - 1), axis=tuple(range(X.ndim - 1))) == 0


def default_names(ones: ArrayLike) -> tuple[str, ...]:
    """"(Intercept)" for a column of ones, x0, x1, ... for the others (``ones``: one flag per
    column)."""
    return tuple("(Intercept)" if c else f"x{j}" for j, c in enumerate(np.asarray(ones)))


def _warn(result: FitResult) -> None:
    if not bool(result.converged):
        advice = result.status.advice(result.solver)
        if (result.status == Status.NONFINITE and int(result.n_iter) == 0
                and not np.isfinite(float(result.loglik))):
            # the start itself: R's "no valid set of coefficients has been found"
            advice = (f"the starting coefficients give fitted means outside the "
                      f"{result.family.name} family's range (under the "
                      f"{result.parametrization.describe(result.family)} link), where the "
                      "log-likelihood is not finite: pass init= coefficients whose means are "
                      "valid at every row (e.g. the intercept at the link of the mean of y, "
                      "the other coefficients 0).")
        warnings.warn(
            f"{result.solver} did not converge ({int(result.n_iter)} iterations, status "
            f"{result.status.name}): {advice} The coefficients are those of the last iterate "
            "(result.converged is False).",
            ConvergenceWarning,
            stacklevel=3,
        )
    if int(result.n_boundary) > 0:
        warnings.warn(
            f"fitted means are numerically on the boundary of the {result.family.name} mean "
            f"space (probabilities 0 or 1, or rates 0) for {int(result.n_boundary)} "
            "observations: the data are (quasi-)separated and the maximum-likelihood "
            "estimate does not exist, or (under a link that reaches the edge, as the "
            "identity) it lies on the edge of the parameter space; coefficients and standard "
            "errors are unreliable. An l2 penalty gives a finite estimate.",
            SeparationWarning,
            stacklevel=3,
        )
