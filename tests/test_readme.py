"""Every Python snippet of the README runs as pasted, in order, in a fresh process (a
temporary working directory for the files the snippets write; matplotlib without a screen)."""

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def snippets() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_snippets_run_as_pasted(tmp_path):
    blocks = snippets()
    assert len(blocks) >= 8
    script = "\n".join(f"# ---- snippet {k}\n{code}" for k, code in enumerate(blocks))
    (tmp_path / "readme.py").write_text(script)
    env = {**os.environ, "MPLBACKEND": "Agg"}
    out = subprocess.run([sys.executable, "readme.py"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-4000:]
    assert "Coefficients:" in out.stdout  # the first snippet prints a summary
