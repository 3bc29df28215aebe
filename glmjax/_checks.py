"""Input checks for ``fit``, run as one compiled program before the solver.

Bad values (NaN/inf, negative weights, y outside the family's support, a rank-deficient
design) raise ``ValueError`` with the first offending index when the inputs are concrete, and
raise through ``equinox.error_if`` when ``fit`` runs inside ``jit``/``vmap``.
"""

from __future__ import annotations

import functools
import os

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from glmjax._information import diagonal
from glmjax._model import BlockSpectrum, GramSpectrum, spectrum_of
from glmjax._row_blocks import (
    any_true,
    count_true,
    default_block_rows,
    gram,
    gram_from_outer,
    is_design,
    keep_rows,
    slice_rows,
    sum_over_blocks,
)
from glmjax._transfer import to_host
from glmjax.families import AbstractFamily

CHECKS = ("X", "y", "weights", "offset", "negative weights", "zero weights", "support")


class Scan(eqx.Module):
    """Which checks of ``CHECKS`` each row fails (``row_flags``: bit k of a uint8 per row for
    check k; ``failed``); the Gram matrix XᵀW₀X and its spectrum, which reveals rank
    deficiency, XᵀR₀ and extra₀: with them the starting values (``Problem.start_rows``,
    ``Problem.initial``)."""

    row_flags: Array
    gram: Array
    spectrum: GramSpectrum | BlockSpectrum
    X_rhs: Array
    start_extra: Array
    zero_columns: Array
    constant_columns: Array
    ones_columns: Array
    n_positive: Array


def prepare_and_flag(family: AbstractFamily, X: Array, y: Array, weights: Array,
                     offset: Array, check_X: bool = True):
    """``family.prepare`` the response and flag bad rows: (family, y, weights, row_flags),
    row_flags as ``Scan.row_flags``. Cheap (one pass); the minibatch loop runs it per batch,
    there without ``check_X`` (X's bit is then never set)."""
    prepared, y_prep, w_prep = prepare(family, y, weights, X.dtype)
    X_rows = _nonfinite_rows(X) if check_X else jnp.zeros(weights.shape, bool)
    row_flags = _flag_rows(X_rows, y, weights, offset, prepared, y_prep, w_prep)
    return prepared, y_prep, w_prep, row_flags


def scan(X: Array, y: Array, weights: Array, offset: Array, prepared: AbstractFamily,
         y_prep: Array, w_prep: Array, start_weights: Array, start_rhs: Array,
         start_extra: Array, outer: Array | None = None) -> Scan:
    """The checks of ``prepare_and_flag`` on the ``prepare``d response, with the Gram matrix
    XᵀW₀X (W₀ = ``start_weights``, positive where the weights are) and its spectrum for the
    rank check, and Xᵀ``start_rhs`` for the starting values (``Problem.start_rows``, whose
    ``start_extra`` the scan keeps).

    Called inside ``fit``'s compiled program; the solver runs only when ``passed``. X is read
    once, in blocks of rows (``row_blocks``), for both products, its non-finite entries and
    its constant columns; its bit is set in every row when any entry is not finite
    (``raise_for_bad_values`` locates the entry on the host). With X's row outer products
    ``outer`` (``fit_many`` with X shared) the Gram matrix is one product with them.
    """
    first = None if is_design(X) else X[0]

    def x_flags(x):  # (any entry not finite, which columns differ from their first entry)
        # a column differs from its first entry where Σ|x − x₀| ≠ 0 (NaN counts as a
        # difference, as x != x₀ did): one float reduction, without a byte per entry of X
        return any_true(~jnp.isfinite(x)), jnp.sum(jnp.abs(x - first), 0) != 0

    def block_terms(rows):
        x, w, r = rows
        if is_design(x):
            return gram(x, w, r)
        return (*gram(x, w, r), *x_flags(x))  # + is "or"

    def take(start, size, keep):  # "or" needs no keep: a row seen twice changes nothing
        x, w, r = (slice_rows(a, start, size) for a in (X, start_weights, start_rhs))
        return x, keep_rows(w, keep), keep_rows(r, keep)

    if is_design(X):
        X_gram, X_rhs = sum_over_blocks(block_terms, take, X.shape[0], default_block_rows(X))
        any_nonfinite, any_differ, first = X.column_summary()
    elif outer is None:
        X_gram, X_rhs, any_nonfinite, any_differ = sum_over_blocks(
            block_terms, take, X.shape[0], default_block_rows(X))
    else:
        X_gram, X_rhs = gram_from_outer(outer, start_weights, X.shape[1]), X.T @ start_rhs
        any_nonfinite, any_differ = x_flags(X)
    X_rows = jnp.broadcast_to(any_nonfinite, weights.shape)
    row_flags = _flag_rows(X_rows, y, weights, offset, prepared, y_prep, w_prep)
    constant = ~any_differ
    return Scan(
        row_flags=row_flags, gram=X_gram, spectrum=spectrum_of(X_gram), X_rhs=X_rhs,
        start_extra=start_extra,
        zero_columns=diagonal(X_gram) == 0,
        constant_columns=constant & (first != 0), ones_columns=constant & (first == 1),
        n_positive=count_true(weights > 0),
    )


