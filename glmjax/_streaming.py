"""Batches for the minibatch loop: from arrays in memory, memory-mapped ``.npy`` files or an
iterator, gathered on a background thread and placed on the device ahead of use.

A batch is a tuple (X, y, weights, offset) of ``batch_size`` rows; a short batch is padded
with rows of weight zero, so every batch has one shape and the step compiles once.
``steps_per_call`` batches are stacked into a group, the unit the device runs as one
``lax.scan``. Arrays are read in blocks of contiguous rows (one row, or a whole batch when
not shuffling): a batch is ``batch_size / block`` blocks, and an epoch a permutation of them.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from glmjax._row_blocks import clamped_block
from glmjax._transfer import aligned_empty

Batch = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def block_rows(batch_size: int, n_rows: int, shuffle_block: int) -> int:
    """Rows per block: ``shuffle_block`` (a divisor of ``batch_size``), or the largest divisor
    of ``batch_size`` that fits in ``n_rows`` when the data has fewer rows."""
    size = min(shuffle_block, n_rows)
    while batch_size % size:
        size -= 1
    return size


def epoch_blocks(n_rows: int, block: int, seed: int, epoch: int, shuffle: bool = True
                 ) -> np.ndarray:
    """The first rows of an epoch's blocks, rows [j·block, (j+1)·block), in the epoch's order:
    permuted by (seed, epoch) when ``shuffle``, so a resumed run sees the batches an
    uninterrupted one would. With ``block`` = 1 this is a permutation of the rows."""
    n_blocks = -(-n_rows // block)
    if not shuffle:
        return np.arange(n_blocks) * block
    return np.random.default_rng([seed, epoch]).permutation(n_blocks) * block


def index_groups(firsts: np.ndarray, block: int, n_rows: int, batch_size: int,
                 steps_per_call: int, start_batch: int = 0
                 ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(starts, valid) groups of shapes (k, batch_size/block) and (k, batch_size),
    k ≤ ``steps_per_call``: batch j is the blocks ``firsts[j·n : (j+1)·n]``, n = batch_size/
    block, from batch ``start_batch`` on, sorted (a memory map is read forwards).

    Every block has ``block`` rows: the last one (when ``block`` does not divide ``n_rows``)
    starts at n_rows − block, ``valid`` False on the rows it shares with the block before; a
    short last batch is padded with blocks that are not valid at all."""
    per_batch = batch_size // block
    n_batches = -(-firsts.shape[0] // per_batch)
    padded = np.full(n_batches * per_batch, n_rows)  # a padding block: no row is valid
    padded[: firsts.shape[0]] = firsts
    starts, valid = clamped_block(np.sort(padded.reshape(n_batches, per_batch), axis=1),
                                  n_rows, block)
    valid = valid.reshape(n_batches, -1)
    for first in range(start_batch, n_batches, steps_per_call):
        stop = min(first + steps_per_call, n_batches)
        yield starts[first:stop], valid[first:stop]


def gather(arrays: tuple, starts: np.ndarray, valid: np.ndarray, dtype=None) -> Batch:
    """The (X, y, weights, offset) rows of a group from host arrays (or memory maps): the blocks
    of ``valid.shape[-1] / starts.shape[-1]`` rows from ``starts``; weights zero where not
    ``valid``; X, weights and offset in ``dtype`` (None: their own; y keeps its own, labels
    stay integers). The results are aligned (``transfer.aligned_empty``): ``jax.device_put``
    on the CPU uses them in place instead of copying them slowly."""
    block = valid.shape[-1] // starts.shape[-1]

    def take(a, dtype):
        out = aligned_empty(valid.shape + a.shape[1:], a.dtype if dtype is None else dtype)
        flat = out.reshape((-1,) + a.shape[1:])
        if block != 1:  # a slice per block: a memory map is read in runs
            np.concatenate([a[s:s + block] for s in starts.ravel()], out=flat)
        elif out.dtype == a.dtype:
            np.take(a, starts.ravel(), axis=0, out=flat, mode="clip")  # "raise" buffers
        else:  # np.take writes only its own dtype
            flat[...] = np.take(a, starts.ravel(), axis=0, mode="clip")
        return out

    X, y, weights, offset = (take(a, None if k == 1 else dtype) for k, a in enumerate(arrays))
    np.copyto(weights, 0, where=~valid)
    return X, y, weights, offset


def iterator_batches(source: Iterable, batch_size: int, dtype) -> Iterator[Batch]:
    """Batches from an iterable yielding (X, y), (X, y, weights) or (X, y, weights, offset)
    tuples (or dicts with those keys) of at most ``batch_size`` rows."""
    first = None  # the first batch's shapes past the rows: every batch must have them
    for number, item in enumerate(source):
        if isinstance(item, dict):
            item = tuple(item.get(k) for k in ("X", "y", "weights", "offset"))
        if not isinstance(item, tuple | list) or not 2 <= len(item) <= 4:
            raise ValueError("an iterator must yield (X, y[, weights[, offset]]) tuples or "
                             f"dicts with those keys; got {type(item).__name__}.")
        X, y, weights, offset = (*item, None, None)[:4]
        X, y = np.asarray(X, dtype), np.asarray(y)
        m = X.shape[0]
        if X.ndim != 2 or m > batch_size:
            raise ValueError(f"a batch's X must be 2-D with at most batch_size={batch_size} "
                             f"rows; got shape {X.shape}.")
        weights = np.ones(m, dtype) if weights is None else np.asarray(weights, dtype)
        offset = np.zeros(m, dtype) if offset is None else np.asarray(offset, dtype)
        for name, a in (("y", y), ("weights", weights), ("offset", offset)):
            if a.ndim == 0 or a.shape[0] != m:
                raise ValueError(f"batch {number} of the iterator: {name} has shape {a.shape} "
                                 f"but X has {m} rows.")
        if first is None:
            first = X.shape[1:], y.shape[1:]
        elif (X.shape[1:], y.shape[1:]) != first:
            tail = "".join(f", {d}" for d in first[1])
            raise ValueError(f"batch {number} of the iterator has X of shape {X.shape} and y of "
                             f"shape {y.shape}; every batch must have the first one's columns: "
                             f"X (rows, {first[0][0]}) and y (rows{tail}).")
        yield pad((X, y, weights, offset), batch_size)


def pad(batch: Batch, batch_size: int) -> Batch:
    """Pad to ``batch_size`` rows by repeating the first row with weight zero."""
    missing = batch_size - batch[0].shape[0]
    if missing == 0:
        return batch
    X, y, weights, offset = batch
    fill = lambda a: np.concatenate([a, np.repeat(a[:1], missing, axis=0)])  # noqa: E731
    return fill(X), fill(y), np.concatenate([weights, np.zeros(missing, weights.dtype)]), \
        fill(offset)


def groups(batches: Iterator[Batch], steps_per_call: int) -> Iterator[Batch]:
    """Stack consecutive batches into groups of ``steps_per_call`` (the last may be short)."""
    group = []
    for batch in batches:
        group.append(batch)
        if len(group) == steps_per_call:
            yield tuple(np.stack(parts) for parts in zip(*group, strict=True))
            group = []
    if group:
        yield tuple(np.stack(parts) for parts in zip(*group, strict=True))


def prefetch(items: Iterator, place: Callable, depth: int) -> Iterator:
    """Run ``items`` and ``place`` (the transfer to the device) on a background thread,
    ``depth`` items ahead of the consumer; an exception there is raised here."""
    if depth <= 0:
        yield from (place(item) for item in items)
        return
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def work():
        try:
            for item in items:
                if stop.is_set():
                    return
                buffer.put(place(item))
            buffer.put(done)
        except BaseException as err:  # handed to the consumer
            buffer.put(err)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    try:
        while (item := buffer.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                buffer.get_nowait()
            except queue.Empty:
                thread.join(0.01)
