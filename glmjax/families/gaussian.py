"""Gaussian: A(η) = η²/2, T(y) = y, log b(y, φ) = −y²/(2φ) − ½ log(2πφ) (the seed, §2.1)."""

from __future__ import annotations

from typing import ClassVar

import jax
import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

from glmjax import links
from glmjax.families._base import AbstractScalarFamily


class Gaussian(AbstractScalarFamily):
    """Normal with mean μ = η and variance φ (estimated as Pearson χ²/df by ``fit``).

    Example:
        >>> import glmjax as gj
        >>> float(gj.families.Gaussian().mean(2.0))
        2.0
    """

    support_kind: ClassVar[str] = "real"
    names: ClassVar[tuple[str, ...]] = ("gaussian", "normal")
    canonical_link_name: ClassVar[str] = "identity"
    unbounded_natural: ClassVar[bool] = True
    has_dispersion: ClassVar[bool] = True
    allowed_links: ClassVar[tuple[type, ...]] = (links.Identity, links.Log, links.Inverse)

    def log_partition(self, eta: ArrayLike) -> Array:
        return 0.5 * jnp.square(eta)

    def log_base_measure(self, y: ArrayLike, dispersion: ArrayLike = 1.0) -> Array:
        return -0.5 * jnp.square(y) / dispersion - 0.5 * jnp.log(2 * jnp.pi * dispersion)

    def in_support(self, y: ArrayLike) -> Array:
        return jnp.isfinite(y)

    def mean_bounds(self):
        return -jnp.inf, jnp.inf

    def natural_from_mean(self, mu: ArrayLike) -> Array:
        return jnp.asarray(mu)

    def sample(self, key, eta, shape=(), dispersion=1.0) -> Array:
        eta = self.checked_natural(eta, dispersion)
        noise = jax.random.normal(key, self.sample_shape(eta, shape), eta.dtype)
        return eta + jnp.sqrt(dispersion) * noise
