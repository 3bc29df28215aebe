"""Beta: η = (α, β), T(y) = (log y, log(1 − y)), log b(y) = −log y − log(1 − y),
A(η) = log Γ(α) + log Γ(β) − log Γ(α + β), for α, β > 0."""

from __future__ import annotations

from typing import ClassVar

import jax
import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

from glmjax import links, parametrizations
from glmjax.families._base import AbstractFamily, log_gamma


def _positive_or_inf(eta: Array, log_partition) -> Array:
    """``log_partition(η)`` where every ηₖ > 0, +∞ outside that natural domain (evaluated
    at η = 1 there, so that its autodiff derivatives stay finite)."""
    inside = jnp.all(eta > 0, axis=-1)
    return jnp.where(inside, log_partition(jnp.where(inside[..., None], eta, 1.0)), jnp.inf)


class Beta(AbstractFamily):
    """Responses in (0, 1). E[T(y)] = (ψ(α) − ψ(α+β), ψ(β) − ψ(α+β)); E[y] = α/(α+β).

    ``fit`` offers the "common" model log α = x·θ_α, log β = x·θ_β (``link=links.Log()``,
    the default) and R betareg's mean–precision model μ = g⁻¹(x·θ), φ = α + β
    (``link=links.Logit()`` or another link on μ).

    Example:
        >>> import jax.numpy as jnp, glmjax as gj
        >>> float(gj.families.Beta().response_mean(jnp.array([2.0, 6.0])))
        0.25
    """

    support_kind: ClassVar[str] = "unit"
    names: ClassVar[tuple[str, ...]] = ("beta",)
    has_precision_model: ClassVar[bool] = True
    parametrizations: ClassVar[tuple[type, ...]] = (parametrizations.LogAlpha,
                                                    parametrizations.MeanPrecision)
    n_composition_predictors: ClassVar[int] = 1
    has_saturated: ClassVar[bool] = False
    allowed_links: ClassVar[tuple[type, ...]] = (
        links.Log,
        links.Logit,
        links.Probit,
        links.CLogLog,
        links.Cauchit,
    )
    support: ClassVar[str] = "the open interval 0 < y < 1"

    @property
    def natural_dim(self) -> int:
        return 2

    def canonical_parametrization(self):
        """The "common" model log α = x·θ_α, log β = x·θ_β."""
        return parametrizations.LogAlpha()

    def link_parametrization(self, link):
        """``Log()``: the common model; a link on the mean: betareg's mean–precision."""
        if isinstance(link, links.Log):
            return parametrizations.LogAlpha()
        return parametrizations.MeanPrecision(link)

    def composition(self, y: Array) -> Array:
        """y as a row on the simplex, (y, 1 − y)."""
        return jnp.stack([y, 1 - y], axis=1)

    def composition_mean(self, link, linear: Array) -> Array:
        """The mean composition (μ, 1 − μ) with μ = g⁻¹(L)."""
        mu = link.inverse(linear[:, 0])
        return jnp.stack([mu, 1 - mu], axis=1)

    def composition_linear(self, link, mu: Array) -> Array:
        """The linear predictor of a mean composition: g(μ₀)."""
        return link(mu[:, :1])

    def composition_link_name(self, link) -> str:
        return link.name

    def composition_classes(self) -> list[int]:
        """The one linear predictor models μ, component 0 of (μ, 1 − μ)."""
        return [0]

    def log_partition(self, eta: ArrayLike) -> Array:
        def positive(eta):
            a, b = eta[..., 0], eta[..., 1]
            return log_gamma(a) + log_gamma(b) - log_gamma(a + b)

        return _positive_or_inf(jnp.asarray(eta), positive)

    def sufficient_stat(self, y: ArrayLike) -> Array:
        y = jnp.asarray(y)
        return jnp.stack([jnp.log(y), jnp.log1p(-y)], axis=-1)

    def log_base_measure(self, y: ArrayLike, dispersion: ArrayLike = 1.0) -> Array:
        y = jnp.asarray(y)
        return -jnp.log(y) - jnp.log1p(-y)

    def in_support(self, y: ArrayLike) -> Array:
        return (y > 0) & (y < 1)

    def mean_bounds(self):
        return -jnp.inf, 0.0

    def response_mean(self, eta: ArrayLike) -> Array:
        eta = jnp.asarray(eta)
        return eta[..., 0] / jnp.sum(eta, axis=-1)

    def sample(self, key, eta, shape=()) -> Array:
        eta = self.checked_natural(eta)
        out_shape = tuple(shape) + eta.shape[:-1]
        return jax.random.beta(key, eta[..., 0], eta[..., 1], out_shape, eta.dtype)
