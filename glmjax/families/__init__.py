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
]
