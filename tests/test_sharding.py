"""Row-sharded fits (IRLS, L-BFGS and the minibatch loop) on 8 fake CPU devices give the
one-device answer (float64, 1e-10).

XLA's device count is fixed when JAX starts, so the check runs in a fresh Python process.
"""

import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import os
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"
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
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=8"}
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "sharded fits agree" in out.stdout
