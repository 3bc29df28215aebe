"""``fit_chunked``: the exact maximum-likelihood fit of data read chunk by chunk.

Fisher scoring needs, at each trial point β, only sums over the rows: ℓ(β), ∇ℓ(β) and the
information I(β) = Σᵢ Jᵢᵀ wᵢ∇²A(ηᵢ) Jᵢ (``Problem.row_sums``). So each IRLS iteration is one
pass over the data, chunk by chunk, adding up those sums (in float64 on the host); the step
(I/Σw + λ₂M) δ = −∇f is solved once per pass, with the same step halving and stopping rule
as ``solvers.IRLS`` (or ``ProximalNewton``'s coordinate descent with an L1 term). The passes:

1. a scan: every chunk's values are checked (the error names the file and row), and the
   products of the starting values XᵀW₀X and XᵀR₀ (``Problem.start_rows``, each chunk
   shrinking towards its own mean) are added up: the start, the rank check, the intercepts;
2. one pass per IRLS iteration, which also fits the null model (the intercept alone, for the
   null deviance) and adds up the deviance, Pearson χ², the rows on the boundary;
3. a last pass only when asked for: the log-likelihood of a family with a dispersion at φ̂
   (its base measure depends on φ), or the meat of a sandwich covariance (HC0–HC3; for
   "cluster", the scores summed by cluster, U_g, kept on the host as a (G, k) array: a
   cluster's rows may lie in any chunks).

Memory is bounded by a few chunks (``prefetch`` read ahead on a background thread). Under
``jax.distributed`` each process passes its own chunks and the sums are added over the
processes (an all-gather of a few small arrays per pass).
"""

from __future__ import annotations

import dataclasses
import logging
import sys
import time
import warnings
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import multihost_utils
from tqdm.auto import tqdm

from glmjax import _checks as checks
from glmjax._chunk_sources import Chunk, as_source
from glmjax._compilation import filter_jit
from glmjax._covariances import (
    check_cov_pairing,
    check_labels,
    check_n_groups,
    cluster_scores,
    meat,
    sandwich,
    unit_covariance,
)
from glmjax._fitting import _as_scale, _count_boundary, _warn, as_penalty, default_names
from glmjax._model import GramSpectrum, Problem
from glmjax._results import FitResult
from glmjax._streaming import prefetch as read_ahead
from glmjax.families import AbstractFamily
from glmjax.solvers import IRLS, Status
from glmjax.solvers.coordinate_descent import lasso_newton_step

logger = logging.getLogger("glmjax.chunked")  # one INFO line per pass: what, rows, seconds

