"""``check_identity``: E[T(y) | η] computed from the density against ∂A/∂η from autodiff.

The seed's section 2 proves E[T(y) | η] = ∂A/∂η by differentiating ∫ p(y | η) dy = 1. This
module checks it numerically for any family, independently of ``mean``:

* counts: an exact sum Σ_y T(y) p(y | η) over 0..n, or 0..N far into the tail;
* categories: an exact sum over the K classes;
* y ≥ 0 with a point mass at 0 (Tweedie): p(0) plus the trapezoid rule on y = eᵘ;
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

from glmjax._compilation import filter_jit
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
    eta = family.checked_natural(jnp.asarray(eta, jnp.result_type(float)))
    kind = family.support_kind
    if kind == "simplex":
        key = jax.random.key(0) if key is None else key
        return _monte_carlo(family, eta, key, n_samples)
    # the grid's place and size from the moments at η, on the host (one compiled program)
    mean, variance, response_mean = jax.device_get(_moments(family, eta, kind))
    if kind == "categorical":
        size, center, spread = family.natural_dim, 0.0, 1.0
    elif kind == "count":
        high = float(np.max(np.asarray(family.mean_bounds()[1], np.float64)))
        size = int(high if math.isfinite(high) else np.max(mean + 60 * np.sqrt(variance) + 60)) + 1
        center, spread = 0.0, 1.0
    else:
        size = n_grid
        center = float(np.median(np.asarray(response_mean, np.float64)))
        spread = float(np.max(np.sqrt(variance))) if kind in ("real", "nonnegative") else 1.0
    return _sum_over_grid(family, eta, kind, size, np.asarray(center, eta.dtype),
                          np.asarray(spread, eta.dtype))


@filter_jit
def _moments(family: AbstractFamily, eta: Array, kind: str):
    """(∂A/∂η, the variance where the grid needs it, E[y] where the grid needs it)."""
    variance = family.variance(eta) if kind in ("count", "real", "nonnegative") else None
    response_mean = family.response_mean(eta) if kind != "count" else None
    return family.mean(eta), variance, response_mean


@filter_jit
def _monte_carlo(family: AbstractFamily, eta: Array, key: Array, n_samples: int):
    t = family.sufficient_stat(family.sample(key, eta, (n_samples,)))
    expected = jnp.mean(t, axis=0)
    derivative = family.mean(eta)
    return IdentityCheck(
        expected=expected, derivative=derivative, error=jnp.abs(expected - derivative),
        stderr=jnp.std(t, axis=0) / math.sqrt(n_samples),
        total_mass=jnp.ones(eta.shape[:-1], eta.dtype), method="monte carlo",
    )


@filter_jit
def _sum_over_grid(family: AbstractFamily, eta: Array, kind: str, size: int, center: Array,
                   spread: Array) -> IdentityCheck:
    """Σ T(y) p(y | η) over the points of the grid (exact sums), or the trapezoid rule."""
    y, log_jac, step, method = _grid(kind, size, center, spread, eta.dtype)
    # p(y | η) on the grid for every η: y varies along the leading axis
    logp = family.log_prob(y.reshape(y.shape[:1] + (1,) * _batch_ndim(family, eta)), eta)
    dens = jnp.exp(logp + log_jac.reshape(logp.shape[:1] + (1,) * (logp.ndim - 1)))
    t = family.sufficient_stat(y)
    t = t.reshape(t.shape[:1] + (1,) * _batch_ndim(family, eta) + t.shape[1:])
    weight = dens.reshape(dens.shape + (1,) * (t.ndim - dens.ndim))
    expected = jnp.sum(weight * t, axis=0) * step
    derivative = family.mean(eta)
    return IdentityCheck(
        expected=expected, derivative=derivative, error=jnp.abs(expected - derivative),
        stderr=jnp.zeros_like(expected), total_mass=jnp.sum(dens, axis=0) * step,
        method=method,
    )


def _batch_ndim(family: AbstractFamily, eta: Array) -> int:
    return eta.ndim - (family.natural_dim > 0)


# u-ranges: ±60 standard deviations, e^{±60} around the mean, and σ(±36), the widest
# logistic range whose ends stay below 1 in float64
_HALF_WIDTH = {"real": 60.0, "positive": 60.0, "unit": 36.0}


def _grid(kind: str, size: int, center: Array, spread: Array, dtype):
    """Points y (leading axis), log |dy/du| there, the step in u and the method's name:
    0..size−1 for categories and counts; else y = g(u) on ``size`` points u centred on
    g⁻¹(``center``), with log |g'(u)| the Jacobian. For "nonnegative" the first point is the
    atom y = 0, weighted 1/step so that the sum counts p(0) once."""
    if kind == "categorical":  # integer labels
        return jnp.arange(size), jnp.zeros(size, dtype), 1.0, "exact sum"
    if kind == "count":
        return jnp.arange(size, dtype=dtype), jnp.zeros(size, dtype), 1.0, "exact sum"
    if kind == "nonnegative":  # log y from 30 below log μ to 60 standard deviations above μ
        low, high = jnp.log(center) - 30, jnp.log(center + 60 * spread)
        u = jnp.linspace(low, high, size - 1, dtype=dtype)
        step = (high - low) / (size - 2)
        y = jnp.concatenate([jnp.zeros(1, dtype), jnp.exp(u)])
        return y, jnp.concatenate([-jnp.log(step)[None], u]), step, "atom and quadrature"
    half = _HALF_WIDTH[kind]
    step = 2 * half / (size - 1)
    u = jnp.linspace(-half, half, size, dtype=dtype)
    if kind == "real":
        return center + spread * u, jnp.full_like(u, jnp.log(spread)), step, "quadrature"
    if kind == "positive":
        u = u + jnp.log(center)
        return jnp.exp(u), u, step, "quadrature"
    return (jax.nn.sigmoid(u), jax.nn.log_sigmoid(u) + jax.nn.log_sigmoid(-u), step,
            "quadrature")
