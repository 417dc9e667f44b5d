"""Walk-forward training: one out-of-sample prediction per bar after the first window.

Bars are split into consecutive test blocks of ``test`` bars, the first starting at bar
``train``. Before a block starting at bar ``s`` the predictor is (re)fitted when ``retrain``
bars have passed since the last fit (``retrain`` defaults to ``test``; a refit only happens at
a block start). Its training rows are::

    expanding: rows [w, s - purge - embargo)
    rolling:   rows [max(w, s - train), s - purge - embargo)

where w is the first row whose features are all finite (the end of their warm-up).

A training row i carries the label of bars i+1..i+horizon, so with ``purge >= horizon`` no
training label reaches bar s or later (``purge`` defaults to the horizon; a smaller value is
an error); ``embargo`` adds bars between the last label and the test block.

Early stopping: when the predictor's ``fit`` accepts ``validation_data`` and ``val > 0``, the
last ``val`` fraction of the training rows is held out as a validation slice (again purged by
``purge`` bars from the rows fitted), and passed as ``validation_data``.

Preprocessing: the predictor sees only its training rows in ``fit`` (predictors scale with
statistics of their fit data), so every fitted transformation uses the train window only.
Predicting a block hands the predictor the block plus the ``context_rows - 1`` rows before it
(sequence models need them), and keeps the block's predictions.

The value at bar t is the same whether the walk-forward runs on data up to t or on the whole
series: the fold plan depends on ``train``, ``test`` and ``retrain`` only, features are causal
and training labels end before the block.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from autostock.errors import ConfigError

MODES: tuple[str, ...] = ("expanding", "rolling")


@dataclass(frozen=True)
class WalkForwardConfig:
    """Walk-forward settings (see the module docstring); ``parse_walk_forward`` reads the CLI form."""

    train: int = 756
    test: int = 63
    retrain: int | None = None
    purge: int | None = None
    embargo: int = 0
    mode: str = "expanding"
    val: float = 0.1

    def __post_init__(self) -> None:
        for name in ("train", "test"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ConfigError(f"walk-forward {name} must be a positive number of bars, got {value!r}")
        if self.retrain is not None and (not isinstance(self.retrain, (int, np.integer)) or self.retrain < 1):
            raise ConfigError(f"walk-forward retrain must be a positive number of bars, got {self.retrain!r}")
        for name in ("purge", "embargo"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, (int, np.integer)) or value < 0):
                raise ConfigError(f"walk-forward {name} must be >= 0 bars, got {value!r}")
        if self.mode not in MODES:
            raise ConfigError(f"walk-forward mode must be expanding or rolling, got {self.mode!r}")
        if not (0 <= self.val < 0.5):
            raise ConfigError(f"walk-forward val must be a fraction in [0, 0.5), got {self.val!r}")

    def resolved(self, horizon: int) -> WalkForwardConfig:
        """Fill ``retrain`` and ``purge`` defaults for a target ``horizon``; check the gaps fit."""
        purge = horizon if self.purge is None else self.purge
        if purge < horizon:
            raise ConfigError(
                f"walk-forward purge={purge} is shorter than the target horizon {horizon}: training labels "
                f"would overlap the test window; use purge>={horizon}"
            )
        out = WalkForwardConfig(
            self.train, self.test, self.retrain or self.test, purge, self.embargo, self.mode, self.val
        )
        if self.train - purge - self.embargo < 2:
            raise ConfigError(
                f"walk-forward train={self.train} leaves no training rows after purge={purge} "
                f"and embargo={self.embargo}"
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_walk_forward(text: str | None) -> WalkForwardConfig:
    """Parse ``train=756,test=63[,retrain=63,purge=5,embargo=5,mode=expanding|rolling,val=0.1]``.

    The text is read by the settings grammar (:func:`autostock.config.parse_mapping`); the
    typed :class:`WalkForwardConfig` checks the values.
    """
    from autostock.config import parse_mapping

    if not text:
        return WalkForwardConfig()
    usage = "use train=N,test=N[,retrain=N,purge=N,embargo=N,mode=expanding|rolling,val=F]"
    try:
        kwargs = parse_mapping(str(text), "walk-forward item")
    except ConfigError as exc:
        raise ConfigError(f"{exc}; {usage}") from None
    unknown = sorted(set(kwargs) - set(WalkForwardConfig.__dataclass_fields__))
    if unknown:
        raise ConfigError(f"unknown walk-forward item(s) {', '.join(unknown)}; {usage}")
    for key, value in kwargs.items():
        if key != "mode" and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ConfigError(f"walk-forward {key} must be a number, got {value!r}")
    if "val" in kwargs:
        kwargs["val"] = float(kwargs["val"])
    if "mode" in kwargs:
        kwargs["mode"] = str(kwargs["mode"])
    return WalkForwardConfig(**kwargs)


@dataclass(frozen=True)
class Fold:
    """One test block and the rows its predictor was fitted on (end indices exclusive)."""

    test_start: int
    test_end: int
    fit_start: int
    fit_end: int
    val_start: int | None = None
    val_end: int | None = None
    refit: bool = True

    def label_end(self, horizon: int) -> int:
        """Last bar any label used in fitting or validation reaches."""
        last = (self.val_end if self.val_end is not None else self.fit_end) - 1
        return last + horizon


def plan_folds(
    n: int, horizon: int, cfg: WalkForwardConfig, uses_validation: bool = False, first_row: int = 0
) -> list[Fold]:
    """The fold plan for ``n`` bars; depends on the settings and ``first_row`` only.

    ``first_row`` is the first row whose features are all finite (the end of the features'
    warm-up); training windows never start before it.
    """
    cfg = cfg.resolved(horizon)
    assert cfg.purge is not None and cfg.retrain is not None
    folds: list[Fold] = []
    last_fit: Fold | None = None
    for s in range(cfg.train, n, cfg.test):
        e = min(s + cfg.test, n)
        if last_fit is not None and s - last_fit.test_start < cfg.retrain:
            folds.append(Fold(s, e, last_fit.fit_start, last_fit.fit_end, last_fit.val_start, last_fit.val_end, False))
            continue
        hi = s - cfg.purge - cfg.embargo
        lo = max(first_row, 0 if cfg.mode == "expanding" else s - cfg.train)
        if hi - lo < 2:
            raise ConfigError(
                f"walk-forward train={cfg.train} leaves {max(hi - lo, 0)} training rows before bar {s} after the "
                f"features' warm-up of {first_row} bars and purge+embargo={cfg.purge + cfg.embargo}; use a longer train"
            )
        val_start = val_end = None
        fit_end = hi
        n_val = int((hi - lo) * cfg.val) if uses_validation else 0
        if n_val >= 1 and hi - n_val - cfg.purge - lo >= 2:
            val_start, val_end = hi - n_val, hi
            fit_end = val_start - cfg.purge
        fold = Fold(s, e, lo, fit_end, val_start, val_end, True)
        folds.append(fold)
        last_fit = fold
    return folds


def accepts_validation(predictor: Any) -> bool:
    """Whether ``predictor.fit`` takes a ``validation_data`` keyword."""
    try:
        return "validation_data" in inspect.signature(predictor.fit).parameters
    except (TypeError, ValueError):
        return False


def context_rows(predictor: Any) -> int:
    """Rows one prediction needs (1 for row-wise models, ``seq_len`` for sequence models)."""
    return max(1, int(getattr(predictor, "context_rows", 1) or 1))


@dataclass
class WalkForwardResult:
    """Out-of-sample predictions (NaN before the first test bar), the folds and the last model."""

    predictions: pd.Series
    folds: list[Fold]
    model: Any
    config: WalkForwardConfig
    horizon: int
    fit_seconds: float = 0.0
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def first_test_bar(self) -> int:
        return self.folds[0].test_start if self.folds else len(self.predictions)

    def training_window(self) -> Any:
        """The :class:`~autostock.models.artifacts.TrainingWindow` of ``model`` (the last fit)."""
        from autostock.models.artifacts import TrainingWindow

        fitted = [f for f in self.folds if f.refit]
        if not fitted:
            raise ValueError("walk-forward fitted no model")
        last = fitted[-1]
        end = last.val_end if last.val_end is not None else last.fit_end
        return TrainingWindow.from_rows(self.predictions.index, last.fit_start, end - 1, self.horizon)


def walk_forward(
    make_predictor: Callable[[], Any],
    X: pd.DataFrame,
    y: pd.Series,
    horizon: int,
    cfg: WalkForwardConfig | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> WalkForwardResult:
    """Fit and predict walk-forward; return one out-of-sample prediction per bar after the first window.

    Parameters
    ----------
    make_predictor : callable
        Returns a fresh, unfitted predictor (called once per refit).
    X : DataFrame
        Features, rows = bars in time order.
    y : Series
        Training labels aligned with ``X`` (forward-looking; used for fitting only).
    horizon : int
        Bars each label looks ahead (``K`` of ``fwd_return_K``).
    cfg : WalkForwardConfig
        Window settings.
    progress : callable, optional
        Called as ``progress(done_folds, total_folds)``.

    Returns
    -------
    WalkForwardResult
    """
    import time

    cfg = (cfg or WalkForwardConfig()).resolved(horizon)
    if len(X) != len(y):
        raise ConfigError(f"X has {len(X)} rows but y has {len(y)}")
    n = len(X)
    if n <= cfg.train:
        raise ConfigError(f"walk-forward needs more than train={cfg.train} bars, got {n}")
    probe = make_predictor()
    Xa = X.to_numpy(dtype=float)
    finite = np.isfinite(Xa).all(axis=1)
    first_row = int(np.argmax(finite)) if finite.any() else n
    folds = plan_folds(n, horizon, cfg, accepts_validation(probe) and cfg.val > 0, first_row)
    ya = y.to_numpy(dtype=float)
    out = np.full(n, np.nan)
    model: Any = None
    fit_seconds = 0.0
    for i, fold in enumerate(folds):
        if fold.refit:
            model = make_predictor()
            t0 = time.perf_counter()
            kwargs = {}
            if fold.val_start is not None:
                # the validation X starts right after the fitted rows (contiguous for sequence
                # models); the purged rows in between carry no label
                v0 = fold.fit_end
                yv = ya[v0 : fold.val_end].copy()
                yv[: fold.val_start - v0] = np.nan
                kwargs["validation_data"] = (Xa[v0 : fold.val_end], yv)
            model.fit(Xa[fold.fit_start : fold.fit_end], ya[fold.fit_start : fold.fit_end], **kwargs)
            fit_seconds += time.perf_counter() - t0
        ctx = context_rows(model)
        lo = max(0, fold.test_start - ctx + 1)
        pred = np.asarray(model.predict(Xa[lo : fold.test_end]), dtype=float).reshape(-1)
        out[fold.test_start : fold.test_end] = pred[fold.test_start - lo :]
        if progress is not None:
            progress(i + 1, len(folds))
    series = pd.Series(out, index=X.index, name="prediction")
    result = WalkForwardResult(series, folds, model, cfg, horizon, fit_seconds)
    if model is not None:
        # the last fitted predictor carries the bars it learnt from, so serving it on them is refused
        try:
            model.training_window_ = result.training_window()
        except AttributeError:
            pass
    return result
