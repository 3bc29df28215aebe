"""Formulas on data frames: ``glmjax.glm("y ~ x1 + C(region) + np.log(x2)", data=df, ...)``.

The formula is Wilkinson's, through formulaic, for pandas and polars frames (and anything
formulaic reads): ``C(x)`` and string columns become treatment contrasts, ``np.log(x)`` and
other transforms are evaluated in the frame, ``1 +`` is implicit (``- 1`` or ``0 +`` drops
the intercept). The left side is the response as ``fit`` takes it: one column, two columns
``successes + failures`` for Binomial, a categorical column for Multinomial (its levels are
the classes), or the K component columns for Dirichlet.

Beta and Dirichlet regression with a mean link (``link=gj.links.Logit()``) estimate one
constant precision φ; a precision formula after ``|`` (betareg's ``y ~ x | z``, log φᵢ = zᵢᵀγ)
is not supported yet and raises a ``ValueError`` saying so.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from formulaic import Formula, model_matrix

from glmjax import families as F
from glmjax.families import AbstractFamily
from glmjax.fitting import fit
from glmjax.results import FitResult


@dataclasses.dataclass(frozen=True, eq=False)
class DesignSpec:
    """How a frame becomes the design matrix: formulaic's model spec of the right side."""

    spec: object

    def design(self, data, offset=None) -> tuple[np.ndarray, np.ndarray | None]:
        """(X, offset) for new data, encoded as the fitted data; arrays pass through."""
        if isinstance(data, np.ndarray) or type(data).__module__.startswith("jax"):
            return data, offset
        X = np.asarray(self.spec.get_model_matrix(data, na_action="raise"), float)
        return X, _column(data, offset, "offset")


def glm(formula: str, data, family: AbstractFamily, link=None, *, weights=None, offset=None,
        **fit_kwargs) -> FitResult:
    """Fit a GLM given by a formula on a data frame; coefficients are named by the terms.

    Args:
      formula: "response ~ terms".
      data: a pandas or polars data frame.
      family, link: as for ``fit``.
      weights, offset: a column name of ``data`` or an array.
      fit_kwargs: passed to ``fit`` (l2, l1, solver, tol, ...).

    Returns:
      A ``FitResult`` whose ``summary()`` names the coefficients and whose ``predict``
      takes a data frame.

    Example:
        >>> import glmjax as gj
        >>> df = gj.datasets.load_dataframe("randhie")
        >>> res = gj.glm("mdvis ~ lncoins + idp + lpi + fmde + physlm + disea + hlthg + "
        ...              "hlthf + hlthp", df, gj.families.Poisson())
        >>> res.feature_names[:3], round(float(res.coef[1]), 4)
        (('(Intercept)', 'lncoins', 'idp'), -0.0525)
    """
    if not isinstance(formula, str) or "~" not in formula:
        raise ValueError(f"formula must be a string 'response ~ terms'; got {formula!r}.")
    if "|" in formula:
        raise ValueError("precision formulas (betareg's 'y ~ x | z') are not supported yet: "
                         "glmjax estimates one constant precision; use 'y ~ x' with "
                         "link=gj.links.Logit().")
    try:
        parsed = Formula(formula)
        lhs = model_matrix(parsed.lhs, data, na_action="raise")
        rhs = model_matrix(parsed.rhs, data, na_action="raise")
    except ValueError as err:
        raise ValueError(f"cannot build the design from formula {formula!r}: {err}") from None
    except Exception as err:  # formulaic's own errors: unknown names, syntax
        raise ValueError(f"cannot build the design from formula {formula!r}: "
                         f"{type(err).__name__}: {err}") from None
    if lhs is None or lhs.shape[1] == 0:
        raise ValueError(f"formula {formula!r} has no response on the left of '~'.")
    result = fit(np.asarray(rhs, float), _response(lhs, family), family, link,
                 weights=_column(data, weights, "weights"),
                 offset=_column(data, offset, "offset"),
                 feature_names=[_name(c) for c in rhs.columns], **fit_kwargs)
    return dataclasses.replace(result, model_spec=DesignSpec(rhs.model_spec))


def _name(column: str) -> str:
    return "(Intercept)" if column == "Intercept" else str(column)


def _column(data, value, what: str):
    """A column of ``data`` by name, or the array given."""
    if value is None or not isinstance(value, str):
        return value
    try:
        return np.asarray(data[value], float)
    except (KeyError, Exception) as err:
        if isinstance(err, KeyError) or "not found" in str(err).lower() or \
                type(err).__name__ == "ColumnNotFoundError":
            raise ValueError(f"{what} column {value!r} is not in the data.") from None
        raise


def _response(lhs, family: AbstractFamily) -> np.ndarray:
    """The left-hand side as ``fit`` takes it for ``family``."""
    y = np.asarray(lhs, float)
    columns = list(lhs.columns)
    if isinstance(family, F.Multinomial):
        if y.shape[1] != family.n_classes:
            raise ValueError(f"the response has {y.shape[1]} levels {columns} but the family "
                             f"has n_classes={family.n_classes}.")
        return y  # one-hot rows, in the order of the levels
    if isinstance(family, F.Binomial) and y.shape[1] == 2:
        return y  # successes + failures
    if isinstance(family, F.Dirichlet):
        return y
    if y.shape[1] == 2 and isinstance(family, F.Bernoulli):  # a two-level factor: the second
        return y[:, 1]
    if y.shape[1] != 1:
        raise ValueError(f"the response expands to {y.shape[1]} columns {columns}; "
                         f"{family.name} takes one.")
    return y[:, 0]