def fit_chunked(
    source,
    family: AbstractFamily,
    link=None,
    *,
    formula: str | None = None,
    weights: str | None = None,
    offset: str | None = None,
    chunk_rows: int = 262_144,
    l2: float = 0.0,
    l1: float = 0.0,
    tol: float | None = None,
    max_iter: int | None = None,
    scale: float | str | None = None,
    cov_type: str = "nonrobust",
    groups=None,
    feature_names: Sequence[str] | None = None,
    prefetch: int = 2,
    verbose: bool = True,
) -> FitResult:
    """Fit a GLM by maximum likelihood on data read in chunks: the result of ``fit`` on all
    rows at once (to its tolerance), without holding them in memory.

    Args:
      source: where the rows come from:
        - a tuple (X, y[, weights[, offset]]) of arrays: NumPy arrays, ``np.memmap``, or paths
          of ``.npy`` files (memory-mapped), read ``chunk_rows`` rows at a time;
        - the path of a Parquet file or of a directory of them (a Parquet dataset), with
          ``formula`` (pyarrow reads only the columns the formula names);
        - a callable returning an iterable of chunks, (X, y[, weights[, offset]]) tuples or
          dicts with those keys, called once per pass (every pass must see the same rows).
      family, link: as for ``fit``; the family's parameters must be fixed (a
        ``NegativeBinomial(alpha=None)`` is estimated by ``fit`` only).
      formula: "response ~ terms" for a Parquet source, as ``glm``'s: ``C(x)`` and string
        columns become treatment contrasts over the levels of the whole data set.
      weights, offset: column names of a Parquet source.
      chunk_rows: rows per chunk of an array source (and at most per Parquet batch); every
        chunk is computed by one compiled program, a short one padded with rows of weight 0.
      l2, l1, tol, max_iter: as for ``fit`` (IRLS, or proximal Newton with l1 > 0).
      scale: None (R's choice), "pearson", "deviance" or a number, as for ``fit``.
      cov_type: "nonrobust", "HC0", "HC1", "HC2", "HC3" or "cluster" (with ``groups``), as
        for ``fit``: one more pass for the meat.
      groups: the cluster labels for ``cov_type="cluster"``: an array or ``.npy`` path of one
        label per row for an array source, a column name for a Parquet source, or the key
        under which a callable source's chunks (dicts) hold their rows' labels. A cluster's
        rows may lie in any chunks; its summed scores stay in memory (G × k floats). Under
        ``jax.distributed`` the labels must be numbers, to be matched between processes.
      feature_names: names of X's columns (a formula names them itself).
      prefetch: chunks read ahead on a background thread while one is computed.
      verbose: a progress bar per pass over the data.

    Returns:
      A ``FitResult`` like ``fit``'s, with standard errors, deviance, null deviance, AIC and
      the covariance of ``cov_type``; it does not keep per-row values (residuals, the data).
      Bad values in a chunk raise ``ValueError`` naming where they are (file and row).

    Example:
        >>> import numpy as np, glmjax as gj
        >>> rng = np.random.default_rng(0)
        >>> X = np.column_stack([np.ones(5000), rng.normal(size=5000)])
        >>> y = rng.poisson(np.exp(0.5 + 0.3 * X[:, 1])).astype(float)
        >>> res = gj.fit_chunked((X, y), gj.families.Poisson(), chunk_rows=1024, verbose=False)
        >>> full = gj.fit(X, y, gj.families.Poisson())
        >>> bool(np.allclose(res.coef, full.coef, rtol=1e-8)), int(res.nobs)
        (True, 5000)
    """
    if not isinstance(family, AbstractFamily):
        raise TypeError(f"family must be a glmjax.families instance; got {family!r}")
    if family.estimated_nuisance():
        raise ValueError(f"fit_chunked needs the {family.name} family's parameters fixed "
                         f"({', '.join(family.estimated_nuisance())} is None): estimate them "
                         "with gj.fit on a sample of the rows and pass the value.")
    check_cov_pairing(cov_type, groups)
    scale = _as_scale(scale, family)
    if scale == "ml":
        raise ValueError('scale="ml" is not available for a chunked fit; use None, "pearson", '
                         '"deviance" or a number > 0.')
    if not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise ValueError(f"chunk_rows must be a positive integer; got {chunk_rows!r}.")
    source = as_source(source, chunk_rows, formula, weights, offset, family, groups,
                       sys._getframe(1))
    dtype = source.dtype
    param = family.parametrization(link)
    q, r = param.n_linear(family), param.n_extra(family)
    p = source.n_columns
    checks.information_fits(p * q + r, dtype)
    names = tuple(feature_names) if feature_names is not None else source.feature_names
    if names is not None and len(names) != p:
        raise ValueError(f"feature_names has {len(names)} names for {p} columns.")
    l2_value, l1_value = (as_penalty(v, n, dtype) for v, n in ((l2, "l2"), (l1, "l1")))
    solver = IRLS(tol, max_iter)
    passes = _Passes(source, family, param, prefetch, verbose)

    # 1. the scan: checks, the start, the rank check, the constant columns
    scan = passes.scan()
    spectrum = GramSpectrum.of(jnp.asarray(scan["gram"]))
    constant = scan["constant"]
    names = names or default_names(scan["ones"])
    flags = checks.Scan(row_flags=np.zeros(1, np.uint8), gram=scan["gram"], spectrum=spectrum,
                        X_rhs=scan["rhs"], start_extra=scan["extra"],
                        zero_columns=np.diagonal(scan["gram"]) == 0, constant_columns=constant,
                        ones_columns=scan["ones"], n_positive=scan["n_positive"])
    if not bool(checks.passed(flags, l2_value + (0 if l1_value is None else l1_value))):
        checks.raise_for_rank_deficiency(flags, names)
    beta0 = np.concatenate([np.asarray(spectrum.solve(jnp.asarray(scan["rhs"]))).ravel(),
                            scan["extra"]])
    penalized = np.concatenate([np.repeat(~constant, q), np.zeros(r, bool)]).astype(np.float64)
    intercept = bool(constant.any())
    null_beta0 = np.concatenate([scan["null_rhs"] / scan["null_weight"] if intercept
                                 else np.zeros(q), scan["extra"]])
    total = float(scan["weight"])

    # 2. Fisher scoring on the model and on the null model, one pass per iteration
    tolerance, limit = solver.tolerance(dtype), solver.iterations()
    lam2 = 0.0 if l2_value is None else float(l2_value)
    model = _HostScoring(beta0, total, lam2 * penalized, tolerance, limit, solver.max_halvings,
                         None if l1_value is None else float(l1_value) * penalized)
    null_mask = np.r_[np.full(q, 0.0 if intercept else 1.0), np.zeros(r)]
    null = _HostScoring(null_beta0, total, null_mask, tolerance, limit, solver.max_halvings)
    last, null_deviance = None, None
    while not (model.done and null.done):
        sums = passes.evaluate(model.trial, null.trial, intercept)
        if not model.done:
            model.update(*sums["model"])
            last = sums if model.accepted else last
        if not null.done:
            null.update(*sums["null"])
            null_deviance = sums["null_deviance"] if null.accepted else null_deviance
    beta, status = model.beta, model.status

    # 3. the statistics at β̂
    fam = family
    nobs, n_params = int(scan["n_positive"]), p * q + r
    df_resid = nobs - n_params
    deviance, pearson = last["deviance"], last["pearson"]
    phi, phi_ll = 1.0, 1.0
    if fam.has_dispersion:
        phi = pearson / df_resid
        phi_ll = float(fam.loglik_dispersion(jnp.asarray(deviance), jnp.asarray(total),
                                             jnp.asarray(phi)))
    if scale == "pearson":
        phi = pearson / df_resid
    elif scale == "deviance":
        phi = deviance / df_resid
    elif scale is not None:
        phi = scale
    information = model.info
    cov_unit = np.asarray(unit_covariance(jnp.asarray(information), jnp.asarray(total),
                                          jnp.asarray(beta), jnp.asarray(penalized),
                                          l1_value is not None))
    final = None
    if fam.has_dispersion or cov_type != "nonrobust":
        final = passes.final(beta, phi_ll, cov_unit, cov_type)
    loglik = final["loglik"] if fam.has_dispersion else last["loglik"] + scan["base"]
    if not fam.has_saturated:
        deviance = -2 * loglik
    if cov_type == "nonrobust":
        cov = cov_unit * phi
    else:
        cov = np.asarray(sandwich(jnp.asarray(cov_unit), jnp.asarray(final["meat"]), cov_type,
                                  jnp.asarray(nobs), final.get("n_groups", 0)))
    df_null = nobs - (q if intercept else 0) - r
    null_dev = null_deviance if fam.has_saturated else -2 * (null_deviance + scan["base"])
    problem = _empty_problem(family, param, source, dtype, lam2, penalized, l1_value)
    as_array = lambda v, dt=dtype: jnp.asarray(v, dt)  # noqa: E731
    integer = jax.dtypes.canonicalize_dtype(jnp.int_)  # int32 without x64: no warning
    result = FitResult(
        family=family, parametrization=param, params=as_array(beta), cov=as_array(cov),
        loglik=as_array(loglik), deviance=as_array(deviance), scale=as_array(phi),
        nobs=as_array(nobs, integer), df_resid=as_array(df_resid, integer),
        n_iter=as_array(model.n_iter, jnp.int32), status_code=as_array(status, jnp.int32),
        n_boundary=as_array(last["boundary"], integer), mean=jnp.zeros(0, dtype),
        variance=jnp.zeros(0, dtype), unit_deviance=jnp.zeros(0, dtype), problem=problem,
        n_features=p, n_linear=q,
        scale_estimated=(fam.has_dispersion and scale is None) or isinstance(scale, str),
        feature_names=names, solver=solver.name if l1_value is None else "proximal_newton",
        cov_type=cov_type, null_fit=(as_array(null_dev), as_array(df_null, integer)),
        per_row=False)
    if not null.converged:
        warnings.warn("the null model (intercept only) did not converge: null_deviance is "
                      "that of its last iterate.", stacklevel=2)
    _warn(result)
    return result


