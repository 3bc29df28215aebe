"""fit_chunked: the exact fit of data read in chunks equals fit on all of it (1e-10)."""

import numpy as np
import pytest

import glmjax as gj
from glmjax import families as F
from glmjax._chunk_sources import ArraySource

M = 3000
CHUNK = 1024  # three chunks, the last one short (padded)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    X = np.column_stack([np.ones(M), rng.normal(size=(M, 3)) * 0.5])
    counts = rng.poisson(np.exp(X @ [0.4, 0.3, -0.2, 0.1])).astype(float)
    return rng, X, counts


def _same(chunked, full, rtol=1e-10):
    np.testing.assert_allclose(chunked.coef, full.coef, rtol=rtol, atol=1e-10)
    np.testing.assert_allclose(chunked.cov, full.cov, rtol=1e-8, atol=1e-14)
    for name in ("deviance", "null_deviance", "loglik", "aic", "scale", "df_resid", "df_null"):
        np.testing.assert_allclose(getattr(chunked, name), getattr(full, name), rtol=rtol,
                                   err_msg=name)
    assert chunked.feature_names == full.feature_names
    assert bool(chunked.converged)


@pytest.mark.parametrize("family", [F.Gaussian(), F.Binomial(), F.Multinomial(3), F.Beta(),
                                    F.Gamma()], ids=lambda f: f.name)
def test_every_kind_of_family_equals_the_in_memory_fit(family, make_response):
    """A dispersion (Gaussian, Gamma: the log-likelihood in a last pass), a two-column
    response (Binomial), a vector family (Multinomial), an extra parameter (Beta's
    precision), with weights and an offset."""
    rng = np.random.default_rng(3)
    X = np.column_stack([np.ones(M), rng.normal(size=(M, 2)) * 0.5])
    y = make_response(family.name, rng, X @ [0.2, 0.3, -0.3])
    weights = rng.uniform(0.5, 2.0, M)
    offset = 0.05 * rng.normal(size=M) if family.name != "Multinomial" else np.zeros(M)
    chunked = gj.fit_chunked((X, y, weights, offset), family, chunk_rows=CHUNK, verbose=False)
    full = gj.fit(X, y, family, weights=weights, offset=offset)
    _same(chunked, full)
    assert "Null deviance" in chunked.summary()


@pytest.mark.parametrize("cov_type", ["HC0", "HC1", "HC2", "HC3"])
def test_sandwich_covariances(data, cov_type):
    _, X, y = data
    chunked = gj.fit_chunked((X, y), F.Poisson(), chunk_rows=CHUNK, cov_type=cov_type,
                             verbose=False)
    full = gj.fit(X, y, F.Poisson(), cov_type=cov_type)
    np.testing.assert_allclose(chunked.cov, full.cov, rtol=1e-9)
    assert chunked.cov_type == cov_type


def test_cluster_covariance_with_a_cluster_in_several_chunks(data, tmp_path):
    """Clusters spread over every chunk: labels from an array, a ``.npy`` file, and (strings)
    the dicts of a callable source; equal to ``fit``'s ``vcovCL`` sandwich."""
    rng, X, y = data
    codes = rng.integers(0, 40, M)
    full = gj.fit(X, y, F.Poisson(), cov_type="cluster", groups=codes)
    np.save(tmp_path / "groups.npy", codes)
    labels = np.array([f"firm {k}" for k in codes], dtype=object)

    def chunks():
        for start, stop in ((0, 700), (700, 2500), (2500, M)):
            yield {"X": X[start:stop], "y": y[start:stop], "firm": labels[start:stop]}

    for source, groups in (((X, y), codes), ((X, y), tmp_path / "groups.npy"),
                           (chunks, "firm")):
        chunked = gj.fit_chunked(source, F.Poisson(), chunk_rows=CHUNK, cov_type="cluster",
                                 groups=groups, verbose=False)
        np.testing.assert_allclose(chunked.cov, full.cov, rtol=1e-9)
        assert chunked.cov_type == "cluster"
    missing = labels.copy()
    missing[1500] = None
    with pytest.raises(ValueError, match="groups contains NaN or None at row 100 of chunk 2"):
        gj.fit_chunked(lambda: ({"X": X[s:s + 700], "y": y[s:s + 700],
                                 "firm": missing[s:s + 700]} for s in range(0, M, 700)),
                       F.Poisson(), cov_type="cluster", groups="firm", verbose=False)
    with pytest.raises(ValueError, match="at least 2 groups"):
        gj.fit_chunked((X, y), F.Poisson(), chunk_rows=CHUNK, cov_type="cluster",
                       groups=np.zeros(M), verbose=False)
    with pytest.raises(ValueError, match=r"groups must have shape \(3000,\)"):
        gj.fit_chunked((X, y), F.Poisson(), cov_type="cluster", groups=codes[1:], verbose=False)
    with pytest.raises(ValueError, match="chunk 0 of the source has no cluster labels"):
        gj.fit_chunked(lambda: iter([(X, y)]), F.Poisson(), cov_type="cluster", groups="firm",
                       verbose=False)
    with pytest.raises(TypeError, match="groups must name the key"):
        gj.fit_chunked(chunks, F.Poisson(), cov_type="cluster", groups=codes, verbose=False)
    with pytest.raises(ValueError, match='needs groups='):
        gj.fit_chunked((X, y), F.Poisson(), cov_type="cluster", verbose=False)
    with pytest.raises(ValueError, match='groups= needs cov_type="cluster"'):
        gj.fit_chunked((X, y), F.Poisson(), groups=codes, verbose=False)


