"""Design matrices that are not dense arrays: categorical and sparse columns beside dense ones.

``Design`` is X = [D | S]: a dense block D (m, p_d) and a sparse block S (m, p_s) stored row
by row in ELLPACK form, row i holding ``values[i, k]`` in column ``index[i, k]`` of S for its
k = 0 … n_slots − 1 entries (index p_s: no entry). A categorical column with K levels is
one slot: its integer code is the index and its value 1, never a dense one-hot block (a
design of categoricals alone stores no values, and its index in the narrowest integer type
that holds p_s); a scipy.sparse matrix's sparse columns are as many slots as its fullest
row has entries. Every
product a fit needs is then a sum over rows:

.. math::
    Xθ = Dθ_D + \\sum_k v_{·k}\\, θ_S[j_{·k}],\\qquad
    (X^\\top R)_S = \\mathrm{segment\\_sum}_k(v_{·k} R,\\, j_{·k}),

and the information XᵀWX has the blocks DᵀWD (BLAS's syrk for a tall D), SᵀWD (a segment
sum of rows of D) and SᵀWS (a segment sum over pairs of slots; diagonal for one categorical).
A ``Design`` is a pytree whose leaves have one row per observation, so the fits slice,
batch and differentiate it like a dense X.

Example:
    >>> import numpy as np, glmjax as gj
    >>> X = gj.Design.from_columns(dense={"(Intercept)": np.ones(4), "x": [0.0, 1, 2, 3]},
    ...                            categorical={"g": ["a", "b", "b", "c"]})
    >>> X.shape, X.names
    ((4, 4), ('(Intercept)', 'x', 'g[b]', 'g[c]'))
    >>> X.todense()[:, 2:].tolist()
    [[0.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from glmjax._information import BlockInformation
from glmjax._row_blocks import gram as dense_gram
from glmjax._row_blocks import transposed_product

STRUCTURED_LEVELS = 1024  # columns of a diagonal SᵀWS from which XᵀWX is kept in blocks


class Design(eqx.Module):
    """X = [dense | sparse] with the sparse columns in ELLPACK form (see the module).

    Build one with ``from_columns`` (dense and categorical columns, named), ``from_matrix`` (a
    scipy.sparse matrix, a JAX ``BCOO`` or an array: its columns split into dense and sparse
    ones by their share of non-zeros) or ``from_frame`` (a pandas or polars data frame whose
    categorical and string columns become categoricals). ``names`` and ``levels`` say what
    each column is; ``layout`` encodes new rows for ``predict`` the same way.
    """

    dense: Array  # (m, p_d)
    index: Array  # (m, n_slots) integers: columns of the sparse block, n_sparse for none
    values: Array | None  # (m, n_slots); None: every entry 1 (categoricals)
    n_sparse: int = eqx.field(static=True)
    names: tuple[str, ...] = eqx.field(static=True)  # the columns: dense ones, then sparse
    layout: Layout | None = eqx.field(static=True, default=None)
    # XᵀWX in blocks (``_information``): set by ``fit`` for one large categorical
    structured: bool = eqx.field(static=True, default=False)

    # ---- what the fits read ----------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        return self.dense.shape[0], self.dense.shape[1] + self.n_sparse

    @property
    def ndim(self) -> int:
        return 2

    @property
    def dtype(self):
        return self.dense.dtype

    @property
    def n_dense(self) -> int:
        return self.dense.shape[1]

    @property
    def entries(self) -> Array:
        """The sparse block's entries (m, n_slots): ``values``, or ones (fused into the
        products that read them, never stored) for categoricals."""
        if self.values is None:
            return jnp.ones(self.index.shape, self.dtype)
        return self.values

    def __matmul__(self, theta: Array) -> Array:
        """Xθ for θ of shape (p,) or (p, q)."""
        p_d = self.n_dense
        sparse = jnp.concatenate([theta[p_d:], jnp.zeros((1,) + theta.shape[1:], theta.dtype)])

        def add(k, out):
            column, v = self._slot(k)
            return out + (v if theta.ndim == 1 else v[:, None]) * sparse[column]

        return _loop(self.index.shape[1], add, self.dense @ theta[:p_d])

    def transposed_product(self, R: Array) -> Array:
        """XᵀR for R of shape (m, k): (p, k)."""
        top = transposed_product(self.dense, R) if self.n_dense else jnp.zeros((0, R.shape[1]),
                                                                                R.dtype)
        return jnp.concatenate([top, self._segment(lambda v: v[:, None] * R)])

    @property
    def large_diagonal_block(self) -> bool:
        """Whether SᵀWS is diagonal (one slot: at most one sparse entry per row, as one
        categorical, however coded) with at least ``STRUCTURED_LEVELS`` columns: ``fit``
        then keeps XᵀWX in blocks (``structured``, ``_information``)."""
        return self.index.shape[1] == 1 and self.n_sparse >= STRUCTURED_LEVELS

    def gram(self, W: Array, R: Array | None = None):
        """XᵀWX for W of shape (m,) (p, p), or (m, q, q) ((p·q, p·q), ordered (j, a)); with R
        (m, k) also XᵀR. A ``structured`` design with W of shape (m,) returns a
        ``BlockInformation`` (DᵀWD, SᵀWD, the diagonal SᵀWS) instead."""
        m, p_d, p_s = self.shape[0], self.n_dense, self.n_sparse
        scalar = W.ndim == 1
        if self.structured and scalar:
            dd = dense_gram(self.dense, W) if p_d else jnp.zeros((0, 0), W.dtype)
            info = BlockInformation(dd, self._segment(lambda v: (v * W)[:, None] * self.dense),
                                    self._segment(lambda v: v**2 * W))
            return info if R is None else (info, self.transposed_product(R.reshape(m, -1)))
        Wc = W.reshape(m, -1)  # (m, c): c = q² channels
        q = 1 if scalar else W.shape[1]
        dd = dense_gram(self.dense, W) if p_d else jnp.zeros((0, 0), W.dtype)
        dd = dd.reshape(p_d, q, p_d, q)
        # SᵀWD: rows of D times v·W summed into the sparse columns, per channel
        sd = self._segment(lambda v: (v[:, None] * Wc)[:, :, None]
                           * self.dense[:, None, :])  # (p_s, c, p_d)
        sd = sd.reshape(p_s, q, q, p_d).transpose(0, 1, 3, 2)  # [s, a, j, b]
        ss = self._pairs(Wc).reshape(p_s, p_s, q, q).transpose(0, 2, 1, 3)  # [s, a, t, b]
        top = jnp.concatenate([dd, sd.transpose(2, 3, 0, 1)], axis=2)  # [j, a, ·, b]
        bottom = jnp.concatenate([sd, ss], axis=2)
        G = jnp.concatenate([top, bottom], axis=0).reshape((p_d + p_s) * q, (p_d + p_s) * q)
        return G if R is None else (G, self.transposed_product(R.reshape(m, -1)))

    def _slot(self, k) -> tuple[Array, Array]:
        """(sparse column, entry) of every row in slot k (``k`` may be traced): (m,) each."""
        column = jax.lax.dynamic_index_in_dim(self.index, k, axis=1, keepdims=False)
        entry = jnp.ones(column.shape, self.dtype) if self.values is None else \
            jax.lax.dynamic_index_in_dim(self.values, k, axis=1, keepdims=False)
        return column.astype(jnp.int32), entry

    def _segment(self, term) -> Array:
        """Σ over rows i and slots k of ``term(v)[i]`` into sparse column index[i, k], where
        v = (entries[i, k])ᵢ: a scatter-add per slot into one accumulator, so that no
        (m, slots, …) array is ever formed."""
        shape = jax.eval_shape(term, jax.ShapeDtypeStruct(self.index.shape[:1], self.dtype))

        def add(k, total):
            column, v = self._slot(k)
            return total.at[column].add(term(v))

        total = jnp.zeros((self.n_sparse + 1,) + shape.shape[1:], shape.dtype)
        return _loop(self.index.shape[1], add, total)[: self.n_sparse]

    def _pairs(self, Wc: Array) -> Array:
        """SᵀWS per channel: (p_s, p_s, c). The diagonal pairs (k, k) of every row's slots
        add into the diagonal, a segment sum into p_s columns; each pair (k, l > k) of slots
        adds into entry (index[·, k], index[·, l]) of a (p_s + 1)² accumulator (the pair
        (l, k) is its transpose)."""
        n, c = self.n_sparse + 1, Wc.shape[1]
        diagonal = self._segment(lambda v: v[:, None] ** 2 * Wc)  # (p_s, c)
        first, second = (jnp.asarray(a, jnp.int32)
                         for a in np.triu_indices(self.index.shape[1], 1))

        def add(pair, upper):
            (ck, vk), (cl, vl) = self._slot(first[pair]), self._slot(second[pair])
            return upper.at[ck * n + cl].add((vk * vl)[:, None] * Wc)

        upper = _loop(first.shape[0], add, jnp.zeros((n * n, c), Wc.dtype))
        upper = upper.reshape(n, n, c)[:-1, :-1]
        both = upper + upper.transpose(1, 0, 2)
        p_s = n - 1
        return both.at[jnp.arange(p_s), jnp.arange(p_s)].add(diagonal)

    def block_rows(self, width: int = 1) -> int:
        """Rows per block (``row_blocks.sum_over_blocks``) so that a block's products (its
        (rows, slots, q², p_d) and (rows, slot pairs, q²) terms) take about 16 MiB: a power
        of two, 4,096 to 65,536 (``width``: q linear predictors per row). Longer blocks
        would cost memory, shorter ones time (each clears a p_s² accumulator). A ``structured``
        design is one block (0): its accumulators have K rows, and clearing and adding them
        per block cost more than the blocks save (1,000,000 rows, K = 900,000: 2.7 → 2.2 s
        for a fit)."""
        if self.structured:
            return 0
        slots, c = self.index.shape[1], width * width
        row_bytes = self.dtype.itemsize * (self.n_dense * width + slots * (2 + c * (
            self.n_dense + 1)) + slots * (slots - 1) // 2 * (c + 1))
        rows = max((16 << 20) // max(row_bytes, 1), 1)
        return int(min(max(4096, 1 << (rows.bit_length() - 1)), 65536))

    def column_summary(self) -> tuple[Array, Array, Array]:
        """(any entry not finite, which columns are not constant, each column's value in row
        0): what ``checks.scan`` reads of a dense X."""
        first = self.todense_row(0)
        finite = jnp.all(jnp.isfinite(self.values)) if self.values is not None else True
        nonfinite = ~(jnp.all(jnp.isfinite(self.dense)) & finite)
        dense_differ = jnp.sum(jnp.abs(self.dense - self.dense[:1]), 0) != 0
        m = self.shape[0]
        present = self._segment(jnp.ones_like)
        high = self._segment(lambda v: v) / jnp.maximum(present, 1)
        low_sq = self._segment(lambda v: v**2) / jnp.maximum(present, 1)
        constant = (present == 0) | ((present == m) & (low_sq == high**2))
        return nonfinite, jnp.concatenate([dense_differ, ~constant]), first

    def todense_row(self, i: int) -> Array:
        """Row i of X, dense."""
        column = self.index[i].astype(jnp.int32)
        row = jnp.zeros(self.n_sparse + 1, self.dtype).at[column].add(self.entries[i])
        return jnp.concatenate([self.dense[i], row[:-1]])

    def todense(self) -> np.ndarray:
        """X as a dense NumPy array (for small designs: checks, tests)."""
        m = self.shape[0]
        sparse = np.zeros((m, self.n_sparse + 1), self.dtype)
        rows = np.repeat(np.arange(m), self.index.shape[1])
        np.add.at(sparse, (rows, np.asarray(self.index).ravel()),
                  np.asarray(self.entries).ravel())
        return np.concatenate([np.asarray(self.dense), sparse[:, :-1]], axis=1)

    def astype(self, dtype) -> Design:
        cast = eqx.tree_at(lambda d: d.dense, self, self.dense.astype(dtype))
        if self.values is None:
            return cast
        return eqx.tree_at(lambda d: d.values, cast, self.values.astype(dtype))

    # ---- building ----------------------------------------------------------------------------
    @classmethod
    def from_columns(cls, dense: Mapping[str, Sequence] | None = None,
                     categorical: Mapping[str, Sequence] | None = None,
                     drop_first: bool | None = None, dtype=None) -> Design:
        """X from named dense columns and categorical columns (labels of any type, or pandas
        ``Categorical``s, whose categories are the levels in their order).

        ``drop_first``: leave out each categorical's first level (its reference, treatment
        coding as R's); None (the default) does so as R's ``model.matrix``: for every
        categorical when a dense column is all ones (an intercept), else for all but the
        first categorical.
        """
        dense = dict(dense or {})
        categorical = dict(categorical or {})
        if not dense and not categorical:
            raise ValueError("a design needs at least one column.")
        lengths = {name: len(v) for name, v in {**dense, **categorical}.items()}
        if len(set(lengths.values())) != 1:
            raise ValueError(f"the columns have different lengths: {lengths}.")
        m = next(iter(lengths.values()))
        if dtype is None:
            dtype = jax.dtypes.canonicalize_dtype(float)
        D = np.column_stack([np.asarray(v, dtype) for v in dense.values()]) if dense \
            else np.zeros((m, 0), dtype)
        intercept = bool(dense) and bool(np.any(np.all(D == 1, axis=0)))
        levels, codes = {}, []
        for k, (name, column) in enumerate(categorical.items()):
            found, code = _levels_and_codes(column, name)
            drop = (intercept or k > 0) if drop_first is None else drop_first
            levels[name] = (found, drop)
            codes.append(code)
        layout = Layout(dense=tuple(dense), categorical=tuple(
            (name, tuple(found), drop) for name, (found, drop) in levels.items()), sparse=())
        return layout.encode_codes(D, codes)

    @classmethod
    def from_frame(cls, frame, drop_first: bool | None = None,
                   intercept: bool = False) -> Design:
        """X from a pandas or polars data frame: numeric (and boolean) columns dense,
        categorical and string columns categorical (levels sorted, or a pandas
        ``Categorical``'s categories); ``intercept``: a first dense column of ones,
        "(Intercept)"."""
        dense = {"(Intercept)": np.ones(len(frame))} if intercept else {}
        categorical = {}
        for name in frame.columns:
            column = frame[name]
            if _is_categorical_column(column):
                categorical[str(name)] = column
            else:
                dense[str(name)] = np.asarray(column, float)
        return cls.from_columns(dense, categorical, drop_first)

    @classmethod
    def from_matrix(cls, matrix, names: Sequence[str] | None = None,
                    dense_share: float = 0.5, dtype=None,
                    may_be_sparse: Sequence[int] | None = None) -> Design:
        """X from a scipy.sparse matrix, a JAX ``BCOO`` or an array: columns with more than
        ``dense_share`` of their entries non-zero go to the dense block (in their order),
        the others to the sparse one; ``may_be_sparse``: only these columns may (a formula's
        categorical terms)."""
        csc = _as_csc(matrix)
        m, p = csc.shape
        names = tuple(names) if names is not None else tuple(f"x{j}" for j in range(p))
        if len(names) != p:
            raise ValueError(f"{len(names)} names for {p} columns.")
        sparse = np.diff(csc.indptr) <= dense_share * m
        if may_be_sparse is not None:
            sparse &= np.isin(np.arange(p), list(may_be_sparse))
        dense_columns = tuple(int(j) for j in np.flatnonzero(~sparse))
        sparse_columns = tuple(int(j) for j in np.flatnonzero(sparse))
        layout = Layout(dense=tuple(names[j] for j in dense_columns), categorical=(),
                        sparse=tuple(names[j] for j in sparse_columns),
                        positions=(dense_columns, sparse_columns))
        return layout.encode_matrix(csc, dtype)

    @classmethod
    def from_codes(cls, dense, codes: Sequence, n_levels: Sequence[int],
                   names: Sequence[str] | None = None, drop_first: bool = True) -> Design:
        """X from a dense block (m, p_d) and integer-coded categoricals: ``codes[k]`` in
        0 … ``n_levels[k]`` − 1 (a code outside raises, naming the column and row), level 0
        the reference left out when ``drop_first``."""
        names = list(names) if names is not None else [f"c{k}" for k in range(len(codes))]
        checked = []
        for name, code, K in zip(names, codes, n_levels, strict=True):
            code = np.asarray(code)
            if not np.issubdtype(code.dtype, np.integer):
                raise TypeError(f"the codes of {name!r} must be integers; got {code.dtype}.")
            bad = (code < 0) | (code >= K)
            if bad.any():
                row = int(np.argmax(bad))
                raise ValueError(f"categorical {name!r} has code {int(code[row])} at row {row},"
                                 f" outside 0..{K - 1}.")
            checked.append(code.astype(np.int32))
        dense = np.asarray(dense, jax.dtypes.canonicalize_dtype(float))
        if dense.ndim != 2:
            raise ValueError(f"dense must be a 2-D (m, p) array; got shape {dense.shape}.")
        layout = Layout(dense=tuple(f"x{j}" for j in range(dense.shape[1])),
                        categorical=tuple((name, tuple(range(K)), drop_first)
                                          for name, K in zip(names, n_levels, strict=True)),
                        sparse=())
        return layout.encode_codes(dense, checked)


@dataclasses.dataclass(frozen=True)
class Layout:
    """How a design's columns were laid out: the dense columns, the categoricals (name,
    levels, whether the first level is left out) and the sparse columns, by name (and, for a
    matrix, by position). ``encode`` builds a ``Design`` of new rows the same way."""

    dense: tuple[str, ...]
    categorical: tuple[tuple[str, tuple, bool], ...]
    sparse: tuple[str, ...]
    positions: tuple[tuple[int, ...], tuple[int, ...]] | None = None

    def names(self) -> tuple[str, ...]:
        levels = tuple(f"{name}[{level}]" for name, found, drop in self.categorical
                       for level in found[int(drop):])
        return self.dense + levels + self.sparse

    def encode_codes(self, D: np.ndarray, codes: list[np.ndarray]) -> Design:
        """The design of dense columns D and each categorical's codes (0 … K − 1)."""
        widths = [len(found) - int(drop) for _, found, drop in self.categorical]
        n_sparse = sum(widths)
        _check_finite(D, np.zeros(0))
        index = np.empty((D.shape[0], len(codes)), _index_dtype(n_sparse))
        offsets = np.cumsum([0, *widths])
        for k, ((_, _, drop), code) in enumerate(zip(self.categorical, codes, strict=True)):
            column = index[:, k]
            np.add(code, offsets[k] - int(drop), out=column, casting="unsafe")
            if drop:  # the first level has no column: index n_sparse
                column[code == 0] = n_sparse
        return Design(dense=jnp.asarray(D), index=jnp.asarray(index), values=None,
                      n_sparse=n_sparse, names=self.names(), layout=self)

    def encode_matrix(self, matrix, dtype=None) -> Design:
        """The design of a matrix's columns (scipy.sparse, ``BCOO`` or an array), split as
        ``positions`` say."""
        csc = _as_csc(matrix)
        if csc.shape[1] != len(self.names()):
            raise ValueError(f"X must have {len(self.names())} columns, as the fitted design; "
                             f"got {csc.shape[1]}.")
        dense_columns, sparse_columns = self.positions
        dtype = jax.dtypes.canonicalize_dtype(dtype or (
            csc.dtype if np.issubdtype(csc.dtype, np.floating) else float))
        D = np.asarray(csc[:, list(dense_columns)].toarray(), dtype)
        S = csc[:, list(sparse_columns)].tocsr()
        S.sum_duplicates()
        m, n_sparse = S.shape
        per_row = np.diff(S.indptr)
        slots = int(per_row.max()) if m else 0
        index = np.full((m, slots), n_sparse, np.int32)
        values = np.zeros((m, slots), dtype)
        position = np.arange(S.nnz) - np.repeat(S.indptr[:-1], per_row)
        rows = np.repeat(np.arange(m), per_row)
        index[rows, position] = S.indices
        values[rows, position] = S.data
        _check_finite(D, values)
        return Design(dense=jnp.asarray(D), index=jnp.asarray(index),
                      values=jnp.asarray(values), n_sparse=n_sparse, names=self.names(),
                      layout=self)

    def encode(self, data, unseen: str = "raise") -> Design:
        """New rows laid out as the fitted design: a data frame (by column names) for
        categorical layouts, a matrix for matrix layouts. A level not seen in the fit raises,
        or with ``unseen="reference"`` gets the first level's coding."""
        if self.positions is not None:
            return self.encode_matrix(data)
        if not hasattr(data, "columns"):  # an array of the design's own columns
            return data
        D = np.column_stack([np.ones(len(data)) if name == "(Intercept)" and name not in
                             data.columns else np.asarray(data[name], float)
                             for name in self.dense]) if self.dense else np.zeros((len(data), 0))
        codes = []
        for name, found, _ in self.categorical:
            labels = np.asarray(data[name]).astype(object)
            lookup = {level: k for k, level in enumerate(found)}
            code = np.array([lookup.get(v, -1) for v in labels])
            if (code < 0).any():
                new = sorted({str(v) for v in labels[code < 0]})
                if unseen != "reference":
                    raise ValueError(f"column {name!r} has levels the fit did not see: "
                                     f"{', '.join(new[:5])}; pass unseen='reference' to "
                                     "predict them at the reference level.")
                code = np.where(code < 0, 0, code)
            codes.append(code)
        return self.encode_codes(D.astype(jax.dtypes.canonicalize_dtype(float)), codes)


