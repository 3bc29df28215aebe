"""Data-parallel fits: rows sharded over devices with JAX's own ``jax.sharding``.

``fit`` needs nothing special: given row-sharded X, y, weights and offset, the compiled
program keeps them sharded and XLA (GSPMD) turns every sum over rows, XᵀWX and Xᵀr, into a
per-device partial sum and an all-reduce. ``shard_rows`` does the placing.

Over several processes (hosts), after ``jax.distributed.initialize()``: every process calls
``shard_rows`` with its own rows and then ``fit`` with the same arguments; the data set is
the processes' rows in process order, and every process gets the whole result (the
coefficients and statistics are replicated; row-wise arrays such as fitted values stay
sharded). Tested with two processes of four CPU devices each (``tests/test_sharding.py``).

``fit_many`` takes stacked fits split over devices or processes (``shard_rows`` on arrays
whose leading axis is the fits): each device runs its share, and the per-fit results stay
split the same way (``jax.experimental.multihost_utils.process_allgather`` gathers them).
Responses of shape (B, m) sharing one row-sharded X are split along their rows with
``shard_rows(Y, axis=1)``. A bad value in any fit raises on every process, naming the fit.
"""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from jax.typing import ArrayLike


def row_mesh(devices=None) -> Mesh:
    """A one-axis mesh ("rows") over ``devices`` (default: every device of the process)."""
    return Mesh(np.asarray(jax.devices() if devices is None else devices), ("rows",))


def shard_rows(*arrays: ArrayLike | None, mesh: Mesh | None = None, axis: int = 0):
    """Place each array with its axis ``axis`` (default the first: the rows) split over the
    mesh's "rows" axis; ``axis=1`` for responses of shape (B, m) that share one X in
    ``fit_many``.

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
        if np.ndim(a) <= axis or np.shape(a)[axis] % n_local:
            raise ValueError(f"shard_rows: an array of shape {np.shape(a)} cannot be split "
                             f"along axis {axis} over this process's {n_local} devices of the "
                             "mesh; its length there must be a multiple of them.")
        spec = PartitionSpec(*([None] * axis), "rows", *([None] * (np.ndim(a) - axis - 1)))
        placed.append(jax.make_array_from_process_local_data(NamedSharding(mesh, spec), a))
    return tuple(placed)
