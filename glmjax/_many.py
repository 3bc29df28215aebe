"""``fit_many``: a batch of independent fits in one compiled program (chunks of vmapped fits).

Any of X, y, weights, offset, l2 and l1 may carry a leading batch axis of length B; the others
are shared by every fit. Typical batches: many response columns sharing one X (y of shape
(B, m)), stacked data sets (X of shape (B, m, p) with y of shape (B, m)), and a grid of
penalties (l2 of shape (B,)).
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from glmjax._compilation import filter_jit, host_driven, is_tracer
from glmjax._covariances import coded_groups
from glmjax._design import as_design
from glmjax._fitting import (
    ConvergenceWarning,
    InvalidInputWarning,
    SeparationWarning,
    as_penalty,
    as_vector,
    checked_problem,
    column_names,
    default_names,
    fit,
    ones_columns,
    prepare,
    solve,
)
from glmjax._results import FitResult, with_X, without_X
from glmjax._row_blocks import row_outer_products
from glmjax._transfer import as_float_array, as_response, to_host
from glmjax.families import AbstractFamily
from glmjax.solvers import Status


@host_driven("checks and warns about its fits on the host, so it cannot run inside jax.jit "
             "or jax.vmap (jax.grad through it works); inside a traced function use "
             "jax.vmap(gj.fit) instead.")
def fit_many(
    X: ArrayLike,
    y: ArrayLike,
    family: AbstractFamily,
    link=None,
    *,
    weights: ArrayLike | None = None,
    offset: ArrayLike | None = None,
    l2: ArrayLike = 0.0,
    l1: ArrayLike = 0.0,
    chunk_size: int | None = None,
    invalid: str = "raise",
    **fit_kwargs,
) -> FitResult:
    """Fit B independent GLMs at once; the result's arrays have a leading axis of length B.

    Each fit has its own ``converged`` flag, and a fit that fails to converge (or is
    separated) leaves the others untouched. Bad values in any fit raise ``ValueError`` naming
    that fit (each fit checks its inputs in the compiled program and skips the solver when
    they fail; the host then re-checks the unconverged fits for the message). With
    ``invalid="skip"`` such fits are skipped instead (many responses of which some have no
    estimate, such as the all-zero genes of a count matrix): their status is
    ``INVALID_INPUT``, their estimates (coefficients, covariance, log-likelihood, deviance,
    scale, per-row means, family parameters) are NaN, and one ``InvalidInputWarning`` names
    them with the reasons of the first three. A shared X is kept once in the result, not B
    times.

    The fits run as ``lax.map`` over chunks of ``chunk_size`` vmapped fits, one compiled
    program per shape. By default (None) a chunk holds at most 256 fits, and on the CPU only
    as many as keep its working data, m × (p·q + 1) numbers per fit, within 8 MB, near the
    cache for its IRLS passes: 1,000 fits of 500 × 10 took 0.86 of the time of chunks of 250,
    and fits of 2,000 × 20 0.69 (measured on a 2-core AMD EPYC). A size from half the
    chunk size up that divides B is preferred, so the fit compiles once. The cap of 256 dates
    from when a vmapped program of more than ~500 fits hung jax 0.10.2's CPU runtime (with an
    earlier version of the fit program; not reproduced since, in 5 runs each of chunks of 512
    and 1,000). Other keyword arguments go to ``fit``; ``init`` may hold one start per fit,
    shape (B, P) for P parameters (warm starts, such as the estimates of an earlier batch).

    Example:
        >>> import jax.numpy as jnp, glmjax as gj
        >>> X = jnp.stack([jnp.ones(6), jnp.arange(6.0)], axis=1)
        >>> Y = jnp.array([[0, 1, 1, 2, 3, 5], [1, 0, 2, 1, 1, 2.0]])  # two responses
        >>> res = gj.fit_many(X, Y, family=gj.families.Poisson())
        >>> res.coef.shape, res.converged.tolist()
        ((2, 2), [True, True])
    """
    if invalid not in ("raise", "skip"):
        raise ValueError(f"invalid must be 'raise' or 'skip'; got {invalid!r}.")
    names = fit_kwargs.get("feature_names") or column_names(X)
    if names is not None:
        fit_kwargs["feature_names"] = names  # checked by fit
    if as_design(X) is not None:
        raise TypeError("fit_many takes X as a dense array (or a stack of them); for "
                        "categorical or sparse columns call fit for each response.")
    X, y = as_float_array(X), as_response(y)
    args = {"X": X, "y": y, "weights": weights, "offset": offset, "l2": jnp.asarray(l2),
            "l1": jnp.asarray(l1)}
    m = X.shape[-2]
    batched = {
        "X": X.ndim == 3,
        "y": not _is_single_response(family, y, m),
        "weights": weights is not None and jnp.ndim(weights) == 2,
        "offset": offset is not None and jnp.ndim(offset) == 2,
        "l2": args["l2"].ndim == 1,
        "l1": args["l1"].ndim == 1,
    }
    for name in ("l2", "l1"):
        _check_penalty(args[name], name)
    if not batched["l1"] and not np.any(np.asarray(l1)):
        args["l1"] = 0.0  # a constant zero: no L1 step compiled
    sizes = {name: jnp.shape(args[name])[0] for name, b in batched.items() if b}
    if not sizes:
        raise ValueError("fit_many needs a leading batch axis on at least one of X (B, m, p), "
                         "y (B, m, ...), weights (B, m), offset (B, m), l2 or l1 (B,); use "
                         "fit() for a single fit.")
    if len(set(sizes.values())) > 1:
        raise ValueError(f"the batch axes differ in length: {sizes}.")
    n_fits = next(iter(sizes.values()))
    if n_fits == 0:
        raise ValueError(f"fit_many needs at least one fit; the batch axes have length 0: "
                         f"{sizes}.")
    param = family.parametrization(link)  # a bad pairing fails once, not per fit
    fit_kwargs = coded_groups(fit_kwargs, m)
    mapped = {name: args[name] for name in args if batched[name]}
    shared = {name: args[name] for name in args if not batched[name]}
    init = fit_kwargs.pop("init", None)
    if init is not None:  # one start for every fit, or one per fit (B, P)
        init = jnp.asarray(init)
        n_params = X.shape[-1] * param.n_linear(family) + param.n_extra(family)
        per_fit = init.ndim == 2 and init.shape == (n_fits, n_params)
        if not per_fit and init.size != n_params:
            raise ValueError(f"init must hold {n_params} values (one start for every fit) or "
                             f"have shape ({n_fits}, {n_params}) (one per fit); got shape "
                             f"{init.shape}.")
        (mapped if per_fit else shared)["init"] = init
    if batched["y"]:
        _check_response_batch(family, y, m)
    p, q = X.shape[-1], param.n_linear(family)
    # with X shared, the information of every fit is one product with X's row outer
    # products (``row_blocks.gram_from_outer``), when they are few enough to keep
    shared_outer = not batched["X"] and m * p * (p + 1) // 2 * X.dtype.itemsize <= _OUTER_BYTES
    if chunk_size is None:
        fit_bytes = m * ((1 if shared_outer else p) * q + 1) * X.dtype.itemsize
        chunk_size = _default_chunk(fit_bytes)
    elif not isinstance(chunk_size, int | np.integer) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer or None; got {chunk_size!r}.")
    with _one_batch_at_a_time():
        result, ones = _map_fits(family, link, fit_kwargs, mapped, shared,
                                 _even_chunks(n_fits, int(chunk_size)), shared_outer)
    if names is None:  # found in the program: names never change what it compiles
        result = dataclasses.replace(result, feature_names=default_names(to_host(ones)))
    # X goes back in here: an input returned from a compiled program would be copied
    X = shared["X"] if "X" in shared else mapped["X"]
    result = with_X(result, X)
    # a fit whose inputs fail a check comes back unconverged: check those on the host
    converged = to_host(result.converged)
    if invalid == "skip":
        skipped = to_host(result.status_code) == Status.INVALID_INPUT
        if skipped.any():
            result = _without_estimates(result, skipped)
            _warn_skipped(args, batched, n_fits, family, link, np.flatnonzero(skipped))
        converged = converged | skipped  # warned about once, as skipped
    suspects = np.flatnonzero(~converged)
    if suspects.size:
        with _one_batch_at_a_time():
            _check_fits(args, batched, n_fits, family, link, suspects)
    _warn_many(converged, to_host(result.n_boundary), n_fits)
    return result


@filter_jit
def _map_fits(family, link, fit_kwargs, mapped, shared, chunk_size, shared_outer=False):
    """``lax.map`` over chunks of ``chunk_size`` vmapped fits, in one compiled program; and
    which columns of X are all ones in every fit. ``shared_outer``: X is shared, and the fits
    use its row outer products (computed once) for their information."""
    outer = row_outer_products(shared["X"]) if shared_outer else None

    def one(per_fit):
        a = {**shared, **per_fit}
        inputs = prepare(a["X"], a["y"], family, link, weights=a["weights"],
                         offset=a["offset"], l2=a["l2"], l1=a["l1"], init=a.get("init"),
                         **fit_kwargs)
        res, _, _ = solve(dataclasses.replace(inputs, outer=outer, vmapped=True))
        # the result refers to the caller's X (one copy, shared or stacked), not a copy per fit
        return without_X(res, (1,))

    X = shared["X"] if "X" in shared else mapped["X"]
    return jax.lax.map(one, mapped, batch_size=chunk_size), ones_columns(X)


_BATCH_LOCK = threading.Lock()


def _one_batch_at_a_time():
    """On the CPU, a lock held while a batch of fits runs: calls from several threads take
    turns.

    The batch's Cholesky factorisations, triangular solves and eigendecompositions are
    batched LAPACK calls, and jaxlib 0.10.2's CPU kernels for them (``ParallelBatchMap``)
    split a batch into tasks on XLA's pool of worker threads, one per core, and block the
    worker that runs them until the tasks are done. They split a batch whose cost reaches
    200,000, counted as 5n³ per n × n eigendecomposition and n³/3 per Cholesky
    factorisation (the rank check of 40 fits of 10 columns). Two such programs at once on two
    cores blocked both workers, with the tasks queued behind them: ``fit_many`` called from
    two threads hung on its first call (its native stacks: CHANGELOG.md's benchmark
    history). ``XLA_FLAGS=--xla_cpu_multi_thread_eigen=false`` did not help. One batched
    program at a time leaves a worker free for the tasks. A user's own ``jax.vmap(fit)``
    runs outside this lock (see ``fit``).
    """
    return _BATCH_LOCK if jax.default_backend() == "cpu" else contextlib.nullcontext()


_CHUNK_BYTES = 8 << 20  # a chunk's working data on the CPU, at most (``fit_many``)
_OUTER_BYTES = 64 << 20  # a shared X's row outer products, at most (``fit_many``)


def _default_chunk(fit_bytes: int) -> int:
    """Fits per chunk: 256, and on the CPU at most ``_CHUNK_BYTES`` of working data."""
    if jax.default_backend() != "cpu":
        return 256
    return int(np.clip(_CHUNK_BYTES // max(fit_bytes, 1), 1, 256))


def _even_chunks(n_fits: int, chunk_size: int) -> int:
    """The largest divisor of n_fits from ``chunk_size``/2 to ``chunk_size`` (then the fit
    compiles once and the stacked inputs are reshaped, not copied, into chunks), else
    ``chunk_size``.

    Example:
        >>> _even_chunks(1000, 190), _even_chunks(1000, 256), _even_chunks(997, 100)
        (125, 250, 100)
    """
    chunk_size = min(chunk_size, n_fits)
    for size in range(chunk_size, (chunk_size - 1) // 2, -1):
        if n_fits % size == 0:
            return size
    return chunk_size


def _is_single_response(family: AbstractFamily, y, m: int) -> bool:
    try:
        family.check_response_shape(y, m)
    except ValueError:
        return False
    return True


def _check_response_batch(family: AbstractFamily, y, m: int) -> None:
    """Each fit's response (y without its leading axis) has the shape ``family`` expects."""
    try:
        family.check_response_shape(jax.ShapeDtypeStruct(y.shape[1:], y.dtype), m)
    except ValueError as err:
        raise ValueError(f"y of shape {tuple(y.shape)} is read as {y.shape[0]} responses of "
                         f"shape {tuple(y.shape[1:])}, one per fit, and X has {m} rows: "
                         f"{err}") from None