def _empty_problem(family, param, source, dtype, lam2, penalized, l1) -> Problem:
    """The result's problem: the model without its rows (a chunked fit keeps none)."""
    y_shape = (0,) + source.y_shape
    return Problem(family=family, parametrization=param,
                   X=jnp.zeros((0, source.n_columns), dtype), y=jnp.zeros(y_shape, dtype),
                   weights=jnp.zeros(0, dtype), offset=jnp.zeros(0, dtype),
                   l2=jnp.asarray(lam2, dtype), penalized=jnp.asarray(penalized, dtype),
                   l1=None if l1 is None else jnp.asarray(l1, dtype))


class _HostScoring:
    """``solvers.irls``'s Fisher scoring with step halving, driven from the host: ``trial``
    is the point the next pass evaluates; ``update(ℓ, ∇ℓ, I)`` takes its sums over the rows.

    f = −ℓ/Σw + (λ₂/2) Σ mⱼβⱼ² (+ λ₁ Σ mⱼ|βⱼ|), the step solves (I/Σw + λ₂M) δ = −∇f (by
    coordinate descent with an L1 term), and it stops when the Newton decrement is at most
    tol·(|f| + 0.1), in float64 throughout.
    """

    def __init__(self, beta0, total, ridge, tol, max_iter, max_halvings, l1_weights=None):
        self.beta = np.asarray(beta0, np.float64)
        self.trial = self.beta
        self.total, self.ridge, self.l1_weights = total, np.asarray(ridge), l1_weights
        self.tol, self.max_iter, self.max_halvings = tol, max_iter, max_halvings
        self.value, self.t, self.halvings, self.n_iter = np.inf, 1.0, 0, -1
        self.delta = np.zeros_like(self.beta)
        self.info = None
        self.accepted, self.done, self.converged = False, self.beta.size == 0, False
        self.status = Status.SUCCESS if self.done else Status.MAX_ITER
        self.converged = self.done

    def update(self, loglik, score, info) -> None:
        beta = self.trial
        value = -loglik / self.total + 0.5 * np.sum(self.ridge * beta**2)
        grad = -score / self.total + self.ridge * beta
        info = info / self.total + np.diag(self.ridge)
        if self.l1_weights is not None:
            value += np.sum(self.l1_weights * np.abs(beta))
        slack = 64 * np.finfo(np.float64).eps * (abs(self.value) + 1)
        self.accepted = bool(np.isfinite(value) and np.all(np.isfinite(grad))
                             and (value <= self.value + slack or not np.isfinite(self.value)))
        if self.accepted:
            self.beta, self.value, self.info = beta, value, info
            self.n_iter += 1
            self.halvings, self.t = 0, 1.0
            self.delta, decrement = self._step(info, grad, value)
            size = abs(value) + 0.1
            if decrement <= self.tol * size:
                return self._stop(Status.SUCCESS)
            if not np.isfinite(decrement):
                return self._stop(Status.NONFINITE)
            if self.n_iter >= self.max_iter:
                return self._stop(Status.MAX_ITER)
        else:
            self.halvings += 1
            self.t *= 0.5
            if self.halvings > self.max_halvings:
                # converged when the last decrement is below √tol, as IRLS
                ok = self.decrement <= np.sqrt(self.tol) * (abs(self.value) + 0.1)
                return self._stop(Status.SUCCESS if ok else Status.STEP_FAILED)
        self.trial = self.beta + self.t * self.delta

    def _step(self, info, grad, value):
        if self.l1_weights is None:
            try:
                factor = np.linalg.cholesky(info)
            except np.linalg.LinAlgError:
                self.decrement = np.nan
                return np.zeros_like(grad), np.nan
            z = np.linalg.solve(factor, -grad)
            delta = np.linalg.solve(factor.T, z)
            self.decrement = 0.5 * float(np.dot(-grad, delta))
        else:
            inner = 1e-3 * self.tol * (abs(value) + 0.1)
            delta = np.asarray(_lasso_step(info, grad, self.beta, self.l1_weights, inner))
            self.decrement = 0.5 * float(delta @ info @ delta)
        return delta, self.decrement

    def _stop(self, status: Status) -> None:
        self.done, self.status = True, status
        self.converged = status == Status.SUCCESS
        self.trial = self.beta


