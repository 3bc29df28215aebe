"""Diagnostic plots: the data behind them, and that they draw for every kind of family."""

import matplotlib

matplotlib.use("Agg")

import jax  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import glmjax as gj  # noqa: E402
from glmjax import families as F  # noqa: E402
from glmjax import plots  # noqa: E402


@pytest.fixture(scope="module")
def X():
    rng = np.random.default_rng(0)
    return np.column_stack([np.ones(300), rng.normal(size=(300, 2)) * 0.5])


def test_deviance_residuals_standardised(X):
    rng = np.random.default_rng(1)
    y = rng.gamma(4.0, np.exp(X @ [0.5, 0.3, -0.2]) / 4.0)
    res = gj.fit(X, y, F.Gamma(), gj.links.Log())
    d = plots.diagnostics_data(res)
    np.testing.assert_allclose(d["residual"], res.resid_deviance / np.sqrt(res.scale))
    np.testing.assert_allclose(d["fitted"], res.mean)
    assert abs(np.std(d["residual"]) - 1) < 0.15  # a correctly specified model


@pytest.mark.parametrize("family", [F.Poisson(), F.Multinomial(n_classes=3), F.Beta()],
                         ids=lambda f: f.name)
def test_plot_diagnostics_draws(X, family):
    eta = X @ np.array([[0.2, 0.3], [0.5, -0.4], [0.1, 0.2]])
    y = family.sample(jax.random.key(0), np.exp(eta) if family.name == "Beta" else
                      (eta[:, 0] if family.name == "Poisson" else
                       np.column_stack([np.zeros(300), eta])))
    link = gj.links.Logit() if family.name == "Beta" else None
    res = gj.fit(X, y, family, link)
    fig = res.plot_diagnostics()
    assert len(fig.axes) == 3 and all(ax.collections for ax in fig.axes)
    plt.close(fig)


def test_batched_result_is_refused(X):
    y = np.random.default_rng(0).poisson(1.0, size=(2, 300)).astype(float)
    with pytest.raises(ValueError, match="need a single fit"):
        plots.diagnostics_data(gj.fit_many(X, y, F.Poisson()))