def is_design(X) -> bool:
    return isinstance(X, Design)


DENSE_REFIT_BYTES = 2**30  # the largest design ``dense_for_refits`` expands


def dense_for_refits(X, what: str, instead: str):
    """X as a dense array for refits on some of its columns (``what`` names them in the
    error): a ``Design`` expanded, up to ``DENSE_REFIT_BYTES``; a dense X as it is."""
    if not isinstance(X, Design):
        return X
    if X.shape[0] * X.shape[1] * X.dtype.itemsize > DENSE_REFIT_BYTES:
        raise ValueError(f"{what} takes dense subsets of the {X.shape[0]} × {X.shape[1]} "
                         f"design, too large here; {instead}.")
    return X.todense()


def as_design(X, feature_names=None):
    """X as a ``Design`` when it is one already, a scipy.sparse matrix, a JAX ``BCOO`` or a
    data frame with categorical or string columns; else None (a dense array)."""
    if isinstance(X, Design) or not needs_design(X):
        return X if isinstance(X, Design) else None
    if _is_sparse(X):
        return Design.from_matrix(X, feature_names)
    return Design.from_frame(X)


def needs_design(X) -> bool:
    """Whether ``as_design`` makes X a ``Design``: a scipy.sparse matrix, a ``BCOO`` or a data
    frame with categorical or string columns."""
    if isinstance(X, Design) or _is_sparse(X):
        return True
    columns = getattr(X, "columns", None)
    return columns is not None and not isinstance(X, np.ndarray | jax.Array) and any(
        _is_categorical_column(X[c]) for c in columns)


