"""The optax minibatch loop: convergence to the full-batch MLE, data sources, reproducibility,
checkpoint/resume (including a killed process), bad batches and the progress bar."""

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import glmjax as gj
from glmjax import families as F
from glmjax._streaming import epoch_blocks, gather, index_groups

M = 6000
DETERMINISTIC = "--xla_gpu_deterministic_ops=true"  # bit-identical GPU runs (README)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    X = np.column_stack([np.ones(M), rng.normal(size=(M, 3))])
    y = rng.poisson(np.exp(X @ [0.4, 0.3, -0.2, 0.1])).astype(float)
    return X, y


def _train(data, **kw):
    kw = {"batch_size": 500, "n_epochs": 3, "optimizer": optax.adam(0.05), "verbose": False,
          **kw}
    return gj.fit_minibatch(data, F.Poisson(), **kw)


def test_converges_to_the_full_batch_mle(data):
    """Adam with a decaying rate ends within 1e-3 of the IRLS maximum-likelihood estimate."""
    X, y = data
    full = gj.fit(X, y, F.Poisson())
    res = _train(data, n_epochs=60, steps_per_call=12,
                 optimizer=optax.adam(optax.exponential_decay(0.05, 100, 0.5)))
    np.testing.assert_allclose(res.coef, full.coef, atol=1e-3)
    assert res.n_steps == 60 * 12 and res.losses.shape == (720,)
    np.testing.assert_allclose(res.predict(X[:5]), full.predict(X[:5]), rtol=3e-3)


def test_multinomial_and_weights(data):
    X, _ = data
    rng = np.random.default_rng(0)
    logits = np.column_stack([np.zeros(M), X @ [0.2, 0.5, 0.0, 0.1], X @ [-0.1, 0.0, 0.4, 0.0]])
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = (rng.uniform(size=(M, 1)) > np.cumsum(probs, axis=1)).sum(axis=1)
    w = rng.uniform(0.5, 2.0, size=M)
    full = gj.fit(X, labels, F.Multinomial(n_classes=3), weights=w)
    res = gj.fit_minibatch((X, labels, w), F.Multinomial(n_classes=3), batch_size=600,
                           n_epochs=80, verbose=False,
                           optimizer=optax.adam(optax.exponential_decay(0.05, 200, 0.5)))
    assert res.coef.shape == full.coef.shape == (4, 2)  # class 0 is the reference
    np.testing.assert_allclose(res.coef, full.coef, atol=2e-3)


def test_sources_agree_host_device_memmap_iterator(data, tmp_path):
    X, y = data
    host = _train((X, y))
    device = _train((jnp.asarray(X), jnp.asarray(y)))
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    mapped = _train((str(tmp_path / "X.npy"), str(tmp_path / "y.npy")))

    def batches(epoch):  # the same batches, from an iterator
        order = epoch_blocks(M, 1, 0, epoch)  # blocks of one row: a row permutation
        for start in range(0, M, 500):
            rows = np.sort(order[start:start + 500])
            yield X[rows], y[rows]

    streamed = _train(batches)
    for other in (device, mapped, streamed):
        if jax.default_backend() == "cpu" or DETERMINISTIC in os.environ.get("XLA_FLAGS", ""):
            np.testing.assert_array_equal(other.params, host.params)
        else:  # device arrays are read by another program, which a GPU may round differently
            np.testing.assert_allclose(other.params, host.params, rtol=1e-14)


@pytest.mark.parametrize(("n_rows", "batch_size", "block"),
                         [(1000, 100, 1), (1003, 100, 10), (1003, 100, 100), (97, 100, 50)])