def _check_penalty(value, name: str) -> None:
    """``l2`` or ``l1`` of ``fit_many``: a number, or one per fit (B,), each finite and ≥ 0
    (``fit`` checks a concrete penalty; inside the batch it is traced, so it is checked here,
    naming the first bad fit). A traced penalty (``jax.grad`` through ``fit_many``) is not."""
    if is_tracer(value):
        return
    values = np.asarray(value)
    if values.ndim > 1:
        raise ValueError(f"{name} must be a number or a vector of one value per fit (B,); "
                         f"got shape {values.shape}.")
    bad = np.flatnonzero(~(np.isfinite(values) & (values >= 0)).reshape(-1))
    if bad.size:
        try:
            as_penalty(values.reshape(-1)[bad[0]], name, values.dtype)  # fit's own message
        except ValueError as err:
            where = f"fit {bad[0]} of {values.shape[0]}: " if values.ndim else ""
            raise ValueError(f"{where}{err}") from None


def _slice(value, index: int):
    return None if value is None else jnp.asarray(value)[index]


def _fit_alone(args, batched, index: int, family, link) -> None:
    """``fit`` on fit ``index`` of the batch alone: its ``ValueError`` says why it failed."""
    sliced = [_slice(v, index) if batched[name] else v for name, v in args.items()]
    fit(sliced[0], sliced[1], family, link, weights=sliced[2], offset=sliced[3], l2=sliced[4],
        l1=sliced[5])


