"""Parametrizations: maps from the linear predictors L = XΘ + offset to natural parameters η.

A parametrization has q linear predictors per observation (the columns of Θ) and, for
mean–precision models, a few extra parameters that are not attached to X (the log precision).
It writes down η(L, extra) and a starting point; ``fit`` differentiates η by autodiff.

=================  ===================================  ==================================
parametrization    η                                    families
=================  ===================================  ==================================
Canonical          η = L (the seed's η = θᵀx)           scalar families
MeanLink(g)        η = natural_from_mean(g⁻¹(L))        scalar families
Softmax            η = (L with 0 at the reference)      Multinomial
LogAlpha           η = α = e^L ("common")               Beta, Dirichlet
MeanPrecision(g)   η = α = μ φ, μ = g⁻¹(L), φ = e^ψ     Beta (betareg), Dirichlet ("alternative")
                   (or log φ = Zγ, a precision design)
=================  ===================================  ==================================
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING

import equinox as eqx
import jax.numpy as jnp
from jax import Array

from glmjax import links as _links

if TYPE_CHECKING:
    from glmjax.families import AbstractFamily


def shrunk_mean(t: Array, weights: Array) -> Array:
    """Each row of t halfway to the weighted mean of t: inside the mean space if t̄ is."""
    w = weights.reshape(weights.shape + (1,) * (t.ndim - 1))
    return 0.5 * (t + jnp.sum(w * t, axis=0) / jnp.sum(weights))


class AbstractParametrization(eqx.Module):
    """η = natural(family, L, extra) with L of shape (m, q) and ``extra`` of shape (r,)."""

    @abc.abstractmethod
    def n_linear(self, family: AbstractFamily) -> int:
        """q: the number of linear predictors (columns of Θ)."""

    def n_extra(self, family: AbstractFamily) -> int:
        """r: the number of parameters not attached to X."""
        return 0

    @abc.abstractmethod
    def natural(self, family: AbstractFamily, linear: Array, extra: Array) -> Array:
        """η, shape (m,) for scalar families or (m, d)."""

    @abc.abstractmethod
    def initial(self, family: AbstractFamily, y: Array, weights: Array) -> tuple[Array, Array]:
        """(L₀ of shape (m, q), extra₀ of shape (r,)): a starting point inside the domain."""

    def linear_classes(self, family: AbstractFamily) -> list[int]:
        """The class (component of y) that each of the q linear predictors belongs to, for
        naming the coefficients; by default predictor k is class k."""
        return list(range(self.n_linear(family)))

    def describe(self, family: AbstractFamily) -> str:
        return type(self).__name__.lower()


class Canonical(AbstractParametrization):
    """η = L: the canonical link, the seed's η = θᵀx; ``summary()`` names it as R does
    (``family.canonical_link_name``: "log" for Poisson, "logit" for Bernoulli)."""

    def n_linear(self, family: AbstractFamily) -> int:
        return max(family.natural_dim, 1)

    def natural(self, family, linear, extra):
        return linear[:, 0] if family.natural_dim == 0 else linear

    def initial(self, family, y, weights):
        eta = family.natural_from_mean(family.initial_mean(y, weights))
        return eta.reshape(eta.shape[0], -1), jnp.zeros((0,), eta.dtype)

    def describe(self, family: AbstractFamily) -> str:
        return family.canonical_link_name


class MeanLink(AbstractParametrization):
    """η = natural_from_mean(g⁻¹(L)): a classical link g on the mean E[y] of a scalar family
    (the success probability for Binomial)."""

    link: _links.AbstractLink

    def n_linear(self, family: AbstractFamily) -> int:
        return 1

    def natural(self, family, linear, extra):
        return family.natural_from_response_mean(self.link.inverse(linear[:, 0]))

    def initial(self, family, y, weights):
        mu = family.initial_response_mean(y, weights)
        return self.link(mu)[:, None], jnp.zeros((0,), mu.dtype)

    def describe(self, family: AbstractFamily) -> str:
        return self.link.name


class Softmax(AbstractParametrization):
    """Multinomial logit: η = L with a zero inserted at the reference class.

    ``reference=0`` matches R's ``nnet::multinom`` and statsmodels' ``MNLogit``;
    ``reference=-1`` is the seed's choice (the last class).
    """

    reference: int = eqx.field(default=0, static=True)

    def _index(self, family: AbstractFamily) -> int:
        return self.reference % family.natural_dim

    def n_linear(self, family: AbstractFamily) -> int:
        return family.natural_dim - 1

    def natural(self, family, linear, extra):
        return jnp.insert(linear, self._index(family), 0.0, axis=1)

    def linear_classes(self, family: AbstractFamily) -> list[int]:
        return [k for k in range(family.natural_dim) if k != self._index(family)]

    def initial(self, family, y, weights):
        log_mu = jnp.log(family.initial_mean(y, weights))
        k = self._index(family)
        linear = jnp.delete(log_mu - log_mu[:, k : k + 1], k, axis=1)
        return linear, jnp.zeros((0,), log_mu.dtype)

    def describe(self, family: AbstractFamily) -> str:
        return f"softmax (reference class {self._index(family)})"


def _moment_precision(y: Array, weights: Array) -> Array:
    """φ₀ by the method of moments: Var yₖ = μₖ(1 − μₖ)/(φ + 1), summed over k."""
    w = weights[:, None] / jnp.sum(weights)
    mu = jnp.sum(w * y, axis=0)
    var = jnp.sum(w * (y - mu) ** 2, axis=0)
    phi = jnp.sum(mu * (1 - mu)) / jnp.maximum(jnp.sum(var), 1e-12) - 1
    return jnp.clip(phi, 1e-2, 1e6)


class LogAlpha(AbstractParametrization):
    """The "common" Beta/Dirichlet model: log αₖ = Lₖ, one linear predictor per component."""

    def n_linear(self, family: AbstractFamily) -> int:
        return family.natural_dim

    def natural(self, family, linear, extra):
        return jnp.exp(linear)

    def initial(self, family, y, weights):
        comp = family.composition(y)
        alpha = shrunk_mean(comp, weights) * _moment_precision(comp, weights)
        return jnp.log(alpha), jnp.zeros((0,), alpha.dtype)

    def describe(self, family: AbstractFamily) -> str:
        return "log (common)"


class MeanPrecision(AbstractParametrization):
    """Mean–precision: α = μ φ with log φ = ψ one extra (intercept-only) parameter, or
    log φᵢ = zᵢᵀγ for a precision design Z (``precision_design``, one row per row of X;
    betareg's ``y ~ x | z``), whose coefficients γ are then the extras.

    The family maps the linear predictors to the mean composition μ (rows on the simplex):
    Beta (R's betareg) μ = (g⁻¹(L), 1 − g⁻¹(L)) from one linear predictor, α = μφ; Dirichlet
    (DirichletReg's "alternative") μ = softmax(L with 0 at class 0) from K − 1 of them.
    """

    link: _links.AbstractLink = _links.Logit()
    precision_design: Array | None = None
    precision_names: tuple[str, ...] = eqx.field(default=(), static=True)

    def n_linear(self, family: AbstractFamily) -> int:
        return family.n_composition_predictors

    def linear_classes(self, family: AbstractFamily) -> list[int]:
        return family.composition_classes()

    def n_extra(self, family: AbstractFamily) -> int:
        return 1 if self.precision_design is None else self.precision_design.shape[1]

    def log_precision(self, extra: Array) -> Array:
        """log φ: the scalar ψ, or Zγ (one value per row)."""
        if self.precision_design is None:
            return extra[0]
        return self.precision_design @ extra

    def natural(self, family, linear, extra):
        log_phi = self.log_precision(extra)
        return family.composition_mean(self.link, linear) * jnp.exp(log_phi)[..., None]

    def initial(self, family, y, weights):
        comp = family.composition(y)
        linear = family.composition_linear(self.link, shrunk_mean(comp, weights))
        log_phi = jnp.log(_moment_precision(comp, weights))
        if self.precision_design is None:
            return linear, log_phi[None]
        Z = self.precision_design  # the constant log φ₀ by least squares on Z
        gamma = jnp.linalg.lstsq(Z, jnp.full(Z.shape[0], log_phi, Z.dtype))[0]
        return linear, gamma

    def describe(self, family: AbstractFamily) -> str:
        kind = "mean-precision" if self.precision_design is None else "mean-precision, log phi ~ z"
        return f"{family.composition_link_name(self.link)} ({kind})"


__all__ = [
    "AbstractParametrization",
    "Canonical",
    "LogAlpha",
    "MeanLink",
    "MeanPrecision",
    "Softmax",
    "shrunk_mean",
]
