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


def hand_mean(family: AbstractFamily) -> Callable[[Array], Array]:
    """The closed-form E[T(y)] as a function of η for ``family`` (canonical parameters).

    Example:
        >>> import jax.numpy as jnp, glmjax as gj
        >>> from glmjax.reference import hand_mean
        >>> float(hand_mean(gj.families.Poisson())(jnp.array(0.0)))
        1.0
    """
    if isinstance(family, F.Gaussian):
        return lambda eta: eta
    if isinstance(family, F.Bernoulli):
        return jax.nn.sigmoid
    if isinstance(family, F.Binomial):
        return lambda eta: family.n_trials * jax.nn.sigmoid(eta)
    if isinstance(family, F.Poisson):
        return jnp.exp
    if isinstance(family, F.NegativeBinomial):  # r = 1/α failures: r e^η / (1 − e^η)
        return lambda eta: jnp.exp(eta) / -jnp.expm1(eta) / family.alpha
    if isinstance(family, F.Exponential | F.Gamma):  # E[y] = −1/η (Gamma: T(y) = y, η = −1/μ)
        return lambda eta: -1 / eta
    if isinstance(family, F.InverseGaussian):
        return lambda eta: 1 / jnp.sqrt(-2 * eta)
    if isinstance(family, F.Multinomial):
        return lambda eta: jax.nn.softmax(eta, axis=-1)
    if isinstance(family, F.Beta | F.Dirichlet):  # T = log y: ψ(α_k) − ψ(Σα)
        return lambda eta: digamma(eta) - digamma(jnp.sum(eta, axis=-1, keepdims=True))
    raise ValueError(f"no hand-derived mean for {family.name}.")
