"""Data-parallel fits: rows sharded over devices with JAX's own ``jax.sharding``.

``fit`` needs nothing special: given row-sharded X, y, weights and offset, the compiled
program keeps them sharded and XLA (GSPMD) turns every sum over rows, XᵀWX and Xᵀr, into a
per-device partial sum and an all-reduce. ``shard_rows`` does the placing.
"""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from jax.typing import ArrayLike


def row_mesh(devices=None) -> Mesh:
    """A one-axis mesh ("rows") over ``devices`` (default: every device of the process)."""
    return Mesh(np.asarray(jax.devices() if devices is None else devices), ("rows",))


def shard_rows(*arrays: ArrayLike | None, mesh: Mesh | None = None):
    """Place each array with its first axis (the rows) split over the mesh's "rows" axis.

    The number of rows must be divisible by the number of devices. ``None`` passes through.

    Example:
        >>> import numpy as np, glmjax as gj
        >>> X, y = np.ones((8, 2)), np.arange(8.0)
        >>> Xs, ys = gj.shard_rows(X, y)
        >>> Xs.shape, ys.sharding.spec[0]
        ((8, 2), 'rows')
    """
    mesh = row_mesh() if mesh is None else mesh
    placed = []
    for a in arrays:
        if a is None:
            placed.append(None)
            continue
        spec = PartitionSpec("rows", *([None] * (np.ndim(a) - 1)))
        placed.append(jax.device_put(a, NamedSharding(mesh, spec)))
    return tuple(placed)
