"""Multinomial (one trial, K classes): A(η) = log Σₖ e^{ηₖ}, T(y) = one-hot(y) (the seed, §2.3).

η ∈ ℝᴷ is over-parametrized (adding a constant to every ηₖ changes nothing); ``fit`` pins the
reference class's η to 0 (``parametrizations.Softmax``), the seed's θ ∈ ℝ^{(K−1)×(n+1)}.
"""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

from glmjax import parametrizations
from glmjax.families._base import AbstractFamily


class Multinomial(AbstractFamily):
    """Softmax regression's family: P(y = k) = e^{ηₖ} / Σⱼ e^{ηⱼ}.

    y is an integer label in 0..K−1 or a one-hot row of length K. ``fit`` also takes labels
    stored as floats (0.0, 1.0, …).

    Example:
        >>> import jax.numpy as jnp, glmjax as gj
        >>> gj.families.Multinomial(n_classes=3).mean(jnp.zeros(3)).tolist()  # doctest: +ELLIPSIS
        [0.33..., 0.33..., 0.33...]
    """

    support_kind: ClassVar[str] = "categorical"
    names: ClassVar[tuple[str, ...]] = ("multinomial", "softmax")
    size_parameter: ClassVar[str | None] = "n_classes"
    allowed_links: ClassVar[tuple[type, ...]] = ()
    parametrizations: ClassVar[tuple[type, ...]] = (parametrizations.Softmax,)
    unbounded_natural: ClassVar[bool] = True
    n_classes: int = eqx.field(static=True)

    def __check_init__(self):
        if not isinstance(self.n_classes, int) or self.n_classes < 2:
            raise ValueError(f"Multinomial needs n_classes >= 2; got {self.n_classes!r}.")

    @property
    def natural_dim(self) -> int:
        return self.n_classes

    @property
    def support(self) -> str:
        return f"integer labels 0..{self.n_classes - 1} or one-hot rows of length {self.n_classes}"

    def canonical_parametrization(self):
        """Softmax with reference class 0 (R's ``nnet::multinom``): η with η₀ = 0."""
        return parametrizations.Softmax()

    def log_partition(self, eta: ArrayLike) -> Array:
        return jax.nn.logsumexp(jnp.asarray(eta), axis=-1)

    def sufficient_stat(self, y: ArrayLike) -> Array:
        """one-hot(y) for integer labels; float y is taken as one-hot rows already."""
        y = jnp.asarray(y)
        if jnp.issubdtype(y.dtype, jnp.integer):
            return jax.nn.one_hot(y, self.n_classes)
        if y.shape[-1:] != (self.n_classes,):  # labels as floats: ambiguous outside ``fit``
            raise ValueError(
                f"Multinomial(n_classes={self.n_classes}) reads float y as one-hot rows, whose "
                f"last axis has length {self.n_classes}; got shape {y.shape}. Pass labels as "
                "integers (y.astype(int)).")
        return y

    def log_base_measure(self, y: ArrayLike, dispersion: ArrayLike = 1.0) -> Array:
        return jnp.zeros(self.sufficient_stat(y).shape[:-1])

    def in_support(self, y: ArrayLike) -> Array:
        y = jnp.asarray(y)
        if jnp.issubdtype(y.dtype, jnp.integer):
            return (y >= 0) & (y < self.n_classes)
        binary = jnp.all((y == 0) | (y == 1), axis=-1)
        return binary & (jnp.sum(y, axis=-1) == 1)

    def mean_bounds(self):
        return 0.0, 1.0

    def natural_from_mean(self, mu: ArrayLike) -> Array:
        """η = log μ, the representative with log Σₖ e^{ηₖ} = 0."""
        return jnp.log(mu)

    def sample(self, key, eta, shape=()) -> Array:
        """Integer labels of shape ``shape + batch shape``."""
        eta = self.checked_natural(eta)
        return jax.random.categorical(key, eta, axis=-1, shape=tuple(shape) + eta.shape[:-1])

    def check_response_shape(self, y: Array, n_obs: int) -> None:
        if y.shape not in ((n_obs,), (n_obs, self.n_classes)):
            raise ValueError(
                f"Multinomial(n_classes={self.n_classes}) expects y of shape ({n_obs},) "
                f"(integer labels) or ({n_obs}, {self.n_classes}) (one-hot rows); got {y.shape}."
            )

    def response_from_columns(self, y, columns):
        """A factor's indicator columns, one per class, in the order of its levels."""
        if y.shape[1] != self.n_classes:
            raise ValueError(f"the response has {y.shape[1]} levels {columns} but the family "
                             f"has n_classes={self.n_classes}.")
        return y

    def prepare(self, y: Array, weights: Array) -> tuple[Multinomial, Array, Array]:
        """A fit's y, shape (n,) or (n, K), as one-hot rows. By shape, not dtype: a vector
        holds labels, integer or float (1.0 is class 1, as in a pandas column of floats; 1.5
        or K gives a row of zeros, outside the support), and (n, K) one-hot rows, integer
        or float."""
        return self, jax.nn.one_hot(y, self.n_classes) if y.ndim == 1 else y, weights
