"""Build and execute the notebooks from their cell sources (``python notebooks/build.py``).

Each notebook's cells live in ``notebooks/sources/<name>.py`` as a list ``CELLS`` of
("md" | "code", text); keeping them as plain Python keeps diffs readable. The .ipynb files are
the executed output, committed with their figures. The build writes to ``notebooks/build/``
(ignored by git), so that trying it changes nothing committed; ``--out notebooks`` replaces
the committed notebooks. With ``--small`` (or the environment variable
``GLMJAX_NOTEBOOK_SMALL=1``) the notebooks run at the small sizes CI uses.

    python notebooks/build.py [--small] [--out DIR] [name ...]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).parent

NOTEBOOKS = {
    "01_seed_walkthrough.ipynb": "seed_walkthrough",
    "02_one_regression_per_family.ipynb": "families",
    "03_minibatch_training.ipynb": "minibatch",
    "04_autodiff_vs_hand_gradients.ipynb": "autodiff",
    "05_tests_and_prediction_bands.ipynb": "inference",
    "06_per_gene_negative_binomial.ipynb": "per_gene",
}


def cells(name: str) -> list[tuple[str, str]]:
    """The cells of notebook ``name`` (a key of ``NOTEBOOKS``)."""
    path = HERE / "sources" / f"{NOTEBOOKS[name]}.py"
    spec = importlib.util.spec_from_file_location(NOTEBOOKS[name], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.CELLS


def build(name: str, out_dir: Path = HERE, timeout: int = 900) -> Path:
    """Execute notebook ``name`` in ``notebooks/`` and write it to ``out_dir``."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell(src) if kind == "md"
                else nbformat.v4.new_code_cell(src) for kind, src in cells(name)]
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(HERE)}}).execute()
    out = Path(out_dir) / name
    nbformat.write(nb, out)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=list(NOTEBOOKS))
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--out", type=Path, default=HERE / "build")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.small:
        os.environ["GLMJAX_NOTEBOOK_SMALL"] = "1"  # inherited by the kernels
    for name in args.names:
        print("executed", build(name, args.out))
