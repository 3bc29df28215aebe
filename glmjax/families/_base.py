"""The exponential family base class: write A(η), T(y), log b(y); autodiff derives the rest.

An exponential family (the seed, section 2) is

.. math:: p(y \\mid \\eta) = b(y) \\exp(\\eta^\\top T(y) - A(\\eta)),

and, for the families with a dispersion φ (Gaussian, Gamma, inverse Gaussian), the
exponential dispersion model :math:`p(y \\mid \\eta, \\phi) = b(y, \\phi)
\\exp((\\eta^\\top T(y) - A(\\eta)) / \\phi)`. A concrete family writes down only
``log_partition`` (A), ``sufficient_stat`` (T), ``log_base_measure`` (log b), its support, and
a sampler. The mean E[T(y)] = ∇A(η) and the variance Var[T(y)] = ∇²A(η) are derived here by
``jax.grad``; nothing about them is written by hand per family.
"""

from __future__ import annotations

import abc
import math
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.typing import ArrayLike

from glmjax import links as _links
from glmjax import parametrizations as _param
from glmjax._compilation import is_tracer
from glmjax.parametrizations import shrunk_mean


def softplus(eta: ArrayLike) -> Array:
    """log(1 + e^η), from one exponential t = e^{−|η|}: max(η, 0) + log1p(t).

    Its autodiff derivatives reuse t: σ(η) = 1 − t/(1 + t) or t/(1 + t), and
    σ(η)σ(−η) = t/(1 + t)², accurate in both tails. (``jax.nn.softplus`` takes a second
    exponential for its derivative, and its second derivative, 1 − σ rounded, is exactly 0
    for η > 37 in float64.)

    Example:
        >>> import jax
        >>> round(float(softplus(0.0)), 6), float(jax.grad(jax.grad(softplus))(0.0))
        (0.693147, 0.25)
    """
    eta = jnp.asarray(eta)
    positive = eta > 0
    # where, not |η|: at η = 0 autodiff takes the η ≤ 0 side, where every term is smooth
    t = jnp.exp(jnp.where(positive, -eta, eta))
    return jnp.where(positive, eta, 0) + jnp.log1p(t)


def log1mexp(eta: ArrayLike) -> Array:
    """log(1 − e^η) for η < 0: log(−expm1(η)) above −log 2, log1p(−e^η) below (Mächler 2012).

    Each form, and each of its autodiff derivatives, is accurate on its own side. Either one
    alone loses a tail: JAX differentiates expm1 as expm1(η) + 1, which is 0 for η < −37 in
    float64, and log1p(−e^η) cancels as η → 0. The branch not taken is evaluated at a safe
    point, so its derivative does not turn into NaN.

    Example:
        >>> import jax
        >>> float(jax.grad(log1mexp)(-40.0)) == -float(jax.numpy.exp(-40.0))
        True
    """
    eta = jnp.asarray(eta)
    near_zero = eta > -jnp.log(2.0)
    safe_hi = jnp.where(near_zero, eta, -1.0)
    safe_lo = jnp.where(near_zero, -1.0, eta)
    return jnp.where(near_zero, jnp.log(-jnp.expm1(safe_hi)), jnp.log1p(-jnp.exp(safe_lo)))


def log_gamma_ratio(y: ArrayLike, r: ArrayLike) -> Array:
    r"""log Γ(y + r) − log Γ(r) for y ≥ 0, r > 0, accurate (with its derivatives) for large r.

    Below r = 10⁴ the difference of ``log_gamma``s; above, Stirling's series for the difference,

    .. math:: (r − ½)\,\mathrm{log1p}(y/r) + y \log(r + y) − y
              − \frac{y}{12\,r\,(r + y)} + \frac{1}{360}\Big(\frac1{r^3} − \frac1{(r+y)^3}\Big),

    whose terms are O(y log r) instead of the O(r log r) of each log Γ (at r = 10⁸ their
    difference loses 7 digits, and the negative binomial's likelihood in α → 0 drowns in that
    noise). The branch not taken is evaluated at a safe point.

    Example:
        >>> import math
        >>> round(float(log_gamma_ratio(3.0, 2e4)), 4)
        29.7106
        >>> round(math.lgamma(20003) - math.lgamma(2e4), 4)
        29.7106
    """
    y, r = jnp.asarray(y), jnp.asarray(r)
    large = r > 1e4
    small_r = jnp.where(large, 1.0, r)
    big_r = jnp.where(large, r, 1e4)
    direct = log_gamma(y + small_r) - log_gamma(small_r)
    z = big_r + y
    stirling = ((big_r - 0.5) * jnp.log1p(y / big_r) + y * jnp.log(z) - y
                - y / (12 * big_r * z) + (1 / big_r**3 - 1 / z**3) / 360)
    return jnp.where(large, stirling, direct)


