"""Negative binomial with fixed α: A(η) = −(1/α) log(1 − e^η), η < 0, T(y) = y."""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.scipy.special import gammaln
from jax.typing import ArrayLike

from glmjax import links
from glmjax._compilation import is_tracer
from glmjax.families._base import AbstractScalarFamily, log1mexp, log_gamma_ratio


class NegativeBinomial(AbstractScalarFamily):
    """Overdispersed counts: mean μ, variance μ + αμ² (NB2); r = 1/α, e^η = μ / (μ + r).

    log b(y) = log Γ(y + r) − log Γ(r) − log y!. A number fixes α, as R's
    ``MASS::negative.binomial`` and statsmodels; ``alpha=None`` estimates it with the
    coefficients by maximum likelihood (MASS's ``glm.nb``). The default link is
    ``links.Log()``.

    Example:
        >>> import jax.numpy as jnp, glmjax as gj
        >>> fam = gj.families.NegativeBinomial(alpha=0.5)
        >>> round(float(fam.mean(fam.natural_from_mean(3.0))), 6)
        3.0
    """

    support_kind: ClassVar[str] = "count"
    names: ClassVar[tuple[str, ...]] = ("negative_binomial", "negativebinomial", "nb")
    canonical_link_name: ClassVar[str] = "canonical (log(mu/(mu + 1/alpha)))"
    alpha: Array | None = eqx.field(default=1.0,
                                    converter=lambda a: a if a is None else jnp.asarray(a))
    nuisance: ClassVar[tuple[str, ...]] = ("alpha",)
    allowed_links: ClassVar[tuple[type, ...]] = (links.Log, links.Sqrt, links.Identity)
    support: ClassVar[str] = "non-negative integer counts y = 0, 1, 2, ..."

    def __check_init__(self):
        if self.alpha is not None and not is_tracer(self.alpha):
            alpha = np.asarray(self.alpha)
            if alpha.shape != () or not np.isfinite(alpha) or alpha <= 0:
                raise ValueError("NegativeBinomial needs a finite scalar alpha > 0 (the NB2 "
                                 f"overdispersion, variance μ + αμ²); got {alpha}.")

    def nuisance_start(self, y, weights):
        """α from the moments, (var − mean)/mean², within [0.05, 10] (alpha=None)."""
        if self.alpha is not None:
            return {}
        m = jnp.sum(weights * y) / jnp.sum(weights)
        v = jnp.sum(weights * (y - m) ** 2) / jnp.sum(weights)
        return {"alpha": jnp.clip((v - m) / m**2, 0.05, 10.0)}

    def default_link(self):
        return links.Log()

    def log_partition(self, eta: ArrayLike) -> Array:
        return -log1mexp(eta) / self.alpha

    def log_base_measure(self, y: ArrayLike, dispersion: ArrayLike = 1.0) -> Array:
        return log_gamma_ratio(y, 1.0 / self.alpha) - gammaln(jnp.asarray(y) + 1)

    def in_support(self, y: ArrayLike) -> Array:
        """Counts: log Γ(y + r) − log y! is a density only at the integers (unlike Poisson's
        ηy − A(η), which a quasi-likelihood fit of rates may use at any y ≥ 0)."""
        return (y >= 0) & (y == jnp.round(y))

    def mean_bounds(self):
        return 0.0, jnp.inf

    def natural_from_mean(self, mu: ArrayLike) -> Array:
        return jnp.log(mu) - jnp.log(mu + 1.0 / self.alpha)

    def sample(self, key, eta, shape=()) -> Array:
        """The gamma–Poisson mixture: λ ~ Gamma(r, μ/r), y ~ Poisson(λ)."""
        eta = self.checked_natural(eta)
        r = 1.0 / self.alpha
        key_g, key_p = jax.random.split(key)
        out_shape = self.sample_shape(eta, shape)
        rate = jax.random.gamma(key_g, r, out_shape, eta.dtype) * self.mean(eta) / r
        return jax.random.poisson(key_p, rate, out_shape).astype(eta.dtype)
