"""Dirichlet: η = α ∈ ℝᴷ₊, T(y) = log y, log b(y) = −Σₖ log yₖ,
A(η) = Σₖ log Γ(αₖ) − log Γ(Σₖ αₖ)."""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

from glmjax import links, parametrizations
from glmjax.families._base import AbstractFamily, log_gamma
from glmjax.families.beta import _positive_or_inf


class Dirichlet(AbstractFamily):
    """Compositions: rows y on the open simplex (yₖ > 0, Σₖ yₖ = 1). E[y] = α / Σₖ αₖ.

    ``fit`` offers the "common" model log αₖ = x·θₖ (``link=links.Log()``, the default) and
    the "alternative" mean–precision model (``parametrizations.MeanPrecision()``).

    Example:
        >>> import jax.numpy as jnp, glmjax as gj
        >>> gj.families.Dirichlet(n_components=2).response_mean(jnp.array([1.0, 3.0])).tolist()
        [0.25, 0.75]
    """

    support_kind: ClassVar[str] = "simplex"
    names: ClassVar[tuple[str, ...]] = ("dirichlet",)
    size_parameter: ClassVar[str | None] = "n_components"
    has_precision_model: ClassVar[bool] = True
    parametrizations: ClassVar[tuple[type, ...]] = (parametrizations.LogAlpha,
                                                    parametrizations.MeanPrecision)
    n_components: int = eqx.field(static=True)
    has_saturated: ClassVar[bool] = False
    allowed_links: ClassVar[tuple[type, ...]] = (links.Log,)

    def __check_init__(self):
        if not isinstance(self.n_components, int) or self.n_components < 2:
            raise ValueError(f"Dirichlet needs n_components >= 2; got {self.n_components!r}.")

    @property
    def natural_dim(self) -> int:
        return self.n_components

    @property
    def support(self) -> str:
        return f"rows of {self.n_components} positive values that sum to 1"

    @property
    def n_composition_predictors(self) -> int:
        return self.n_components - 1

    def canonical_parametrization(self):
        """The "common" model log αₖ = x·θₖ."""
        return parametrizations.LogAlpha()

    def link_parametrization(self, link):
        return parametrizations.LogAlpha()  # links.Log, the one allowed

    def composition(self, y: Array) -> Array:
        return y

    def composition_mean(self, link, linear: Array) -> Array:
        """softmax(L with 0 at class 0): the "alternative" model's mean composition."""
        return jax.nn.softmax(jnp.insert(linear, 0, 0.0, axis=1), axis=1)

    def composition_linear(self, link, mu: Array) -> Array:
        return jnp.log(mu[:, 1:]) - jnp.log(mu[:, :1])

    def composition_link_name(self, link) -> str:
        return "softmax"

    def composition_classes(self) -> list[int]:
        """The components that the K − 1 linear predictors model (against component 0)."""
        return list(range(1, self.n_components))

    def response_from_columns(self, y, columns):
        """The K component columns."""
        return y

    def log_partition(self, eta: ArrayLike) -> Array:
        def positive(eta):
            return jnp.sum(log_gamma(eta), axis=-1) - log_gamma(jnp.sum(eta, axis=-1))

        return _positive_or_inf(jnp.asarray(eta), positive)

    def sufficient_stat(self, y: ArrayLike) -> Array:
        return jnp.log(y)

    def log_base_measure(self, y: ArrayLike, dispersion: ArrayLike = 1.0) -> Array:
        return -jnp.sum(jnp.log(y), axis=-1)

    def in_support(self, y: ArrayLike) -> Array:
        y = jnp.asarray(y)
        tol = jnp.sqrt(jnp.finfo(y.dtype).eps) if jnp.issubdtype(y.dtype, jnp.floating) else 0
        return jnp.all(y > 0, axis=-1) & (jnp.abs(jnp.sum(y, axis=-1) - 1) <= tol)

    def mean_bounds(self):
        return -jnp.inf, 0.0

    def response_mean(self, eta: ArrayLike) -> Array:
        eta = jnp.asarray(eta)
        return eta / jnp.sum(eta, axis=-1, keepdims=True)

    def sample(self, key, eta, shape=()) -> Array:
        eta = self.checked_natural(eta)
        out_shape = tuple(shape) + eta.shape[:-1]
        return jax.random.dirichlet(key, eta, out_shape, eta.dtype)

    def check_response_shape(self, y: Array, n_obs: int) -> None:
        if y.shape != (n_obs, self.n_components):
            raise ValueError(
                f"Dirichlet(n_components={self.n_components}) expects y of shape "
                f"({n_obs}, {self.n_components}) (rows on the simplex); got {y.shape}."
            )
