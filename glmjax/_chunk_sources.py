"""Where ``fit_chunked`` reads its rows: arrays and ``.npy`` memory maps, Parquet files through
a formula, or a callable returning an iterator of chunks.

Every source yields ``Chunk``s: (X, y, weights, offset) host arrays whose rows past
``n_rows`` are padding (copies of the first row with weight 0), so that chunks come in few
shapes and each compiles once, and that know how to name one of their rows in an error
message (file and row); with ``groups``, each chunk also carries its rows' cluster labels.
The arrays are aligned (``transfer.aligned_empty``): on the CPU ``jax.device_put`` then uses
them without a copy, and filling them is the one read of the rows.
A full chunk of a row-major ``.npy`` X or y in its dtype is not read at all: it is a window of
the file mapped for that chunk alone (``NpyFile.window``), which the device uses in place; its
pages are the file's cached pages, and the window is unmapped when the chunk is done.
"""

from __future__ import annotations

import mmap
import os
import re
from collections.abc import Callable, Iterator
from types import FrameType
from typing import NamedTuple

import jax
import numpy as np

from glmjax._formula_terms import add_offsets, formula_context, split_offsets
from glmjax._transfer import ALIGNMENT, aligned_empty, check_numeric
from glmjax.families import AbstractFamily

_NAMES = ("X", "y", "weights", "offset")


class Chunk(NamedTuple):
    """Rows of the data, padded to a fixed number of rows; ``where`` names the first row
    (``locate(r)`` the r-th), as "row 1200 of X.npy" or "row 17 of part-3.parquet";
    ``groups`` holds the cluster labels of the ``n_rows`` rows (not padded), or None."""

    X: np.ndarray
    y: np.ndarray
    weights: np.ndarray
    offset: np.ndarray
    n_rows: int
    first_row: int
    origin: str  # "of X.npy", "of part-3.parquet", "of chunk 4 of the iterator"
    groups: np.ndarray | None = None

    def locate(self, row: int) -> str:
        return f"row {self.first_row + row} {self.origin}"


def padded_size(n_rows: int, chunk_rows: int) -> int:
    """Rows of a chunk's arrays: ``chunk_rows`` for a full chunk, else the next power of two
    (at least 256): few shapes, little padding."""
    if n_rows >= chunk_rows:
        return n_rows
    return min(chunk_rows, max(256, 1 << (n_rows - 1).bit_length()))


def make_chunk(arrays, n_rows: int, size: int, dtype, first_row: int, origin: str,
               groups=None) -> Chunk:
    """A ``Chunk`` of ``size`` rows from (X, y, weights or None, offset or None) holding
    ``n_rows`` rows each, and their cluster labels ``groups`` (or None); y keeps an integer
    type (labels), the rest become ``dtype``."""
    X, y, weights, offset = arrays
    out = []
    for k, a in enumerate((X, y)):
        a_dtype = a.dtype if k == 1 and not np.issubdtype(a.dtype, np.floating) else dtype
        window = a.window(a_dtype) if isinstance(a, _FileRows) and n_rows == size else None
        if window is not None:
            out.append(window)
            continue
        buffer = aligned_empty((size,) + a.shape[1:], a_dtype)
        _fill(buffer[:n_rows], a)
        buffer[n_rows:] = buffer[:1]
        out.append(buffer)
    w = np.zeros(size, dtype)
    if weights is None:
        w[:n_rows] = 1.0
    else:
        _fill(w[:n_rows], weights)
    off = np.zeros(size, dtype)
    if offset is not None:
        _fill(off[:n_rows], offset)
    labels = None if groups is None else np.asarray(groups)
    return Chunk(*out, w, off, n_rows, first_row, origin, labels)


def _fill(out: np.ndarray, rows) -> None:
    """Write ``rows`` (an array, or ``NpyFile.rows``) into ``out``."""
    if isinstance(rows, _FileRows):
        rows.read_into(out)
    else:
        out[...] = rows


