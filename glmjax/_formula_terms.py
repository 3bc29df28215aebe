"""The parts of a formula that are not formulaic's: the names it takes from where it is written
(``formula_context``), R's ``cbind`` on its left side and ``offset(...)`` terms on its right
(``split_offsets``). Used by ``glm`` and by ``fit_chunked``'s Parquet formulas.
"""

from __future__ import annotations

import re
from types import FrameType

import numpy as np


def cbind(*columns) -> np.ndarray:
    """R's ``cbind`` for a formula's left side: ``cbind(successes, failures) ~ x`` gives
    Binomial its two response columns (the same as ``successes + failures``)."""
    return np.column_stack([np.asarray(c, float) for c in columns])


def formula_context(formula: str, columns, frame: FrameType | None) -> dict:
    """The names in ``formula`` that are neither ``columns`` of the data nor formulaic's own
    transforms (``C``, ``np``, ``log``, ``scale``, ...): a function of the user's, a module, a
    constant, as ``frame`` (where the formula was written) sees them; and ``cbind``."""
    from formulaic.transforms import TRANSFORMS

    scope = {} if frame is None else {**frame.f_globals, **frame.f_locals}
    names = set(re.findall(r"[A-Za-z_]\w*", formula)) - {str(c) for c in columns}
    names -= set(TRANSFORMS)
    return {"cbind": cbind} | {n: scope[n] for n in names if n in scope}


def add_offsets(terms, offset):
    """The sum of a formula's ``offset()`` terms (an array, or None) and an ``offset``
    array (or None)."""
    if terms is None:
        return offset
    return terms if offset is None else terms + np.asarray(offset, float)


def split_offsets(formula: str) -> tuple[str, str | None]:
    """(``formula`` without its ``offset(...)`` terms, a formula "0 + I(sum of them)" of
    their sum or None): R's ``y ~ x + offset(log(exposure))``.

    Example:
        >>> split_offsets("y ~ offset(np.log(exposure)) + x")
        ('y ~ x', '0 + I((np.log(exposure)))')
    """
    inside, start = [], formula.find("~")
    for match in list(re.finditer(r"(?<![\w.])offset\s*\(", formula))[::-1]:
        begin, depth, end = match.start(), 1, match.end()
        while depth and end < len(formula):
            depth += {"(": 1, ")": -1}.get(formula[end], 0)
            end += 1
        if depth or begin < start or "|" in formula[start:begin]:
            raise ValueError("offset(...) must be a term of the mean's right-hand side, with "
                             "its parentheses closed.")
        inside.append(formula[match.end():end - 1])
        before, after = formula[:begin].rstrip(), formula[end:].lstrip()
        if before.endswith("+"):
            formula = before[:-1].rstrip() + " " + after
        elif after.startswith("+"):
            formula = before + " " + after[1:].lstrip()
        elif before.endswith("~") and (not after or after.startswith("|")):
            formula = before + " 1 " + after
        else:
            raise ValueError("offset(...) must be added to the other terms (+ offset(...)).")
    if not inside:
        return formula, None
    return formula.strip(), "0 + I(" + " + ".join(f"({e})" for e in inside[::-1]) + ")"
