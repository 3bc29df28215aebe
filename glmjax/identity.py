"""``check_identity``: E[T(y) | η] computed from the density against ∂A/∂η from autodiff.

The seed's section 2 proves E[T(y) | η] = ∂A/∂η by differentiating ∫ p(y | η) dy = 1. This
module checks it numerically for any family, independently of ``mean``:

* counts: an exact sum Σ_y T(y) p(y | η) over 0..n, or 0..N far into the tail;
* categories: an exact sum over the K classes;
* continuous scalar y: the trapezoid rule on a fine grid after a change of variables that
  maps the support to ℝ (y = u, y = eᵘ or y = σ(u)), exponentially accurate for these
  smooth, fast-decaying integrands;
* the simplex (Dirichlet): Monte Carlo with a standard error.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.typing import ArrayLike

from glmjax.families import AbstractFamily


class IdentityCheck(eqx.Module):
    """E[T(y)] by summation/quadrature/Monte Carlo (``expected``) against ∂A/∂η."""

    expected: Array
    derivative: Array
    error: Array
    stderr: Array
    total_mass: Array
    method: str = eqx.field(static=True)


def check_identity(
    family: AbstractFamily,
    eta: ArrayLike,
    *,
    key: Array | None = None,
    n_samples: int = 400_000,
    n_grid: int = 20_001,
) -> IdentityCheck:
    """Verify E[T(y) | η] = ∂A/∂η at ``eta`` (a batch of natural parameters).

    Returns the two sides, their absolute difference ``error``, the Monte Carlo standard error
    (0 for sums and quadrature) and ∫p (or Σp), which should be 1.

    Example:
        >>> import jax.numpy as jnp, glmjax as gj
        >>> chk = gj.check_identity(gj.families.Poisson(), jnp.array([-1.0, 0.0, 2.0]))
        >>> bool(jnp.all(chk.error < 1e-5 * (1 + chk.derivative)))  # float32 by default
        True
    """
    eta = jnp.asarray(eta, jnp.result_type(float))
    derivative = family.mean(eta)
    kind = family.support_kind
    if kind == "simplex":
        key = jax.random.key(0) if key is None else key
        samples = family.sample(key, eta, (n_samples,))
        t = family.sufficient_stat(samples)
        expected = jnp.mean(t, axis=0)
        stderr = jnp.std(t, axis=0) / math.sqrt(n_samples)
        total = jnp.ones(eta.shape[:-1], eta.dtype)
        method = "monte carlo"
    else:
        y, log_jac, method = _grid(family, eta, kind, n_grid)
        # p(y | η) on the grid for every η: y varies along the leading axis
        logp = family.log_prob(y.reshape(y.shape[:1] + (1,) * _batch_ndim(family, eta)), eta)
        dens = jnp.exp(logp + log_jac.reshape(logp.shape[:1] + (1,) * (logp.ndim - 1)))
        t = family.sufficient_stat(y)
        t = t.reshape(t.shape[:1] + (1,) * _batch_ndim(family, eta) + t.shape[1:])
        weight = dens.reshape(dens.shape + (1,) * (t.ndim - dens.ndim))
        step = 1.0 if method == "exact sum" else 2 * _HALF_WIDTH[kind] / (n_grid - 1)
        expected = jnp.sum(weight * t, axis=0) * step
        total = jnp.sum(dens, axis=0) * step
        stderr = jnp.zeros_like(expected)
    return IdentityCheck(
        expected=expected, derivative=derivative, error=jnp.abs(expected - derivative),
        stderr=stderr, total_mass=total, method=method,
    )


def _batch_ndim(family: AbstractFamily, eta: Array) -> int:
    return eta.ndim - (family.natural_dim > 0)


# u-ranges: ±60 standard deviations, e^{±60} around the mean, and σ(±36), the widest
# logistic range whose ends stay below 1 in float64
_HALF_WIDTH = {"real": 60.0, "positive": 60.0, "unit": 36.0}


def _grid(family: AbstractFamily, eta: Array, kind: str, n_grid: int):
    """Points y (leading axis), log |dy/du| there, and the method's name."""
    dtype = eta.dtype
    if kind == "categorical":
        return jnp.arange(family.natural_dim), jnp.zeros(family.natural_dim, dtype), "exact sum"
    if kind == "count":
        mean = np.asarray(jax.device_get(family.mean(eta)), np.float64)
        var = np.asarray(jax.device_get(family.variance(eta)), np.float64)
        high = float(np.max(np.asarray(family.mean_bounds()[1], np.float64)))
        upper = high if math.isfinite(high) else float(np.max(mean + 60 * np.sqrt(var) + 60))
        y = jnp.arange(int(upper) + 1, dtype=dtype)
        return y, jnp.zeros_like(y), "exact sum"
    # continuous: y = g(u) on a grid u centred on g⁻¹(E[y]); log |g'(u)| is the Jacobian
    center = float(np.median(np.asarray(jax.device_get(family.response_mean(eta)), np.float64)))
    half = _HALF_WIDTH[kind]
    if kind == "real":
        spread = float(np.max(np.sqrt(np.asarray(jax.device_get(family.variance(eta))))))
        u = jnp.linspace(-half, half, n_grid, dtype=dtype)
        return center + spread * u, jnp.full_like(u, math.log(spread)), "quadrature"
    if kind == "positive":
        u = jnp.linspace(-half, half, n_grid, dtype=dtype) + math.log(center)
        return jnp.exp(u), u, "quadrature"
    u = jnp.linspace(-half, half, n_grid, dtype=dtype)
    return jax.nn.sigmoid(u), jax.nn.log_sigmoid(u) + jax.nn.log_sigmoid(-u), "quadrature"
