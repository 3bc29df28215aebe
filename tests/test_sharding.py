"""Row-sharded fits (IRLS, L-BFGS, L1 paths and cross-validation, the minibatch loop) and
fit_many with its fits (or the rows of a shared X) split over 8 fake CPU devices give the
one-device answer (float64, 1e-10); so do two processes of four.

XLA's device count is fixed when JAX starts, so the check runs in a fresh Python process.
"""

import os
import socket
import subprocess
import sys
import textwrap

FLAGS = os.environ.get("XLA_FLAGS", "")  # the test session's (conftest.py), kept

# The L1 solver (IRLS with coordinate descent), a path and cross-validation on the rows
# Xs, ys split over devices against the one-device answer for X, y. (Over processes, the
# two-process script fits the path alone: cross-validation runs the same path on each fold.)
PENALIZED = textwrap.dedent("""
    one = gj.fit(X, y, family=gj.families.Poisson(), l1=0.01, l2=0.01)
    res = gj.fit(Xs, ys, family=gj.families.Poisson(), l1=0.01, l2=0.01)
    np.testing.assert_allclose(res.coef, one.coef, rtol=1e-10, atol=1e-12)
    one = gj.fit_path(X, y, family=gj.families.Poisson(), n_alphas=4)
    res = gj.fit_path(Xs, ys, family=gj.families.Poisson(), n_alphas=4)
    np.testing.assert_allclose(res.coef, one.coef, rtol=1e-10, atol=1e-12)
    one = gj.fit_cv(X, y, family=gj.families.Poisson(), n_alphas=5, n_folds=4)
    res = gj.fit_cv(Xs, ys, family=gj.families.Poisson(), n_alphas=5, n_folds=4)
    np.testing.assert_allclose(res.cv_mean, one.cv_mean, rtol=1e-10)
    np.testing.assert_allclose(res.alphas, one.alphas, rtol=1e-12)
    assert res.index_best == one.index_best
""")

SCRIPT = textwrap.dedent("""
    import os
    flags = os.environ.get("XLA_FLAGS", "")
    os.environ["XLA_FLAGS"] = flags + " --xla_force_host_platform_device_count=8"
    import jax
    jax.config.update("jax_enable_x64", True)
    import numpy as np
    import glmjax as gj

    assert len(jax.devices()) == 8
    rng = np.random.default_rng(0)
    m = 4000
    X = np.column_stack([np.ones(m), rng.normal(size=(m, 4))])
    y = rng.poisson(np.exp(X @ [0.2, 0.3, -0.1, 0.0, 0.2])).astype(float)
    w = rng.uniform(0.5, 2.0, size=m)
    for solver in ("irls", "lbfgs"):
        one = gj.fit(X, y, family=gj.families.Poisson(), weights=w, solver=solver)
        Xs, ys, ws = gj.shard_rows(X, y, w)
        res = gj.fit(Xs, ys, family=gj.families.Poisson(), weights=ws, solver=solver)
        assert len(res.problem.X.sharding.device_set) == 8, res.problem.X.sharding
        np.testing.assert_allclose(res.coef, one.coef, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(res.stderr, one.stderr, rtol=1e-10)
        np.testing.assert_allclose(res.deviance, one.deviance, rtol=1e-10)
    Xs, ys = gj.shard_rows(X, y)
""") + PENALIZED + textwrap.dedent("""
    # fit_many on stacked fits: shard_rows splits their leading axis, the fits
    Xb, yb = X.reshape(16, 250, 5), y.reshape(16, 250)
    one = gj.fit_many(Xb, yb, family=gj.families.Poisson())
    res = gj.fit_many(*gj.shard_rows(Xb, yb), family=gj.families.Poisson())
    assert len(res.params.sharding.device_set) == 8, res.params.sharding
    np.testing.assert_allclose(res.coef, one.coef, rtol=1e-10, atol=1e-12)
    # fit_many on responses (B, m) sharing one X: rows split on both (axis 1 of the responses)
    Y = np.stack([y, rng.poisson(2.0, size=m).astype(float)])
    one = gj.fit_many(X, Y, family=gj.families.Poisson())
    (Xs,), (Ys,) = gj.shard_rows(X), gj.shard_rows(Y, axis=1)
    assert tuple(Ys.sharding.spec) == (None, "rows"), Ys.sharding
    res = gj.fit_many(Xs, Ys, family=gj.families.Poisson())
    np.testing.assert_allclose(res.coef, one.coef, rtol=1e-10, atol=1e-12)
    for bad, axis in ((X[:12], 0), (Y[:, :12], 1)):
        try:
            gj.shard_rows(bad, axis=axis)
            raise AssertionError("12 rows were split over 8 devices")
        except ValueError as err:
            assert f"along axis {axis} over this process's 8 devices" in str(err), err
    # the optax minibatch loop, data-parallel over the 8 devices
    import optax
    kw = dict(batch_size=400, n_epochs=2, optimizer=optax.adam(0.05), verbose=False)
    one = gj.fit_minibatch((X, y, w), gj.families.Poisson(), **kw)
    mesh = gj.sharding.row_mesh()
    res = gj.fit_minibatch((X, y, w), gj.families.Poisson(), mesh=mesh, **kw)
    assert len(res.params.sharding.device_set) == 8, res.params.sharding
    np.testing.assert_allclose(res.params, one.params, rtol=1e-10, atol=1e-12)
    print("sharded fits agree")
""")


