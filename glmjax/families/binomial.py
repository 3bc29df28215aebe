"""Binomial with n trials: A(η) = n log(1 + e^η), T(y) = y successes, b(y) = C(n, y)."""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import Array
from jax.scipy.special import gammaln
from jax.typing import ArrayLike

from glmjax.families._base import ALL_BINARY_LINKS, AbstractScalarFamily, softplus
from glmjax.parametrizations import shrunk_mean


class Binomial(AbstractScalarFamily):
    """Successes out of ``n_trials`` (a scalar, or one count per observation).

    ``fit`` takes y as an (m, 2) array of (successes, failures), or as proportions with
    ``weights`` = trials (R's two forms; the trials are ``n_trials``·weights); either way it
    fits with the number of trials per row.
    ``mean`` is the expected number of successes n·σ(η); ``response_mean`` the probability.

    Example:
        >>> import glmjax as gj
        >>> float(gj.families.Binomial(n_trials=10).mean(0.0))
        5.0
    """

    support_kind: ClassVar[str] = "count"
    names: ClassVar[tuple[str, ...]] = ("binomial",)
    canonical_link_name: ClassVar[str] = "logit"
    unbounded_natural: ClassVar[bool] = True
    n_trials: Array = eqx.field(default=1.0, converter=jnp.asarray)
    allowed_links: ClassVar[tuple[type, ...]] = ALL_BINARY_LINKS
    support: ClassVar[str] = "0 <= successes <= trials"

    def log_partition(self, eta: ArrayLike) -> Array:
        return self.n_trials * softplus(eta)

    def log_base_measure(self, y: ArrayLike, dispersion: ArrayLike = 1.0) -> Array:
        n = self.n_trials
        return gammaln(n + 1) - gammaln(y + 1) - gammaln(n - y + 1)

    def in_support(self, y: ArrayLike) -> Array:
        return (y >= 0) & (y <= self.n_trials)

    def mean_bounds(self):
        return 0.0, self.n_trials

    def natural_from_mean(self, mu: ArrayLike) -> Array:
        return jax.scipy.special.logit(mu / self.n_trials)

    def response_mean(self, eta: ArrayLike) -> Array:
        """The success probability σ(η): what a link acts on and ``predict`` returns."""
        return self.mean(eta) / self.n_trials

    def natural_from_response_mean(self, mu: ArrayLike) -> Array:
        return jax.scipy.special.logit(mu)

    def initial_response_mean(self, y: Array, weights: Array) -> Array:
        return self.initial_mean(y, weights) / self.n_trials

    def initial_mean(self, y: Array, weights: Array) -> Array:
        """n times the proportion halfway to the pooled proportion."""
        n = jnp.broadcast_to(self.n_trials, y.shape)
        p = jnp.where(n > 0, y / jnp.where(n > 0, n, 1), 0.5)
        return n * shrunk_mean(p, weights * n)

    def sample(self, key, eta, shape=()) -> Array:
        eta = self.checked_natural(eta)
        n = jnp.broadcast_to(self.n_trials, eta.shape).astype(eta.dtype)
        p = jax.nn.sigmoid(eta)
        return jax.random.binomial(key, n, p, self.sample_shape(eta, shape), eta.dtype)

    def check_response_shape(self, y: Array, n_obs: int) -> None:
        if y.shape not in ((n_obs,), (n_obs, 2)):
            raise ValueError(
                f"Binomial expects y of shape ({n_obs}, 2) (successes, failures) or ({n_obs},) "
                f"proportions with weights = trials; got shape {y.shape}."
            )

    def response_from_columns(self, y, columns):
        """``successes + failures`` (two columns), or one column of proportions."""
        return y if y.shape[1] == 2 else super().response_from_columns(y, columns)

    def prepare(self, y: Array, weights: Array) -> tuple[Binomial, Array, Array]:
        """(successes, failures), or proportions of n_trials·weights trials (R's convention)
        → successes out of n per row, with unit weights in the proportion form."""
        if y.ndim == 2:
            trials = y[:, 0] + y[:, 1]
            return Binomial(n_trials=trials), y[:, 0], weights
        trials = self.n_trials * weights
        return Binomial(n_trials=trials), y * trials, jnp.ones_like(weights)
