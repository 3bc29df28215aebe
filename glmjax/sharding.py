"""Data-parallel fits: rows sharded over devices with JAX's own ``jax.sharding``.

``fit`` needs nothing special: given row-sharded X, y, weights and offset, the compiled
program keeps them sharded and XLA (GSPMD) turns every sum over rows, XᵀWX and Xᵀr, into a
per-device partial sum and an all-reduce. ``shard_rows`` does the placing.

Over several processes (hosts), after ``jax.distributed.initialize()``: every process calls
``shard_rows`` with its own rows and then ``fit`` with the same arguments; the data set is
the processes' rows in process order, and every process gets the whole result (the
coefficients and statistics are replicated; row-wise arrays such as fitted values stay
sharded). Tested with two processes of four CPU devices each (``tests/test_sharding.py``).
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

    The arrays hold this process's rows (``jax.make_array_from_process_local_data``): with one
    process all of them; with several, each process passes its own and the global array is
    their concatenation in process order. The rows must be divisible by the mesh's devices
    in this process. ``None`` passes through.

    Example:
        >>> import numpy as np, glmjax as gj
        >>> X, y = np.ones((8, 2)), np.arange(8.0)
        >>> Xs, ys = gj.shard_rows(X, y)
        >>> Xs.shape, ys.sharding.spec[0]
        ((8, 2), 'rows')
    """
    mesh = row_mesh() if mesh is None else mesh
    n_local = len(mesh.local_devices)
    placed = []
    for a in arrays:
        if a is None:
            placed.append(None)
            continue
        if np.ndim(a) == 0 or np.shape(a)[0] % n_local:
            raise ValueError(f"shard_rows: an array of shape {np.shape(a)} cannot be split "
                             f"by rows over this process's {n_local} devices of the mesh; "
                             "its number of rows must be a multiple of them.")
        spec = PartitionSpec("rows", *([None] * (np.ndim(a) - 1)))
        placed.append(jax.make_array_from_process_local_data(NamedSharding(mesh, spec), a))
    return tuple(placed)