@jax.jit
def _lasso_step(info, grad, beta, l1_weights, inner_tol):
    return lasso_newton_step(info, grad, beta, l1_weights, inner_tol)


class _Passes:
    """Passes over a source's chunks, each chunk computed by one compiled program and the
    sums added up in float64 (over the processes too, under ``jax.distributed``)."""

    def __init__(self, source, family, param, prefetch: int, verbose: bool):
        self.source, self.family, self.param = source, family, param
        self.prefetch, self.verbose, self.count = prefetch, verbose, 0

    def _chunks(self, what: str):
        self.count += 1
        bar = tqdm(total=self.source.n_rows, disable=not self.verbose, unit="row",
                   unit_scale=True, desc=f"pass {self.count} ({what})", leave=False)
        start, rows = time.perf_counter(), 0
        try:
            for chunk, device in read_ahead(self.source.chunks(), _on_device, self.prefetch):
                yield chunk, device
                bar.update(chunk.n_rows)
                rows += chunk.n_rows
        finally:
            bar.close()
        logger.info("pass %d (%s): %d rows in %.3f s", self.count, what, rows,
                    time.perf_counter() - start)

    def scan(self) -> dict:
        """The checks and the start: sums of the scan's products over the chunks."""
        sums, first, extra = None, None, None
        for chunk, (X, y, w, off) in self._chunks("checks"):
            out = _host(_scan_chunk(self.family, self.param, X, y, w, off))
            _raise_for_flags(out.pop("row_flags"), chunk, self.family)
            if chunk.groups is not None:
                check_labels(chunk.groups, chunk.locate)
            chunk_extra, chunk_first = out.pop("extra"), out.pop("first")
            if first is None:
                first, extra = chunk_first, chunk_extra
            out["differ"] = out["differ"] | (chunk_first != first)
            sums = out if sums is None else _add(sums, out)
        if sums is None:
            raise ValueError("the source gave no chunks (no rows to fit).")
        sums = _all_processes(sums)
        if sums["weight"] <= 0:
            raise ValueError("weights must not all be zero.")
        firsts = _from_every_process(first)  # a column constant in each process may differ
        extra = _from_every_process(extra)[0]  # between them; the start's extras: the first's
        constant = ~(sums.pop("differ") | np.any(firsts != firsts[:1], axis=0))
        first = firsts[0]
        return sums | {"constant": constant & (first != 0), "ones": constant & (first == 1),
                       "extra": extra}

    def evaluate(self, beta, null_beta, intercept: bool) -> dict:
        """ℓ, ∇ℓ, I of the model at ``beta`` and of the null model at ``null_beta``, and the
        deviance, Pearson χ² and boundary count at ``beta``."""
        sums = None
        for _, (X, y, w, off) in self._chunks("IRLS"):
            out = _pass_chunk(self.family, self.param, X, y, w, off,
                              jnp.asarray(beta, X.dtype), jnp.asarray(null_beta, X.dtype),
                              intercept)
            out = _host(out)
            sums = out if sums is None else _add(sums, out)
        sums = _all_processes(sums)
        return {"model": sums["model"], "null": sums["null"], "deviance": sums["deviance"],
                "pearson": sums["pearson"], "boundary": sums["boundary"],
                "loglik": sums["model"][0], "null_deviance": sums["null_deviance"]}

    def final(self, beta, phi, cov_unit, cov_type: str) -> dict:
        """Σ wᵢ log p(yᵢ | ηᵢ, φ) and the sandwich meat of ``cov_type`` at ``beta`` (with the
        number of clusters, ``n_groups``, for "cluster")."""
        sums, clusters = None, _Clusters() if cov_type == "cluster" else None
        for chunk, (X, y, w, off) in self._chunks("statistics"):
            codes, rows = (None, None) if clusters is None else clusters.code(chunk,
                                                                              X.shape[0])
            out = _final_chunk(self.family, self.param, X, y, w, off,
                               jnp.asarray(beta, X.dtype), jnp.asarray(phi, X.dtype),
                               jnp.asarray(cov_unit, X.dtype), cov_type, codes)
            out = _host(out)
            if clusters is not None:
                clusters.add(rows, out.pop("cluster_scores"))
            sums = out if sums is None else _add(sums, out)
        sums = _all_processes(sums)
        if clusters is not None:
            sums["meat"], sums["n_groups"] = clusters.meat()
        return sums


