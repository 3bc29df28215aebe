"""Batches for the minibatch loop: from arrays in memory, memory-mapped ``.npy`` files or an
iterator, gathered on a background thread and placed on the device ahead of use.

A batch is a tuple (X, y, weights, offset) of ``batch_size`` rows; a short batch is padded
with rows of weight zero, so every batch has one shape and the step compiles once.
``steps_per_call`` batches are stacked into a group, the unit the device runs as one
``lax.scan``.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator

import numpy as np

Batch = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def epoch_order(n_rows: int, seed: int, epoch: int, shuffle: bool = True) -> np.ndarray:
    """The row order of one epoch: a permutation fixed by (seed, epoch), so a resumed run
    sees the batches an uninterrupted one would."""
    if not shuffle:
        return np.arange(n_rows)
    return np.random.default_rng([seed, epoch]).permutation(n_rows)


def index_groups(order: np.ndarray, batch_size: int, steps_per_call: int,
                 start_batch: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(rows, valid) groups of shape (k, batch_size), k ≤ ``steps_per_call``, over the batches
    ``order[j·b : (j+1)·b]`` from batch ``start_batch`` on. Rows are sorted within a batch (a
    memory map is read forwards); a short last batch is padded, with ``valid`` False there.
    """
    n_full, rest = divmod(order.shape[0], batch_size)
    rows = [np.sort(order[: n_full * batch_size].reshape(n_full, batch_size), axis=1)]
    valid = [np.ones((n_full, batch_size), bool)]
    if rest:
        tail = np.full(batch_size - rest, order[0])
        rows.append(np.concatenate([np.sort(order[n_full * batch_size:]), tail])[None])
        valid.append((np.arange(batch_size) < rest)[None])
    rows, valid = np.concatenate(rows), np.concatenate(valid)
    n_batches = rows.shape[0]
    for start in range(start_batch, n_batches, steps_per_call):
        stop = min(start + steps_per_call, n_batches)
        yield rows[start:stop], valid[start:stop]


def gather(arrays: tuple, rows: np.ndarray, valid: np.ndarray) -> Batch:
    """The (X, y, weights, offset) rows of a group from host arrays (or memory maps); the
    weights of padding rows are zero."""
    flat = rows.ravel()
    X, y, weights, offset = (np.asarray(a[flat]).reshape(rows.shape + a.shape[1:])
                             for a in arrays)
    return X, y, np.where(valid, weights, 0).astype(weights.dtype), offset


def iterator_batches(source: Iterable, batch_size: int, dtype) -> Iterator[Batch]:
    """Batches from an iterable yielding (X, y), (X, y, weights) or (X, y, weights, offset)
    tuples (or dicts with those keys) of at most ``batch_size`` rows."""
    for item in source:
        if isinstance(item, dict):
            item = tuple(item.get(k) for k in ("X", "y", "weights", "offset"))
        if not isinstance(item, tuple | list) or not 2 <= len(item) <= 4:
            raise ValueError("an iterator must yield (X, y[, weights[, offset]]) tuples or "
                             f"dicts with those keys; got {type(item).__name__}.")
        X, y, weights, offset = (*item, None, None)[:4]
        X = np.asarray(X, dtype)
        m = X.shape[0]
        if X.ndim != 2 or m > batch_size:
            raise ValueError(f"a batch's X must be 2-D with at most batch_size={batch_size} "
                             f"rows; got shape {X.shape}.")
        weights = np.ones(m, dtype) if weights is None else np.asarray(weights, dtype)
        offset = np.zeros(m, dtype) if offset is None else np.asarray(offset, dtype)
        yield pad((X, np.asarray(y), weights, offset), batch_size)


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
