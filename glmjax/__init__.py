"""glmjax: generalized linear models in JAX, with every family written as its log-partition.

A GLM assumes y | x ~ p(y | η) = b(y) exp(ηᵀT(y) − A(η)) with η a function of the linear
predictor x·θ; it is fitted by maximum likelihood and predicts E[T(y)] = ∂A/∂η, which glmjax
derives from A with ``jax.grad``.

Example:
    >>> import jax.numpy as jnp, glmjax as gj
    >>> X = jnp.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0], [1.0, 3.0]])
    >>> res = gj.fit(X, jnp.array([1.0, 2.0, 2.0, 5.0]), family=gj.families.Poisson())
    >>> bool(res.converged)
    True
"""

from glmjax import datasets, families, links, parametrizations, sharding, solvers
from glmjax.cross_validation import CVResult, fit_cv
from glmjax.fitting import ConvergenceWarning, RankDeficiencyWarning, SeparationWarning, fit
from glmjax.formula import glm
from glmjax.identity import IdentityCheck, check_identity
from glmjax.many import fit_many
from glmjax.paths import Path, fit_path
from glmjax.results import FitResult
from glmjax.sharding import shard_rows
from glmjax.training import TrainResult, fit_minibatch

__version__ = "0.1.0"

__all__ = [
    "CVResult",
    "ConvergenceWarning",
    "FitResult",
    "IdentityCheck",
    "Path",
    "RankDeficiencyWarning",
    "SeparationWarning",
    "TrainResult",
    "check_identity",
    "datasets",
    "families",
    "fit",
    "fit_cv",
    "fit_many",
    "fit_minibatch",
    "fit_path",
    "glm",
    "links",
    "parametrizations",
    "shard_rows",
    "sharding",
    "solvers",
]
