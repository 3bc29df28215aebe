"""Hand-derived means h(η) = E[T(y) | η], written out per family for checks only.

The library never uses these (its means are ``jax.grad`` of A); they are the independent side
of the checks: the seed's gradient Xᵀ(T(y) − h(Xθ)) against the autodiff score, in
``glmjax check``, the tests and ``benchmarks/bench_score.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax import Array
from jax.scipy.special import digamma

from glmjax import families as F
from glmjax.families import AbstractFamily

_HAND_MEANS: dict[type, Callable[[AbstractFamily], Callable[[Array], Array]]] = {
    F.Gaussian: lambda fam: lambda eta: eta,
    F.Bernoulli: lambda fam: jax.nn.sigmoid,
    F.Binomial: lambda fam: lambda eta: fam.n_trials * jax.nn.sigmoid(eta),
    F.Poisson: lambda fam: jnp.exp,
    # r = 1/α failures: r e^η / (1 − e^η)
    F.NegativeBinomial: lambda fam: lambda eta: jnp.exp(eta) / -jnp.expm1(eta) / fam.alpha,
    # E[y] = −1/η (Gamma: T(y) = y, η = −1/μ)
    F.Exponential: lambda fam: lambda eta: -1 / eta,
    F.Gamma: lambda fam: lambda eta: -1 / eta,
    F.InverseGaussian: lambda fam: lambda eta: 1 / jnp.sqrt(-2 * eta),
    # μ = ((1 − p)η)^{1/(1−p)}
    F.Tweedie: lambda fam: lambda eta: ((1 - fam.power) * eta) ** (1 / (1 - fam.power)),
    F.Multinomial: lambda fam: lambda eta: jax.nn.softmax(eta, axis=-1),
    # T = log y: ψ(α_k) − ψ(Σα)
    F.Beta: lambda fam: _log_y_mean,
    F.Dirichlet: lambda fam: _log_y_mean,
}


def _log_y_mean(eta: Array) -> Array:
    return digamma(eta) - digamma(jnp.sum(eta, axis=-1, keepdims=True))


def hand_mean(family: AbstractFamily) -> Callable[[Array], Array]:
    """The closed-form E[T(y)] as a function of η for ``family`` (canonical parameters).

    Example:
        >>> import jax.numpy as jnp, glmjax as gj
        >>> from glmjax.reference import hand_mean
        >>> float(hand_mean(gj.families.Poisson())(jnp.array(0.0)))
        1.0
    """
    if type(family) not in _HAND_MEANS:
        raise ValueError(f"no hand-derived mean for {family.name}.")
    return _HAND_MEANS[type(family)](family)
