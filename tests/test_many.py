"""fit_many: batches of independent fits over responses, data sets and penalties."""

import re
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import glmjax as gj
from glmjax import families as F

M = 120


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(41)
    X = np.column_stack([np.ones(M), rng.normal(size=(M, 2))])
    Y = np.stack([rng.poisson(np.exp(X @ b)) for b in
                  ([0.2, 0.3, -0.1], [1.0, -0.2, 0.4], [0.0, 0.0, 0.0])]).astype(float)
    return rng, X, Y


def test_many_responses_share_one_design(data):
    _, X, Y = data
    res = gj.fit_many(X, Y, family=F.Poisson())
    assert res.coef.shape == (3, 3) and res.converged.shape == (3,)
    assert res.problem.X.shape == X.shape  # kept once, not three times
    for b in range(3):
        one = gj.fit(X, Y[b], family=F.Poisson())
        np.testing.assert_allclose(res.coef[b], one.coef, rtol=1e-10)
        np.testing.assert_allclose(res.stderr[b], one.stderr, rtol=1e-10)
        np.testing.assert_allclose(res.deviance[b], one.deviance, rtol=1e-10)


def test_one_start_per_fit(data):
    """init of shape (B, P): each fit starts at its own point (here its estimate: converged
    within one iteration); one shared start, or a wrong shape, as said."""
    _, X, Y = data
    estimates = np.asarray(gj.fit_many(X, Y, family=F.Poisson()).coef)
    warm = gj.fit_many(X, Y, family=F.Poisson(), init=estimates, max_iter=1)
    assert warm.converged.tolist() == [True] * 3
    np.testing.assert_allclose(warm.coef, estimates, rtol=1e-12)
    shared = gj.fit_many(X, Y, family=F.Poisson(), init=estimates[0])
    np.testing.assert_allclose(shared.coef, estimates, rtol=1e-10)
    with pytest.raises(ValueError, match=r"init must hold 3 values .* or have shape \(3, 3\)"):
        gj.fit_many(X, Y, family=F.Poisson(), init=np.zeros((2, 3)))


def test_stacked_data_sets_and_weights(data):
    rng, X, Y = data
    Xs = np.stack([X, X * np.r_[1.0, 2.0, 0.5], X[::-1]])
    W = rng.uniform(0.5, 2.0, size=(3, M))
    res = gj.fit_many(Xs, Y, family=F.Poisson(), weights=W)
    for b in range(3):
        one = gj.fit(Xs[b], Y[b], family=F.Poisson(), weights=W[b])
        np.testing.assert_allclose(res.coef[b], one.coef, rtol=1e-10)


def test_penalty_grid(data):
    _, X, Y = data
    grid = np.array([0.0, 0.01, 0.1, 1.0])
    res = gj.fit_many(X, Y[0], family=F.Poisson(), l2=grid)
    assert res.coef.shape == (4, 3)
    for lam, coef in zip(grid, res.coef, strict=True):
        np.testing.assert_allclose(coef, gj.fit(X, Y[0], family=F.Poisson(), l2=lam).coef,
                                   rtol=1e-10)
    norms = np.linalg.norm(np.asarray(res.coef)[:, 1:], axis=1)
    assert np.all(np.diff(norms) < 0)  # more penalty, smaller slopes


def test_a_failing_fit_does_not_poison_the_others(data):
    rng, X, _ = data
    good = (rng.uniform(size=M) < 0.5).astype(float)
    separated = (X[:, 1] > 0).astype(float)
    # the separated fit runs off to infinity (IRLS stops once the log-likelihood stops
    # changing, as statsmodels, with every fitted mean at 0 or 1); the others are untouched
    with pytest.warns(gj.SeparationWarning, match="1 of 3 fits"):
        res = gj.fit_many(X, np.stack([good, separated, 1 - good]), family=F.Bernoulli(),
                          max_iter=100)
    assert np.asarray(res.converged).tolist() == [True, True, True]
    assert res.n_boundary.tolist() == [0, M, 0]
    assert np.all(np.abs(res.coef[1]) > 40)
    np.testing.assert_allclose(res.coef[0], gj.fit(X, good, family=F.Bernoulli()).coef,
                               rtol=1e-10)
    np.testing.assert_allclose(res.coef[2], -res.coef[0], rtol=1e-8)
    with pytest.warns(gj.ConvergenceWarning, match="3 of 3 fits did not converge"):
        res = gj.fit_many(X, np.stack([good, good, good]), family=F.Bernoulli(), max_iter=1)
    assert not np.any(np.asarray(res.converged))