def _is_sparse(X) -> bool:
    module = type(X).__module__
    return module.startswith("scipy.sparse") or type(X).__name__ == "BCOO"


def _as_csc(matrix):
    import scipy.sparse as sp

    if type(matrix).__name__ == "BCOO":
        indices, data = np.asarray(matrix.indices), np.asarray(matrix.data)
        matrix = sp.coo_matrix((data, (indices[:, 0], indices[:, 1])), shape=matrix.shape)
    if not sp.issparse(matrix):
        matrix = sp.csc_matrix(np.asarray(matrix))
    if matrix.ndim != 2 or matrix.shape[0] == 0 or matrix.shape[1] == 0:
        raise ValueError(f"X must be a 2-D (m, p) matrix with rows and columns; got shape "
                         f"{matrix.shape}.")
    kind = matrix.dtype.kind
    if kind not in "biuf":
        raise TypeError(f"X must hold real numbers; got dtype {matrix.dtype}.")
    return matrix.tocsc()


def _loop(n: int, body, init):
    """``body(n − 1, … body(0, init))``: a ``fori_loop`` over slots or slot pairs, of which
    there may be none (a loop body indexing an empty axis would not trace)."""
    return jax.lax.fori_loop(0, n, body, init) if n else init


def _index_dtype(n_sparse: int):
    """The narrowest integer type that holds column numbers 0 … n_sparse."""
    return np.int8 if n_sparse < 2**7 else np.int16 if n_sparse < 2**15 else np.int32