class _Clusters:
    """The scores summed by cluster over the chunks of a pass, U_g = Σ_{i∈g} uᵢ, as a (G, k)
    float64 array on the host: labels are coded in the order they first appear."""

    def __init__(self):
        self.index: dict = {}  # label → row of ``totals``
        self.totals = None

    def code(self, chunk: Chunk, size: int) -> tuple[np.ndarray, np.ndarray]:
        """(the chunk's rows coded 0..u−1 by label within the chunk, padded to ``size``; the
        rows of ``totals`` of those u labels)."""
        try:
            unique, local = np.unique(chunk.groups, return_inverse=True)
        except TypeError as error:
            raise ValueError(f"the cluster labels of the chunk at {chunk.locate(0)} cannot be "
                             f"compared with each other: {error}") from None
        rows = np.array([self.index.setdefault(v, len(self.index)) for v in unique.tolist()],
                        np.int64)
        codes = np.zeros(size, np.int32)
        codes[: chunk.n_rows] = local.ravel()
        return codes, rows

    def add(self, rows: np.ndarray, scores: np.ndarray) -> None:
        """Add a chunk's scores summed by its codes ((size, k), rows 0..u−1) to the rows
        ``rows`` of ``totals`` (``code``'s)."""
        if self.totals is None:
            self.totals = np.zeros((0, scores.shape[1]))
        if self.totals.shape[0] < len(self.index):
            grown = np.zeros((max(2 * self.totals.shape[0], len(self.index)), scores.shape[1]))
            grown[: self.totals.shape[0]] = self.totals
            self.totals = grown
        self.totals[rows] += scores[: rows.size]

    def meat(self) -> tuple[np.ndarray, int]:
        """(Σ_g U_g U_gᵀ, G), the clusters of every process of ``jax.distributed`` merged."""
        totals = self.totals[: len(self.index)]
        if jax.process_count() > 1:
            labels = np.array(list(self.index))
            if labels.dtype.kind not in "biuf":
                raise ValueError("under jax.distributed the cluster labels must be numbers, to "
                                 f"be matched between processes; got {labels.dtype} labels.")
            counts = _from_every_process(np.array([labels.size]))[:, 0]
            n = int(counts.max())

            def padded(a):  # every process gathers arrays of one shape
                return np.concatenate([a, np.zeros((n - len(a),) + a.shape[1:])])

            every_label = _from_every_process(padded(labels.astype(np.float64)))
            every_total = _from_every_process(padded(totals))
            kept = np.arange(n) < counts[:, None]
            unique, where = np.unique(every_label[kept], return_inverse=True)
            totals = np.zeros((unique.size, totals.shape[1]))
            np.add.at(totals, where.ravel(), every_total[kept])
        return totals.T @ totals, check_n_groups(totals.shape[0])


