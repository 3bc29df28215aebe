"""``python -m glmjax``: the main job, a Poisson regression of physician visits (RAND HIE).

With arguments it is the ``glmjax`` command (``python -m glmjax fit data.csv ...``).
"""

from __future__ import annotations

import sys
import time

import jax

import glmjax as gj


def main() -> None:
    jax.config.update("jax_enable_x64", True)  # this program's own setting, not the library's
    data = gj.datasets.load_randhie()
    start = time.perf_counter()
    res = gj.fit(data.X, data.y, family=gj.families.Poisson(), feature_names=data.feature_names)
    res.params.block_until_ready()
    seconds = time.perf_counter() - start
    print(f"{data.description}: {data.response_name} ~ {' + '.join(data.feature_names[1:])}")
    print(f"{data.X.shape[0]} observations, fitted in {seconds:.2f} s (compilation included)\n")
    print(res.summary())


if __name__ == "__main__":
    if len(sys.argv) > 1:
        from glmjax.cli import main as cli

        sys.exit(cli())
    main()