def _without_estimates(result: FitResult, skipped: np.ndarray) -> FitResult:
    """``result`` with NaN estimates for the fits ``skipped`` (a boolean per fit)."""
    def nan(a):
        return jnp.where(skipped.reshape((-1,) + (1,) * (jnp.ndim(a) - 1)), jnp.nan, a)

    fields = ("params", "cov", "loglik", "deviance", "scale", "mean", "variance",
              "unit_deviance", "nuisance", "nuisance_stderr")
    return dataclasses.replace(result, **{f: jax.tree.map(nan, getattr(result, f))
                                          for f in fields})


def _warn_skipped(args, batched, n_fits, family, link, indices: np.ndarray) -> None:
    """One warning naming the fits skipped (``invalid="skip"``), with the reasons of the
    first three (each fitted alone for its message)."""
    reasons = []
    for index in indices[:3]:
        try:
            _fit_alone(args, batched, int(index), family, link)
            reasons.append(f"fit {index}: its inputs failed a check")
        except ValueError as err:
            reasons.append(f"fit {index}: {err}")
    listed = ", ".join(map(str, indices[:20])) + (", ..." if indices.size > 20 else "")
    warnings.warn(f"{indices.size} of {n_fits} fits were skipped (status INVALID_INPUT, NaN "
                  f"estimates): fits {listed}. " + " ".join(reasons),
                  InvalidInputWarning, stacklevel=4)


