"""scikit-learn predictors: ``random_forest``, ``gradient_boosting``, ``ridge``, ``logistic``.

The Predictor contract (``DESIGN.md``): ``__init__`` stores keyword params only;
``fit(X, y) -> self``; ``predict(X) -> np.ndarray``; ``save(path)`` / ``load(path)``.

* ``X`` is a 2-D feature matrix (rows = bars in time order); rows holding a NaN are skipped
  in ``fit`` and predict NaN. ``y`` is the target of each row (NaN rows skipped).
* ``task`` is ``regression`` (predict the target) or ``classification`` (predict the
  probability that the target is > 0, as for ``direction_K`` labels). ``ridge`` is
  regression only, ``logistic`` classification only.
* Linear models standard-scale inside the predictor with statistics of the fit data only,
  so a saved predictor serves raw feature rows.
* ``gradient_boosting`` (HistGradientBoosting) early-stops on ``validation_data`` when given
  (walk-forward passes a slice at the end of the training window), never on a random split.
* ``context_rows`` is 1: a prediction uses its own row only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar, Self

import joblib
import numpy as np

from autostock.models.base import Predictor, register_predictor

TASKS: tuple[str, ...] = ("regression", "classification")
MODEL_FILE = "model.joblib"
PARAMS_FILE = "params.json"  # the same file name as autostock.models.base.PARAMS_FILE


def _matrix(X: Any, name: str = "X") -> np.ndarray:
    arr = np.asarray(X, dtype=float)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (bars x features), got shape {arr.shape}")
    return arr


def _vector(y: Any, n: int) -> np.ndarray:
    arr = np.asarray(y, dtype=float).reshape(-1)
    if arr.shape[0] != n:
        raise ValueError(f"y has {arr.shape[0]} rows but X has {n}")
    return arr


class SklearnPredictor(Predictor):
    """Base of the scikit-learn predictors; subclasses define ``DEFAULTS`` and ``_estimator``."""

    ALLOWED_TASKS: ClassVar[tuple[str, ...]] = TASKS
    context_rows: int = 1

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.estimator_: Any = None
        self.constant_: float | None = None
        self.n_features_: int | None = None

    def _check_params(self) -> None:
        if self.params.get("task") not in self.ALLOWED_TASKS:
            raise ValueError(
                f"{self.name}: task must be one of {', '.join(self.ALLOWED_TASKS)}, got {self.params.get('task')!r}"
            )

    @property
    def is_classifier(self) -> bool:
        return self.params["task"] == "classification"

    def _estimator(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _fit_estimator(
        self, est: Any, X: np.ndarray, y: np.ndarray, validation: tuple[np.ndarray, np.ndarray] | None
    ) -> Any:
        return est.fit(X, y)

    def _rows(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        Xm = _matrix(X)
        yv = _vector(y, Xm.shape[0])
        ok = np.isfinite(Xm).all(axis=1) & np.isfinite(yv)
        yv = yv[ok]
        if self.is_classifier:
            yv = (yv > 0).astype(int)
        return Xm[ok], yv

    def fit(self, X: Any, y: Any) -> SklearnPredictor:
        """Fit on the rows of ``X`` and ``y`` that hold no NaN.

        Parameters
        ----------
        X : array-like of shape (n_bars, n_features)
        y : array-like of shape (n_bars,)

        Returns
        -------
        self
        """
        return self._fit(X, y, None)

    def _fit(self, X: Any, y: Any, validation_data: tuple[Any, Any] | None) -> Self:
        Xf, yf = self._rows(X, y)
        self.n_features_ = _matrix(X).shape[1]
        if len(yf) < 2:
            raise ValueError(f"{self.name}: fewer than 2 rows without NaN in X and y: nothing to fit")
        self.constant_ = None
        self.estimator_ = None
        if self.is_classifier and len(np.unique(yf)) == 1:
            self.constant_ = float(yf[0])  # one class only: its probability is 1 or 0
            return self
        val = None
        if validation_data is not None:
            Xv, yv = self._rows(*validation_data)
            val = (Xv, yv) if len(yv) >= 2 else None
        self.estimator_ = self._fit_estimator(self._estimator(), Xf, yf, val)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """One prediction per row (probability of ``y > 0`` for classification); NaN rows give NaN."""
        if self.estimator_ is None and self.constant_ is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit(X, y) or load(path) first")
        Xm = _matrix(X)
        if Xm.shape[1] != self.n_features_:
            raise ValueError(f"X has {Xm.shape[1]} feature columns but the model was fitted on {self.n_features_}")
        out = np.full(Xm.shape[0], np.nan)
        ok = np.isfinite(Xm).all(axis=1)
        if not ok.any():
            return out
        if self.constant_ is not None:
            out[ok] = self.constant_
        elif self.is_classifier:
            proba = self.estimator_.predict_proba(Xm[ok])
            classes = list(self.estimator_.classes_)
            out[ok] = proba[:, classes.index(1)] if 1 in classes else 0.0
        else:
            out[ok] = self.estimator_.predict(Xm[ok])
        return out

    def save(self, path: str | Path) -> Path:
        """Write ``model.joblib`` and ``params.json`` into the directory ``path``."""
        if self.estimator_ is None and self.constant_ is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted: nothing to save")
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        joblib.dump(
            {"estimator": self.estimator_, "constant": self.constant_, "n_features": self.n_features_},
            folder / MODEL_FILE,
        )
        (folder / PARAMS_FILE).write_text(json.dumps(self._meta(), indent=2, default=str))
        return folder

    @classmethod
    def load(cls, path: str | Path) -> SklearnPredictor:
        """Load a predictor saved by :meth:`save`."""
        folder = Path(path)
        for f in (MODEL_FILE, PARAMS_FILE):
            if not (folder / f).is_file():
                raise FileNotFoundError(f"{folder / f} not found: not a saved scikit-learn predictor directory")
        klass, meta = cls.saved_class(folder, SklearnPredictor)
        obj = klass(**meta["params"])
        state = joblib.load(folder / MODEL_FILE)
        obj.estimator_, obj.constant_, obj.n_features_ = state["estimator"], state["constant"], state["n_features"]
        return obj


@register_predictor("random_forest")
class RandomForestPredictor(SklearnPredictor):
    """Random forest (regressor or classifier by ``task``); shallow, leafy trees by default.

    Params: n_estimators, max_depth, min_samples_leaf, max_features, task, seed, n_jobs.
    """

    DEFAULTS = {
        "n_estimators": 200,
        "max_depth": 6,
        "min_samples_leaf": 20,
        "max_features": 0.3,
        "task": "regression",
        "seed": 42,
        "n_jobs": 1,
    }

    def _estimator(self) -> Any:
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

        p = self.params
        klass = RandomForestClassifier if self.is_classifier else RandomForestRegressor
        return klass(
            n_estimators=int(p["n_estimators"]),
            max_depth=None if p["max_depth"] is None else int(p["max_depth"]),
            min_samples_leaf=int(p["min_samples_leaf"]),
            max_features=p["max_features"],
            random_state=int(p["seed"]),
            n_jobs=int(p["n_jobs"]),
        )


@register_predictor("gradient_boosting")
class GradientBoostingPredictor(SklearnPredictor):
    """Histogram gradient boosting; early stopping on ``validation_data`` when given.

    Params: max_iter, learning_rate, max_depth, min_samples_leaf, l2_regularization,
    patience (iterations without improvement on the validation data), task, seed.
    """

    DEFAULTS = {
        "max_iter": 200,
        "learning_rate": 0.05,
        "max_depth": 3,
        "min_samples_leaf": 40,
        "l2_regularization": 1.0,
        "patience": 10,
        "task": "regression",
        "seed": 42,
    }

    def fit(self, X: Any, y: Any, validation_data: tuple[Any, Any] | None = None) -> GradientBoostingPredictor:
        """Fit on the rows without NaN; early-stop on ``validation_data`` (later bars) when given.

        Parameters
        ----------
        X : array-like of shape (n_bars, n_features)
        y : array-like of shape (n_bars,)
        validation_data : (X_val, y_val), optional
            Bars after the fit rows; NaN labels are skipped.

        Returns
        -------
        self
        """
        return self._fit(X, y, validation_data)

    def _estimator(self, early: bool = False) -> Any:
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        p = self.params
        klass = HistGradientBoostingClassifier if self.is_classifier else HistGradientBoostingRegressor
        return klass(
            max_iter=int(p["max_iter"]),
            learning_rate=float(p["learning_rate"]),
            max_depth=None if p["max_depth"] is None else int(p["max_depth"]),
            min_samples_leaf=int(p["min_samples_leaf"]),
            l2_regularization=float(p["l2_regularization"]),
            early_stopping=early,
            n_iter_no_change=int(p["patience"]),
            random_state=int(p["seed"]),
        )

    def _fit_estimator(
        self, est: Any, X: np.ndarray, y: np.ndarray, validation: tuple[np.ndarray, np.ndarray] | None
    ) -> Any:
        if validation is None or (self.is_classifier and len(np.unique(validation[1])) < 2):
            return est.fit(X, y)
        return self._estimator(early=True).fit(X, y, X_val=validation[0], y_val=validation[1])


@register_predictor("ridge")
class RidgePredictor(SklearnPredictor):
    """Ridge regression on standard-scaled features (the linear regression baseline).

    Params: alpha, task (regression only).
    """

    DEFAULTS = {"alpha": 1000.0, "task": "regression"}
    ALLOWED_TASKS = ("regression",)

    def _estimator(self) -> Any:
        from sklearn.linear_model import Ridge
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(StandardScaler(), Ridge(alpha=float(self.params["alpha"])))


@register_predictor("logistic")
class LogisticPredictor(SklearnPredictor):
    """L2 logistic regression on standard-scaled features (the linear classification baseline).

    Params: C, max_iter, task (classification only).
    """

    DEFAULTS = {"C": 0.1, "max_iter": 500, "task": "classification"}
    ALLOWED_TASKS = ("classification",)

    def _estimator(self) -> Any:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(
            StandardScaler(), LogisticRegression(C=float(self.params["C"]), max_iter=int(self.params["max_iter"]))
        )