def test_bad_values_name_the_fit(data):
    _, X, Y = data
    bad = Y.copy()
    bad[2, 5] = -1.0
    with pytest.raises(ValueError, match=re.escape("fit 2 of 3: y is outside the support of the"
                                                   " Poisson family")):
        gj.fit_many(X, bad, family=F.Poisson())
    with pytest.raises(ValueError, match="needs a leading batch axis"):
        gj.fit_many(X, Y[0], family=F.Poisson())
    with pytest.raises(ValueError, match="batch axes differ in length"):
        gj.fit_many(X, Y, family=F.Poisson(), l2=np.zeros(2))
    with pytest.raises(ValueError, match=re.escape("needs at least one fit; the batch axes "
                                                   "have length 0: {'y': 0}")):
        gj.fit_many(X, Y[:0], family=F.Poisson())
    with pytest.raises(ValueError, match=re.escape(
            "y of shape (3, 10) is read as 3 responses of shape (10,), one per fit, and X has "
            "120 rows: Poisson expects y of shape (120,)")):
        gj.fit_many(X, Y[:, :10], family=F.Poisson())


def test_invalid_fits_are_skipped_when_asked(data):
    # many responses of which some have no estimate (the all-zero genes of a count matrix):
    # with invalid="skip" those come back NaN and flagged, the others as fitted alone
    _, X, Y = data
    Y = np.concatenate([Y, np.zeros((1, M))])
    Y[0, 5] = -1.0
    with pytest.warns(gj.InvalidInputWarning, match=re.escape(
            "2 of 4 fits were skipped (status INVALID_INPUT, NaN estimates): fits 0, 3. fit 0: "
            "y is outside the support of the Poisson family")) as record:
        res = gj.fit_many(X, Y, family=F.Poisson(), invalid="skip")
    assert "fit 3: y gives no row a usable starting value" in str(record[0].message)
    assert len(record) == 1  # not also a convergence warning
    assert res.status.tolist() == [gj.solvers.Status.INVALID_INPUT, 0, 0,
                                   gj.solvers.Status.INVALID_INPUT]
    for field in (res.coef, res.stderr, res.loglik, res.deviance, res.mean):
        assert np.isnan(np.asarray(field)[[0, 3]]).all()
    for b in (1, 2):
        np.testing.assert_allclose(res.coef[b], gj.fit(X, Y[b], family=F.Poisson()).coef,
                                   rtol=1e-10)
    assert "Solver: irls; not run: the fit's inputs failed a check" in str(res[3].summary())
    with pytest.raises(ValueError, match="invalid must be 'raise' or 'skip'; got 'ignore'"):
        gj.fit_many(X, Y, family=F.Poisson(), invalid="ignore")


def test_bad_penalties_name_the_fit(data):
    # inside the batch the penalties are traced, where fit cannot check them: a negative or
    # NaN one used to run (a negative ridge converged, silently) or fail without a message
    _, X, Y = data
    with pytest.raises(ValueError, match=re.escape("fit 1 of 3: l2 must be a finite number "
                                                   "≥ 0; got -0.1.")):
        gj.fit_many(X, Y, family=F.Poisson(), l2=np.array([0.0, -0.1, 0.2]))
    with pytest.raises(ValueError, match=re.escape("fit 2 of 3: l1 must be a finite number "
                                                   "≥ 0; got nan.")):
        gj.fit_many(X, Y, family=F.Poisson(), l1=[0.1, 0.2, np.nan])
    with pytest.raises(ValueError, match=re.escape("l2 must be a finite number ≥ 0; got -1.0")):
        gj.fit_many(X, Y, family=F.Poisson(), l2=-1.0)
    with pytest.raises(ValueError, match=re.escape("l2 must be a number or a vector of one "
                                                   "value per fit (B,); got shape (3, 2).")):
        gj.fit_many(X, Y, family=F.Poisson(), l2=np.zeros((3, 2)))


