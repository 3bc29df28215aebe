"""Bad input gets a clear error (or warning) naming the problem, never a silent NaN."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import glmjax as gj
from glmjax import families as F
from glmjax import links as L

M = 40


@pytest.fixture
def X():
    rng = np.random.default_rng(2)
    return np.column_stack([np.ones(M), rng.normal(size=(M, 2))])


@pytest.fixture
def counts():
    return np.random.default_rng(3).poisson(2.0, size=M).astype(float)


def test_shape_mismatch(X, counts):
    with pytest.raises(ValueError, match=re.escape("expects y of shape (40,)")):
        gj.fit(X, counts[:-1], family=F.Poisson())
    with pytest.raises(ValueError, match=re.escape("X must be a 2-D (m, p) design matrix")):
        gj.fit(X[:, 0], counts, family=F.Poisson())
    with pytest.raises(ValueError, match=re.escape("weights must have shape (40,)")):
        gj.fit(X, counts, family=F.Poisson(), weights=np.ones(3))
    with pytest.raises(ValueError, match=re.escape("offset must have shape (40,)")):
        gj.fit(X, counts, family=F.Poisson(), offset=np.ones((M, 1)))
    with pytest.raises(ValueError, match=re.escape("expects y of shape (40, 3)")):
        gj.fit(X, np.full((M, 2), 0.5), family=F.Dirichlet(n_components=3))
    with pytest.raises(ValueError, match="init must have 3 values"):
        gj.fit(X, counts, family=F.Poisson(), init=np.zeros(4))


@pytest.mark.parametrize("where", ["X", "y", "weights", "offset"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_and_inf_are_rejected_with_their_index(X, counts, where, bad):
    arrays = {"X": X.copy(), "y": counts.copy(), "weights": np.ones(M), "offset": np.zeros(M)}
    index = (5, 1) if where == "X" else (5,)
    arrays[where][index] = bad
    msg = f"{where} contain{'s' if where != 'weights' else ''} NaN or infinite values " \
          f"(first at index {index}; 1 in all)"
    with pytest.raises(ValueError, match=re.escape(msg)):
        gj.fit(arrays["X"], arrays["y"], family=F.Poisson(), weights=arrays["weights"],
               offset=arrays["offset"])


@pytest.mark.parametrize("family,y,text", [
    (F.Poisson(), -1.0, "non-negative counts"),
    (F.NegativeBinomial(), -2.0, "non-negative integer counts"),
    (F.NegativeBinomial(alpha=None), 2.5, "non-negative integer counts"),
    (F.Bernoulli(), 0.5, "{0, 1}"),
    (F.Bernoulli(), 2.0, "{0, 1}"),
    (F.Gamma(), 0.0, "positive reals"),
    (F.Exponential(), -1.0, "positive reals"),
    (F.InverseGaussian(), 0.0, "positive reals"),
    (F.Beta(), 1.0, "open interval 0 < y < 1"),
    (F.Beta(), 0.0, "open interval 0 < y < 1"),
], ids=lambda v: str(v))
def test_values_outside_the_support(X, family, y, text):
    ys = np.full(M, {"Bernoulli": 1.0, "Beta": 0.5, "NegativeBinomial": 1.0}.get(family.name,
                                                                               1.5))
    ys[7] = y
    with pytest.raises(ValueError, match=re.escape(f"y is outside the support of the "
                                                   f"{family.name} family") + ".*" +
                       re.escape(text) + r".*first at index \(7,\)"):
        gj.fit(X, ys, family=family)


def test_binomial_successes_beyond_trials(X):
    Y = np.column_stack([np.full(M, 2.0), np.full(M, 3.0)])
    Y[3] = [-1.0, 4.0]
    with pytest.raises(ValueError, match=r"0 <= successes <= trials.*index \(3,\)"):
        gj.fit(X, Y, family=F.Binomial())


def test_compositions_must_sum_to_one(X):
    y = np.tile([0.2, 0.3, 0.5], (M, 1))
    y[4] = [0.2, 0.3, 0.6]
    with pytest.raises(ValueError, match="positive values that sum to 1.*index \\(4,\\)"):
        gj.fit(X, y, family=F.Dirichlet(n_components=3))


def test_multinomial_labels_out_of_range(X):
    labels = np.arange(M) % 3
    labels[9] = 3
    with pytest.raises(ValueError, match="integer labels 0..2.*index \\(9,\\)"):
        gj.fit(X, labels, family=F.Multinomial(n_classes=3))
    floats = (np.arange(M) % 3).astype(float)
    floats[9] = 1.5
    with pytest.raises(ValueError, match="integer labels 0..2.*index \\(9,\\)"):
        gj.fit(X, floats, family=F.Multinomial(n_classes=3))
    # outside ``fit`` a float vector could be labels or one one-hot row: an error, not a guess
    with pytest.raises(ValueError, match=r"reads float y as one-hot rows.*got shape \(\)"):
        F.Multinomial(n_classes=3).log_prob(1.0, np.zeros(3))
    assert F.Multinomial(n_classes=3).log_prob(1, np.zeros(3)) == pytest.approx(-np.log(3))


def test_weights_negative_or_all_zero(X, counts):
    w = np.ones(M)
    w[2] = -1
    with pytest.raises(ValueError, match=re.escape("weights must be >= 0 (first at index (2,)")):
        gj.fit(X, counts, family=F.Poisson(), weights=w)
    with pytest.raises(ValueError, match="weights must not all be zero"):
        gj.fit(X, counts, family=F.Poisson(), weights=np.zeros(M))


def test_unknown_family_link_pairings(X, counts):
    with pytest.raises(ValueError, match=r"link Logit\(\) is not available for the Poisson family"
                       ".*one of: Log, Identity, Sqrt"):
        gj.fit(X, counts, family=F.Poisson(), link=L.Logit())
    with pytest.raises(ValueError, match="not available for the Multinomial family"):
        gj.fit(X, np.arange(M) % 3, family=F.Multinomial(n_classes=3), link=L.Log())
    with pytest.raises(ValueError, match="Softmax parametrization does not apply to the Poisson"):
        gj.fit(X, counts, family=F.Poisson(), link=gj.parametrizations.Softmax())
    with pytest.raises(TypeError, match="link must be None .the family's default., "
                       "'canonical', a glmjax.links link"):
        gj.fit(X, counts, family=F.Poisson(), link="log")
    with pytest.raises(TypeError, match="family must be a glmjax.families instance"):
        gj.fit(X, counts, family="poisson")
    with pytest.raises(ValueError, match="solver must be one of"):
        gj.fit(X, counts, family=F.Poisson(), solver="newton")


def test_rank_deficient_design_names_the_columns(X, counts):
    Xd = np.column_stack([X, 2 * X[:, 1] - X[:, 2]])
    with pytest.raises(ValueError, match="rank deficient.*columns 'x1', 'x2', 'x3' are linearly "
                       "dependent. Drop one of them, or pass l2 > 0"):
        gj.fit(Xd, counts, family=F.Poisson())
    with pytest.raises(ValueError, match="column 'x1' is all zeros"):
        gj.fit(np.column_stack([X[:, 0], np.zeros(M)]), counts, family=F.Poisson())
    with pytest.raises(ValueError, match="fewer rows with positive weight"):
        gj.fit(X, counts, family=F.Poisson(), weights=np.r_[1.0, 1.0, np.zeros(M - 2)])
    # two columns of ones (an estimator adding an intercept to X that has one) are told apart
    with pytest.raises(ValueError, match=r"columns '\(Intercept\)' \(column 0\), "
                       r"'\(Intercept\)' \(column 1\) are linearly dependent"):
        gj.fit(np.column_stack([X[:, 0], X]), counts, family=F.Poisson())


def test_perfect_separation_warns_and_is_reported(X):
    y = (X[:, 1] > 0).astype(float)
    with pytest.warns(gj.SeparationWarning, match="separated and the maximum-likelihood "
                      "estimate does not exist"):
        res = gj.fit(X, y, family=F.Bernoulli())
    assert int(res.n_boundary) > 0
    assert "separation" in res.summary()
    assert np.all(np.isfinite(res.coef))
    # every fitted mean at its y: the deviance is at rounding level (none negative)
    assert 0 <= float(res.deviance) < 1e-12 and np.all(np.asarray(res.unit_deviance) >= 0)
    res = gj.fit(X, y, family=F.Bernoulli(), l2=0.01)  # a penalty gives a finite MLE, no warning
    assert int(res.n_boundary) == 0


def test_non_convergence_warns_and_reports(X, counts):
    with pytest.warns(gj.ConvergenceWarning, match=r"irls did not converge \(1 iterations, "
                      "status MAX_ITER\\): irls stopped at its iteration limit; raise max_iter"):
        res = gj.fit(X, counts, family=F.Poisson(), max_iter=1)
    assert not bool(res.converged) and int(res.n_iter) == 1
    assert res.status == gj.solvers.Status.MAX_ITER
    assert "DID NOT CONVERGE" in res.summary()


def test_means_at_the_edge_of_their_space_under_identity_and_log_links():
    """R's glm(y ~ x, poisson("identity")) stops at its first iterate, which has negative
    means ("no valid set of coefficients has been found: please supply starting values");
    glmjax says so too. From a valid start, Newton's steps stall where a mean reaches 0; the
    loop goes on with Fisher scoring, as R's IRLS, to the maximum on that edge: R's
    coefficients (start = c(mean(y), 0); 1.485545501807, 0.619433380252, log-likelihood
    −303.088111283) to 2e-6, with a log-likelihood at least as high."""
    rng = np.random.default_rng(0)
    X = np.column_stack([np.ones(200), rng.normal(size=200)])
    y = rng.poisson(np.clip(1 + 2 * X[:, 1], 0.1, None)).astype(float)
    with pytest.warns(gj.ConvergenceWarning, match=r"\(0 iterations, status NONFINITE\): the "
                      r"starting coefficients give fitted means outside the Poisson family's "
                      r"range \(under the identity link\).* pass init="):
        gj.fit(X, y, F.Poisson(), link=gj.links.Identity())
    with pytest.warns(gj.SeparationWarning, match="on the edge of the parameter space"), \
            pytest.warns(gj.ConvergenceWarning, match="MAX_ITER"):  # linear convergence
        res = gj.fit(X, y, F.Poisson(), link=gj.links.Identity(), init=[y.mean(), 0.0])
    np.testing.assert_allclose(res.coef, [1.485545501807, 0.619433380252], atol=2e-6)
    assert float(res.loglik) >= -303.088111283 - 1e-9
    assert float(np.min(res.mean)) >= 0 and int(res.n_boundary) == 1
    # log-binomial (relative risk) regression: R needs starting values there too; glmjax
    # converges from its own start, to R's fit from start = c(log(mean(y)), 0)
    rng = np.random.default_rng(0)
    X = np.column_stack([np.ones(200), rng.normal(size=200)])
    y = (rng.uniform(size=200) < np.clip(np.exp(-1 + 0.5 * X[:, 1]), 0, 1)).astype(float)
    res = gj.fit(X, y, F.Bernoulli(), link=gj.links.Log())
    assert bool(res.converged)
    np.testing.assert_allclose(res.coef, [-1.1995422541, 0.5222020603], atol=5e-5)
    assert float(res.loglik) >= -117.191664104 - 1e-9


def test_a_diverged_first_order_fit_is_not_converged():
    # a step far too long: the gradient overflows after one update
    import optax

    rng = np.random.default_rng(5)
    X, y = rng.normal(size=(60, 3)), rng.poisson(1.0, size=60).astype(float)
    with pytest.warns(gj.ConvergenceWarning, match=r"optax did not converge \(1 iterations, "
                      r"status NONFINITE\): optax diverged .* lower the learning rate"):
        res = gj.fit(X, y, family=F.Poisson(), l2=1.0, solver=optax.sgd(1e3), max_iter=50)
    assert not bool(res.converged) and int(res.n_iter) == 1
    assert res.status == gj.solvers.Status.NONFINITE  # not told to "raise max_iter"
    assert np.all(np.isfinite(res.params))  # it stops at the last finite iterate


def test_the_stopping_rule_sees_nan_among_4096_gradient_entries():
    # under jit, jaxlib 0.10.2's CPU jnp.max drops NaN from 4,096 or more entries: a diverged
    # fit with that many coefficients once reported convergence
    from glmjax.solvers.first_order import _small

    grad = jnp.zeros(4096).at[17].set(jnp.nan)
    assert not bool(jax.jit(_small)(grad, 1e-8))
    assert bool(jax.jit(_small)(jnp.zeros(4096), 1e-8))


def test_errors_inside_jit_raise_instead_of_returning_nan(X, counts):
    bad = counts.copy()
    bad[0] = -3.0
    fit = jax.jit(lambda y: gj.fit(X, y, family=F.Poisson()).coef)
    np.testing.assert_allclose(fit(counts), gj.fit(X, counts, family=F.Poisson()).coef)
    with pytest.raises(Exception, match="y is outside the support of the Poisson family"):
        jax.block_until_ready(fit(jnp.asarray(bad)))


def test_predict_checks_the_design(X, counts):
    res = gj.fit(X, counts, family=F.Poisson())
    with pytest.raises(ValueError, match=re.escape("X must have shape (m, 3)")):
        res.predict(X[:, :2])
    with pytest.raises(ValueError, match="which must be"):
        res.predict(X, which="probability")


@pytest.mark.parametrize("family,eta,at", [
    (F.Exponential(), [-1.0, 0.5], "η[1] = 0.5"),
    (F.NegativeBinomial(alpha=0.5), [-1.0, -2.0, 0.1], "η[2] = 0.1"),
    (F.InverseGaussian(), [-1.0, 0.0], "η[1] = 0.0"),
    (F.Poisson(), [1.0, np.nan], "η[1] = nan"),
    (F.Poisson(), 800.0, "η = 800.0"),
    (F.Bernoulli(), [[0.0, np.nan]], "η[0, 1] = nan"),
    (F.Dirichlet(n_components=3), [[1.0, 2.0, 3.0], [1.0, 2.0, -1.0]], "η[1] = [ 1.  2. -1.]"),
])
def test_sampling_outside_the_natural_domain(family, eta, at):
    # the draws would be invalid (a negative rate, NaN probabilities) without a word
    with pytest.raises(ValueError, match=re.escape(f"{family.name}: A(η) is not finite at {at}: "
                                                   "η is outside the natural domain")):
        family.sample(jax.random.key(0), jnp.asarray(eta))
    sample = jax.jit(lambda e: family.sample(jax.random.key(0), e))
    with pytest.raises(Exception, match=re.escape(f"{family.name}: A(η) is not finite")):
        jax.block_until_ready(sample(jnp.asarray(eta)))


def test_sampling_with_a_dispersion_that_is_not_positive():
    with pytest.raises(ValueError, match="Gamma: the dispersion φ must be positive; got 0.0"):
        F.Gamma().sample(jax.random.key(0), jnp.array([-1.0]), dispersion=0.0)
    sample = jax.jit(lambda phi: F.Gaussian().sample(jax.random.key(0), jnp.zeros(3), (),
                                                     dispersion=phi))
    assert np.all(np.isfinite(sample(2.0)))
    with pytest.raises(Exception, match="Gaussian: the dispersion φ must be positive"):
        jax.block_until_ready(sample(-1.0))


def test_text_or_complex_numbers_in_y_or_X_say_what_to_do(X, counts):
    labels = np.where(counts > 1, "many", "few")
    with pytest.raises(TypeError, match=r"y has dtype <U4; glmjax needs numbers.*np.unique"):
        gj.fit(X, labels, family=F.Multinomial(2))
    with pytest.raises(TypeError, match="y has dtype <U4"):
        gj.fit_many(X, np.stack([labels, labels]), family=F.Multinomial(2))
    with pytest.raises(TypeError, match="y has dtype <U4"):
        gj.fit_path(X, labels, family=F.Multinomial(2))
    with pytest.raises(TypeError, match=r"X has dtype complex128; glmjax needs real numbers"):
        gj.fit(X + 1j, counts, family=F.Poisson())
    with pytest.raises(TypeError, match=r"y has dtype complex128.*take y.real"):
        gj.fit(X, counts.astype(complex), family=F.Poisson())
    with pytest.raises(TypeError, match=r"weights has dtype complex128"):
        gj.fit(X, counts, family=F.Poisson(), weights=np.ones(M) + 1j)
    with pytest.raises(TypeError, match="y has dtype object.*np.unique"):  # a pandas category
        gj.fit(X, pd.Series(labels, dtype="category"), family=F.Multinomial(2))
    frame = pd.DataFrame({"x": X[:, 1], "group": np.where(X[:, 2] > 0, "a", "b")})
    with pytest.raises(TypeError, match="X has dtype object.*pass the data frame itself"):
        gj.fit(np.asarray(frame, dtype=object), counts, family=F.Poisson())
    # the frame itself: its string column is a categorical (tests/test_design.py)
    assert gj.fit(frame, counts, family=F.Poisson()).feature_names == ("x", "group[a]",
                                                                        "group[b]")


def test_l1_fits_summarise_coefficients_held_at_zero(X, counts):
    res = gj.fit(X, counts, family=F.Poisson(), l1=0.5)
    assert float(res.coef[1]) == 0.0 and float(res.stderr[1]) == 0.0
    text = res.summary()
    assert re.search(r"\nx1 +0\.0+ +\. +\. +\.\n", text)
    assert "held at zero by the L1 penalty" in text
    table = res.coef_table()
    assert table["statistic"][1] is None and table["pvalue"][1] is None


def test_family_parameters_are_validated():
    for alpha in (-1.0, 0.0, float("nan"), np.inf):
        with pytest.raises(ValueError, match="NegativeBinomial needs a finite scalar alpha > 0"):
            F.NegativeBinomial(alpha=alpha)
    for power in (1.0, 2.0, 0.5, float("nan")):
        with pytest.raises(ValueError, match="Tweedie needs a scalar power with 1 < power < 2"):
            F.Tweedie(power=power)


def test_settings_are_validated(X, counts):
    for scale in (-1.0, 0.0, float("nan"), "pearson?"):
        with pytest.raises(ValueError, match="scale must be None"):
            gj.fit(X, counts, family=F.Poisson(), scale=scale)
    with pytest.raises(ValueError, match="tol must be a number > 0; got 0"):
        gj.fit(X, counts, family=F.Poisson(), tol=0)
    for max_iter in (0, -3, 2.5):
        with pytest.raises(ValueError, match="max_iter must be an integer >= 1"):
            gj.fit(X, counts, family=F.Poisson(), max_iter=max_iter)
    res = gj.fit(X, counts, family=F.Poisson())
    with pytest.raises(ValueError, match="alpha must be a number with 0 < alpha < 1"):
        res.conf_int(alpha=2)
    with pytest.raises(ValueError, match="alpha must be a number with 0 < alpha < 1"):
        res.coef_table(alpha=1.5)


def test_overflowing_columns_and_responses_without_information_are_named(X, counts):
    big = X.copy()
    big[:, 2] *= 1e160
    with pytest.raises(ValueError, match="column 'x2' of X has entries as large as .*e\\+160: "
                       "XᵀWX overflows"):
        gj.fit(big, counts, family=F.Poisson())
    with pytest.raises(ValueError, match="y gives no row a usable starting value.*all-zero "
                       "count response"):
        gj.fit(X, np.zeros(M), family=F.Poisson())
    with pytest.raises(ValueError, match="a class or category with no observations"):
        gj.fit(X, np.arange(M) % 2, family=F.Multinomial(n_classes=3))


def test_half_precision_is_fitted_in_float32(X, counts):
    want = gj.fit(X.astype(np.float32), counts.astype(np.float32), family=F.Poisson())
    for dtype in (np.float16, jnp.bfloat16):
        res = gj.fit(jnp.asarray(X, dtype), counts, family=F.Poisson())
        assert res.coef.dtype == jnp.float32
        np.testing.assert_allclose(res.coef, want.coef, atol=0.05)  # X rounded to 8-11 bits


def test_predict_offset_and_identity_eta_are_checked(X, counts):
    res = gj.fit(X, counts, family=F.Poisson())
    with pytest.raises(ValueError, match=re.escape("offset must have shape (40,), one value "
                                                   "per row of X; got (3,)")):
        res.predict(X, offset=np.zeros(3))
    with pytest.raises(ValueError, match=re.escape("A(η) is not finite at η[1] = nan")):
        gj.check_identity(F.Poisson(), jnp.array([0.0, jnp.nan]))


def test_minibatch_checkpoints_belong_to_one_model(tmp_path, X, counts):
    import optax

    path = tmp_path / "run.npz"
    kw = dict(batch_size=10, n_epochs=1, verbose=False, checkpoint=path)
    gj.fit_minibatch((X, counts), F.Poisson(), **kw)
    for family, optimizer in [(F.Gaussian(), None), (F.Poisson(), optax.sgd(0.1))]:
        with pytest.raises(ValueError, match="was written for another model"):
            gj.fit_minibatch((X, counts), family, optimizer=optimizer, **kw)
    with pytest.raises(ValueError, match="checkpoint's directory .* does not exist"):
        gj.fit_minibatch((X, counts), F.Poisson(), **{**kw, "checkpoint": tmp_path / "no" / "c"})
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ValueError, match="does not exist"):  # its parent is a file
        gj.fit_minibatch((X, counts), F.Poisson(), **{**kw, "checkpoint": blocker / "c.npz"})


def test_minibatch_takes_data_frames_and_reports_losses_per_row(X, counts):
    frame = pd.DataFrame(X, columns=["one", "a", "b"])
    res = gj.fit_minibatch((frame, pd.Series(counts)), F.Poisson(), batch_size=30, n_epochs=3,
                           verbose=False, seed=0)
    same = gj.fit_minibatch((X, counts), F.Poisson(), batch_size=30, n_epochs=3,
                            verbose=False, seed=0)
    np.testing.assert_array_equal(res.params, same.params)
    # 40 rows in batches of 30: every second step has 10 rows, on the same scale as the others
    full, short = res.losses[0::2], res.losses[1::2]
    assert 0.5 < float(np.mean(short) / np.mean(full)) < 2


def test_missing_optional_dependencies_name_the_extra(monkeypatch, X, counts, tmp_path):
    import sys

    res = gj.fit(X, counts, family=F.Poisson())
    for name in ["matplotlib", "sklearn", *sys.modules]:
        if name.split(".")[0] in ("matplotlib", "sklearn"):
            monkeypatch.setitem(sys.modules, name, None)  # as if not installed
    with pytest.raises(ModuleNotFoundError, match=r'plotting needs matplotlib, which is not '
                       r'installed: pip install "glmjax\[plots\]"'):
        res.plot_diagnostics()
    monkeypatch.delitem(sys.modules, "glmjax.estimators", raising=False)
    with pytest.raises(ModuleNotFoundError, match=r'pip install "glmjax\[sklearn\]"'):
        import glmjax.estimators  # noqa: F401
    from glmjax import _cli as cli  # the command line needs no scikit-learn

    path = tmp_path / "d.csv"
    pd.DataFrame({"y": counts, "a": X[:, 1]}).to_csv(path, index=False)
    assert cli.main(["fit", str(path), "--formula", "y ~ a", "--family", "poisson",
                     "--output", "json"]) == cli.EXIT_OK
