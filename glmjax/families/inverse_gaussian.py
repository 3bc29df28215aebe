"""Inverse Gaussian: A(η) = −√(−2η) for η < 0, T(y) = y; shape λ = 1/φ."""

from __future__ import annotations

from typing import ClassVar

import jax
import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

from glmjax import links
from glmjax.families._base import AbstractScalarFamily


class InverseGaussian(AbstractScalarFamily):
    """Positive responses with mean μ = 1/√(−2η) and variance φμ³.

    log b(y, φ) = −1/(2φy) − ½ log(2πφy³). The default link is R's ``1/mu^2``
    (``links.InverseSquared()``); the canonical one (``link="canonical"``) is η = −1/(2μ²).

    Example:
        >>> import glmjax as gj
        >>> float(gj.families.InverseGaussian().mean(-0.5))
        1.0
    """

    support_kind: ClassVar[str] = "positive"
    names: ClassVar[tuple[str, ...]] = ("inverse_gaussian", "inversegaussian")
    canonical_link_name: ClassVar[str] = "canonical (-1/(2 mu^2))"
    has_dispersion: ClassVar[bool] = True
    allowed_links: ClassVar[tuple[type, ...]] = (
        links.InverseSquared,
        links.Inverse,
        links.Identity,
        links.Log,
    )
    support: ClassVar[str] = "positive reals y > 0"

    def default_link(self):
        return links.InverseSquared()

    def log_partition(self, eta: ArrayLike) -> Array:
        return -jnp.sqrt(-2.0 * jnp.asarray(eta))

    def log_base_measure(self, y: ArrayLike, dispersion: ArrayLike = 1.0) -> Array:
        y = jnp.asarray(y)
        return -0.5 / (dispersion * y) - 0.5 * jnp.log(2 * jnp.pi * dispersion * y**3)

    def in_support(self, y: ArrayLike) -> Array:
        return y > 0

    def in_natural_domain(self, eta: ArrayLike) -> Array:
        return jnp.asarray(eta) < 0

    def mean_bounds(self):
        return 0.0, jnp.inf

    def natural_from_mean(self, mu: ArrayLike) -> Array:
        return -0.5 / jnp.square(mu)

    def sample(self, key, eta, shape=(), dispersion=1.0) -> Array:
        """Michael, Schucany & Haas (1976): a χ²₁ draw and one uniform per sample."""
        eta = self.checked_natural(eta, dispersion)
        mu = self.mean(eta)
        lam = 1.0 / jnp.asarray(dispersion, eta.dtype)
        key_n, key_u = jax.random.split(key)
        out_shape = self.sample_shape(eta, shape)
        v = jnp.square(jax.random.normal(key_n, out_shape, eta.dtype))
        x = mu + mu**2 * v / (2 * lam) - mu / (2 * lam) * jnp.sqrt(4 * mu * lam * v + (mu * v) ** 2)
        u = jax.random.uniform(key_u, out_shape, eta.dtype)
        return jnp.where(u <= mu / (mu + x), x, mu**2 / x)
