"""Poisson: A(η) = e^η, T(y) = y, log b(y) = −log y!."""

from __future__ import annotations

from typing import ClassVar

import jax
import jax.numpy as jnp
from jax import Array
from jax.scipy.special import gammaln
from jax.typing import ArrayLike

from glmjax import links
from glmjax.families._base import AbstractScalarFamily


class Poisson(AbstractScalarFamily):
    """Counts with mean μ = e^η.

    Example:
        >>> import glmjax as gj
        >>> round(float(gj.families.Poisson().mean(0.0)), 6)
        1.0
    """

    support_kind: ClassVar[str] = "count"
    names: ClassVar[tuple[str, ...]] = ("poisson",)
    canonical_link_name: ClassVar[str] = "log"
    unbounded_natural: ClassVar[bool] = True
    allowed_links: ClassVar[tuple[type, ...]] = (links.Log, links.Identity, links.Sqrt)
    support: ClassVar[str] = "non-negative counts y >= 0"

    def log_partition(self, eta: ArrayLike) -> Array:
        return jnp.exp(eta)

    def log_base_measure(self, y: ArrayLike, dispersion: ArrayLike = 1.0) -> Array:
        return -gammaln(jnp.asarray(y) + 1)

    def in_support(self, y: ArrayLike) -> Array:
        return y >= 0

    def mean_bounds(self):
        return 0.0, jnp.inf

    def natural_from_mean(self, mu: ArrayLike) -> Array:
        return jnp.log(mu)

    def sample(self, key, eta, shape=()) -> Array:
        eta = self.checked_natural(eta)
        draw = jax.random.poisson(key, jnp.exp(eta), self.sample_shape(eta, shape))
        return draw.astype(eta.dtype)
