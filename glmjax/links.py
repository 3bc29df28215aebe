"""Classical links on the mean: L = g(μ) and μ = g⁻¹(L).

A link writes down g and g⁻¹ only; derivatives come from autodiff wherever they are needed.
Combined with a family, a link gives the natural parameter η = natural_from_mean(g⁻¹(L))
(see ``glmjax.parametrizations.MeanLink``).

Example:
    >>> import jax.numpy as jnp
    >>> from glmjax.links import Logit
    >>> float(Logit().inverse(jnp.array(0.0)))
    0.5
"""

from __future__ import annotations

import abc
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import Array
from jax.scipy.special import ndtr, ndtri
from jax.typing import ArrayLike


class AbstractLink(eqx.Module):
    """A link g: L = g(μ), with inverse μ = g⁻¹(L)."""

    name: ClassVar[str] = "link"

    @abc.abstractmethod
    def __call__(self, mu: ArrayLike) -> Array:
        """L = g(μ)."""

    @abc.abstractmethod
    def inverse(self, linear: ArrayLike) -> Array:
        """μ = g⁻¹(L)."""


class Identity(AbstractLink):
    """g(μ) = μ."""

    name: ClassVar[str] = "identity"

    def __call__(self, mu: ArrayLike) -> Array:
        return jnp.asarray(mu)

    def inverse(self, linear: ArrayLike) -> Array:
        return jnp.asarray(linear)


class Log(AbstractLink):
    """g(μ) = log μ."""

    name: ClassVar[str] = "log"

    def __call__(self, mu: ArrayLike) -> Array:
        return jnp.log(mu)

    def inverse(self, linear: ArrayLike) -> Array:
        return jnp.exp(linear)


class Logit(AbstractLink):
    """g(μ) = log(μ / (1 − μ)); g⁻¹ is the sigmoid σ(L) = 1 / (1 + e^{−L})."""

    name: ClassVar[str] = "logit"

    def __call__(self, mu: ArrayLike) -> Array:
        return jax.scipy.special.logit(mu)

    def inverse(self, linear: ArrayLike) -> Array:
        return jax.nn.sigmoid(linear)


class Probit(AbstractLink):
    """g(μ) = Φ⁻¹(μ), the standard normal quantile."""

    name: ClassVar[str] = "probit"

    def __call__(self, mu: ArrayLike) -> Array:
        return ndtri(mu)

    def inverse(self, linear: ArrayLike) -> Array:
        return ndtr(linear)


class CLogLog(AbstractLink):
    """g(μ) = log(−log(1 − μ)); g⁻¹(L) = 1 − exp(−e^L)."""

    name: ClassVar[str] = "cloglog"

    def __call__(self, mu: ArrayLike) -> Array:
        return jnp.log(-jnp.log1p(-jnp.asarray(mu)))

    def inverse(self, linear: ArrayLike) -> Array:
        return -jnp.expm1(-jnp.exp(linear))


class Cauchit(AbstractLink):
    """g(μ) = tan(π(μ − 1/2)), the standard Cauchy quantile."""

    name: ClassVar[str] = "cauchit"

    def __call__(self, mu: ArrayLike) -> Array:
        return jnp.tan(jnp.pi * (jnp.asarray(mu) - 0.5))

    def inverse(self, linear: ArrayLike) -> Array:
        return 0.5 + jnp.arctan(linear) / jnp.pi


class Inverse(AbstractLink):
    """g(μ) = 1 / μ (R's ``inverse``, the Gamma family's default)."""

    name: ClassVar[str] = "inverse"

    def __call__(self, mu: ArrayLike) -> Array:
        return 1.0 / jnp.asarray(mu)

    def inverse(self, linear: ArrayLike) -> Array:
        return 1.0 / jnp.asarray(linear)


class InverseSquared(AbstractLink):
    """g(μ) = 1 / μ² (R's ``1/mu^2``, the inverse Gaussian family's default)."""

    name: ClassVar[str] = "1/mu^2"

    def __call__(self, mu: ArrayLike) -> Array:
        return 1.0 / jnp.square(mu)

    def inverse(self, linear: ArrayLike) -> Array:
        return jax.lax.rsqrt(jnp.asarray(linear))


class Sqrt(AbstractLink):
    """g(μ) = √μ."""

    name: ClassVar[str] = "sqrt"

    def __call__(self, mu: ArrayLike) -> Array:
        return jnp.sqrt(mu)

    def inverse(self, linear: ArrayLike) -> Array:
        return jnp.square(linear)


__all__ = [
    "AbstractLink",
    "Cauchit",
    "CLogLog",
    "Identity",
    "Inverse",
    "InverseSquared",
    "Log",
    "Logit",
    "Probit",
    "Sqrt",
]