def prepare(family: AbstractFamily, y: Array, weights: Array, dtype):
    """(family, y, weights) after ``family.prepare``, with NaN and infinite y read as 0 and
    negative weights as 0 (the checks report them)."""
    clean_y = jnp.where(jnp.isfinite(y), y, 0) if jnp.issubdtype(y.dtype, jnp.floating) else y
    prepared, y_prep, w_prep = family.prepare(clean_y, jnp.maximum(weights, 0))
    return prepared, y_prep.astype(dtype), w_prep


def information_fits(n_params: int, dtype) -> None:
    """Raise a ``ValueError`` when the fit's dense P × P matrices (the information, its factor
    and inverse, the covariance: about four) would not fit in this process's device memory,
    before anything is allocated. (A design whose only sparse columns are one large
    categorical keeps them in blocks instead, ``_information``, where the fit allows it.)"""
    need = 4 * n_params**2 * np.dtype(dtype).itemsize
    have = _device_memory()
    if need > have:
        raise ValueError(
            f"the model has {n_params:,} coefficients: its information matrix and covariance "
            f"({n_params:,} × {n_params:,}, about {need / 2**30:,.0f} GiB in all in "
            f"{np.dtype(dtype).name}) would not fit in this device's memory "
            f"({have / 2**30:,.0f} GiB). glmjax keeps them in blocks only for a design whose "
            "sparse part is one categorical, fitted with one linear predictor, no l1, "
            "cov_type='nonrobust' and no estimated family parameter; otherwise fewer columns "
            "(merge rare levels) are needed.")


@functools.cache
def _device_memory() -> int:
    """Bytes of memory of this process's first device: its allocator's limit on an
    accelerator, the machine's physical memory on the CPU."""
    try:  # this process's own device (under jax.distributed the first may be another's)
        stats = jax.local_devices()[0].memory_stats()
    except Exception:  # noqa: BLE001 - a backend without the statistics
        stats = None
    if stats and stats.get("bytes_limit"):
        return int(stats["bytes_limit"])
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _nonfinite_rows(arr: Array) -> Array:
    if not jnp.issubdtype(arr.dtype, jnp.floating):
        return jnp.zeros(arr.shape[0], bool)
    return any_true(~jnp.isfinite(arr.reshape(arr.shape[0], -1)), 1)


def _flag_rows(X_rows, y, weights, offset, prepared, y_prep, w_prep) -> Array:
    """Bit k of a uint8 per row set where the row fails check k of ``CHECKS``, given X's.

    One elementwise pass; a stacked (len(CHECKS), m) boolean array costs XLA's CPU compiler
    several times as much code.
    """
    rows = [X_rows] + [_nonfinite_rows(a) for a in (y, weights, offset)]
    rows.append(weights < 0)
    rows.append((jnp.arange(weights.shape[0]) == 0) & (jnp.sum(weights) <= 0))
    rows.append(~prepared.in_support(y_prep) & (w_prep > 0))
    return functools.reduce(jnp.bitwise_or,
                            (r.astype(jnp.uint8) << k for k, r in enumerate(rows)))


def failed(row_flags: Array) -> Array:
    """Whether any row fails each check of ``CHECKS``: bools, shape (len(CHECKS),)."""
    bits = (row_flags[None, :] >> jnp.arange(len(CHECKS), dtype=jnp.uint8)[:, None]) & 1
    return any_true(bits, 1)


def rows_failing(row_flags, name: str) -> np.ndarray:
    """On the host: the rows failing check ``name``."""
    return (to_host(row_flags) >> CHECKS.index(name)) & 1 == 1


def _rank_threshold(dtype) -> float:
    return max(1e-10, 10 * float(jnp.finfo(dtype).eps))


def passed(scan: Scan, l2: Array) -> Array:
    """True when every value check passes and, unless l2 > 0, the design has full rank."""
    values_ok = ~any_true(scan.row_flags)
    evals = scan.spectrum.evals
    full_rank = (
        ~any_true(scan.zero_columns)
        & (scan.n_positive >= scan.zero_columns.shape[0])
        & (evals[0] > _rank_threshold(evals.dtype) * evals[-1])
    )
    return values_ok & (full_rank | (l2 > 0))


