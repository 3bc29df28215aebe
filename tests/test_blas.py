"""XᵀWX by BLAS's syrk through the FFI target (glmjax._blas) equals XLA's product."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import glmjax as gj
from glmjax import _blas, _row_blocks

pytestmark = pytest.mark.skipif(not _blas.available(), reason="the BLAS target did not register")


@pytest.fixture(scope="module")
def tall():
    rng = np.random.default_rng(2)
    X = np.column_stack([np.ones(9000), rng.normal(size=(9000, 9))])
    return X, rng.uniform(0.2, 3.0, 9000)


def test_weighted_syrk_on_the_host(tall):
    X, W = tall
    out = np.empty((10, 10))
    _blas.weighted_syrk(X, W, out)
    np.testing.assert_allclose(out, X.T @ (W[:, None] * X), rtol=1e-12)
    signed = W - 1.0  # negative weights: the general product
    _blas.weighted_syrk(X, signed, out)
    np.testing.assert_allclose(out, X.T @ (signed[:, None] * X), rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_under_jit_vmap_and_derivatives(tall, dtype):
    X, W = (jnp.asarray(a, dtype) for a in tall)
    assert _row_blocks.uses_blas(X)
    reference = X.T @ (W[:, None] * X)
    tol = 1e-5 if dtype == np.float32 else 1e-12  # relative to the largest entry
    scale = float(jnp.max(jnp.abs(reference)))
    np.testing.assert_allclose(jax.jit(_blas.syrk_gram)(X, W), reference, atol=tol * scale)
    batched = jax.vmap(_blas.syrk_gram, in_axes=(None, 0))(X, jnp.stack([W, 2 * W]))
    np.testing.assert_allclose(batched[1], 2 * reference, atol=2 * tol * scale)

    def total(X, W):
        return jnp.sum(_blas.syrk_gram(X, W) ** 2)

    def xla(X, W):
        return jnp.sum((X.T @ (W[:, None] * X)) ** 2)

    for got, want in zip(jax.grad(total, (0, 1))(X, W), jax.grad(xla, (0, 1))(X, W),
                         strict=True):
        np.testing.assert_allclose(got, want, atol=10 * tol * float(jnp.max(jnp.abs(want))))


def test_fits_with_blas_equal_fits_without(tall, monkeypatch):
    """A Poisson fit and a Cox–Reid negative-binomial fit (the information differentiated
    inside) on X large enough for BLAS, against the same fits with XLA's product."""
    X, _ = tall
    rng = np.random.default_rng(3)
    y = rng.poisson(np.exp(X @ (rng.normal(size=10) * 0.1))).astype(float)
    nb = gj.families.NegativeBinomial(alpha=None)
    with_blas = [gj.fit(X, y, gj.families.Poisson()), gj.fit(X, y, nb, cox_reid=True)]
    monkeypatch.setattr(_row_blocks, "uses_blas", lambda X: False)
    jax.clear_caches()
    without = [gj.fit(X, y, gj.families.Poisson()), gj.fit(X, y, nb, cox_reid=True)]
    jax.clear_caches()
    for a, b in zip(with_blas, without, strict=True):
        np.testing.assert_allclose(a.coef, b.coef, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(a.stderr, b.stderr, rtol=1e-9)
    np.testing.assert_allclose(with_blas[1].nuisance["alpha"], without[1].nuisance["alpha"],
                               rtol=1e-7)
