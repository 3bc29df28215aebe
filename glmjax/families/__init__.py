"""Exponential families: each writes down A(η), T(y), log b(y), its support and a sampler."""

from glmjax.families._base import AbstractFamily, AbstractScalarFamily
from glmjax.families.bernoulli import Bernoulli
from glmjax.families.beta import Beta
from glmjax.families.binomial import Binomial
from glmjax.families.dirichlet import Dirichlet
from glmjax.families.exponential import Exponential
from glmjax.families.gamma import Gamma
from glmjax.families.gaussian import Gaussian
from glmjax.families.inverse_gaussian import InverseGaussian
from glmjax.families.multinomial import Multinomial
from glmjax.families.negative_binomial import NegativeBinomial
from glmjax.families.poisson import Poisson
from glmjax.families.tweedie import Tweedie


def _subclasses(cls: type) -> list[type]:
    return [c for sub in cls.__subclasses__() for c in (sub, *_subclasses(sub))]


def family_names() -> dict[str, type]:
    """Every name ``from_name`` knows, with its class: the built-in families' ``names`` and
    those of any subclass of ``AbstractFamily`` defined since (a user's own family)."""
    table = {}
    for cls in _subclasses(AbstractFamily):
        for name in cls.__dict__.get("names", ()):
            table.setdefault(name, cls)
    return table


def from_name(name: str | AbstractFamily, **params) -> AbstractFamily:
    """A family from its name ("poisson", "negative-binomial", "Inverse Gaussian", ...), with
    its parameters as keywords; an instance passes through (without ``params``). A parameter
    the family can estimate (its ``nuisance``: NegativeBinomial's α, Tweedie's power) that is
    not given is estimated by ``fit`` (set to None), as R's ``MASS::glm.nb``.

    Example:
        >>> import glmjax as gj
        >>> gj.families.from_name("negative-binomial", alpha=0.5).alpha.item()
        0.5
        >>> gj.families.from_name("negative-binomial").estimated_nuisance()
        ('alpha',)
    """
    if isinstance(name, AbstractFamily):
        if params:
            raise TypeError("from_name takes parameters with a name, not with an instance.")
        return name
    table = family_names()
    key = str(name).lower().replace("-", "_").replace(" ", "_")
    if key not in table:
        raise ValueError(f"unknown family {name!r}; use one of {sorted(table)} or a "
                         "glmjax.families instance.")
    cls = table[key]
    return cls(**{**dict.fromkeys(cls.nuisance), **params})


__all__ = [
    "AbstractFamily",
    "AbstractScalarFamily",
    "Bernoulli",
    "Beta",
    "Binomial",
    "Dirichlet",
    "Exponential",
    "Gamma",
    "Gaussian",
    "InverseGaussian",
    "Multinomial",
    "NegativeBinomial",
    "Poisson",
    "Tweedie",
    "family_names",
    "from_name",
]