def error_if_bad(scan: Scan, family: AbstractFamily, target: Array) -> Array:
    """Inside jit/vmap: attach an ``equinox`` runtime error for each failed value check."""
    for name, bad in zip(CHECKS, failed(scan.row_flags), strict=True):
        target = eqx.error_if(target, bad, message(name, family) + ".")
    return target


_MESSAGES = {
    "X": "X contains NaN or infinite values",
    "y": "y contains NaN or infinite values",
    "weights": "weights contain NaN or infinite values",
    "offset": "offset contains NaN or infinite values",
    "negative weights": "weights must be >= 0",
    "zero weights": "weights must not all be zero",
    "support": "y is outside the support of {family}",
}


def message(name: str, family: AbstractFamily) -> str:
    return _MESSAGES[name].format(family=f"the {family.name} family ({family.support})")


def raise_for_bad_values(scan: Scan, family: AbstractFamily, arrays: dict[str, Array]):
    """Raise the first failed value check as a ``ValueError`` naming the first bad entry.

    ``arrays`` holds X, y, weights and offset, to locate a non-finite entry within its row.
    """
    for name in CHECKS:
        rows = rows_failing(scan.row_flags, name)
        if not rows.any():
            continue
        where = ""
        if name in arrays:  # NaN or inf: the exact entry
            bad = ~np.isfinite(to_host(arrays[name]))
            where = _first_and_count(bad)
        elif name != "zero weights":
            where = _first_and_count(rows)
        raise ValueError(message(name, family) + where + ".")


def _first_and_count(bad: np.ndarray) -> str:
    index = tuple(int(i) for i in np.argwhere(bad)[0])
    return f" (first at index {index}; {int(bad.sum())} in all)"


def raise_for_rank_deficiency(scan: Scan, names: tuple[str, ...], X=None,
                              weights=None) -> None:
    """Raise when the design (rows with positive weight) is numerically rank deficient, or
    when its Gram matrix XᵀW₀X at the starting values is not usable for another reason that
    X and ``weights``, when given, let it name: a column so large that XᵀW₀X overflows, or a
    response that gives every row zero starting weight.

    The eigenvector of the smallest eigenvalue of the column-normalised Gram matrix names the
    columns that are (nearly) linearly dependent.
    """
    evals = np.asarray(scan.spectrum.evals)
    if X is not None and not np.all(np.isfinite(evals)):
        big = np.max(np.abs(to_host(X)), axis=0)
        j = int(np.argmax(big))
        raise ValueError(f"column {names[j]!r} of X has entries as large as {big[j]:.3g}: "
                         "XᵀWX overflows the floating-point range. Rescale the columns of X.")
    zero = np.flatnonzero(np.asarray(scan.zero_columns))
    if zero.size and X is not None:
        positive = to_host(weights) > 0
        if np.any(to_host(X)[positive][:, zero[0]] != 0):
            raise ValueError(
                "y gives no row a usable starting value: every starting mean is on the "
                "boundary of the family's mean space (an all-zero count response, or a class "
                "or category with no observations). The maximum-likelihood estimate does not "
                "exist; check y (and, for Multinomial, n_classes).")
    if zero.size:
        raise ValueError(f"X is rank deficient: column {names[zero[0]]!r} is all zeros "
                         "(in the rows with positive weight). Drop it, or pass l2 > 0.")
    n_rows = int(scan.n_positive)
    if n_rows < len(names):
        raise ValueError(f"X has fewer rows with positive weight ({n_rows}) than columns "
                         f"({len(names)}): the coefficients are not identifiable.")
    if rank_deficient(scan.spectrum):
        raise ValueError("X is rank deficient (or nearly so): columns "
                         + dependent_columns(scan.spectrum, names)
                         + " are linearly dependent. Drop one of them, or pass l2 > 0.")


def rank_deficient(spectrum: GramSpectrum | BlockSpectrum) -> bool:
    """On the host: whether the Gram matrix of ``spectrum`` is numerically singular."""
    evals = np.asarray(spectrum.evals)
    return bool(evals[0] <= _rank_threshold(evals.dtype) * evals[-1])


def dependent_columns(spectrum: GramSpectrum | BlockSpectrum, names: tuple[str, ...]) -> str:
    """The columns that the eigenvector of the smallest eigenvalue involves, named (with
    their position where a name repeats)."""
    v = np.asarray(spectrum.evecs)[:, 0]
    listed = ", ".join(repr(names[j]) + (f" (column {j})" if names.count(names[j]) > 1 else "")
                       for j in np.flatnonzero(np.abs(v) > 0.1 * np.abs(v).max()))
    if isinstance(spectrum, BlockSpectrum):  # the dense columns' dependence on the levels
        listed += f" and the levels {names[v.shape[0]]!r} … {names[-1]!r}"
    return listed
