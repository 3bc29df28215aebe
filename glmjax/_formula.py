"""Formulas on data frames: ``glmjax.glm("y ~ x1 + C(region) + np.log(x2)", data=df, ...)``.

The formula is Wilkinson's, through formulaic, for pandas and polars frames (and anything
formulaic reads): ``C(x)`` and string columns become treatment contrasts, ``np.log(x)`` and
other transforms are evaluated in the frame, ``1 +`` is implicit (``- 1`` or ``0 +`` drops
the intercept). Names that are not columns (a function of the user's, a module) are looked
up where ``glm`` is called, as R evaluates a formula in its environment and statsmodels in
its ``eval_env``, and kept with the fit for predictions on new data. R's ``offset(...)``
terms (``y ~ x + offset(log(exposure))``) add to the offset, also in predictions on new
data. The left side is the response as ``fit`` takes it: one column, two columns
``successes + failures`` (or R's ``cbind(successes, failures)``) for Binomial, a categorical
column for Multinomial (its levels are the classes, which name the coefficients), or the K
component columns for Dirichlet.

Beta and Dirichlet regression take a second part after ``|`` for the precision, as R's
betareg and DirichletReg: ``y ~ x1 + x2 | z`` models log φᵢ = zᵢᵀγ (mean–precision, with
``link`` the mean link, logit by default); without it a mean link fits one constant φ.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
import sys
import warnings
from types import ModuleType

import numpy as np

from glmjax import links as L
from glmjax._design import Design, dense_for_refits
from glmjax._fitting import fit
from glmjax._formula_terms import add_offsets, formula_context, split_offsets
from glmjax._results import FitResult
from glmjax._row_blocks import is_design
from glmjax.families import AbstractFamily
from glmjax.parametrizations import MeanPrecision


@dataclasses.dataclass(frozen=True, eq=False)
class DesignSpec:
    """How a frame becomes the design matrices: formulaic's model specs of the mean part and,
    with a precision formula, of the precision part; ``layout``, when the mean part has
    categorical (sparse) columns, how they form a ``Design``; ``context``, the names the
    formula takes from where it was fitted (``formula_context``); ``response_names``, the
    response's columns (a categorical's levels); ``offset_spec``, the formula's ``offset()``
    terms (their sum, one column); ``response``, ``weights``, ``offset``: what the fit took,
    for refitting some of its terms (``refits``: R's ``anova(fit)`` and ``drop1``)."""

    spec: object
    precision_spec: object = None
    layout: object = None
    context: dict = dataclasses.field(default_factory=dict)
    response_names: tuple[str, ...] | None = None
    offset_spec: object = None
    response: object = None
    weights: object = None
    offset: object = None

    def __getstate__(self) -> dict:
        """Pickled with the modules of ``context`` by name (a module cannot be pickled)."""
        context = {k: _Module(v.__name__) if isinstance(v, ModuleType) else v
                   for k, v in self.context.items()}
        return self.__dict__ | {"context": context}

    def __setstate__(self, state: dict) -> None:
        context = {k: importlib.import_module(v.name) if isinstance(v, _Module) else v
                   for k, v in state["context"].items()}
        self.__dict__.update(state | {"context": context})

    def design(self, data, offset=None, unseen: str = "raise"):
        """(X, offset, Z or None) for new data, encoded as the fitted data; arrays pass
        through (with Z None). A level the fit did not see raises, or with
        ``unseen="reference"`` is coded as the reference level."""
        if is_design(data):
            return data, offset, None
        if isinstance(data, np.ndarray) or type(data).__module__.startswith("jax"):
            # the formula's columns, in its order
            return (data if self.layout is None else self.layout.encode_matrix(data)), \
                offset, None
        Z = None if self.precision_spec is None else np.asarray(
            _model_matrix(self.precision_spec.get_model_matrix, data, self.context, unseen),
            float)
        X = _model_matrix(self.spec.get_model_matrix, data, self.context, unseen,
                          sparse=self.layout is not None)
        X = self.layout.encode_matrix(X) if self.layout is not None else np.asarray(X, float)
        terms = None if self.offset_spec is None else np.asarray(
            _model_matrix(self.offset_spec.get_model_matrix, data, self.context), float)[:, 0]
        return X, add_offsets(terms, _column(data, offset, "offset")), Z

    def terms(self, result: FitResult) -> list[tuple[str, frozenset, list[int]]]:
        """The formula's terms in order, each as (label, its factors, the positions of its
        columns among ``result``'s coefficients); the intercept is "1"."""
        position = {name: k for k, name in enumerate(result.feature_names)}
        return [(str(term), frozenset(str(f) for f in term.factors),
                 [position[_name(self.spec.column_names[i])] for i in indices])
                for term, indices in self.spec.term_indices.items()]

    def refits(self, result: FitResult, column_sets: list[list[int]]) -> list[FitResult]:
        """``result``'s model on each set of coefficients of ``column_sets`` alone, refitted
        with its family, link, weights and offset (R's ``glm.fit`` in ``anova`` and
        ``drop1``)."""
        if result.nuisance or result.problem.has_l1 or bool(np.any(result.problem.l2 != 0)):
            raise ValueError("refitting a model's terms is for unpenalised fits with the "
                             "family's parameters fixed; compare nested fits instead: "
                             "gj.anova(fit0, fit1, ...) (MASS's anova.negbin estimates α in "
                             "each).")
        X = np.asarray(dense_for_refits(result.problem.X, "refitting a model's terms",
                                        "compare nested fits: gj.anova(fit0, fit1, ...)"))
        fits = []
        for columns in column_sets:
            keep = sorted(columns)
            fits.append(fit(X[:, keep], self.response, result.family, result.parametrization,
                            weights=self.weights, offset=self.offset,
                            feature_names=[result.feature_names[k] for k in keep]))
        return fits


@dataclasses.dataclass(frozen=True)
class _Module:
    name: str


def _model_matrix(build, data, context: dict, unseen: str = "raise", sparse: bool = False):
    """formulaic's model matrix of ``data``; a categorical level outside the fitted ones
    (formulaic's ``DataMismatchWarning``) raises unless ``unseen="reference"``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        matrix = build(data, context=context, na_action="raise",
                       output="sparse" if sparse else "numpy")
    for warning in caught:
        if type(warning.message).__name__ == "DataMismatchWarning":
            if unseen != "reference":  # formulaic's message names the levels in braces
                levels = re.search(r"\{.*\}", str(warning.message))
                raise ValueError("a categorical has levels the fit did not see: "
                                 f"{levels.group(0) if levels else warning.message}; pass "
                                 "unseen='reference' to predict them at the reference level.")
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename,
                                   warning.lineno)
    return matrix


def glm(formula: str, data, family: AbstractFamily, link=None, *, weights=None, offset=None,
        groups=None, **fit_kwargs) -> FitResult:
    """Fit a GLM given by a formula on a data frame; coefficients are named by the terms.

    Args:
      formula: "response ~ terms", or "response ~ terms | precision terms" for Beta and
        Dirichlet.
      data: a pandas or polars data frame.
      family, link: as for ``fit``.
      weights, offset: a column name of ``data`` or an array.
      groups: cluster labels for ``cov_type="cluster"``: a column name of ``data`` or an array.
      fit_kwargs: passed to ``fit`` (l2, l1, solver, tol, cov_type, ...).

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
    from formulaic import Formula, model_matrix  # 0.8 s to import: only when used

    if not isinstance(formula, str) or "~" not in formula:
        raise ValueError(f"formula must be a string 'response ~ terms'; got {formula!r}.")
    context = formula_context(formula, getattr(data, "columns", ()), sys._getframe(1))
    try:
        terms, offsets = split_offsets(formula)
        parsed = Formula(terms)
        parts = parsed.rhs if isinstance(parsed.rhs, tuple) else (parsed.rhs,)
        if len(parts) > 2:
            raise ValueError("at most one '|' (before the precision terms) is allowed")

        def build(part, **kwargs):
            return model_matrix(part, data, context=context, na_action="raise", **kwargs)

        lhs = build(parsed.lhs)
        rhs = build(parts[0], output="sparse")
        precision = build(parts[1]) if len(parts) == 2 else None
        offset_terms = build(offsets) if offsets else None
        offset = add_offsets(None if offset_terms is None else
                             np.asarray(offset_terms, float)[:, 0], _column(data, offset,
                                                                            "offset"))
    except ValueError as err:
        hint = (" Rows with missing values are not dropped silently (R's na.omit): drop them "
                "first, e.g. data.dropna(subset=[...]).") if "null values" in str(err) else ""
        raise ValueError(f"cannot build the design from formula {formula!r}: {err}{hint}"
                         ) from None
    except Exception as err:  # formulaic's own errors: unknown names, syntax
        raise ValueError(f"cannot build the design from formula {formula!r}: "
                         f"{type(err).__name__}: {err}") from None
    if lhs is None or lhs.shape[1] == 0:
        raise ValueError(f"formula {formula!r} has no response on the left of '~'.")
    if precision is not None:
        if not family.has_precision_model:
            raise ValueError("a precision part after '|' is for Beta and Dirichlet regression; "
                             f"got the {family.name} family.")
        if link is not None and not isinstance(link, L.AbstractLink):
            raise ValueError("with a precision part, link must be the mean link (a "
                             "glmjax.links link) or None for logit.")
        link = MeanPrecision(link or L.Logit(), precision_design=np.asarray(precision, float),
                             precision_names=tuple(_name(c) for c in precision.columns))
    names = [_name(c) for c in rhs.model_spec.column_names]
    X = Design.from_matrix(rhs, names, may_be_sparse=_categorical_columns(rhs.model_spec))
    if X.n_sparse == 0:
        X = X.dense
    response, weights = _response(lhs, family), _column(data, weights, "weights")
    result = fit(X, response, family, link, weights=weights, offset=offset,
                 groups=_column(data, groups, "groups", numeric=False),
                 feature_names=X.names if is_design(X) else names, **fit_kwargs)
    spec = DesignSpec(rhs.model_spec, None if precision is None else precision.model_spec,
                      X.layout if is_design(X) else None, context, _response_names(lhs),
                      None if offset_terms is None else offset_terms.model_spec, response,
                      weights, offset)
    return dataclasses.replace(result, model_spec=spec)


def _response_names(lhs) -> tuple[str, ...]:
    """The left side's column names; a categorical's levels without its name ("east" for
    "region[east]")."""
    names = [str(c) for c in lhs.columns]
    levels = [re.fullmatch(r".*?\[(.*)\]", n) for n in names]
    return tuple(m.group(1) if all(levels) else n for m, n in zip(levels, names, strict=True))


def _categorical_columns(spec) -> list[int]:
    """The columns of the terms with a categorical factor: those that a ``Design`` keeps as
    integer codes (sparse), never as dense indicator columns."""
    columns = []
    for term, indices in spec.term_indices.items():
        kinds = [spec.encoder_state.get(factor.expr, (None,))[0] for factor in term.factors]
        if any(getattr(kind, "value", None) == "categorical" for kind in kinds):
            columns += list(indices)
    return columns


def _name(column: str) -> str:
    return "(Intercept)" if column == "Intercept" else str(column)


def _column(data, value, what: str, numeric: bool = True):
    """A column of ``data`` by name (as floats when ``numeric``), or the array given."""
    if value is None or not isinstance(value, str):
        return value
    if value not in list(data.columns):
        raise ValueError(f"{what} column {value!r} is not in the data.")
    return np.asarray(data[value], float) if numeric else np.asarray(data[value])


def _response(lhs, family: AbstractFamily) -> np.ndarray:
    """The left-hand side as ``fit`` takes it for ``family``."""
    return family.response_from_columns(np.asarray(lhs, float), list(lhs.columns))
