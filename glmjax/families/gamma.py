"""Gamma: A(η) = −log(−η) for η < 0, T(y) = y; shape k = 1/φ (the dispersion)."""

from __future__ import annotations

from typing import ClassVar

import jax
import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

from glmjax import links
from glmjax.families._base import AbstractScalarFamily, log_gamma


class Gamma(AbstractScalarFamily):
    """Positive responses with mean μ = −1/η and variance φμ².

    log b(y, φ) = (k − 1) log y + k log k − log Γ(k) with k = 1/φ. The default link is R's
    ``inverse``, μ = 1/L (``links.Inverse()``); the canonical one (``link="canonical"``) is
    η = −1/μ, whose coefficients are the negatives of R's.

    Example:
        >>> import glmjax as gj
        >>> float(gj.families.Gamma().mean(-0.5))
        2.0
    """

    support_kind: ClassVar[str] = "positive"
    names: ClassVar[tuple[str, ...]] = ("gamma",)
    canonical_link_name: ClassVar[str] = "canonical (-1/mu)"
    has_dispersion: ClassVar[bool] = True
    allowed_links: ClassVar[tuple[type, ...]] = (links.Inverse, links.Identity, links.Log)
    support: ClassVar[str] = "positive reals y > 0"

    def default_link(self):
        return links.Inverse()

    def log_partition(self, eta: ArrayLike) -> Array:
        return -jnp.log(-jnp.asarray(eta))

    def log_base_measure(self, y: ArrayLike, dispersion: ArrayLike = 1.0) -> Array:
        k = 1.0 / jnp.asarray(dispersion)
        return (k - 1) * jnp.log(y) + k * jnp.log(k) - log_gamma(k)

    def in_support(self, y: ArrayLike) -> Array:
        return y > 0

    def mean_bounds(self):
        return 0.0, jnp.inf

    def natural_from_mean(self, mu: ArrayLike) -> Array:
        return -1.0 / jnp.asarray(mu)

    def sample(self, key, eta, shape=(), dispersion=1.0) -> Array:
        eta = self.checked_natural(eta, dispersion)
        k = 1.0 / jnp.asarray(dispersion, eta.dtype)
        draw = jax.random.gamma(key, k, self.sample_shape(eta, shape), eta.dtype)
        return draw / (-k * eta)
