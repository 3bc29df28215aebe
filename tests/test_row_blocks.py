"""Sums over blocks of rows (row_blocks.py) equal the one-block sums, per-row data included."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import glmjax as gj
from glmjax import _fitting as fitting
from glmjax._row_blocks import (
    default_block_rows,
    gram,
    gram_from_outer,
    row_outer_products,
    sum_over_blocks,
    weighted_gram,
)

jax.config.update("jax_enable_x64", True)
RNG = np.random.default_rng(3)
M = 1000  # 16 blocks of 64 rows, the last overlapping the one before by 24


@pytest.mark.parametrize("q", [1, 3])
def test_weighted_gram_in_blocks(q):
    X = RNG.normal(size=(M, 4))
    W = RNG.uniform(size=M) if q == 1 else np.einsum("iab,icb->iac", *2 * [RNG.normal(
        size=(M, q, q))])
    expected = (np.einsum("ij,i,ik->jk", X, W, X) if q == 1
                else np.einsum("iab,ij,ik->jakb", W, X, X).reshape(4 * q, 4 * q))
    for block_rows in (0, 64, 250):
        np.testing.assert_allclose(weighted_gram(jnp.asarray(X), jnp.asarray(W), block_rows),
                                   expected, rtol=1e-12)


def test_small_X_is_transposed_once_for_the_product():
    # on the CPU a small X (fit_many's fits) enters the product as a copy laid out as Xᵀ, kept
    # from XLA's folding by an optimisation barrier; a row block or a large X does not
    def barriers(rows):
        X, w = jnp.ones((rows, 10)), jnp.ones(rows)
        jaxpr = jax.make_jaxpr(lambda X, w: gram(X, w, w[:, None]))(X, w)
        return sum(eqn.primitive.name == "optimization_barrier" for eqn in jaxpr.eqns)

    expected = 1 if jax.default_backend() == "cpu" else 0
    assert barriers(500) == expected
    assert barriers(8192) == 0  # 640 kB: a row block's size
    X, w = RNG.normal(size=(500, 10)), RNG.uniform(size=500)
    G, Xr = gram(jnp.asarray(X), jnp.asarray(w), jnp.asarray(w[:, None]))
    np.testing.assert_allclose(G, X.T @ (w[:, None] * X), rtol=1e-13)
    np.testing.assert_allclose(Xr[:, 0], X.T @ w, rtol=1e-13)


def test_sum_over_blocks_of_a_pytree():
    x = jnp.asarray(RNG.normal(size=M))

    seen = []

    def take(start, size, keep):
        seen.append(keep is not None)
        rows = jax.lax.dynamic_slice_in_dim(x, start, size)
        return rows, jnp.ones(size) if keep is None else keep.astype(x.dtype)

    def fn(block):  # the sum, the number of rows counted, and an "or"
        rows, counted = block
        return jnp.sum(rows * counted), jnp.sum(counted), jnp.any(rows > 3.5)

    total, count, any_big = sum_over_blocks(fn, take, M, 64)
    assert M % 64 and any(seen)  # the last block overlaps the one before it
    assert float(total) == pytest.approx(float(jnp.sum(x)), rel=1e-12)
    assert int(count) == M
    assert bool(any_big) == bool(jnp.any(x > 3.5))


def test_default_block_rows():
    if jax.default_backend() != "cpu":  # an accelerator: whole passes, no blocks
        assert default_block_rows(jnp.zeros((10, 50))) == 0
        return
    assert default_block_rows(jnp.zeros((10, 50))) == 2048
    assert default_block_rows(jnp.zeros((10, 10_000)), width=2) == 256
    # where BLAS's syrk computes the Gram product (glmjax._blas) it blocks the rows itself
    from glmjax import _blas
    assert default_block_rows(jnp.zeros((10, 10_000))) == (0 if _blas.available() else 256)
    # ~1 MB of rows: long blocks for narrow X
    assert default_block_rows(jnp.zeros((10, 5))) == 16384
    assert default_block_rows(jnp.zeros((10, 1))) == 65536


def _problem(family, y, link=None, precision_design=None, weights=None):
    X = np.column_stack([np.ones(M), RNG.normal(size=(M, 2))])
    param = family.parametrization(link)
    if precision_design is not None:
        param = gj.parametrizations.MeanPrecision(link, precision_design=precision_design)
    weights = np.ones(M) if weights is None else weights
    problem, _, ok = fitting.checked_problem(family, param, jnp.asarray(X), jnp.asarray(y),
                                             jnp.asarray(weights), jnp.zeros(M),
                                             jnp.asarray(0.1))
    assert bool(ok)
    return problem


@pytest.mark.parametrize("case", ["binomial_trials", "beta_precision", "multinomial"])
def test_row_sums_in_blocks_equal_one_block(case):
    if case == "binomial_trials":  # per-row trials inside the prepared family
        trials = RNG.integers(1, 9, size=M)
        y = np.column_stack([RNG.binomial(trials, 0.4), np.zeros(M)])
        y[:, 1] = trials - y[:, 0]
        problem = _problem(gj.families.Binomial(), y)
    elif case == "beta_precision":  # a per-row precision design inside the parametrization
        Z = np.column_stack([np.ones(M), RNG.normal(size=M)])
        problem = _problem(gj.families.Beta(), RNG.uniform(0.05, 0.95, size=M),
                           gj.links.Logit(), precision_design=jnp.asarray(Z))
    else:
        problem = _problem(gj.families.Multinomial(3), RNG.integers(0, 3, size=M),
                           weights=RNG.uniform(0.5, 2, size=M))
    beta = jnp.asarray(RNG.normal(size=problem.n_params) * 0.1)
    one = problem.row_sums(beta, block_rows=0)
    blocks = problem.row_sums(beta, block_rows=64)
    for a, b in zip(one, blocks, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(one[0], problem.loglik(beta), rtol=1e-13)
    np.testing.assert_allclose(one[2], problem.fisher(beta), rtol=1e-12, atol=1e-12)


def test_the_gram_product_from_row_outer_products():
    """``fit_many``'s shared-X form of the information equals the direct one (1e-12), for
    scalar weights and q × q blocks, and under vmap over the weights."""
    rng = np.random.default_rng(0)
    X = jnp.asarray(rng.normal(size=(50, 4)))
    W = jnp.asarray(rng.uniform(size=(3, 50)))
    A = rng.normal(size=(50, 2, 2))
    blocks = jnp.asarray(A @ A.transpose(0, 2, 1))
    outer = row_outer_products(X)
    np.testing.assert_allclose(jax.vmap(lambda w: gram_from_outer(outer, w, 4))(W),
                               jax.vmap(lambda w: gram(X, w))(W), rtol=1e-12)
    np.testing.assert_allclose(gram_from_outer(outer, blocks, 4), gram(X, blocks), rtol=1e-12)
