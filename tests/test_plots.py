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


def test_coefficient_path_and_cv_curve_draw_their_data(X):
    rng = np.random.default_rng(2)
    Xw = np.column_stack([X, rng.normal(size=(300, 2))])
    y = rng.poisson(np.exp(Xw @ [0.3, 0.8, -0.5, 0.0, 0.1])).astype(float)
    path = gj.fit_path(Xw, y, F.Poisson(), n_alphas=8)
    ax = path.plot()
    lines = ax.get_lines()[:-1]  # the last is the zero line
    assert [line.get_label() for line in lines] == ["x1", "x2", "x3", "x4"]  # no intercept
    for j, line in enumerate(lines, start=1):
        np.testing.assert_allclose(line.get_xdata(), path.alphas)
        np.testing.assert_allclose(line.get_ydata(), path.coef[:, j])
    assert ax.get_xscale() == "log" and ax.xaxis_inverted()
    plt.close(ax.figure)

    cv = gj.fit_cv(Xw, y, F.Poisson(), l1_ratio=[0.5, 1.0], n_alphas=8, n_folds=3)
    ax = cv.plot()
    (bars,) = ax.containers
    np.testing.assert_allclose(bars.lines[0].get_ydata(), cv.cv_mean)
    other = next(line for line in ax.get_lines() if line.get_label().startswith("l1_ratio"))
    np.testing.assert_allclose(other.get_ydata(), np.mean(
        cv.cv_deviances[1 - cv.index_l1_ratio], axis=0))  # the mixing not chosen
    marks = {line.get_label(): line.get_xdata()[0] for line in ax.get_lines()
             if line.get_label().startswith("alpha_")}
    assert marks == {"alpha_best": cv.alpha_best, "alpha_1se": cv.alpha_1se}
    plt.close(ax.figure)