def _on_device(chunk: Chunk):
    return chunk, tuple(jax.device_put(a) for a in (chunk.X, chunk.y, chunk.weights,
                                                     chunk.offset))


def _host(tree):
    """A chunk's sums on the host, floats as float64 (the sums over chunks add in it)."""
    return jax.tree.map(lambda a: np.asarray(a, np.float64)
                        if np.issubdtype(np.asarray(a).dtype, np.floating) else np.asarray(a),
                        jax.device_get(tree))


def _add(a, b):
    return jax.tree.map(lambda u, v: u | v if u.dtype == bool else u + v, a, b)


def _all_processes(tree):
    """The sums over every process of ``jax.distributed`` (the tree itself for one)."""
    if jax.process_count() == 1:
        return tree
    gathered = multihost_utils.process_allgather(tree)
    return jax.tree.map(lambda a: np.asarray(a).any(0) if a.dtype == bool
                        else np.asarray(a).sum(0), gathered)


def _from_every_process(a: np.ndarray) -> np.ndarray:
    """``a`` of every process of ``jax.distributed``, stacked: shape (processes, ...)."""
    a = np.asarray(a)
    if jax.process_count() == 1 or a.size == 0:
        return a[None]
    return np.asarray(multihost_utils.process_allgather(a))


def _chunk_problem(family, param, X, y, weights, offset):
    """(the chunk's ``Problem``, its row flags): the response prepared and checked."""
    prepared, y_prep, w_prep, row_flags = checks.prepare_and_flag(family, X, y, weights,
                                                                  offset)
    problem = Problem(family=prepared, parametrization=param, X=X, y=y_prep, weights=w_prep,
                      offset=offset, l2=jnp.zeros((), X.dtype),
                      penalized=jnp.zeros(0, X.dtype))
    return problem, row_flags