_SHIFT = 10  # ψ, ψ' and log Γ below x = 10 go through x + 10 (their recurrences)


def _shifted(x: Array) -> tuple[Array, Array, Array]:
    """(x < 10, x where below 10 else 1, z): z = x + 10 below 10, else x, so z ≥ 10 and the
    asymptotic series at z is accurate to ~1e-15 relative."""
    small = x < _SHIFT
    return small, jnp.where(small, x, 1.0), jnp.where(small, x + _SHIFT, x)


@jax.custom_jvp
def log_gamma(x: ArrayLike) -> Array:
    r"""log Γ(x) for x > 0, with its derivatives ψ(x) and ψ'(x) (``trigamma``) from series of
    the same kind: the log Γ terms of Beta's and Dirichlet's A(η), of Gamma's shape and of
    the negative binomial's α, whose fits take their Newton steps through them (through
    ``gammaln`` they would take XLA's general polygamma for the second derivative: a
    50,000-row Beta fit in 5× the time).

    Below 10, log Γ(x) = log Γ(x + 10) − log ∏ₖ₌₀⁹ (x + k); at z ≥ 10 Stirling's series

    .. math:: \log Γ(z) = (z − ½) \log z − z + ½ \log 2π + \sum_{n=1}^{7}
              \frac{B_{2n}}{2n(2n − 1) z^{2n−1}},

    which is ~3× faster than XLA's Lanczos ``gammaln`` on the CPU (two logarithms, no
    reflection formula: only x > 0 is asked for), accurate to 2e-14 in float64 (absolute
    below 1, relative above; float32: 6e-6, where ``gammaln`` has 2e-6).

    Example:
        >>> import jax, math
        >>> round(float(log_gamma(4.5)), 4), round(math.lgamma(4.5), 4)
        (2.4537, 2.4537)
        >>> round(float(jax.grad(jax.grad(log_gamma))(1.0)), 5)  # ψ'(1) = π²/6
        1.64493
    """
    small, xs, z = _shifted(jnp.asarray(x))
    product = xs
    for k in range(1, _SHIFT):
        product = product * (xs + k)
    w = 1 / (z * z)
    series = (1 / 12 + w * (-1 / 360 + w * (1 / 1260 + w * (-1 / 1680 + w * (1 / 1188 + w * (
        -691 / 360360 + w / 156)))))) / z
    stirling = (z - 0.5) * jnp.log(z) - z + 0.5 * math.log(2 * math.pi) + series
    return stirling - jnp.where(small, jnp.log(product), 0.0)


@log_gamma.defjvp
def _log_gamma_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return log_gamma(x), _digamma(x) * t


@jax.custom_jvp
def _digamma(x: Array) -> Array:
    """ψ(x) for x > 0: below 10, ψ(x) = ψ(x + 10) − Σₖ₌₀⁹ 1/(x + k) (the sum as one
    fraction, one division); at z ≥ 10 the asymptotic series through z⁻¹⁴ (no reflection
    formula: it is only called for x > 0)."""
    small, xs, z = _shifted(x)
    numerator, denominator = jnp.ones_like(xs), xs  # Σₖ 1/(x + k) = numerator/denominator
    for k in range(1, _SHIFT):
        numerator, denominator = numerator * (xs + k) + denominator, denominator * (xs + k)
    w = 1 / (z * z)
    tail = jnp.log(z) - 0.5 / z - w * (1 / 12 + w * (-1 / 120 + w * (1 / 252 + w * (
        -1 / 240 + w * (1 / 132 + w * (-691 / 32760 + w / 12))))))
    return tail - jnp.where(small, numerator / denominator, 0.0)


@_digamma.defjvp
def _digamma_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return _digamma(x), trigamma(x) * t