def test_gradient_through_a_grid_of_penalties(data):
    # d(Σ coef)/dλ₂ for each fit of the batch, as for each fit alone (1e-10)
    _, X, Y = data
    l2 = jnp.array([0.01, 0.1, 1.0])
    batched = jax.grad(lambda l: gj.fit_many(X, Y[0], family=F.Poisson(), l2=l).coef.sum())(l2)
    single = [jax.grad(lambda l: gj.fit(X, Y[0], F.Poisson(), l2=l).coef.sum())(v) for v in l2]
    np.testing.assert_allclose(batched, single, rtol=1e-10)
    assert np.all(np.abs(np.asarray(single)) > 1e-3)


def test_under_jit_a_clear_error(data):
    # fit_many reads its fits' flags on the host: inside jit, JAX's concretization error
    # became a TypeError that says what to use instead
    _, X, Y = data
    with pytest.raises(TypeError, match=re.escape(
            "fit_many checks and warns about its fits on the host, so it cannot run inside "
            "jax.jit or jax.vmap (jax.grad through it works); inside a traced function use "
            "jax.vmap(gj.fit) instead.")):
        jax.jit(lambda Y: gj.fit_many(X, Y, family=F.Poisson()).coef)(jnp.asarray(Y))


def test_a_batch_predicts_and_has_null_deviances(data):
    # each fit's prediction for the same rows, (B, m); the null deviances and their df, (B,),
    # for a shared X, a stacked one with weights, and a user's own vmap of fit (1e-10)
    _, X, Y = data
    W = np.ones_like(Y)
    W[1, :40] = 3.0
    for res in (gj.fit_many(X, Y, family=F.Poisson()),
                gj.fit_many(np.stack([X, 2 * X, X]), Y, family=F.Poisson(), weights=W),
                jax.vmap(lambda y: gj.fit(X, y, F.Poisson()))(jnp.asarray(Y))):
        assert res.predict(X[:5]).shape == (3, 5)
        assert res.null_deviance.shape == res.df_null.shape == (3,)
        for b, one in enumerate(res):
            np.testing.assert_allclose(res.predict(X[:5])[b], one.predict(X[:5]), rtol=1e-10)
            np.testing.assert_allclose(res.null_deviance[b], one.null_deviance, rtol=1e-10)
            assert res.df_null[b] == one.df_null
    assert len(set(np.round(np.asarray(res.null_deviance), 6))) == 3  # not one fit's, thrice


def test_a_batch_is_indexed_fit_by_fit(data):
    _, X, Y = data
    res = gj.fit_many(X, Y, family=F.Poisson())
    assert len(res) == 3 and res.feature_names == ("(Intercept)", "x1", "x2")
    for b, one in enumerate(res):  # iteration stops at the end of the batch
        alone = gj.fit(X, Y[b], family=F.Poisson())
        np.testing.assert_allclose(one.coef, alone.coef, rtol=1e-10)
        assert one.summary().splitlines()[3:] == alone.summary().splitlines()[3:]
    np.testing.assert_array_equal(res[-1].coef, res[2].coef)
    stacked = gj.fit_many(np.stack([X, 2 * X, X]), Y, family=F.Poisson())
    assert stacked.feature_names == ("x0", "x1", "x2")  # column 0 is ones in fits 0 and 2 only
    np.testing.assert_array_equal(stacked[1].problem.X, 2 * X)
    with pytest.raises(IndexError, match=re.escape("index 3 is out of range for a batch of 3")):
        res[3]
    with pytest.raises(TypeError, match="a single fit cannot be indexed"):
        res[0][0]
    with pytest.raises(TypeError, match="a single fit has no len()"):
        len(res[0])
    with pytest.raises(ValueError, match=re.escape("index a batched result first (res[k])")):
        res.summary()
    assert res[0]  # a result is true even where len() fails


