"""What the first call of ``fit`` compiles: code size per kernel and where the time goes.

    python benchmarks/bench_compile.py [--family poisson|logistic] [--rows 200000] [--cols 50]
                                       [--runs 3] [--top 15]

XLA's CPU compiler spends almost all of a program's compile time generating machine code for
its kernels (its HLO passes take a few tens of milliseconds); that time grows with the amount
of LLVM IR the kernels need. Wall-clock compile times on a shared machine vary by ±30% from
run to run, the IR does not, so this script reports both. In fresh processes it runs one
float64 fit with XLA's dump switched on and reports: tracing, lowering and XLA compilation
time (``jax.monitoring``), the first call's total, the number of kernels and the bytes of
optimised LLVM IR of ``fit``'s program, and the largest kernels with the glmjax source line
each comes from.
"""

from __future__ import annotations

import argparse
import collections
import glob
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import textwrap

from _common import machine

CHILD = """
import json, time
import numpy as np
rng = np.random.default_rng(0)
X = np.column_stack([np.ones({rows}), rng.normal(size=({rows}, {cols} - 1)) / np.sqrt({cols})])
eta = X @ (rng.normal(size={cols}) * 0.5)
y = (rng.poisson(np.exp(eta)) if "{family}" == "poisson"
     else (rng.uniform(size={rows}) < 1 / (1 + np.exp(-eta)))).astype(float)
import jax
jax.config.update("jax_enable_x64", True)
jax.config.update("jax_enable_compilation_cache", False)
events = {{}}
jax.monitoring.register_event_duration_secs_listener(
    lambda name, secs, **kw: events.__setitem__(name, events.get(name, 0.0) + secs))
import glmjax as gj
family = gj.families.Poisson() if "{family}" == "poisson" else gj.families.Bernoulli()
start = time.perf_counter()
gj.fit(X, y, family=family).params.block_until_ready()
events["first call"] = time.perf_counter() - start
print(json.dumps(events))
"""
STAGES = {"tracing": "/jax/core/compile/jaxpr_trace_duration",
          "lowering": "/jax/core/compile/jaxpr_to_mlir_module_duration",
          "XLA compilation": "/jax/core/compile/backend_compile_duration",
          "first call": "first call"}


def run_once(args, dump: str) -> dict:
    code = textwrap.dedent(CHILD).format(**vars(args))
    env = {**os.environ, "PYTHONWARNINGS": "ignore",
           "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} --xla_dump_to={dump}"}
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def kernel_sizes(dump: str) -> dict[str, int]:
    """Bytes of optimised LLVM IR per kernel (function) of the fit's program."""
    sizes = {}
    for path in glob.glob(os.path.join(dump, "*_fit_compiled*ir-with-opt.ll")):
        with open(path) as fh:
            text = fh.read()
        for body in re.split(r"(?m)^define ", text)[1:]:
            name = re.match(r"[^@]*@([\w.\-]+)", body).group(1)
            sizes[name.removesuffix("_kernel")] = len(body[: body.find("\n}\n")])
    return sizes


def sources(dump: str) -> tuple[dict[str, str], int]:
    """The innermost glmjax source line of each HLO instruction, and the number of fusions."""
    (path,) = glob.glob(os.path.join(dump, "*_fit_compiled.cpu_after_optimizations.txt"))
    with open(path) as fh:
        hlo = fh.read()

    def table(title: str) -> list[str]:
        match = re.search(title + r"\n(.*?)\n\n", hlo, re.S)
        return match.group(1).splitlines() if match else []

    def fields(line: str) -> dict[str, int]:
        return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line)}

    names = {int(line.split()[0]): line.split()[1].strip('"') for line in table("FileNames")}
    functions = {int(line.split()[0]): line.split()[1].strip('"')
                 for line in table("FunctionNames")}
    locations = {int(line.split()[0]): fields(line) for line in table("FileLocations")}
    frames = {int(line.split()[0]): fields(line) for line in table("StackFrames")}

    def innermost(frame: int) -> str:
        seen = set()
        while frame in frames and frame not in seen:
            seen.add(frame)
            loc = locations[frames[frame]["file_location_id"]]
            file = names[loc["file_name_id"]]
            if "glmjax" in file and "site-packages" not in file:
                function = functions[loc["function_name_id"]]
                return f"{file.split('glmjax/')[-1]}:{loc['line']} {function}"
            frame = frames[frame].get("parent_frame_id", 0)
        return "(XLA)"

    origin = {}
    for line in hlo.splitlines():
        match = re.match(r"\s*%(\S+) = .*?stack_frame_id=(\d+)", line)
        if match:
            origin[match.group(1)] = innermost(int(match.group(2)))
    return origin, len(re.findall(r" fusion\(", hlo))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", choices=["poisson", "logistic"], default="poisson")
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--cols", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()

    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.runs):
            runs.append(run_once(args, os.path.join(tmp, str(k))))
        dump = os.path.join(tmp, "0")
        sizes = kernel_sizes(dump)
        origin, n_fusions = sources(dump)

    print(f"# fit's first call, {args.family}, {args.rows} x {args.cols}, float64, "
          f"{args.runs} fresh processes")
    print(f"# {machine()}")
    print("| stage | seconds, each run | median |\n|---|---|---|")
    for label, key in STAGES.items():
        values = [run.get(key, float("nan")) for run in runs]
        print(f"| {label} | {', '.join(f'{v:.2f}' for v in values)} | "
              f"{statistics.median(values):.2f} |")
    print(f"\nfit's program: {len(sizes)} kernels, {n_fusions} fusions, "
          f"{sum(sizes.values()) / 1000:.0f} kB of optimised LLVM IR.")
    by_source = collections.Counter()
    for name, size in sizes.items():
        by_source[origin.get(name, "(XLA)")] += size
    print("\n| kB of IR | kernels' innermost glmjax source |\n|---|---|")
    for source, size in by_source.most_common(args.top):
        print(f"| {size / 1000:.1f} | {source} |")


if __name__ == "__main__":
    main()
