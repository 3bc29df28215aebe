"""Exponential: the Gamma family with shape 1, A(η) = −log(−η), η < 0, T(y) = y, b(y) = 1."""

from __future__ import annotations

from typing import ClassVar

import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

from glmjax.families.gamma import Gamma


class Exponential(Gamma):
    """Positive responses with rate −η and mean μ = −1/η; the dispersion is fixed at 1.

    Example:
        >>> import glmjax as gj
        >>> float(gj.families.Exponential().variance(-2.0))
        0.25
    """

    has_dispersion: ClassVar[bool] = False
    names: ClassVar[tuple[str, ...]] = ("exponential",)

    def log_base_measure(self, y: ArrayLike, dispersion: ArrayLike = 1.0) -> Array:
        return jnp.zeros_like(jnp.asarray(y, float))

    def sample(self, key, eta, shape=()) -> Array:
        return super().sample(key, eta, shape)
