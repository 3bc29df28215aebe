"""Sums over the rows of the data in cache-sized blocks, and the weighted Gram product XᵀWX.

Every quantity a Fisher-scoring step needs is a sum over rows: the log-likelihood ℓ, its
gradient and the information I = Σᵢ xᵢ Wᵢ xᵢᵀ. On the CPU each separate pass over a tall X
is bound by memory bandwidth, and XLA's single dot for XᵀWX first writes W·X out in full.
``sum_over_blocks`` instead loops over blocks of rows that fit in the cache and computes
everything for a block while it is there: one pass over X for ℓ, ∇ℓ and I together, about
twice as fast (``benchmarks/RESULTS.md``). On an accelerator, or when X is split over several
devices (where slicing rows would gather X onto one), the whole data is one block.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax import Array

_BLOCK_BYTES = 1 << 20  # rows of X per block: about one L2 cache


def default_block_rows(X: Array, width: int = 1) -> int:
    """Rows per block for X on one CPU device (a power of two, 256 to 8192); 0 (no blocks)
    on an accelerator or for X sharded over several devices. ``width`` multiplies the row
    size (q linear predictors per row)."""
    mesh = getattr(getattr(jax.typeof(X), "sharding", None), "mesh", None)
    if jax.default_backend() != "cpu" or (mesh is not None and mesh.size > 1):
        return 0
    rows = max(_BLOCK_BYTES // (X.dtype.itemsize * X.shape[1] * width), 1)
    return int(min(max(256, 1 << (rows.bit_length() - 1)), 8192))


def sum_over_blocks(fn: Callable[[Any], Any], take: Callable[[int, int], Any], n_rows: int,
                    block_rows: int) -> Any:
    """Σ over consecutive blocks of rows of ``fn(take(start, size))``, a pytree of arrays
    (``jnp.add``: "or" for booleans).

    ``take(start, size)`` returns the data of rows start … start + size − 1 (``start`` may be
    traced). Blocks are used when there are at least four; the rows after the last whole
    block form one shorter block.

    Example:
        >>> import jax.numpy as jnp
        >>> x = jnp.arange(10_000.0)
        >>> take = lambda start, size: jax.lax.dynamic_slice_in_dim(x, start, size)
        >>> float(sum_over_blocks(jnp.sum, take, 10_000, 256)) == float(jnp.sum(x))
        True
    """
    if block_rows == 0 or n_rows < 4 * block_rows:
        return fn(take(0, n_rows))
    n_blocks, tail = divmod(n_rows, block_rows)
    if tail:
        total = fn(take(n_blocks * block_rows, tail))
    else:
        total = jax.tree.map(jnp.zeros_like, jax.eval_shape(lambda: fn(take(0, block_rows))))

    def add_block(i, total):
        block = fn(take(i * block_rows, block_rows))
        return jax.tree.map(jnp.add, total, block)

    return jax.lax.fori_loop(0, n_blocks, add_block, total)


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

    def take(start, size):
        return tuple(jax.lax.dynamic_slice_in_dim(a, start, size) for a in (X, W))

    return sum_over_blocks(lambda xw: gram(*xw), take, X.shape[0], block_rows)


def gram(X: Array, W: Array) -> Array:
    """``weighted_gram`` in one product, without blocks."""
    if W.ndim == 1:
        return (X * W[:, None]).T @ X
    p, q = X.shape[1], W.shape[1]
    return jnp.einsum("iab,ij,ik->jakb", W, X, X).reshape(p * q, p * q)