@filter_jit
def _scan_chunk(family, param, X, y, weights, offset):
    """A chunk's row flags (``checks.CHECKS``) and its terms of the start: XᵀW₀X, XᵀR₀, ΣW₀
    and ΣR₀ (the null model's), extra₀; the columns that differ from the chunk's first row
    (padding repeats it), Σw, the rows with positive weight, Σ w log b(y) (φ = 1)."""
    problem, row_flags = _chunk_problem(family, param, X, y, weights, offset)
    W0, R0, extra0 = problem.start_rows()
    fam, w = problem.family, problem.weights
    scan = checks.scan(X, y, weights, offset, fam, problem.y, w, W0, R0, extra0)
    base = (jnp.sum(w * fam.log_base_measure(problem.y)) if not fam.has_dispersion
            else jnp.zeros((), X.dtype))
    return {"row_flags": row_flags, "gram": scan.gram, "rhs": scan.X_rhs,
            "null_weight": jnp.sum(W0), "null_rhs": jnp.sum(R0, axis=0), "extra": extra0,
            "differ": ~scan.constant_columns, "first": X[0], "weight": jnp.sum(w),
            "n_positive": scan.n_positive, "base": base}


@filter_jit
def _pass_chunk(family, param, X, y, weights, offset, beta, null_beta, intercept: bool):
    """A chunk's sums of one IRLS pass: (ℓ, ∇ℓ, I) of the model at ``beta`` with its
    deviance, Pearson χ² and boundary count, and (ℓ, ∇ℓ, I) and deviance of the null model
    (X a column of ones, or of zeros without an intercept) at ``null_beta``."""
    problem, _ = _chunk_problem(family, param, X, y, weights, offset)
    fam = problem.family

    def stats(block, eta):
        w = block.weights
        mean = fam.mean(eta)
        pearson = (jnp.sum(w * (block.y - mean) ** 2 / fam.variance(eta))
                   if fam.natural_dim == 0 else jnp.zeros((), X.dtype))
        deviance = (jnp.sum(w * block.family.unit_deviance(block.y, eta)) if fam.has_saturated
                    else jnp.zeros((), X.dtype))
        return deviance, pearson, _count_boundary(block.family, mean, w)

    loglik, score, info, (deviance, pearson, boundary) = problem.row_sums(beta, also=stats)
    column = jnp.full((X.shape[0], 1), 1.0 if intercept else 0.0, X.dtype)
    null = dataclasses.replace(problem, X=column)
    null_sums = null.row_sums(null_beta, also=lambda block, eta: jnp.sum(
        block.weights * block.family.unit_deviance(block.y, eta)) if fam.has_saturated
        else jnp.zeros((), X.dtype))
    return {"model": (loglik, score, info), "null": null_sums[:3], "deviance": deviance,
            "pearson": pearson, "boundary": boundary,
            "null_deviance": null_sums[3] if fam.has_saturated else null_sums[0]}


@filter_jit
def _final_chunk(family, param, X, y, weights, offset, beta, phi, cov_unit, cov_type: str,
                 codes):
    """A chunk's Σ wᵢ log p(yᵢ | ηᵢ, φ) and, unless "nonrobust", its sandwich meat: for
    "cluster", its scores summed by ``codes`` (the chunk's own, 0..rows−1)."""
    problem, _ = _chunk_problem(family, param, X, y, weights, offset)
    eta = problem.eta(beta)
    loglik = jnp.sum(problem.weights * problem.family.log_prob(problem.y, eta, phi))
    out = {"loglik": loglik}
    if cov_type == "cluster":
        out["cluster_scores"] = cluster_scores(problem, beta, codes, X.shape[0])
    elif cov_type != "nonrobust":
        out["meat"] = meat(problem, beta, cov_unit, cov_type)
    return out


def _raise_for_flags(row_flags: np.ndarray, chunk: Chunk, family: AbstractFamily) -> None:
    """The first failed check of a chunk's rows, as a ``ValueError`` naming file and row."""
    row_flags = row_flags[: chunk.n_rows]
    for k, name in enumerate(checks.CHECKS):
        rows = np.flatnonzero((row_flags >> k) & 1)
        if name == "zero weights" or rows.size == 0:
            continue
        row = int(rows[0])
        column = ""
        if name == "X":
            bad = np.flatnonzero(~np.isfinite(chunk.X[row]))
            column = f", column {int(bad[0])}" if bad.size else ""
        raise ValueError(f"{checks.message(name, family)} at {chunk.locate(row)}{column} "
                         f"({rows.size} rows of this chunk).")
