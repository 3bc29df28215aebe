"""Optional dependencies: an import that names the extra to install when it fails."""

from __future__ import annotations

import importlib
from types import ModuleType

EXTRAS = {"sklearn": "sklearn", "matplotlib": "plots", "pyarrow": "parquet"}
PACKAGES = {"sklearn": "scikit-learn"}  # where the distribution's name is not the module's


def require(module: str, what: str) -> ModuleType:
    """``importlib.import_module(module)``; a ``ModuleNotFoundError`` that says which extra
    of glmjax brings it when it is missing.

    Example:
        >>> require("not_a_module_xyz", "this example")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ModuleNotFoundError: this example needs not_a_module_xyz, which is not installed...
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        top = module.split(".")[0]
        extra = EXTRAS.get(top)
        how = f'pip install "glmjax[{extra}]"' if extra else f"pip install {PACKAGES.get(top, top)}"
        package = PACKAGES.get(top, top)
        raise ModuleNotFoundError(f"{what} needs {package}, which is not installed: {how}.",
                                  name=err.name) from None