def trigamma(x: ArrayLike) -> Array:
    """ψ'(x) for x > 0: below 10, ψ'(x) = Σₖ₌₀⁹ 1/(x + k)² + ψ'(x + 10) (the sum as one
    fraction), then the asymptotic series at z ≥ 10 through z⁻¹⁵ (relative error below 1e-14
    in float64).

    Example:
        >>> round(float(trigamma(1.0)), 5)  # π²/6
        1.64493
    """
    small, xs, z = _shifted(jnp.asarray(x))
    numerator, denominator = jnp.ones_like(xs), xs * xs  # Σₖ 1/(x + k)², as one fraction
    for k in range(1, _SHIFT):
        square = (xs + k) ** 2
        numerator, denominator = numerator * square + denominator, denominator * square
    w = 1 / (z * z)
    tail = (1 / z) * (1 + 0.5 / z + w * (1 / 6 + w * (-1 / 30 + w * (1 / 42 + w * (
        -1 / 30 + w * (5 / 66 + w * (-691 / 2730 + w * 7 / 6)))))))
    return jnp.where(small, numerator / denominator, 0.0) + tail


class AbstractFamily(eqx.Module):
    """An exponential family p(y | η) = b(y) exp(ηᵀT(y) − A(η)).

    A subclass must write (abstract methods):
      ``log_partition(eta)``: A(η), elementwise over leading axes; +∞ (not NaN) outside the
        natural domain, so that the solvers' step control can see the edge.
      ``log_base_measure(y, dispersion=1.0)``: log b(y), or log b(y, φ) with a dispersion.
      ``in_support(y)``: a boolean per observation.
      ``mean_bounds()``: the open interval of the mean E[T(y)], e.g. ``(0.0, jnp.inf)``.
      ``sample(key, eta, shape=())``: draws of y (call ``self.checked_natural(eta)`` first).

    It may override (defaults in brackets):
      ``sufficient_stat(y)`` [y]; ``natural_from_mean(mu)`` [Newton on ∂A/∂η = μ; a closed
      form is faster and exact]; ``default_link()`` ["canonical"; R's default link];
      ``prepare(y, weights)`` [as given; Binomial's trials]; ``check_response_shape``;
      ``response_from_columns`` [how a formula's response columns become y];
      ``saturated_log_kernel(y)`` [at ``natural_from_mean(T(y))``, T(y) moved inside the
      mean space by a few ε; a closed form where that falls short, as Tweedie's at y = 0];
      ``loglik_dispersion`` [the φ of the reported log-likelihood: R's deviance/Σw].

    Class attributes (static configuration):
      names: names for ``families.from_name`` ("poisson", ...).
      has_dispersion: whether a dispersion φ is estimated by ``fit`` (Pearson χ²/df).
      has_saturated: whether the saturated model exists (deviance = 2(ℓ_sat − ℓ)).
      allowed_links: classical links on the mean accepted by ``fit`` (as in R; any link for
        a family that does not say).
      parametrizations: the parametrization classes ``fit`` accepts for the family.
      canonical_link_name: what ``summary()`` calls the canonical link ("log" for Poisson).
      support: a human-readable description of the support of y, used in errors.
      support_kind: "real", "positive", "nonnegative", "unit", "count", "categorical" or
        "simplex": how ``check_identity`` integrates over y.
      unbounded_natural: whether A(η) is finite for every real η (the natural parameter
        space is all of ℝᵈ), so that no coefficients leave the domain.
      size_parameter: the field that a response's number of columns sets (Multinomial's
        ``n_classes``), for the CLI; None when there is none.
      has_precision_model: whether a formula may have a precision part after ``|``.
      nuisance: the parameter fields that ``None`` asks ``fit`` to estimate by maximum
        likelihood (NegativeBinomial's ``alpha``, Tweedie's ``power``), each in the open
        interval ``nuisance_range(name)``.

    Example (the geometric distribution, P(y) = (1 − e^η) e^{ηy}, y = 0, 1, ...):
        >>> import jax, jax.numpy as jnp, glmjax as gj
        >>> from glmjax.families import AbstractScalarFamily
        >>> class Geometric(AbstractScalarFamily):
        ...     support_kind = "count"
        ...     def log_partition(self, eta):
        ...         eta = jnp.asarray(eta)
        ...         return jnp.where(eta < 0, -jnp.log1p(-jnp.exp(jnp.minimum(eta, 0))), jnp.inf)
        ...     def log_base_measure(self, y, dispersion=1.0):
        ...         return jnp.zeros(jnp.shape(y))
        ...     def in_support(self, y):
        ...         return (y >= 0) & (y == jnp.round(y))
        ...     def mean_bounds(self):
        ...         return 0.0, jnp.inf
        ...     def sample(self, key, eta, shape=()):
        ...         eta = self.checked_natural(eta)
        ...         p = jnp.broadcast_to(-jnp.expm1(eta), self.sample_shape(eta, shape))
        ...         return jax.random.geometric(key, p).astype(eta.dtype) - 1
        >>> round(float(Geometric().mean(jnp.log(0.5))), 6)  # (e^η / (1 − e^η))
        1.0
    """

    support_kind: ClassVar[str] = "real"
    has_dispersion: ClassVar[bool] = False
    has_saturated: ClassVar[bool] = True
    allowed_links: ClassVar[tuple[type, ...]] = (_links.AbstractLink,)
    parametrizations: ClassVar[tuple[type, ...]] = (_param.Canonical, _param.MeanLink)
    canonical_link_name: ClassVar[str] = "canonical"
    support: ClassVar[str] = "the real line"
    unbounded_natural: ClassVar[bool] = False
    names: ClassVar[tuple[str, ...]] = ()
    size_parameter: ClassVar[str | None] = None
    has_precision_model: ClassVar[bool] = False
    nuisance: ClassVar[tuple[str, ...]] = ()

    @property
    def natural_dim(self) -> int:
        """0 when η is a scalar per observation, else the length d of η."""
        return 0

    # ---- nuisance parameters estimated by ``fit`` -------------------------------------------
    def estimated_nuisance(self) -> tuple[str, ...]:
        """The ``nuisance`` fields set to None: ``fit`` estimates them."""
        return tuple(name for name in self.nuisance if getattr(self, name) is None)

    def with_nuisance(self, values: dict) -> AbstractFamily:
        """The family with the fields named in ``values`` set to them."""
        return eqx.tree_at(lambda f: [getattr(f, name) for name in values], self,
                           list(values.values()), is_leaf=lambda x: x is None)

    def nuisance_range(self, name: str) -> tuple[float, float]:
        """The open interval (lower, upper) of the nuisance parameter ``name``: (0, ∞) unless
        a family says (Tweedie's power: (1, 2)). ``fit`` estimates it on the log scale of
        (0, ∞) shifted to ``lower``, or the logit scale of a bounded interval."""
        return 0.0, float("inf")

    def nuisance_start(self, y: Array, weights: Array) -> dict:
        """Starting values for the estimated nuisance parameters (1 unless a family says)."""
        return {name: jnp.ones((), jnp.result_type(float)) for name in
                self.estimated_nuisance()}

    # ---- links ---------------------------------------------------------------------------
    def default_link(self) -> _links.AbstractLink | _param.AbstractParametrization | str:
        """What ``link=None`` means: R's and statsmodels' default link; "canonical" here."""
        return "canonical"

    def canonical_parametrization(self) -> _param.AbstractParametrization:
        """η = θᵀx (the seed's), or the family's identifiable form of it."""
        return _param.Canonical()

    def link_parametrization(self, link: _links.AbstractLink) -> _param.AbstractParametrization:
        """The parametrization of a classical link on the mean."""
        return _param.MeanLink(link)

    def parametrization(self, link=None) -> _param.AbstractParametrization:
        """How ``fit`` maps the linear predictors to η for ``link``: None (the family's
        ``default_link()``), "canonical", a ``glmjax.links`` link the family allows, or a
        ``glmjax.parametrizations`` instance.

        Example:
            >>> import glmjax as gj
            >>> gj.families.Gamma().parametrization(None)
            MeanLink(link=Inverse())
        """
        if link is None:
            link = self.default_link()
        if isinstance(link, str) and link == "canonical":
            param = self.canonical_parametrization()
        elif isinstance(link, _param.AbstractParametrization):
            param = link
        elif isinstance(link, _links.AbstractLink):
            if not isinstance(link, self.allowed_links):
                allowed = ", ".join(cls.__name__ for cls in self.allowed_links) or "none"
                raise ValueError(
                    f"link {type(link).__name__}() is not available for the {self.name} "
                    f"family; use link='canonical' or one of: {allowed}.")
            param = self.link_parametrization(link)
        else:
            raise TypeError(
                "link must be None (the family's default), 'canonical', a glmjax.links link or "
                f"a glmjax.parametrizations parametrization; got {link!r}.")
        builtin = type(param).__module__ == _param.__name__  # a user's own: not checked
        if builtin and not isinstance(param, self.parametrizations):
            raise ValueError(f"the {type(param).__name__} parametrization does not apply to "
                             f"the {self.name} family.")
        return param

    # ---- what a family writes down -------------------------------------------------------
    @abc.abstractmethod
    def log_partition(self, eta: ArrayLike) -> Array:
        """A(η), elementwise over leading (batch) axes."""

    def sufficient_stat(self, y: ArrayLike) -> Array:
        """T(y); the identity unless the family says otherwise."""
        return jnp.asarray(y)

    @abc.abstractmethod
    def log_base_measure(self, y: ArrayLike, dispersion: ArrayLike = 1.0) -> Array:
        """log b(y) (log b(y, φ) for families with a dispersion)."""

    @abc.abstractmethod
    def in_support(self, y: ArrayLike) -> Array:
        """A boolean per observation: is y in the support?"""

    @abc.abstractmethod
    def mean_bounds(self) -> tuple[ArrayLike, ArrayLike]:
        """The open interval (per coordinate) that the mean E[T(y)] lives in."""

    @abc.abstractmethod
    def sample(self, key: Array, eta: ArrayLike, shape: tuple[int, ...] = ()) -> Array:
        """Draw y ~ p(y | η); the result has shape ``shape + batch shape (+ event shape)``."""

    # ---- derived by autodiff -------------------------------------------------------------
    def mean(self, eta: ArrayLike) -> Array:
        """E[T(y) | η] = ∂A/∂η, by ``jax.grad`` of Σ A(η) over the batch."""
        eta = jnp.asarray(eta)
        return jax.grad(lambda e: jnp.sum(self.log_partition(e)))(eta)

    def variance(self, eta: ArrayLike) -> Array:
        """Var[T(y) | η] = ∇²A(η): elementwise for scalar η, (..., d, d) for vector η."""
        eta = jnp.asarray(eta)
        if self.natural_dim == 0:
            return jax.grad(lambda e: jnp.sum(self.mean(e)))(eta)
        hess = jax.hessian(lambda e: self.log_partition(e))
        return jnp.vectorize(hess, signature="(d)->(d,d)")(eta)

    def natural_from_mean(self, mu: ArrayLike) -> Array:
        """The canonical link: solve ∇A(η) = μ for η (Newton's method on the convex A).

        Families with a closed form override this; the default serves the others (Beta,
        Dirichlet, a user's own family). Each Newton step is halved until A stays finite, so
        the iterates never leave the natural domain; the iterations stop when the steps fall
        to rounding level. Its derivatives come from the implicit function theorem,
        dη = ∇²A(η)⁻¹ (dμ − ∂∇A/∂(family)·d(family)), not from the iterations.
        """
        return _invert_mean(self, jnp.asarray(mu))

    def natural_from_response_mean(self, mu: ArrayLike) -> Array:
        """η from E[y], the scale a link acts on; E[y] = E[T(y)] unless a family says so."""
        return self.natural_from_mean(mu)

    def initial_response_mean(self, y: Array, weights: Array) -> Array:
        """A starting E[y] for a link to act on; ``initial_mean`` unless a family says so."""
        return self.initial_mean(y, weights)

    def initial_mean(self, y: Array, weights: Array) -> Array:
        """A starting mean for ``fit``: each T(yᵢ) halfway to the weighted mean of T (as R)."""
        return shrunk_mean(self.sufficient_stat(y), weights)

    def response_mean(self, eta: ArrayLike) -> Array:
        """E[y | η], what ``predict`` returns. Equal to E[T(y)] unless T is not the identity."""
        return self.mean(eta)

    def log_prob(self, y: ArrayLike, eta: ArrayLike, dispersion: ArrayLike = 1.0) -> Array:
        """log p(y | η) = (ηᵀT(y) − A(η)) / φ + log b(y, φ)."""
        return self.log_kernel(y, eta) / dispersion + self.log_base_measure(y, dispersion)

    def log_kernel(self, y: ArrayLike, eta: ArrayLike) -> Array:
        """ηᵀT(y) − A(η): the part of log p(y | η) that depends on η."""
        eta = jnp.asarray(eta)
        t = self.sufficient_stat(y)
        dot = eta * t if self.natural_dim == 0 else jnp.sum(eta * t, axis=-1)
        return dot - self.log_partition(eta)

    def saturated_log_kernel(self, y: ArrayLike) -> Array:
        """sup_η [ηᵀT(y) − A(η)], reached at η = natural_from_mean(T(y)).

        T(y) on the boundary of the mean space (a zero count, y ∈ {0, 1}) is moved inside by
        a few machine epsilons, where the supremum is attained to rounding error.
        """
        t = self.sufficient_stat(y)
        low, high = (jnp.asarray(b, t.dtype) for b in self.mean_bounds())
        span = jnp.where(jnp.isfinite(high - low), high - low, 1.0)
        eps = 4 * jnp.finfo(t.dtype).eps
        mu = jnp.clip(t, low + eps * span, high - eps * span)
        return self.log_kernel(y, self.natural_from_mean(mu))

    def unit_deviance(self, y: ArrayLike, eta: ArrayLike) -> Array:
        """dᵢ = 2 [sup log-kernel − (ηᵢᵀT(yᵢ) − A(ηᵢ))], so that Σ wᵢ dᵢ is the deviance;
        −2 log p(yᵢ | ηᵢ) for the families without a saturated model (Beta, Dirichlet).

        dᵢ ≥ 0 (the supremum is at least the value at ηᵢ): the few ε by which
        ``saturated_log_kernel`` falls short for T(yᵢ) on the boundary are clipped, so that a
        separated fit's deviance is 0, not −1e-13."""
        kernel = self.log_kernel(y, eta)
        if self.has_saturated:
            return 2 * jnp.maximum(self.saturated_log_kernel(y) - kernel, 0)
        return -2 * (kernel + self.log_base_measure(y))

    def in_natural_domain(self, eta: ArrayLike) -> Array:
        """A boolean per observation: is A(η) finite?"""
        return jnp.isfinite(self.log_partition(eta))

    def checked_natural(self, eta: ArrayLike, dispersion: ArrayLike = 1.0) -> Array:
        """η as an array, for a sampler: an error where A(η) is not finite (η outside the
        natural domain, NaN, or so large that A overflows) or φ <= 0, which would otherwise
        give invalid draws silently. ``ValueError`` naming the first such η; inside ``jit`` or
        ``vmap`` the error is raised through ``equinox.error_if``.

        Example:
            >>> import glmjax as gj
            >>> gj.families.Exponential().checked_natural([-1.0, 0.5])  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            ValueError: Exponential: A(η) is not finite at η[1] = 0.5: η is outside ...
        """
        eta, dispersion = jnp.asarray(eta), jnp.asarray(dispersion)
        inside = self.in_natural_domain(eta)
        domain = (f"η is outside the natural domain of the {self.name} family, NaN, or so "
                  "large that A(η) overflows.")
        positive = f"{self.name}: the dispersion φ must be positive"
        if is_tracer(inside) or is_tracer(dispersion):
            eta = eqx.error_if(eta, ~inside, f"{self.name}: A(η) is not finite: {domain}")
            return eqx.error_if(eta, ~(dispersion > 0), positive + ".")
        if not np.all(np.asarray(dispersion) > 0):
            raise ValueError(f"{positive}; got {np.asarray(dispersion)}.")
        outside = ~np.asarray(inside)
        if outside.any():
            index = tuple(int(i) for i in np.unravel_index(np.argmax(outside), outside.shape))
            at = f"η{list(index)}" if index else "η"
            raise ValueError(f"{self.name}: A(η) is not finite at {at} = "
                             f"{np.asarray(eta)[index]}: {domain}")
        return eta

    # ---- data preparation (used by ``fit``) ----------------------------------------------
    def prepare(self, y: Array, weights: Array) -> tuple[AbstractFamily, Array, Array]:
        """Map the user's response to (family, y, weights) that ``fit`` works with."""
        return self, y, weights

    def check_response_shape(self, y: Array, n_obs: int) -> None:
        """Raise ``ValueError`` when y has the wrong shape for this family."""
        if y.shape != (n_obs,):
            raise ValueError(
                f"{type(self).__name__} expects y of shape ({n_obs},) (one value per row of X); "
                f"got shape {y.shape}."
            )

    def response_from_columns(self, y: np.ndarray, columns: list[str]) -> np.ndarray:
        """A formula's response, (m, c) with the column names formulaic gives, as ``fit``
        takes it: one column for a scalar family."""
        if y.shape[1] != 1:
            raise ValueError(f"the response expands to {y.shape[1]} columns {columns}; "
                             f"{self.name} takes one.")
        return y[:, 0]

    def loglik_dispersion(self, deviance: Array, total_weight: Array, pearson: Array) -> Array:
        """The φ at which ``fit`` reports the log-likelihood and AIC of a family with a
        dispersion: R's deviance/Σw (the ML estimate for Gaussian)."""
        return deviance / total_weight

    @property
    def name(self) -> str:
        return type(self).__name__


