"""Solvers: each minimises the objective of a ``model.Problem`` (maximises its log-likelihood).

A solver knows nothing about families; it sees f(β) (``Problem.objective``), its gradient
and, for Fisher scoring, the expected information. Solvers are equinox modules whose fields
are their settings; ``fit`` also takes their names (``SOLVERS``) and any optax
``GradientTransformation``.
"""

from __future__ import annotations

import optax

from glmjax.solvers._base import AbstractSolver, Status, status_code
from glmjax.solvers._result import SolverResult
from glmjax.solvers.first_order import LBFGS, GradientAscent, Optax
from glmjax.solvers.irls import IRLS, ProximalNewton

SOLVERS: dict[str, type[AbstractSolver]] = {
    cls.name: cls for cls in (IRLS, ProximalNewton, LBFGS, GradientAscent)
}


def as_solver(solver, *, tol=None, max_iter=None, learning_rate=None) -> AbstractSolver:
    """A solver instance from a name in ``SOLVERS``, an optax ``GradientTransformation`` or an
    instance; ``tol``, ``max_iter`` and ``learning_rate``, when given, replace its settings.

    Example:
        >>> from glmjax.solvers import as_solver
        >>> as_solver("lbfgs", max_iter=50)
        LBFGS(max_iter=50)
    """
    if isinstance(solver, optax.GradientTransformation):
        solver = Optax(solver)
    elif isinstance(solver, str):
        if solver not in SOLVERS:
            raise ValueError(f"solver must be one of {sorted(SOLVERS)}, an optax "
                             f"GradientTransformation or a glmjax.solvers instance; got "
                             f"{solver!r}.")
        solver = SOLVERS[solver]()
    elif not isinstance(solver, AbstractSolver):
        raise TypeError("solver must be a name, an optax GradientTransformation or a "
                        f"glmjax.solvers.AbstractSolver instance; got {solver!r}.")
    settings = {"tol": tol, "max_iter": max_iter}
    if learning_rate is not None and hasattr(solver, "learning_rate"):
        settings["learning_rate"] = learning_rate
    settings = {k: v for k, v in settings.items() if v is not None}
    if settings:
        import dataclasses

        solver = dataclasses.replace(solver, **settings)
    return solver


__all__ = [
    "IRLS",
    "LBFGS",
    "SOLVERS",
    "AbstractSolver",
    "GradientAscent",
    "Optax",
    "ProximalNewton",
    "SolverResult",
    "Status",
    "as_solver",
    "status_code",
]