class NpyFile:
    """A ``.npy`` file read by rows: a window of the file mapped for those rows alone where
    the rows can be used as they are stored (``window``), else plain reads (``os.preadv``)
    into the caller's buffers. (One map of the whole file would keep every page read in the
    process's resident memory until the pass ends; a window holds one chunk's.)"""

    def __init__(self, path, name: str):
        path = os.fspath(path)
        if not os.path.exists(path):
            raise FileNotFoundError(f"the {name} file {path!r} does not exist.")
        mapped = np.load(path, mmap_mode="r")
        if not isinstance(mapped, np.memmap):
            raise ValueError(f"the {name} file {path!r} must hold one numeric array.")
        check_numeric(mapped[:0], name)
        self.path, self.shape, self.dtype, self.ndim = path, mapped.shape, mapped.dtype, mapped.ndim
        self.header = mapped.offset
        # column-major (np.save of a Fortran-ordered array): a chunk is one read per column
        self.by_columns = mapped.ndim == 2 and not mapped.flags.c_contiguous
        self.row_bytes = int(np.prod(mapped.shape[1:], dtype=np.int64)) * mapped.dtype.itemsize
        del mapped

    def rows(self, start: int, stop: int) -> _FileRows:
        return _FileRows(self, start, stop)


class _FileRows(NamedTuple):
    file: NpyFile
    start: int
    stop: int

    @property
    def dtype(self):
        return self.file.dtype

    @property
    def shape(self):
        return (self.stop - self.start,) + self.file.shape[1:]

    def window(self, dtype) -> np.ndarray | None:
        """The rows as a read-only array on a memory map of just their bytes, when they are
        stored as an array of ``dtype`` would hold them (row-major, native byte order) and
        start at a multiple of ``transfer.ALIGNMENT`` bytes (where the CPU device uses an
        array in place); else None. The map closes with the last array that uses it. The
        kernel is asked to read the pages ahead (``MADV_WILLNEED``): a file not in the page
        cache is read while the previous chunk is computed."""
        f = self.file
        start = f.header + self.start * f.row_bytes
        length = (self.stop - self.start) * f.row_bytes
        if (f.by_columns or f.dtype != dtype or not f.dtype.isnative or start % ALIGNMENT
                or length == 0 or os.path.getsize(f.path) < start + length):
            return None
        first = start - start % mmap.ALLOCATIONGRANULARITY
        with open(f.path, "rb") as handle:
            mapped = mmap.mmap(handle.fileno(), start - first + length, offset=first,
                               access=mmap.ACCESS_READ)
        if hasattr(mapped, "madvise") and hasattr(mmap, "MADV_WILLNEED"):
            mapped.madvise(mmap.MADV_WILLNEED)
        rows = np.frombuffer(mapped, f.dtype, length // f.dtype.itemsize, start - first)
        return rows.reshape(self.shape)

    def read_into(self, out: np.ndarray) -> None:
        f = self.file
        with open(f.path, "rb", buffering=0) as handle:
            if not f.by_columns:
                target = out if out.dtype == f.dtype else np.empty(out.shape, f.dtype)
                _read(handle, target, f.header + self.start * f.row_bytes, f.path)
                if target is not out:
                    out[...] = target
                return
            column = np.empty(self.stop - self.start, f.dtype)
            size = f.dtype.itemsize
            for j in range(f.shape[1]):
                _read(handle, column, f.header + (j * f.shape[0] + self.start) * size, f.path)
                out[:, j] = column


def _read(handle, target: np.ndarray, offset: int, path: str) -> None:
    """Fill the contiguous ``target`` with the file's bytes from ``offset`` on."""
    view = memoryview(target.reshape(-1).view(np.uint8))
    done = 0
    while done < view.nbytes:
        n = os.preadv(handle.fileno(), [view[done:]], offset + done)
        if n == 0:
            raise ValueError(f"{path!r} ends before its header says it does.")
        done += n


class ArraySource:
    """(X, y[, weights[, offset]]) arrays, memory maps or ``.npy`` paths, ``chunk_rows`` rows
    at a time; ``groups`` an array or ``.npy`` path of one cluster label per row, or None."""

    def __init__(self, arrays, chunk_rows: int, groups=None):
        if not 2 <= len(arrays) <= 4:
            raise ValueError("an array source is a tuple (X, y[, weights[, offset]]); got "
                             f"{len(arrays)} items.")
        arrays = (*arrays, None, None)[:4]
        self.paths = [os.fspath(a) if isinstance(a, str | os.PathLike) else None
                      for a in arrays]
        self.arrays = [None if a is None else NpyFile(a, name) if path else _load(a, name)
                       for a, name, path in zip(arrays, _NAMES, self.paths, strict=True)]
        X, y = self.arrays[:2]
        if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
            raise ValueError(f"X must be a 2-D (m, p) array with rows and columns; got shape "
                             f"{X.shape}.")
        for name, a in zip(_NAMES[1:], self.arrays[1:], strict=True):
            if a is not None and (a.ndim == 0 or a.shape[0] != X.shape[0]):
                raise ValueError(f"{name} has shape {a.shape} but X has {X.shape[0]} rows.")
        for name, a in zip(_NAMES[2:], self.arrays[2:], strict=True):
            if a is not None and a.ndim != 1:
                raise ValueError(f"{name} must have shape ({X.shape[0]},); got {a.shape}.")
        if isinstance(groups, str | os.PathLike):
            if not os.path.exists(groups):
                raise FileNotFoundError(f"the groups file {os.fspath(groups)!r} does not exist.")
            groups = np.load(groups, mmap_mode="r")
        if groups is not None:
            groups = groups if isinstance(groups, np.ndarray) else np.asarray(groups)
            if groups.shape != X.shape[:1]:
                raise ValueError(f"groups must have shape ({X.shape[0]},), one label per row of "
                                 f"X; got {groups.shape}.")
        self.groups = groups
        self.chunk_rows = chunk_rows
        self.n_rows, self.n_columns = X.shape
        self.dtype = _float_dtype(X.dtype)
        self.y_shape = y.shape[1:]
        self.feature_names = None
        files = [f"{name} = {path}" for name, path in zip(_NAMES, self.paths, strict=True)
                 if path is not None]
        self.origin = f"(files: {', '.join(files)})" if files else "of the arrays"

    def chunks(self) -> Iterator[Chunk]:
        size = self.chunk_rows
        for start in range(0, self.n_rows, size):
            stop = min(start + size, self.n_rows)
            rows = [None if a is None else a.rows(start, stop) if isinstance(a, NpyFile)
                    else a[start:stop] for a in self.arrays]
            groups = None if self.groups is None else self.groups[start:stop]
            yield make_chunk(rows, stop - start, padded_size(stop - start, size), self.dtype,
                             start, self.origin, groups)


class CallableSource:
    """A callable returning an iterable of (X, y[, weights[, offset]]) tuples or dicts, called
    once per pass; every chunk must have the first one's columns. With ``groups`` (a key), the
    chunks are dicts that hold their rows' cluster labels under that key."""

    def __init__(self, make: Callable, chunk_rows: int, groups: str | None = None):
        self.make, self.chunk_rows, self.groups = make, chunk_rows, groups
        first = next(iter(self._items()), None)
        if first is None:
            raise ValueError("the source gave no chunks (no rows to fit).")
        X, y = first[0][:2]
        self.n_rows, self.n_columns, self.dtype = None, X.shape[1], _float_dtype(X.dtype)
        self.y_shape, self.columns = y.shape[1:], (X.shape[1:], y.shape[1:])
        self.feature_names = None

    def _items(self):
        items = self.make()
        if not hasattr(items, "__iter__"):
            raise TypeError("a callable source must return an iterable of chunks; got "
                            f"{type(items).__name__}.")
        for number, item in enumerate(items):
            labels = None
            if self.groups is not None:
                if not isinstance(item, dict) or self.groups not in item:
                    raise ValueError(f"chunk {number} of the source has no cluster labels: with "
                                     f"groups={self.groups!r}, yield dicts holding them under "
                                     "that key.")
                labels = np.asarray(item[self.groups])
            if isinstance(item, dict):
                item = tuple(item.get(k) for k in _NAMES)
            if not isinstance(item, tuple | list) or not 2 <= len(item) <= 4:
                raise ValueError("a callable source must yield (X, y[, weights[, offset]]) "
                                 f"tuples or dicts with those keys; got {type(item).__name__}.")
            arrays = [None if a is None else check_numeric(np.asarray(a), name)
                      for a, name in zip((*item, None, None)[:4], _NAMES, strict=True)]
            X = arrays[0]
            if X.ndim != 2:
                raise ValueError(f"chunk {number} of the source: X must be 2-D; got shape "
                                 f"{X.shape}.")
            if X.shape[0] == 0:
                raise ValueError(f"chunk {number} of the source has no rows: yield only "
                                 "chunks with rows.")
            for name, a in zip(_NAMES[1:], arrays[1:], strict=True):
                if a is not None and (a.ndim == 0 or a.shape[0] != X.shape[0]):
                    raise ValueError(f"chunk {number} of the source: {name} has shape "
                                     f"{a.shape} but X has {X.shape[0]} rows.")
            if labels is not None and labels.shape != X.shape[:1]:
                raise ValueError(f"chunk {number} of the source: groups has shape "
                                 f"{labels.shape}; it needs one label for each of its "
                                 f"{X.shape[0]} rows.")
            yield arrays, labels, number

    def chunks(self) -> Iterator[Chunk]:
        for arrays, labels, number in self._items():
            X, y = arrays[:2]
            if (X.shape[1:], y.shape[1:]) != self.columns:
                raise ValueError(f"chunk {number} of the source has X of shape {X.shape} and y "
                                 f"of shape {y.shape}; every chunk must have the first one's "
                                 f"columns: X (rows, {self.columns[0][0]}) and y (rows"
                                 f"{''.join(f', {d}' for d in self.columns[1])}).")
            n = X.shape[0]
            yield make_chunk(arrays, n, padded_size(n, self.chunk_rows), self.dtype, 0,
                             f"of chunk {number} of the source", labels)


class ParquetSource:
    """A Parquet file, or a directory of them, through a formula: pyarrow reads only the
    columns the formula (and ``weights``, ``offset``, ``groups``) names, file by file in
    batches of at most ``chunk_rows`` rows. The levels of categorical columns (strings, booleans,
    dictionaries, and columns in ``C(...)``) are those of the whole data set, read first, so
    every chunk is encoded with the same columns."""

    def __init__(self, path, formula: str, weights: str | None, offset: str | None,
                 chunk_rows: int, family: AbstractFamily, groups: str | None = None,
                 caller: FrameType | None = None):
        import pyarrow.dataset as ds
        from formulaic import Formula

        path = os.fspath(path)
        if not os.path.exists(path):
            raise FileNotFoundError(f"the Parquet source {path!r} does not exist.")
        if not isinstance(formula, str) or "~" not in formula:
            raise ValueError("a Parquet source needs formula='response ~ terms'; got "
                             f"{formula!r}.")
        self.dataset = ds.dataset(path, format="parquet")
        self.family, self.chunk_rows = family, chunk_rows
        self.formula, self.offset_terms = split_offsets(formula)  # R's offset(...) terms
        schema = self.dataset.schema
        self.context = formula_context(formula, schema.names, caller)
        in_formula = set(Formula(self.formula).required_variables)
        if self.offset_terms is not None:
            in_formula |= set(Formula(self.offset_terms).required_variables)
        named = [c for c in (weights, offset, groups) if c is not None]
        wanted = in_formula | set(named)
        missing = sorted(c for c in named if c not in schema.names)
        if missing:
            raise ValueError(f"column {missing[0]!r} is not in the Parquet data (columns: "
                             f"{', '.join(schema.names)}).")
        self.columns = [c for c in schema.names if c in wanted]
        self.weights, self.offset, self.groups = weights, offset, groups
        in_c = set(re.findall(r"C\(\s*([A-Za-z_]\w*)", formula))
        self.categorical = [c for c in self.columns if c in in_formula and (
            c in in_c or _is_categorical(schema.field(c).type))]
        self.levels = self._levels()
        self.n_rows = self.dataset.count_rows()
        first = next(self._frames(), None)
        if first is None:
            raise ValueError(f"the Parquet source {path!r} has no rows.")
        frame, _, _ = first
        X, y, _, self.specs = self._encode(frame, None)
        self.n_columns, self.y_shape = X.shape[1], y.shape[1:]
        self.dtype = _float_dtype(np.float64)
        self.feature_names = tuple("(Intercept)" if n == "Intercept" else str(n)
                                   for n in self._rhs_names)

    def _levels(self) -> dict:
        import pyarrow.compute as pc

        levels: dict = {c: set() for c in self.categorical}
        if not levels:
            return {}
        for batch in self.dataset.to_batches(columns=self.categorical):
            for c in self.categorical:
                levels[c].update(v for v in pc.unique(batch.column(c)).to_pylist()
                                 if v is not None)
        return {c: sorted(v) for c, v in levels.items()}

    def _frames(self):
        for fragment in self.dataset.get_fragments():
            start = 0
            for batch in fragment.to_batches(columns=self.columns, batch_size=self.chunk_rows):
                if batch.num_rows == 0:
                    continue
                frame = batch.to_pandas()
                for c, levels in self.levels.items():
                    frame[c] = frame[c].astype(_categorical_dtype(levels))
                yield frame, start, f"of {fragment.path}"
                start += batch.num_rows

    def _encode(self, frame, specs):
        """(X, y, the sum of the formula's offset terms or None, (lhs spec, rhs spec, offset
        spec or None)) of a frame: the first frame builds the specs."""
        from formulaic import model_matrix

        if specs is None:
            lhs, rhs = model_matrix(self.formula, frame, context=self.context,
                                    na_action="ignore")
            self._rhs_names = list(rhs.columns)
            offsets = None if self.offset_terms is None else model_matrix(
                self.offset_terms, frame, context=self.context, na_action="ignore")
            specs = (lhs.model_spec, rhs.model_spec,
                     None if offsets is None else offsets.model_spec)
        else:
            lhs, rhs, offsets = (None if s is None else s.get_model_matrix(
                frame, context=self.context, na_action="ignore") for s in specs)
        y = self.family.response_from_columns(np.asarray(lhs, float), list(lhs.columns))
        offsets = None if offsets is None else np.asarray(offsets, float)[:, 0]
        return np.asarray(rhs, float), np.asarray(y), offsets, specs

    def chunks(self) -> Iterator[Chunk]:
        for frame, start, origin in self._frames():
            X, y, offset, _ = self._encode(frame, self.specs)
            weights = None if self.weights is None else frame[self.weights].to_numpy(float)
            column = None if self.offset is None else frame[self.offset].to_numpy(float)
            offset = add_offsets(offset, column)
            groups = None if self.groups is None else frame[self.groups].to_numpy()
            n = X.shape[0]
            yield make_chunk((X, y, weights, offset), n, padded_size(n, self.chunk_rows),
                             self.dtype, start, origin, groups)


def as_source(source, chunk_rows: int, formula, weights, offset, family: AbstractFamily,
              groups=None, caller: FrameType | None = None):
    """The source of ``fit_chunked``'s ``source`` argument (see there); ``caller`` is the
    frame where a formula was written (``_formula.formula_context``)."""
    if isinstance(source, str | os.PathLike):
        _require_name(groups, "a column of the Parquet data")
        return ParquetSource(source, formula, weights, offset, chunk_rows, family, groups,
                             caller)
    if formula is not None or weights is not None or offset is not None:
        raise ValueError("formula, weights and offset (column names) are for a Parquet "
                         "source; pass weights and offset of arrays in the source's tuple.")
    if callable(source):
        _require_name(groups, "the key of the labels in the source's chunk dicts")
        return CallableSource(source, chunk_rows, groups)
    if isinstance(source, tuple | list):
        return ArraySource(tuple(source), chunk_rows, groups)
    raise TypeError("source must be a tuple (X, y[, weights[, offset]]) of arrays or .npy "
                    "paths, the path of Parquet data, or a callable returning an iterable of "
                    f"chunks; got {type(source).__name__}.")


def _require_name(groups, what: str) -> None:
    if groups is not None and not isinstance(groups, str):
        raise TypeError(f"groups must name {what}; got {type(groups).__name__}.")


def _load(a, name: str) -> np.ndarray:
    if isinstance(a, jax.Array):
        return np.asarray(a)
    return check_numeric(a if isinstance(a, np.ndarray) else np.asarray(a), name)


def _float_dtype(dtype) -> np.dtype:
    """X's float type in the fit: float32 stays, float64 unless x64 is off, ints → default."""
    if np.issubdtype(dtype, np.floating) and np.dtype(dtype).itemsize >= 4:
        return np.dtype(jax.dtypes.canonicalize_dtype(dtype))
    return np.dtype(jax.dtypes.canonicalize_dtype(float))


def _is_categorical(arrow_type) -> bool:
    import pyarrow as pa

    return (pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type)
            or pa.types.is_dictionary(arrow_type) or pa.types.is_boolean(arrow_type))


def _categorical_dtype(levels):
    import pandas as pd

    return pd.CategoricalDtype(levels)