def _check_fits(args, batched, n_fits, family, link, indices) -> None:
    """Scan the inputs of the fits ``indices`` in one vmapped pass; refit the first failing
    one alone, for its message."""
    param = family.parametrization(link)

    def scan(X, y, weights, offset, l2, l1):
        m = X.shape[0]
        w = as_vector(weights, "weights", m, X.dtype, 1.0)
        o = as_vector(offset, "offset", m, X.dtype, 0.0)
        return checked_problem(family, param, X, y, w, o, l2, l1)[2]

    subset = [jnp.asarray(v)[indices] if batched[name] else v for name, v in args.items()]
    in_axes = tuple(0 if batched[name] else None for name in args)
    failing = np.flatnonzero(~to_host(jax.vmap(scan, in_axes=in_axes)(*subset)))
    if failing.size:
        index = int(indices[failing[0]])
        try:
            _fit_alone(args, batched, index, family, link)
        except ValueError as err:
            raise ValueError(f"fit {index} of {n_fits}: {err}") from None


def _warn_many(converged: np.ndarray, n_boundary: np.ndarray, n_fits: int) -> None:
    """Warnings from the per-fit flags, on the host (no program compiled for them)."""
    failed = int(np.sum(~converged))
    if failed:
        warnings.warn(f"{failed} of {n_fits} fits did not converge (see result.converged).",
                      ConvergenceWarning, stacklevel=3)
    separated = int(np.sum(n_boundary > 0))
    if separated:
        warnings.warn(f"{separated} of {n_fits} fits have fitted means on the boundary of the "
                      "mean space (separation; see result.n_boundary): their maximum-likelihood "
                      "estimates do not exist.", SeparationWarning, stacklevel=3)
