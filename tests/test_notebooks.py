"""The notebooks execute end to end at small sizes (``GLMJAX_NOTEBOOK_SMALL=1``)."""

import importlib.util
import os
from pathlib import Path

import pytest

pytest.importorskip("nbclient")
pytest.importorskip("matplotlib")

ROOT = Path(__file__).resolve().parents[1]


def _build_module():
    spec = importlib.util.spec_from_file_location("notebook_build",
                                                  ROOT / "notebooks" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BUILD = _build_module()


@pytest.mark.parametrize("name", list(BUILD.NOTEBOOKS))
def test_notebook_executes(name, tmp_path, monkeypatch):
    import nbformat

    monkeypatch.setenv("GLMJAX_NOTEBOOK_SMALL", "1")
    out = BUILD.build(name, tmp_path, timeout=600)
    nb = nbformat.read(out, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any(o.output_type == "display_data" and "image/png" in o.get("data", {})
               for o in outputs), "the notebook draws no figure"
    assert os.path.exists(ROOT / "notebooks" / name), "the executed notebook is committed"
