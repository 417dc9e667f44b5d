"""ML predictors and their tooling; never imports backtrader.

* :mod:`~autostock.models.features` - named causal features and feature sets
* :mod:`~autostock.models.regime` - bull / bear / sideways regime rule
* :mod:`~autostock.models.targets` - forward-return and direction labels
* :mod:`~autostock.models.sklearn_models` - scikit-learn predictors (``random_forest``,
  ``gradient_boosting``, ``ridge``, ``logistic``); ``keras_models`` holds the Keras ones
* :mod:`~autostock.models.baselines` / :mod:`~autostock.models.evaluation` - naive forecasts
  and out-of-sample metrics
* :mod:`~autostock.models.walkforward` - purged, embargoed walk-forward training
* :mod:`~autostock.models.ensembles` - weighted, regime-aware and stacked ensembles
* :mod:`~autostock.models.tuning` - grid / Optuna search with purged time-series CV
* :mod:`~autostock.models.training` / :mod:`~autostock.models.artifacts` - ``autostock train``
  and the model directory it writes
* :mod:`~autostock.models.tracking` - optional MLflow tracking

Predictors follow the contract in ``DESIGN.md``: ``__init__`` stores keyword params only,
``fit(X, y) -> self``, ``predict(X) -> np.ndarray``, ``save(path)`` / ``load(path)``.
"""
