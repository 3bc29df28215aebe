"""Data sets bundled with glmjax (public domain, shipped as CSV inside the package).

* ``load_randhie``: the RAND Health Insurance Experiment (20,190 people), physician visits
  ``mdvis`` and their insurance and health covariates; a count regression (Cameron & Trivedi
  2005, *Microeconometrics*, chapter 20). Public domain, as distributed with statsmodels.
* ``load_anes96``: the 1996 American National Election Study (944 respondents), party
  identification ``PID`` (7 ordered categories, 0..6) and covariates. Public domain.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources

import numpy as np


@dataclass(frozen=True)
class Dataset:
    """A response, a design matrix with an intercept column first, and the column names."""

    X: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, ...]
    response_name: str
    description: str


def _read(name: str, delimiter: str = ",") -> tuple[list[str], np.ndarray]:
    with resources.files(__name__).joinpath(name).open() as fh:
        rows = list(csv.reader(fh, delimiter=delimiter))
    header = [h.strip("'\"") for h in rows[0]]
    return header, np.array(rows[1:], dtype=np.float64)


def _design(header, data, response: str, features: list[str]):
    cols = [header.index(f) for f in features]
    X = np.column_stack([np.ones(len(data)), data[:, cols]])
    return X, data[:, header.index(response)], ("(Intercept)", *features)


def load_randhie() -> Dataset:
    """RAND HIE: y = mdvis (outpatient visits), 9 covariates plus an intercept.

    Example:
        >>> from glmjax.datasets import load_randhie
        >>> load_randhie().X.shape
        (20190, 10)
    """
    header, data = _read("randhie.csv")
    features = ["lncoins", "idp", "lpi", "fmde", "physlm", "disea", "hlthg", "hlthf", "hlthp"]
    X, y, names = _design(header, data, "mdvis", features)
    return Dataset(X, y, names, "mdvis", "RAND Health Insurance Experiment: MD visits")


def load_anes96() -> Dataset:
    """ANES 1996: y = PID (0 strong Democrat .. 6 strong Republican), 5 covariates.

    Example:
        >>> from glmjax.datasets import load_anes96
        >>> int(load_anes96().y.max())
        6
    """
    header, data = _read("anes96.csv", delimiter="\t")
    features = ["logpopul", "selfLR", "age", "educ", "income"]
    header = header + ["logpopul"]
    data = np.column_stack([data, np.log(data[:, header.index("popul")] + 0.1)])
    X, y, names = _design(header, data, "PID", features)
    return Dataset(X, y.astype(np.int64), names, "PID", "ANES 1996: party identification")


__all__ = ["Dataset", "load_anes96", "load_randhie"]


_FILES = {"randhie": ("randhie.csv", ","), "anes96": ("anes96.csv", "\t")}


def load_dataframe(name: str):
    """A bundled data set, every column, as a pandas ``DataFrame`` (for ``glmjax.glm``).

    Example:
        >>> from glmjax.datasets import load_dataframe
        >>> load_dataframe("randhie").shape
        (20190, 10)
    """
    import pandas as pd

    if name not in _FILES:
        raise ValueError(f"unknown data set {name!r}; bundled: {sorted(_FILES)}.")
    header, data = _read(*_FILES[name])
    return pd.DataFrame(data, columns=header)