def test_row_sharded_fit_equals_single_device():
    env = {**os.environ, "XLA_FLAGS": f"{FLAGS} --xla_force_host_platform_device_count=8"}
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "sharded fits agree" in out.stdout


MULTI_PROCESS_SCRIPT = textwrap.dedent("""
    import os, sys
    process, port, checkpoint = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    import jax
    jax.config.update("jax_enable_x64", True)
    jax.distributed.initialize(f"localhost:{port}", num_processes=2, process_id=process)
    import numpy as np, optax, pytest
    from jax.experimental import multihost_utils
    import glmjax as gj

    assert jax.device_count() == 8 and jax.local_device_count() == 4
    rng = np.random.default_rng(0)
    m = 4000
    X = np.column_stack([np.ones(m), rng.normal(size=(m, 4))])
    y = rng.poisson(np.exp(X @ [0.2, 0.3, -0.1, 0.0, 0.2])).astype(float)
    w = rng.uniform(0.5, 2.0, size=m)
    mine = slice(process * m // 2, (process + 1) * m // 2)  # this process's rows
    Xs, ys, ws = gj.shard_rows(X[mine], y[mine], w[mine])
    assert Xs.shape == (m, 5) and not Xs.is_fully_addressable
    # the one-process references: process 0 computes them and compares (every process gets
    # the whole result of a sharded fit) after the last collective, so that process 1 never
    # waits at one while process 0 compiles a reference (gloo gives up after 30 s)
    later = []
    res = gj.fit(Xs, ys, family=gj.families.Poisson(), weights=ws)  # (L-BFGS: 8 devices)

    @later.append
    def _(res=res):
        one = gj.fit(X, y, family=gj.families.Poisson(), weights=w)
        np.testing.assert_allclose(res.coef, one.coef, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(res.stderr, one.stderr, rtol=1e-10)
        np.testing.assert_allclose(res.deviance, one.deviance, rtol=1e-10)
    assert "Residual deviance" in str(res.summary())
    Xs, ys = gj.shard_rows(X[mine], y[mine])
    res = gj.fit(Xs, ys, family=gj.families.Poisson(), l1=0.01, l2=0.01)
    path = gj.fit_path(Xs, ys, family=gj.families.Poisson(), n_alphas=4)

    @later.append
    def _(res=res, path=path):
        one = gj.fit(X, y, family=gj.families.Poisson(), l1=0.01, l2=0.01)
        np.testing.assert_allclose(res.coef, one.coef, rtol=1e-10, atol=1e-12)
        one = gj.fit_path(X, y, family=gj.families.Poisson(), n_alphas=4)
        np.testing.assert_allclose(path.coef, one.coef, rtol=1e-10, atol=1e-12)
    bad = y[mine].copy()
    bad[-1] = np.nan if process == 1 else bad[-1]  # row m - 1 of the whole
    with pytest.raises(ValueError, match=r"y contains NaN .*index \\(3999,\\); 1 in all"):
        gj.fit(Xs, gj.shard_rows(bad)[0], family=gj.families.Poisson())

    # the minibatch loop: each process contributes 200 of every 400 rows. Without shuffling,
    # step j takes rows [200j, 200j + 200) of each process: the batches of one process
    # reading the rows in that order
    order = np.arange(m).reshape(2, -1, 200).transpose(1, 0, 2).ravel()
    kw = dict(batch_size=400, optimizer=optax.adam(0.05), shuffle=False, verbose=False)
    mesh = gj.sharding.row_mesh()
    data = (X[mine], y[mine], w[mine])
    res = gj.fit_minibatch(data, gj.families.Poisson(), n_epochs=2, l2=0.01, mesh=mesh, **kw)

    @later.append
    def _(res=res):
        one = gj.fit_minibatch((X[order], y[order], w[order]), gj.families.Poisson(),
                               n_epochs=2, l2=0.01, **kw)
        np.testing.assert_allclose(res.params, one.params, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(res.losses, one.losses, rtol=1e-10)
    # both processes checkpoint to one path, and resume from it
    gj.fit_minibatch(data, gj.families.Poisson(), n_epochs=1, l2=0.01, mesh=mesh,
                     checkpoint=checkpoint, **kw)
    resumed = gj.fit_minibatch(data, gj.families.Poisson(), n_epochs=2, l2=0.01, mesh=mesh,
                               checkpoint=checkpoint, **kw)
    np.testing.assert_array_equal(resumed.params, res.params)
    # a bad y in process 1's third batch: the step's flag stops both processes
    bad = y[mine].copy()
    bad[450] = -1 if process == 1 else bad[450]
    with pytest.raises(ValueError, match="batch of step 2: .*outside the support"):
        gj.fit_minibatch((X[mine], bad, w[mine]), gj.families.Poisson(), n_epochs=1, mesh=mesh,
                         **kw)
    # fit_many: stacked fits split over the processes (8 of the 16 fits each, 2 per device),
    # and responses sharing X with the rows split over the processes
    Xb, yb = X.reshape(16, 250, 5), y.reshape(16, 250)
    fits = slice(process * 8, process * 8 + 8)
    res = gj.fit_many(*gj.shard_rows(Xb[fits], yb[fits]), family=gj.families.Poisson())
    assert not res.params.is_fully_addressable
    own = np.concatenate([s.data for s in sorted(res.params.addressable_shards,
                                                 key=lambda s: s.index[0].start)])
    every = multihost_utils.process_allgather(res.params, tiled=True)
    np.testing.assert_allclose(own, every[fits], rtol=1e-14)  # this process's own fits

    @later.append
    def _(every=every):
        one = gj.fit_many(Xb, yb, family=gj.families.Poisson())
        np.testing.assert_allclose(every, one.params, rtol=1e-10, atol=1e-12)
    bad = yb[fits].copy()
    bad[3, 7] = -2.0 if process == 1 else bad[3, 7]  # fit 11 of the whole
    with pytest.raises(ValueError, match=r"fit 11 of 16: y .*outside the support"):
        gj.fit_many(*gj.shard_rows(Xb[fits], bad), family=gj.families.Poisson())
    Y = np.stack([y, rng.poisson(2.0, size=m).astype(float)])
    res = gj.fit_many(*gj.shard_rows(X[mine]), *gj.shard_rows(Y[:, mine], axis=1),
                      family=gj.families.Poisson())

    @later.append
    def _(res=res):
        one = gj.fit_many(X, Y, family=gj.families.Poisson())
        np.testing.assert_allclose(res.coef, one.coef, rtol=1e-10, atol=1e-12)
    chunked = gj.fit_chunked((X[mine], y[mine], w[mine]), gj.families.Poisson(),
                             chunk_rows=512, cov_type="HC1", verbose=False)  # own chunks

    @later.append
    def _(chunked=chunked):
        one = gj.fit(X, y, family=gj.families.Poisson(), weights=w, cov_type="HC1")
        np.testing.assert_allclose(chunked.coef, one.coef, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(chunked.cov, one.cov, rtol=1e-9)
        np.testing.assert_allclose(chunked.null_deviance, one.null_deviance, rtol=1e-10)
    # clusters 0..29 have rows in both processes, 30..36 in process 1 only
    groups = np.r_[np.arange(m // 2) % 30, np.arange(m // 2) % 37]
    clustered = gj.fit_chunked((X[mine], y[mine]), gj.families.Poisson(), chunk_rows=512,
                               cov_type="cluster", groups=groups[mine], verbose=False)

    @later.append
    def _(clustered=clustered):
        one = gj.fit(X, y, family=gj.families.Poisson(), cov_type="cluster", groups=groups)
        np.testing.assert_allclose(clustered.cov, one.cov, rtol=1e-9)
    for check in later if process == 0 else []:
        check()
    print("process", process, "agrees")
""")


def test_two_processes_fit_as_one(tmp_path):
    """Multi-host through ``jax.distributed``: two processes of four CPU devices each, every
    process passing its own half of the rows, give the one-process answer."""
    with socket.socket() as s:
        s.bind(("localhost", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "XLA_FLAGS": f"{FLAGS} --xla_force_host_platform_device_count=4"}
    workers = [subprocess.Popen([sys.executable, "-c", MULTI_PROCESS_SCRIPT, str(k), str(port),
                                 str(tmp_path / "run.npz")],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=env) for k in range(2)]
    try:
        outs = [w.communicate(timeout=600) for w in workers]
    finally:
        for w in workers:
            w.kill()
    for k, (w, (out, err)) in enumerate(zip(workers, outs, strict=True)):
        assert w.returncode == 0, err[-3000:]
        assert f"process {k} agrees" in out