def _newton_start(family: AbstractFamily, mu: Array) -> Array:
    """A point inside the natural domain: for a scalar family the first of a few candidates
    where A and its derivatives are finite; for a vector family η = 1."""
    dtype = jnp.result_type(mu, float)
    if family.natural_dim:
        return jnp.ones(mu.shape, dtype)
    candidates = jnp.array([0.0, -1.0, 1.0, -0.1, 0.1, -10.0, 10.0], dtype)
    var = family.variance(candidates)
    good = jnp.isfinite(family.log_partition(candidates)) & jnp.isfinite(var) & (var > 0)
    return jnp.broadcast_to(candidates[jnp.argmax(good)], mu.shape).astype(dtype)


@jax.custom_jvp
def _invert_mean(family: AbstractFamily, mu: Array) -> Array:
    """η with ∇A(η) = μ: Newton's method, each step halved until A is finite, for at most
    200 steps and until every step is below 1e-13 of its η (a ``while_loop``: the
    derivatives come from ``_invert_mean_jvp``)."""
    vector = family.natural_dim > 0
    eta0 = _newton_start(family, mu)
    tiny = 1e3 * jnp.finfo(eta0.dtype).eps

    def newton_step(eta):
        gap = family.mean(eta) - mu
        if vector:
            return jnp.linalg.solve(family.variance(eta), gap[..., None])[..., 0]
        return gap / family.variance(eta)

    def finite(eta):
        value = family.log_partition(eta)
        return jnp.isfinite(value)

    def cond(state):
        k, _, moving = state
        return (k < 200) & jnp.any(moving)

    def body(state):
        k, eta, moving = state
        step = newton_step(eta)
        step = jnp.where(jnp.isfinite(step), step, 0.0)
        expand = (lambda t: t[..., None]) if vector else (lambda t: t)

        def halve(t):
            return jnp.where(finite(eta - expand(t) * step), t, 0.5 * t)

        def outside(t):
            return jnp.any(~finite(eta - expand(t) * step) & (t > 1e-30))

        t = jax.lax.while_loop(outside, halve, jnp.ones(eta.shape[:eta.ndim - vector],
                                                         eta.dtype))
        t = jnp.where(finite(eta - expand(t) * step), t, 0.0)
        new = eta - expand(t) * step
        size = jnp.abs(new - eta) / (1 + jnp.abs(eta))
        size = jnp.max(size, axis=-1) if vector else size
        return k + 1, new, size > tiny

    moving = jnp.ones(eta0.shape[:eta0.ndim - vector], bool)
    return jax.lax.while_loop(cond, body, (0, eta0, moving))[1]


@_invert_mean.defjvp
def _invert_mean_jvp(primals, tangents):
    """∇A(η; family) = μ ⇒ ∇²A dη + ∂∇A/∂(family) d(family) = dμ."""
    family, mu = primals
    d_family, d_mu = tangents
    eta = _invert_mean(family, mu)
    _, d_mean = jax.jvp(lambda fam: fam.mean(eta), (family,), (d_family,))
    rhs = d_mu - d_mean
    variance = family.variance(eta)
    if family.natural_dim:
        return eta, jnp.linalg.solve(variance, rhs[..., None])[..., 0]
    return eta, rhs / variance


class AbstractScalarFamily(AbstractFamily):
    """A family whose η and T(y) = y are scalars per observation."""

    def sample_shape(self, eta: Array, shape: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(shape) + jnp.shape(eta)


ALL_BINARY_LINKS = (_links.Logit, _links.Probit, _links.CLogLog, _links.Cauchit, _links.Log)
