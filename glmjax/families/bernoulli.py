"""Bernoulli: A(η) = log(1 + e^η), T(y) = y ∈ {0, 1}, b(y) = 1 (the seed, §2.2)."""

from __future__ import annotations

from typing import ClassVar

import jax
import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

from glmjax.families._base import ALL_BINARY_LINKS, AbstractScalarFamily, softplus


class Bernoulli(AbstractScalarFamily):
    """Logistic regression's family: P(y = 1) = σ(η) = 1 / (1 + e^{−η}).

    Example:
        >>> import glmjax as gj
        >>> float(gj.families.Bernoulli().mean(0.0))
        0.5
    """

    support_kind: ClassVar[str] = "count"
    names: ClassVar[tuple[str, ...]] = ("bernoulli", "logistic", "binary")
    canonical_link_name: ClassVar[str] = "logit"
    unbounded_natural: ClassVar[bool] = True
    allowed_links: ClassVar[tuple[type, ...]] = ALL_BINARY_LINKS
    support: ClassVar[str] = "{0, 1}"

    def log_partition(self, eta: ArrayLike) -> Array:
        return softplus(eta)

    def log_base_measure(self, y: ArrayLike, dispersion: ArrayLike = 1.0) -> Array:
        return jnp.zeros_like(jnp.asarray(y, float))

    def saturated_log_kernel(self, y: ArrayLike) -> Array:
        """sup_η [ηy − log(1 + e^η)] = y log y + (1 − y) log(1 − y) = 0 for y ∈ {0, 1} (the
        supremum as η → ±∞): no logarithms per row for the unit deviance."""
        return jnp.zeros_like(jnp.asarray(y, float))

    def in_support(self, y: ArrayLike) -> Array:
        return (y == 0) | (y == 1)

    def mean_bounds(self):
        return 0.0, 1.0

    def natural_from_mean(self, mu: ArrayLike) -> Array:
        return jax.scipy.special.logit(mu)

    def response_from_columns(self, y, columns):
        """A 0/1 column, or a two-level factor's two indicator columns: the second level
        is the event (R's convention for a factor response)."""
        return y[:, 1] if y.shape[1] == 2 else super().response_from_columns(y, columns)

    def sample(self, key, eta, shape=()) -> Array:
        eta = self.checked_natural(eta)
        draw = jax.random.bernoulli(key, jax.nn.sigmoid(eta), self.sample_shape(eta, shape))
        return draw.astype(eta.dtype)