def test_index_groups_cover_every_row_once_per_epoch(n_rows, batch_size, block):
    """Blocks of contiguous rows, permuted: each row is valid exactly once per epoch (the last
    block overlaps the one before; the last batch is padded), every batch has batch_size
    rows, and within a block the rows are contiguous."""
    firsts = epoch_blocks(n_rows, block, seed=4, epoch=2)
    groups = list(index_groups(firsts, block, n_rows, batch_size, steps_per_call=3))
    starts = np.concatenate([s for s, _ in groups])
    valid = np.concatenate([v for _, v in groups])
    assert valid.shape == (-(-n_rows // batch_size), batch_size)
    rows = (starts[..., None] + np.arange(block)).reshape(valid.shape)
    assert rows.min() >= 0 and rows.max() < n_rows
    np.testing.assert_array_equal(np.sort(rows[valid]), np.arange(n_rows))
    ids = np.arange(n_rows, dtype=float)
    _, got, _, _ = gather((ids[:, None], ids, np.ones(n_rows), ids), *groups[0])
    np.testing.assert_array_equal(got, rows[: len(groups[0][0])])


def test_blocks_of_rows_agree_host_device_and_converge(data):
    """shuffle_block=50: host and device sources take the same batches (same coefficients);
    they reach the full-batch MLE as row-shuffled training does."""
    X, y = data
    full = gj.fit(X, y, F.Poisson())
    kw = {"shuffle_block": 50, "n_epochs": 60,
          "optimizer": optax.adam(optax.exponential_decay(0.05, 100, 0.5))}
    host = _train((X, y), **kw)
    device = _train((jnp.asarray(X), jnp.asarray(y)), **kw)
    np.testing.assert_allclose(device.params, host.params, rtol=1e-12)
    np.testing.assert_allclose(host.coef, full.coef, atol=1e-3)
    with pytest.raises(ValueError, match=r"shuffle_block \(30\) must be a positive divisor "
                                         r"of batch_size \(500\)"):
        _train((X, y), shuffle_block=30)


def test_sgd_steps_match_the_seed_update_by_hand(data):
    """Unshuffled SGD over 5,300 rows in batches of 500 (the last of 300, padded with
    zero-weight rows) equals the seed's update θ ← θ + (lr/c) X_bᵀ(y_b − exp(X_b θ)) by hand,
    c = Σw / number of batches."""
    X, y = data[0][:5300], data[1][:5300]
    init = np.array([0.1, 0.0, 0.0, 0.0])
    res = _train((X, y), n_epochs=1, shuffle=False, optimizer=optax.sgd(0.1), init=init)
    assert res.n_steps == 11
    theta, c = init.copy(), 5300 / 11
    for start in range(0, 5300, 500):
        Xb, yb = X[start:start + 500], y[start:start + 500]
        theta = theta + 0.1 / c * Xb.T @ (yb - np.exp(Xb @ theta))
    np.testing.assert_allclose(res.params, theta, rtol=1e-12)


def test_same_seed_same_result_other_seed_differs(data):
    a, b, c = _train(data, seed=1), _train(data, seed=1), _train(data, seed=2)
    np.testing.assert_array_equal(a.params, b.params)
    assert not np.array_equal(a.params, c.params)


def test_resume_from_checkpoint_equals_uninterrupted(data, tmp_path):
    path = tmp_path / "run.npz"
    straight = _train(data, n_epochs=4, steps_per_call=5)
    _train(data, n_epochs=2, steps_per_call=5, checkpoint=path, checkpoint_every=5)
    resumed = _train(data, n_epochs=4, steps_per_call=5, checkpoint=path, checkpoint_every=5)
    np.testing.assert_array_equal(resumed.params, straight.params)
    np.testing.assert_array_equal(resumed.losses, straight.losses)
    with pytest.raises(ValueError, match="written by a different run"):
        _train(data, n_epochs=4, steps_per_call=5, seed=9, checkpoint=path)
    with pytest.raises(ValueError, match="written for another model"):  # adam's state saved
        _train(data, n_epochs=4, steps_per_call=5, checkpoint=path, optimizer=optax.sgd(0.01))


def test_a_file_that_is_no_checkpoint_is_named(data, tmp_path):
    path = tmp_path / "run.npz"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=re.escape(
            f"the checkpoint {path} is not a checkpoint file (.npz) that fit_minibatch wrote "
            "(ValueError); remove it or pass another checkpoint path.")):
        _train(data, checkpoint=path)
    np.savez(path, params=np.zeros(4))
    with pytest.raises(ValueError, match="has no 'position': fit_minibatch did not write it"):
        _train(data, checkpoint=path)


KILLED_RUN = textwrap.dedent("""
    import sys, time
    import jax
    jax.config.update("jax_enable_x64", True)
    import numpy as np, optax, glmjax as gj
    rng = np.random.default_rng(0)
    X = np.column_stack([np.ones(4000), rng.normal(size=(4000, 3))])
    y = rng.poisson(np.exp(X @ [0.4, 0.3, -0.2, 0.1])).astype(float)
    slow = sys.argv[2] == "slow"

    def batches(epoch):
        order = np.random.default_rng([7, epoch]).permutation(4000)
        for start in range(0, 4000, 200):
            if slow:
                time.sleep(0.02)
            rows = order[start:start + 200]
            yield X[rows], y[rows]

    res = gj.fit_minibatch(batches, gj.families.Poisson(), batch_size=200, n_epochs=6,
                           steps_per_call=4, optimizer=optax.adam(0.02), verbose=False,
                           checkpoint=sys.argv[1], checkpoint_every=4, prefetch=2)
    np.save(sys.argv[1] + ".coef.npy", np.asarray(res.params))
""")


def test_killed_process_resumes_to_the_same_coefficients(tmp_path):
    """SIGKILL a training process mid-run; a restart resumes from its checkpoint and ends
    with exactly the coefficients of a run that was never interrupted."""
    script = tmp_path / "train.py"
    script.write_text(KILLED_RUN)
    ckpt = str(tmp_path / "killed.npz")
    env = dict(os.environ)
    if jax.default_backend() == "gpu":  # bit for bit across processes (README)
        env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} {DETERMINISTIC}"
    proc = subprocess.Popen([sys.executable, str(script), ckpt, "slow"], env=env)
    deadline = time.time() + 240
    while time.time() < deadline:  # wait for a checkpoint from the middle of the run
        time.sleep(0.2)
        if os.path.exists(ckpt):
            with np.load(ckpt) as saved:
                if 20 <= saved["position"][2] < 100:
                    break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with np.load(ckpt) as saved:
        assert 0 < saved["position"][2] < 120, "the run was not interrupted mid-way"
    subprocess.run([sys.executable, str(script), ckpt, "fast"], check=True, timeout=300, env=env)
    fresh = str(tmp_path / "fresh.npz")
    subprocess.run([sys.executable, str(script), fresh, "fast"], check=True, timeout=300, env=env)
    np.testing.assert_array_equal(np.load(ckpt + ".coef.npy"), np.load(fresh + ".coef.npy"))


