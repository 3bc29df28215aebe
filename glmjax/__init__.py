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
from glmjax._chunked import fit_chunked
from glmjax._cross_validation import CVResult, fit_cv
from glmjax._design import Design
from glmjax._fitting import (
    ConvergenceWarning,
    InvalidInputWarning,
    RankDeficiencyWarning,
    SeparationWarning,
    fit,
)
from glmjax._formula import glm
from glmjax._identity import IdentityCheck, check_identity
from glmjax._many import fit_many
from glmjax._model_tests import anova, drop1, lr_test, score_test
from glmjax._paths import RegularizationPath, fit_path
from glmjax._results import FitResult
from glmjax._training import TrainResult, fit_minibatch
from glmjax.sharding import shard_rows

__version__ = "0.1.0"

__all__ = [
    "CVResult",
    "ConvergenceWarning",
    "Design",
    "FitResult",
    "IdentityCheck",
    "InvalidInputWarning",
    "RegularizationPath",
    "RankDeficiencyWarning",
    "SeparationWarning",
    "TrainResult",
    "anova",
    "check_identity",
    "drop1",
    "datasets",
    "families",
    "fit",
    "fit_chunked",
    "fit_cv",
    "fit_many",
    "fit_minibatch",
    "fit_path",
    "glm",
    "links",
    "lr_test",
    "parametrizations",
    "score_test",
    "shard_rows",
    "sharding",
    "solvers",
]