def _check_finite(D: np.ndarray, values: np.ndarray) -> None:
    for block in (D, values):
        bad = ~np.isfinite(block)
        if bad.any():
            raise ValueError(f"X contains NaN or infinite values ({int(bad.sum())} in all).")


def _is_categorical_column(column) -> bool:
    dtype = getattr(column, "dtype", None)
    name = str(dtype).lower()
    return (name == "category" or name.startswith("categorical") or name in ("object", "str",
            "string", "utf8", "string[python]", "string[pyarrow]", "enum")
            or name.startswith("enum"))


def _levels_and_codes(column, name: str) -> tuple[list, np.ndarray]:
    """(levels, codes 0 … K − 1) of a categorical column: a pandas ``Categorical``'s own
    categories and codes, sorted distinct labels otherwise; missing labels raise."""
    categories = getattr(getattr(column, "cat", None), "categories", None)
    if categories is not None:
        codes = np.asarray(column.cat.codes)
        if (codes < 0).any():
            raise ValueError(f"categorical column {name!r} has missing values (first at row "
                             f"{int(np.argmax(codes < 0))}).")
        return list(categories), codes
    labels = np.asarray(column.to_numpy() if hasattr(column, "to_numpy") else column,
                        dtype=object)
    missing = np.array([v is None or (isinstance(v, float) and np.isnan(v)) for v in labels])
    if missing.any():
        raise ValueError(f"categorical column {name!r} has missing values (first at row "
                         f"{int(np.argmax(missing))}).")
    try:
        levels, codes = np.unique(labels, return_inverse=True)
    except TypeError:  # labels of several types: as strings
        levels, codes = np.unique(labels.astype(str), return_inverse=True)
    return list(levels), codes.astype(np.int32)
