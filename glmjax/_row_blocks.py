"""Sums over the rows of the data in cache-sized blocks, and the weighted Gram product XᵀWX.

Every quantity a Fisher-scoring step needs is a sum over rows: the log-likelihood ℓ, its
gradient and the information I = Σᵢ xᵢ Wᵢ xᵢᵀ. On the CPU each separate pass over a tall X
is bound by memory bandwidth, and XLA's single dot for XᵀWX first writes W·X out in full.
``sum_over_blocks`` instead loops over blocks of rows that fit in the cache and computes
everything for a block while it is there: one pass over X for ℓ, ∇ℓ and I together, about
twice as fast (``benchmarks/bench_fit.py``). On an accelerator, or when X is split over several
devices (where slicing rows would gather X onto one), the whole data is one block.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from glmjax import _blas

_BLOCK_BYTES = 1 << 20  # rows of X per block: about one L2 cache


def default_block_rows(X: Array, width: int = 1) -> int:
    """Rows per block for X on one CPU device (a power of two, 256 to 65,536); 0 (no blocks)
    on an accelerator, for X sharded over several devices, and where BLAS computes the Gram
    product (``uses_blas``: it blocks the rows itself). ``width`` multiplies the row size (q linear
    predictors per row). Narrow X gets long blocks: each block costs a few kernel launches,
    which at 8,192 rows of 5 columns took longer than the block's arithmetic (measured on a
    2-core AMD EPYC)."""
    if not _on_one_cpu(X) or (width == 1 and uses_blas(X)):
        return 0
    if is_design(X):
        return X.block_rows(width)
    rows = max(_BLOCK_BYTES // (X.dtype.itemsize * X.shape[1] * width), 1)
    return int(min(max(256, 1 << (rows.bit_length() - 1)), 65536))


def is_design(X) -> bool:
    """Whether X is a ``glmjax.Design`` (categorical or sparse columns; ``_design``), which
    computes its own products, rather than a dense array."""
    return hasattr(X, "column_summary")


def _on_one_cpu(X: Array) -> bool:
    leaf = X.dense if is_design(X) else X
    mesh = getattr(getattr(jax.typeof(leaf), "sharding", None), "mesh", None)
    return jax.default_backend() == "cpu" and (mesh is None or mesh.size <= 1)


def uses_blas(X: Array) -> bool:
    """Whether ``gram`` computes XᵀWX (scalar W) with BLAS's symmetric product
    (``glmjax._blas``): X on one CPU device with at least 8 columns and 2¹⁶ entries, and the
    BLAS target registered. Smaller products stay in XLA, where the call would cost more than
    it saves."""
    return (not is_design(X) and X.ndim == 2 and X.shape[1] >= 8
            and X.shape[0] * X.shape[1] >= 1 << 16 and _on_one_cpu(X) and _blas.available())


def sum_over_blocks(fn: Callable[[Any], Any], take: Callable[..., Any], n_rows: int,
                    block_rows: int) -> Any:
    """Σ over consecutive blocks of rows of ``fn(take(start, size, keep))``, a pytree of
    arrays (``jnp.add``: "or" for booleans).

    ``take(start, size, keep)`` returns the data of rows start … start + size − 1 (``start``
    may be traced) with the weight of every row where ``keep`` is False set to zero (``keep``:
    None, or a boolean vector of length ``size``). Blocks are used when there are at least
    four. When ``block_rows`` does not divide ``n_rows`` the last block ends at the last row
    and overlaps the one before, and ``keep`` drops the rows counted there: every block has
    the same shape, so ``fn`` is compiled once.

    Example:
        >>> import jax.numpy as jnp
        >>> x = jnp.arange(10_000.0)
        >>> def take(start, size, keep):
        ...     rows = jax.lax.dynamic_slice_in_dim(x, start, size)
        ...     return rows if keep is None else jnp.where(keep, rows, 0.0)
        >>> float(sum_over_blocks(jnp.sum, take, 10_000, 256)) == float(jnp.sum(x))
        True
    """
    if block_rows == 0 or n_rows < 4 * block_rows:
        return fn(take(0, n_rows, None))
    n_blocks = -(-n_rows // block_rows)
    overlap = n_rows % block_rows != 0
    total = jax.tree.map(jnp.zeros_like,
                         jax.eval_shape(lambda: fn(take(0, block_rows, None))))

    def add_block(i, total):
        start, keep = clamped_block(i * block_rows, n_rows, block_rows)
        return jax.tree.map(jnp.add, total, fn(take(start, block_rows, keep if overlap else None)))

    return jax.lax.fori_loop(0, n_blocks, add_block, total)


def clamped_block(first, n_rows: int, size: int):
    """(start, keep) of the block of ``size`` rows meant to begin at row ``first``: it begins
    at most at n_rows − size, so that it ends at the last row, and ``keep`` (``size`` booleans)
    is False on the rows before ``first``, which the block before counts. ``first`` may be a
    JAX scalar or a NumPy array of first rows (then ``keep`` has one more axis).

    Example:
        >>> import numpy as np
        >>> start, keep = clamped_block(np.array([0, 4, 8]), 10, 4)
        >>> start.tolist(), keep[2].tolist()
        ([0, 4, 6], [False, False, True, True])
    """
    xp = np if isinstance(first, np.ndarray) else jnp
    start = xp.minimum(first, n_rows - size)
    return start, start[..., None] + xp.arange(size) >= first[..., None]


def slice_rows(a, start, size: int):
    """Rows start … start + size − 1 (``start`` may be traced) of an array or of a pytree
    whose leaves have one row per observation (a ``Design``)."""
    return jax.tree.map(lambda leaf: jax.lax.dynamic_slice_in_dim(leaf, start, size), a)


def keep_rows(a: Array, keep: Array | None) -> Array:
    """``a`` with zeros in the rows where ``keep`` is False (``a`` itself for None): the
    weights of a block that ``sum_over_blocks`` passes to ``take``."""
    if keep is None:
        return a
    return jnp.where(keep.reshape((-1,) + (1,) * (a.ndim - 1)), a, 0)


def weighted_gram(X: Array, W: Array, block_rows: int | None = None) -> Array:
    """Σᵢ xᵢ Wᵢ xᵢᵀ for X of shape (m, p) and W of shape (m,) or (m, q, q).

    .. math:: G_{(j,a),(k,b)} = \\sum_i x_{ij} W_{i,ab}\\, x_{ik}

    Returns (p, p) for scalar weights and (p·q, p·q) for q×q blocks, ordered (j, a) with the
    feature j outer. ``block_rows``: see ``default_block_rows`` (the default) and
    ``sum_over_blocks``.

    Example:
        >>> import jax.numpy as jnp
        >>> X = jnp.arange(6.0).reshape(3, 2)
        >>> weighted_gram(X, jnp.ones(3)).tolist() == (X.T @ X).tolist()
        True
    """
    q = 1 if W.ndim == 1 else W.shape[1]
    block_rows = default_block_rows(X, q) if block_rows is None else block_rows

    def take(start, size, keep):
        x, w = (slice_rows(a, start, size) for a in (X, W))
        return x, keep_rows(w, keep)

    return sum_over_blocks(lambda xw: gram(*xw), take, X.shape[0], block_rows)


def gram(X: Array, W: Array, R: Array | None = None, xla: bool = False
         ) -> Array | tuple[Array, Array]:
    """``weighted_gram`` in one product, without blocks; with R of shape (m, k), also XᵀR.

    For scalar weights the two share one product, Xᵀ[W·X | R] (on the CPU a Fisher-scoring
    pass over a block of rows takes about a fifth less time than with a second product),
    unless BLAS computes XᵀWX (``uses_blas``; not with ``xla``).
    """
    if is_design(X):
        return X.gram(W, R)
    if W.ndim == 1 and not xla and uses_blas(X):
        G = _blas.syrk_gram(X, W)
        return G if R is None else (G, transposed_product(X, R.reshape(R.shape[0], -1)))
    if W.ndim == 1:
        p = X.shape[1]
        WX = X * W[:, None]
        if R is None:
            return _transposed(X) @ WX
        both = _transposed(X) @ jnp.concatenate([WX, R.reshape(R.shape[0], -1)], axis=1)
        return both[:, :p], both[:, p:]
    p, q = X.shape[1], W.shape[1]
    G = jnp.einsum("iab,ij,ik->jakb", W, X, X).reshape(p * q, p * q)
    return G if R is None else (G, X.T @ R.reshape(R.shape[0], -1))


def transposed_product(X: Array, R: Array) -> Array:
    """XᵀR for X (m, p) and R (m, k), as a reduction over the rows: XLA's CPU backend computes
    the product ``X.T @ R`` of a tall X through a transposed copy of X (200,000 × 50 in
    float64: 30 ms, against 3 ms for the reduction). A ``Design`` computes its own."""
    if is_design(X):
        return X.transposed_product(R)
    if R.shape[1] == 1:
        return jnp.sum(X * R, axis=0)[:, None]
    return (R.T @ X).T


def row_outer_products(X: Array) -> Array:
    """The outer products xᵢxᵢᵀ of X's rows, packed as their upper triangles: shape
    (m, p(p+1)/2), column (j, k) for j ≤ k in ``np.triu_indices`` order (``gram_from_outer``)."""
    j, k = np.triu_indices(X.shape[1])
    return X[:, j] * X[:, k]


def gram_from_outer(outer: Array, W: Array, p: int) -> Array:
    """``weighted_gram`` from the packed outer products of X's rows (``row_outer_products``):
    one product Wᵀ·outer, of (m,) or (m, q²) weights with (m, p(p+1)/2) products.

    Under ``vmap`` with X shared by the fits (``fit_many``) the product of all fits is one
    matrix product, (B, m) weights times (m, p(p+1)/2) outer products, instead of B small
    weighted Gram products.

    Example:
        >>> import jax.numpy as jnp
        >>> X, W = jnp.arange(6.0).reshape(3, 2), jnp.array([1.0, 2.0, 3.0])
        >>> (gram_from_outer(row_outer_products(X), W, 2) == gram(X, W)).all().item()
        True
    """
    j, k = np.triu_indices(p)
    index = np.zeros((p, p), np.int32)
    index[j, k] = index[k, j] = np.arange(j.size)
    if W.ndim == 1:
        return (W @ outer)[index]
    q = W.shape[1]
    packed = W.reshape(W.shape[0], q * q).T @ outer  # (q², p(p+1)/2)
    G = packed[:, index].reshape(q, q, p, p)  # [a, b, j, k]
    return G.transpose(2, 0, 3, 1).reshape(p * q, p * q)


def _transposed(X: Array) -> Array:
    """Xᵀ, the left operand of ``gram``'s product; for a small X on the CPU (at most a
    quarter of a row block, so never a block of a large X), a copy laid out as Xᵀ.

    Under ``vmap`` (``fit_many``) XLA's CPU backend multiplies the batch about twice as fast
    that way: 250 fits of 500 × 10, five products each, 7.8–8.1 against 17–19 ms
    (2-core AMD EPYC). XLA would fold a plain transpose into the product;
    the optimisation barrier keeps the copy. For the blocks of a large X a copy per block
    made the pass slower; accelerators keep the plain product (not measured there).
    """
    if jax.default_backend() == "cpu" and X.size * X.dtype.itemsize <= _BLOCK_BYTES // 4:
        return jax.lax.optimization_barrier(X.T)
    return X.T


def any_true(mask: Array, axis: int | None = None) -> Array:
    """``jnp.any(mask, axis)``, reduced as bytes.

    Same values; XLA's CPU compiler takes about 0.2 s over a boolean (or integer) reduction of
    a long axis and about 0.04 s over a uint8 maximum, which matters for a first fit.

    Example:
        >>> import jax.numpy as jnp
        >>> any_true(jnp.arange(5) > 3).item(), any_true(jnp.zeros((3, 2), bool), 0).tolist()
        (True, [False, False])
    """
    return jnp.max(mask.astype(jnp.uint8), axis=axis, initial=0) > 0


def count_true(mask: Array) -> Array:
    """``jnp.sum(mask)``, summed as floats for the reason given in ``any_true`` (exact: the
    float type's integers reach 2²⁴ in float32, 2⁵³ in float64; beyond, an integer sum)."""
    x64 = jax.config.jax_enable_x64
    if not x64 and mask.size >= 1 << 24:
        return jnp.sum(mask)
    total = jnp.sum(mask.astype(jnp.float64 if x64 else jnp.float32))
    return total.astype(jax.dtypes.canonicalize_dtype(jnp.int_))
