"""Solvers: each maximises the log-likelihood of a ``model.Problem`` (minimises its objective).

A solver knows nothing about families; it sees f(β) (``Problem.objective``), its gradient
and, for Fisher scoring, the expected information.
"""

from glmjax.solvers._result import SolverResult
from glmjax.solvers.first_order import gradient_ascent, lbfgs, optax_minimize
from glmjax.solvers.irls import irls

__all__ = ["SolverResult", "gradient_ascent", "irls", "lbfgs", "optax_minimize"]
