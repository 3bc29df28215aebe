"""scikit-learn estimators: ``GLMRegressor`` and ``GLMClassifier``.

Thin adapters over ``glmjax.fit``: they add the intercept column, map scikit-learn's
penalty ``alpha``·[``l1_ratio``‖β‖₁ + (1 − ``l1_ratio``)/2 ‖β‖²] (on the objective
−ℓ/Σw, as ``PoissonRegressor`` and glum) to ``l1``/``l2``, and compute in float64 inside a
scoped ``jax.enable_x64`` (the global setting is left alone), as scikit-learn users expect.
They work in ``Pipeline`` and ``GridSearchCV`` and pass ``check_estimator``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from glmjax import families as F
from glmjax._compilation import filter_jit
from glmjax._design import Design, needs_design
from glmjax._fitting import fit
from glmjax._optional import require
from glmjax.families import AbstractFamily

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data
except ModuleNotFoundError:
    require("sklearn", "glmjax.estimators")  # raises, naming the extra to install
    raise


@filter_jit  # one program (op by op, each operation compiled a program of its own)
def _deviance(family: AbstractFamily, y, w, mean):
    """Σ wᵢ d(yᵢ, μᵢ), the deviance of the means ``mean``."""
    return jnp.sum(w * family.unit_deviance(y, family.natural_from_mean(mean)))


def _x64():
    """A scoped float64 context (``jax.enable_x64`` in recent JAX)."""
    enable = getattr(jax, "enable_x64", None)
    if enable is not None:
        return enable(True)
    from jax.experimental import enable_x64  # older JAX

    return enable_x64()


class _GLMBase(BaseEstimator):
    def _validated(self, X, y="no_validation", reset: bool = True, **kwargs):
        """``validate_data`` (X, or (X, y) when ``y`` is passed); a data frame with
        categorical columns or a sparse matrix is checked for its columns only and kept as it
        is (the fit makes it a ``Design``)."""
        if not needs_design(X):
            return validate_data(self, X, y, reset=reset, dtype=np.float64, **kwargs)
        out = validate_data(self, X, y, reset=reset, skip_check_array=True)
        if isinstance(y, str) and y == "no_validation":
            return out
        X, y = out
        y = np.asarray(y)
        return X, (y.astype(np.float64) if kwargs.get("y_numeric") else y)

    def _design(self, X, fitting: bool = False):
        """X with the intercept column; a categorical frame or sparse matrix as the fitted
        ``Design`` encodes it (when ``fitting``, the ``Design`` itself)."""
        if needs_design(X):
            if hasattr(X, "columns"):  # the layout adds the intercept column to new rows
                return Design.from_frame(X, intercept=self.fit_intercept) if fitting else X
            if self.fit_intercept:
                import scipy.sparse as sp

                X = sp.hstack([np.ones((X.shape[0], 1)), X], format="csc")
            return Design.from_matrix(X) if fitting else X
        if self.fit_intercept:
            return np.column_stack([np.ones(X.shape[0]), X])
        return X

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = True  # a sparse matrix is fitted as a Design, never densified
        return tags

    def _weights(self, X, sample_weight) -> np.ndarray:
        sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64,
                                             ensure_non_negative=True)
        if not np.any(sample_weight > 0):
            raise ValueError("sample_weight is zero everywhere: at least one weight must be "
                             "positive.")
        return sample_weight

    def _fit(self, X, y, family, sample_weight):
        if X.shape[0] < 2:
            raise ValueError(f"{type(self).__name__} needs at least 2 samples; got 1 sample.")
        if self.alpha < 0 or not 0 <= self.l1_ratio <= 1:
            raise ValueError(f"alpha must be ≥ 0 and l1_ratio in [0, 1]; got alpha="
                             f"{self.alpha}, l1_ratio={self.l1_ratio}.")
        l1 = self.alpha * self.l1_ratio
        with _x64():
            result = fit(self._design(X, fitting=True), y, family, self.link,
                         weights=sample_weight,
                         l1=l1, l2=self.alpha - l1, solver=self.solver, tol=self.tol,
                         max_iter=self.max_iter)
            coef = np.asarray(result.coef)
        self.result_ = result
        self.intercept_ = coef[0] if self.fit_intercept else np.zeros(coef.shape[1:])
        self.coef_ = coef[1:] if self.fit_intercept else coef
        if coef.ndim == 2:  # scikit-learn's (n_classes, n_features) layout
            self.coef_ = self.coef_.T
        # as scikit-learn counts: a start that is already optimal (a Gaussian fit, whose
        # starting step is exact) took the one iteration that found it so
        self.n_iter_ = max(int(result.n_iter), 1)
        return self

    def __getstate__(self):  # NumPy leaves: a pickle keeps float64 whatever JAX's setting
        state = dict(self.__dict__)
        if "result_" in state:
            state["result_"] = jax.tree.map(
                lambda a: np.asarray(a) if isinstance(a, jax.Array) else a, state["result_"])
        return state

    def _predict_mean(self, X):
        check_is_fitted(self)
        X = self._validated(X, reset=False)
        with _x64():
            return np.asarray(self.result_.predict(self._design(X)))


class GLMRegressor(RegressorMixin, _GLMBase):
    """A GLM regressor for any glmjax family; ``score`` is D², the share of deviance
    explained (as scikit-learn's ``PoissonRegressor``; R² for Beta).

    Example:
        >>> import numpy as np
        >>> from glmjax.estimators import GLMRegressor
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(200, 2))
        >>> y = rng.poisson(np.exp(0.3 + X @ [0.5, -0.2]))
        >>> model = GLMRegressor(family="poisson").fit(X, y)
        >>> np.round(model.coef_, 1).tolist(), model.predict(X[:2]).shape
        ([0.6, -0.2], (2,))
    """

    def __init__(self, family="gaussian", link=None, alpha=0.0, l1_ratio=0.0,
                 fit_intercept=True, solver="irls", tol=None, max_iter=None):
        self.family = family
        self.link = link
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter

    def fit(self, X, y, sample_weight=None):
        X, y = self._validated(X, y, y_numeric=True)
        sample_weight = self._weights(X, sample_weight)
        return self._fit(X, y, F.from_name(self.family), sample_weight)

    def predict(self, X) -> np.ndarray:
        """E[y | x]."""
        return self._predict_mean(X)

    def score(self, X, y, sample_weight=None) -> float:
        """D² = 1 − D(y, μ̂)/D(y, ȳ): deviances of the model and of the weighted mean."""
        family = self.result_.family
        if family.natural_dim > 1:  # no scalar deviance of the mean alone (Beta): R²
            return super().score(X, y, sample_weight)
        mean = self.predict(X)
        y = np.asarray(y, np.float64)
        w = np.ones_like(y) if sample_weight is None else np.asarray(sample_weight, float)
        with _x64():
            null = float(_deviance(family, y, w, np.full_like(y, np.average(y, weights=w))))
            return 1 - float(_deviance(family, y, w, mean)) / null


class GLMClassifier(ClassifierMixin, _GLMBase):
    """Logistic (two classes: Bernoulli, ``link`` any binary link) or softmax (more:
    Multinomial) regression with ``predict_proba``; ``score`` is the accuracy.

    Example:
        >>> import numpy as np
        >>> from glmjax.estimators import GLMClassifier
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(300, 2))
        >>> y = np.where(X[:, 0] + rng.normal(size=300) > 0, "yes", "no")
        >>> model = GLMClassifier(alpha=0.01).fit(X, y)
        >>> model.classes_.tolist(), model.predict_proba(X[:3]).shape
        (['no', 'yes'], (3, 2))
    """

    def __init__(self, link=None, alpha=0.0, l1_ratio=0.0, fit_intercept=True,
                 solver="irls", tol=None, max_iter=None):
        self.link = link
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter

    def fit(self, X, y, sample_weight=None):
        X, y = self._validated(X, y)
        check_classification_targets(y)
        self.classes_, labels = np.unique(y, return_inverse=True)
        k = self.classes_.size
        sample_weight = self._weights(X, sample_weight)
        weighted = y[sample_weight > 0]
        if k < 2 or np.unique(weighted).size < 2:
            raise ValueError(f"{type(self).__name__} needs samples of at least 2 classes with "
                             f"positive weight; got 1 class ({np.unique(weighted)[:1]}).")
        if k == 2:
            return self._fit(X, labels.astype(np.float64), F.Bernoulli(), sample_weight)
        return self._fit(X, labels, F.Multinomial(n_classes=k), sample_weight)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes), in the order of ``classes_``."""
        mean = self._predict_mean(X)
        return np.column_stack([1 - mean, mean]) if mean.ndim == 1 else mean

    def predict_log_proba(self, X) -> np.ndarray:
        return np.log(self.predict_proba(X))

    def decision_function(self, X) -> np.ndarray:
        """The linear predictor: log-odds (two classes) or one column per non-reference class
        (softmax, class 0 the reference)."""
        check_is_fitted(self)
        X = self._validated(X, reset=False)
        with _x64():
            linear = np.asarray(self.result_.predict(self._design(X), which="linear"))
        if linear.ndim == 2:  # the reference class's column, zero: one column per class
            linear = np.column_stack([np.zeros(linear.shape[0]), linear])
        return linear

    def predict(self, X) -> np.ndarray:
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


__all__ = ["GLMClassifier", "GLMRegressor"]
