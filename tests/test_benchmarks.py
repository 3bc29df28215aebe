"""The benchmark scripts run: the GPU script on the CPU in the default run (it must keep running
unchanged on a GPU), the others at toy sizes with ``-m slow``.

These check that the scripts work and report what they claim, not the speeds (those are in
benchmarks/RESULTS.md).
"""

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).parent.parent / "benchmarks"


def run(script: str, *args: str) -> str:
    out = subprocess.run([sys.executable, str(BENCHMARKS / script), *args], cwd=BENCHMARKS,
                         capture_output=True, text=True, timeout=900,
                         env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_the_gpu_benchmark_runs_on_the_cpu_and_records_device_and_numbers(tmp_path):
    path = tmp_path / "gpu.json"
    table = run("bench_gpu.py", "--rows", "2000", "--cols", "5", "--out", str(path))
    results = json.loads(path.read_text())
    assert results["device"].startswith("cpu") and "jax " in results["machine"]
    assert set(results["numbers"]) == {"float32", "float64"}
    for dtype, numbers in results["numbers"].items():
        assert len(numbers) == 22 and numbers["poisson fit converged"], numbers
        gaps = {k: v for k, v in numbers.items() if "θ32" in k}
        timings = {k: v for k, v in numbers.items() if k not in gaps}
        assert len(gaps) == 3
        assert all(math.isfinite(v) and v > 0 for v in timings.values()), timings
        if dtype == "float32":  # the float32 fits against the float64 ones
            assert all(0 <= v < 1e-3 for v in gaps.values()), gaps
        else:
            assert all(math.isnan(v) for v in gaps.values()), gaps
    assert "| 1000 logistic fits (s) |" in table and "| minibatch / bound |" in table
    assert "| 1000 logistic fits: speed-up over statsmodels |" in table


@pytest.mark.slow
@pytest.mark.parametrize("script, args", [
    ("bench_fit.py", ["--rows", "3000", "--cols", "5", "--skip", "statsmodels"]),
    ("bench_fit.py", ["--family", "logistic", "--rows", "3000", "--cols", "5"]),
    ("bench_many.py", ["--fits", "20", "--chunk-sizes", "5", "20"]),
    ("bench_nb_genes.py", ["--genes", "8", "--cells", "200", "--statsmodels-genes", "2"]),
    ("bench_score.py", ["--rows", "5000", "--cols", "10"]),
    ("bench_minibatch.py", ["--rows", "40000", "--cols", "10", "--batch", "1024",
                            "--epochs", "2", "--rounds", "1"]),
    ("bench_compile.py", ["--rows", "2000", "--cols", "5", "--runs", "1"]),
    ("float32_accuracy.py", ["--rows", "500", "--tols", "1e-13"]),
    ("bench_insurance.py", ["--rows", "20000", "--rounds", "1", "--memory-runs", "1",
                           "--high-rows", "3000", "--high-levels", "2000"]),
])
def test_a_benchmark_runs_at_a_toy_size(script, args):
    if script == "bench_fit.py" and importlib.util.find_spec("glmax") is None:
        args = [*args, "--skip", "glmax"] if "--skip" not in args else [*args, "glmax"]
    table = run(script, *args)
    assert "|---|" in table and "nan" not in table.lower()


@pytest.mark.slow
def test_the_scaling_curves_are_plotted(tmp_path):
    run("bench_scaling.py", "--quick", "--out", str(tmp_path / "scaling.png"))
    assert (tmp_path / "scaling.png").stat().st_size > 10_000


@pytest.mark.slow
def test_the_chunked_benchmark_runs_at_a_toy_size(tmp_path):
    table = run("bench_chunked.py", "--rows", "300000", "--cols", "10", "--chunk-rows", "65536",
                "--dir", str(tmp_path / "data"))
    assert "IRLS pass median" in table and "subset check" in table
