"""The public API in JAX's default configuration (``jax_enable_x64`` off: float32), which the
rest of the suite, run in float64, does not see. In a subprocess, since the setting is global."""

import json
import subprocess
import sys
import textwrap

import numpy as np

import glmjax as gj

SCRIPT = textwrap.dedent("""
    import json, warnings
    # JAX warns when asked for float64 it cannot give; glmjax should never ask
    warnings.filterwarnings("error", message="Explicitly requested dtype")
    import jax, jax.numpy as jnp, numpy as np, optax
    import glmjax as gj
    assert not jax.config.jax_enable_x64
    rng = np.random.default_rng(0)
    X = np.column_stack([np.ones(3000), rng.normal(size=(3000, 3))])    # float64 NumPy
    y = rng.poisson(np.exp(X @ [0.3, 0.2, -0.1, 0.05])).astype(float)
    labels = rng.integers(0, 3, 3000)
    out = {}
    res = gj.fit(X, y, gj.families.Poisson())
    assert res.params.dtype == jnp.float32 and bool(res.converged)
    res.summary()
    out["poisson"] = np.asarray(res.coef).tolist()
    out["multinomial"] = np.asarray(gj.fit(X, labels, gj.families.Multinomial(3)).coef).tolist()
    many = gj.fit_many(X, np.stack([y, y[::-1]]), gj.families.Poisson())
    assert bool(many.converged.all())
    out["many"] = np.asarray(many.coef).tolist()
    out["path"] = np.asarray(gj.fit_path(X, y, gj.families.Poisson(), n_alphas=3).coef).tolist()
    train = gj.fit_minibatch((X, y), gj.families.Poisson(), batch_size=500, n_epochs=40,
                             optimizer=optax.adam(2e-2), verbose=False)
    out["minibatch"] = np.asarray(train.coef).tolist()
    chunked = gj.fit_chunked((X, y), gj.families.Poisson(), chunk_rows=1024, verbose=False)
    assert chunked.params.dtype == jnp.float32 and bool(chunked.converged)
    chunked.summary()
    out["chunked"] = np.asarray(chunked.coef).tolist()
    out["grad"] = float(jax.grad(lambda l2: jnp.sum(gj.fit(X, y, gj.families.Poisson(),
                                                           l2=l2).params))(0.1))
    counts = np.random.default_rng(0).negative_binomial(1.1, 1.1 / 17.1, 150).astype(float)
    nb = gj.fit(np.ones((150, 1)), counts, gj.families.NegativeBinomial(alpha=None))
    out["nb"] = [float(nb.nuisance["alpha"]), float(nb.loglik)]
    print(json.dumps(out))
""")


def test_the_api_in_float32_without_x64():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    rng = np.random.default_rng(0)  # the same data, fitted here in float64
    X = np.column_stack([np.ones(3000), rng.normal(size=(3000, 3))])
    y = rng.poisson(np.exp(X @ [0.3, 0.2, -0.1, 0.05])).astype(float)
    labels = rng.integers(0, 3, 3000)
    poisson = np.asarray(gj.fit(X, y, gj.families.Poisson()).coef)
    # float32 IRLS stops at its rounding level: ~1e-6 here, far inside a standard error
    np.testing.assert_allclose(got["poisson"], poisson, atol=1e-5)
    np.testing.assert_allclose(got["many"][0], poisson, atol=1e-5)
    np.testing.assert_allclose(got["chunked"], poisson, atol=1e-5)
    # α of overdispersed counts (float32 once put it at its upper end, ∞, from a derivative
    # that was rounding noise there)
    counts = np.random.default_rng(0).negative_binomial(1.1, 1.1 / 17.1, 150).astype(float)
    nb = gj.fit(np.ones((150, 1)), counts, gj.families.NegativeBinomial(alpha=None))
    np.testing.assert_allclose(got["nb"], [float(nb.nuisance["alpha"]), float(nb.loglik)],
                               rtol=1e-4)
    np.testing.assert_allclose(got["multinomial"],
                               gj.fit(X, labels, gj.families.Multinomial(3)).coef, atol=1e-5)
    path = gj.fit_path(X, y, gj.families.Poisson(), n_alphas=3).coef
    np.testing.assert_allclose(got["path"], path, atol=1e-5)
    np.testing.assert_allclose(got["minibatch"], poisson, atol=2e-2)  # Adam's noise floor
    l2 = 0.1
    eps = 1e-6  # central difference of Σθ̂(λ₂) in float64
    f = [float(np.sum(gj.fit(X, y, gj.families.Poisson(), l2=v).params))
         for v in (l2 - eps, l2 + eps)]
    np.testing.assert_allclose(got["grad"], (f[1] - f[0]) / (2 * eps), rtol=1e-3)