def test_default_chunks_keep_a_chunk_near_the_cache(data):
    import jax

    from glmjax._many import _default_chunk

    if jax.default_backend() == "cpu":  # at most 8 MB of working data, at most 256 fits
        assert _default_chunk(500 * 11 * 8) == 190
        assert _default_chunk(2000 * 21 * 8) == 24
        assert _default_chunk(10**9) == 1
    assert _default_chunk(100) == 256
    # chunks that do not divide the fits: the same answers as one chunk of all of them
    rng, X, Y = data
    Ys = np.concatenate([Y, Y[::-1], Y[:1]])  # 7 fits
    one_chunk = gj.fit_many(X, Ys, family=F.Poisson(), chunk_size=7)
    for size in (None, 3):
        res = gj.fit_many(X, Ys, family=F.Poisson(), chunk_size=size)
        np.testing.assert_allclose(res.coef, one_chunk.coef, rtol=1e-10)
    with pytest.raises(ValueError, match="chunk_size must be a positive integer or None; got 0"):
        gj.fit_many(X, Ys, family=F.Poisson(), chunk_size=0)


def test_ones_columns_under_jit_with_nan():
    # jnp.max drops NaN from long axes under jit on jaxlib 0.10.2's CPU: a sum does not
    import jax
    import jax.numpy as jnp

    from glmjax._fitting import ones_columns

    X = np.ones((5000, 3))
    X[10, 1], X[:, 2] = np.nan, 2.0
    assert jax.jit(ones_columns)(jnp.asarray(X)).tolist() == [True, False, False]


THREADS_SCRIPT = textwrap.dedent("""
    import faulthandler, os
    from concurrent.futures import ThreadPoolExecutor
    faulthandler.dump_traceback_later(60, exit=True)  # a hang prints the stacks and fails
    import jax
    jax.config.update("jax_enable_x64", True)
    import numpy as np
    import glmjax as gj
    rng = np.random.default_rng(0)
    X = np.concatenate([np.ones((128, 100, 1)), rng.normal(size=(128, 100, 9))], axis=2)
    Y = (rng.random((128, 100)) < 0.5).astype(float)
    fam = gj.families.Bernoulli()
    alone = np.asarray(gj.fit_many(X, Y, fam).coef)
    n = max(2, os.cpu_count() or 2)  # XLA's CPU pool has a worker per core
    with ThreadPoolExecutor(n) as pool:
        for _ in range(5):
            for coef in pool.map(lambda _: np.asarray(gj.fit_many(X, Y, fam).coef), range(n)):
                np.testing.assert_array_equal(coef, alone)
    print("threads agree")
""")


def test_fit_many_from_several_threads_at_once():
    # two batched programs at once hung jaxlib 0.10.2's CPU pool (many._one_batch_at_a_time)
    out = subprocess.run([sys.executable, "-c", THREADS_SCRIPT], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "threads agree" in out.stdout


@pytest.mark.parametrize("family", [F.Binomial(), F.Multinomial(3), F.Beta(), F.Dirichlet(3),
                                    F.Gamma(), F.Gaussian(), F.NegativeBinomial(2.0),
                                    F.InverseGaussian(), F.Exponential()],
                         ids=lambda f: f.name)
def test_every_family_batched_equals_its_single_fits(family, make_response):
    rng = np.random.default_rng(5)
    X = np.column_stack([np.ones(200), rng.normal(size=(200, 2)) * 0.5])
    Y = np.stack([make_response(family.name, rng, X @ (rng.normal(size=3) * 0.3))
                  for _ in range(3)])
    many = gj.fit_many(X, Y, family)
    assert many.converged.all()
    for k in range(len(Y)):
        one = gj.fit(X, Y[k], family)
        np.testing.assert_allclose(many.coef[k], one.coef, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(many[k].stderr, one.stderr, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(many[k].deviance, one.deviance, rtol=1e-10)