def test_penalties_and_scale(data):
    _, X, y = data
    for kwargs in ({"l2": 0.05}, {"l1": 0.01}, {"l1": 0.005, "l2": 0.01},
                   {"scale": "pearson"}, {"scale": 2.0}):
        chunked = gj.fit_chunked((X, y), F.Poisson(), chunk_rows=CHUNK, verbose=False, **kwargs)
        full = gj.fit(X, y, F.Poisson(), **kwargs)
        np.testing.assert_allclose(chunked.coef, full.coef, rtol=1e-8, atol=1e-10,
                                   err_msg=str(kwargs))
        np.testing.assert_allclose(chunked.stderr, full.stderr, rtol=1e-7, atol=1e-12,
                                   err_msg=str(kwargs))
    assert chunked.solver == "irls" and "l1" not in kwargs


def test_npy_memory_maps_and_an_iterator(data, tmp_path):
    _, X, y = data
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "XF.npy", np.asfortranarray(X))  # column-major: read by columns
    np.save(tmp_path / "y.npy", y)
    full = gj.fit(X, y, F.Poisson())
    for name in ("X.npy", "XF.npy"):
        from_files = gj.fit_chunked((tmp_path / name, str(tmp_path / "y.npy")), F.Poisson(),
                                    chunk_rows=CHUNK, verbose=False)
        _same(from_files, full)
    # full chunks of a row-major file starting at a multiple of 64 bytes are windows of the
    # file (read-only, used in place); others are read into buffers of their own
    files = (tmp_path / "X.npy", tmp_path / "y.npy")
    for rows, mapped in ((CHUNK, [True, True, False]), (1001, [True, False, False])):
        source = ArraySource(files, rows)
        assert [not c.X.flags.writeable for c in source.chunks()] == mapped
    _same(gj.fit_chunked(files, F.Poisson(), chunk_rows=1001, verbose=False), full)

    def chunks():  # uneven chunks from a generator, one pass per call
        for start, stop in ((0, 700), (700, 2500), (2500, M)):
            yield {"X": X[start:stop], "y": y[start:stop]}

    _same(gj.fit_chunked(chunks, F.Poisson(), chunk_rows=CHUNK, verbose=False), full)


def test_a_chunked_result_predicts_tests_and_refuses_residuals(data):
    _, X, y = data
    small = gj.fit_chunked((X[:, :2], y), F.Poisson(), chunk_rows=CHUNK, verbose=False)
    large = gj.fit_chunked((X, y), F.Poisson(), chunk_rows=CHUNK, verbose=False)
    full = gj.fit(X, y, F.Poisson())
    np.testing.assert_allclose(large.predict(X[:5]), full.predict(X[:5]), rtol=1e-10)
    np.testing.assert_allclose(large.prediction(X[:5]).upper, full.prediction(X[:5]).upper,
                               rtol=1e-9)
    lr = gj.lr_test(small, large)
    reference = gj.lr_test(gj.fit(X[:, :2], y, F.Poisson()), full)
    np.testing.assert_allclose(lr.statistic, reference.statistic, rtol=1e-8)
    np.testing.assert_allclose(large.wald_test(np.eye(4)[2:]).statistic,
                               full.wald_test(np.eye(4)[2:]).statistic, rtol=1e-8)
    for what in ("resid_pearson", "hat_values"):
        with pytest.raises(ValueError, match="chunked fit does not keep"):
            getattr(large, what)
    with pytest.raises(ValueError, match="chunked fit does not keep"):
        gj.score_test(small, large)