def test_bad_batches_and_divergence_raise(data):
    X, y = data
    bad = y.copy()
    bad[4321] = np.nan
    with pytest.raises(ValueError, match=r"batch of step \d+: y contains NaN or infinite"):
        _train((X, bad))
    for value in (np.nan, -np.inf):  # X is not scanned in the steps: found via the loss
        bad_X = X.copy()
        bad_X[5000, 1] = value
        for arrays in ((bad_X, y), (jnp.asarray(bad_X), jnp.asarray(y))):
            with pytest.raises(ValueError, match=r"batch of step \d+: X contains NaN or inf"):
                _train(arrays)
    negative = y.copy()
    negative[10] = -1
    with pytest.raises(ValueError, match="outside the support of the Poisson family"):
        _train((X, negative), shuffle=False)
    # a bad row in a later batch: the step that read it, from host and device arrays
    negative = y.copy()
    negative[4321] = -1  # batches of 500 in order: step 8
    for arrays in ((X, negative), (jnp.asarray(X), jnp.asarray(negative))):
        with pytest.raises(ValueError, match="batch of step 8: .*outside the support"):
            _train(arrays, shuffle=False)
    with pytest.raises(ValueError, match="the loss is no longer finite at step"):
        _train((X * 50, y), optimizer=optax.sgd(10.0))
    with pytest.raises(ValueError, match="y has 10 rows but X has 6000"):
        _train((X, y[:10]))
    with pytest.raises(ValueError, match=r"data must be a tuple \(X, y"):
        _train(X)


def test_iterator_batches_must_keep_their_columns(data):
    X, y = data

    def batches(epoch):
        yield X[:500], y[:500]
        yield X[500:1000, :3], y[500:1000]

    with pytest.raises(ValueError, match=re.escape(
            "batch 1 of the iterator has X of shape (500, 3) and y of shape (500,); every batch "
            "must have the first one's columns: X (rows, 4) and y (rows).")):
        _train(batches)
    with pytest.raises(ValueError, match=re.escape("batch 0 of the iterator: weights has shape "
                                                   "(3,) but X has 500 rows.")):
        _train(lambda epoch: iter([(X[:500], y[:500], np.ones(3))]))


def test_integer_data_is_fitted_in_floating_point(data):
    # integer X (counts, indicators) as fit takes it: cast batch by batch, never in full
    X, y = data
    counts = np.column_stack([np.ones(M, int), np.round(2 * X[:, 1:]).astype(int)])
    want = _train((counts.astype(float), y))
    for arrays in ((counts, y), (jnp.asarray(counts), jnp.asarray(y))):
        got = _train(arrays)
        assert got.params.dtype == jnp.float64
        np.testing.assert_array_equal(got.params, want.params)


def test_rank_deficient_first_batch_warns(data):
    # fit raises on a rank-deficient X; the loop sees one batch before it starts, so it warns
    # (a batch can lack what the whole X has), names the columns, and keeps training
    X, y = data
    twice = np.column_stack([X, 2 * X[:, 2]])
    message = ("the first batch's design (500 rows) is rank deficient (or nearly so): columns "
               "'x2', 'x4' are linearly dependent there")
    for arrays in ((twice, y), (jnp.asarray(twice), jnp.asarray(y))):
        with pytest.warns(gj.RankDeficiencyWarning, match=re.escape(message)):
            res = _train(arrays, n_epochs=1)
        assert np.all(np.isfinite(np.asarray(res.coef)))
    with warnings.catch_warnings():
        warnings.simplefilter("error", gj.RankDeficiencyWarning)
        _train((twice, y), n_epochs=1, l2=1e-3)  # identified: no warning
        _train(data, n_epochs=1)
    with pytest.raises(ValueError, match=r"columns 'x2', 'x4' are linearly dependent"):
        gj.fit(twice, y, F.Poisson())


def test_progress_bar_shows_loss_and_throughput(data, capsys):
    _train(data, verbose=True, n_epochs=1, steps_per_call=2)
    err = capsys.readouterr().err
    assert "loss=" in err and "rows_per_s=" in err and "12/12" in err
    _train(data, verbose=False, n_epochs=1)
    assert capsys.readouterr().err == ""