def test_parquet_with_a_formula_and_categorical_levels(tmp_path):
    """A directory of Parquet files; a level of ``region`` appears in the last file only, so
    the levels must come from the whole data set."""
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    rng = np.random.default_rng(11)
    n = 2400
    frame = pd.DataFrame({
        "x": rng.normal(size=n), "region": rng.choice(["a", "b", "c"], n),
        "exposure": rng.uniform(0.5, 2.0, n), "unused": rng.normal(size=n),
    })
    frame.loc[2000:, "region"] = rng.choice(["b", "d"], n - 2000)
    frame["claims"] = rng.poisson(frame["exposure"] * np.exp(0.2 + 0.3 * frame["x"]))
    frame["firm"] = rng.choice([f"firm {k}" for k in range(30)], n)
    folder = tmp_path / "claims"
    folder.mkdir()
    frame["log_exposure"] = np.log(frame["exposure"])
    for k, start in enumerate(range(0, n, 800)):
        frame.iloc[start:start + 800].to_parquet(folder / f"part-{k}.parquet")
    chunked = gj.fit_chunked(folder, F.Poisson(), formula="claims ~ x + C(region)",
                             offset="log_exposure", chunk_rows=500, verbose=False)
    full = gj.glm("claims ~ x + C(region)", frame, F.Poisson(), offset="log_exposure")
    _same(chunked, full)
    assert chunked.feature_names[-1] == "C(region)[T.d]"
    # clusters; a function of the caller's and R's offset() in the formula
    clusters = {"cov_type": "cluster", "groups": "firm"}
    chunked = gj.fit_chunked(folder, F.Poisson(), chunk_rows=500, verbose=False,
                             formula="claims ~ _half(x) + offset(np.log(exposure)) + C(region)",
                             **clusters)
    full = gj.glm("claims ~ _half(x) + C(region)", frame, F.Poisson(), offset="log_exposure",
                  **clusters)
    np.testing.assert_allclose(chunked.cov, full.cov, rtol=1e-9)


def _half(v):
    return v / 2


def test_bad_chunks_are_named(data, tmp_path):
    _, X, y = data
    bad = X.copy()
    bad[2100, 2] = np.nan
    np.save(tmp_path / "X.npy", bad)
    with pytest.raises(ValueError, match=r"X contains NaN .* at row 2100 .*X = .*X\.npy.*"
                                         r"column 2"):
        gj.fit_chunked((tmp_path / "X.npy", y), F.Poisson(), chunk_rows=CHUNK, verbose=False)
    bad[2100, 2], bad[5, 1] = 0.0, np.inf  # in a full chunk: a window of the file
    np.save(tmp_path / "X.npy", bad)
    with pytest.raises(ValueError, match=r"X contains .*infinite .* at row 5 .*X\.npy.*column 1"):
        gj.fit_chunked((tmp_path / "X.npy", y), F.Poisson(), chunk_rows=CHUNK, verbose=False)
    negative = y.copy()
    negative[5] = -1
    with pytest.raises(ValueError, match=r"outside the support .* at row 5 of the arrays"):
        gj.fit_chunked((X, negative), F.Poisson(), chunk_rows=CHUNK, verbose=False)
    with pytest.raises(FileNotFoundError, match="the X file .*missing.npy' does not exist"):
        gj.fit_chunked((tmp_path / "missing.npy", y), F.Poisson(), verbose=False)
    with pytest.raises(FileNotFoundError, match="Parquet source .* does not exist"):
        gj.fit_chunked(tmp_path / "nowhere", F.Poisson(), formula="y ~ x", verbose=False)

    def other_columns():
        yield X[:1000], y[:1000]
        yield X[1000:, :3], y[1000:]

    with pytest.raises(ValueError, match=r"chunk 1 of the source has X of shape \(2000, 3\)"):
        gj.fit_chunked(other_columns, F.Poisson(), verbose=False)

    def empty():
        yield X[:1000], y[:1000]
        yield X[:0], y[:0]

    with pytest.raises(ValueError, match="chunk 1 of the source has no rows"):
        gj.fit_chunked(empty, F.Poisson(), verbose=False)

    def nan_in_second():
        yield X[:1000], y[:1000]
        yield X[1000:], np.r_[y[1000:1010], np.nan, y[1011:]]

    with pytest.raises(ValueError, match="y contains NaN .* at row 10 of chunk 1 of the source"):
        gj.fit_chunked(nan_in_second, F.Poisson(), verbose=False)


def test_bad_settings_and_designs(data):
    _, X, y = data
    with pytest.raises(ValueError, match="parameters fixed .*alpha"):
        gj.fit_chunked((X, y), F.NegativeBinomial(alpha=None), verbose=False)
    with pytest.raises(ValueError, match="cov_type must be one of"):
        gj.fit_chunked((X, y), F.Poisson(), cov_type="HC4", verbose=False)
    with pytest.raises(ValueError, match='scale="ml" is not available'):
        gj.fit_chunked((X, y), F.Gamma(), scale="ml", verbose=False)
    with pytest.raises(ValueError, match="rank deficient .* columns 'x1', 'x4'"):
        gj.fit_chunked((np.column_stack([X, X[:, 1]]), y), F.Poisson(), verbose=False)
    with pytest.raises(ValueError, match="formula, weights and offset .* are for a Parquet"):
        gj.fit_chunked((X, y), F.Poisson(), formula="y ~ x", verbose=False)
    with pytest.raises(TypeError, match="source must be a tuple"):
        gj.fit_chunked(42, F.Poisson(), verbose=False)
