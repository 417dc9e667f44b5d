"""Hyperparameter search: grid search and Optuna TPE, scored by purged time-series CV.

Cross-validation splits are expanding windows in time order: the bars after the first
``min_train`` share are cut into ``n_splits`` validation blocks; each block is scored by a
model fitted on the rows before it, less ``purge`` (>= the target horizon) and ``embargo``
bars, so no training label reaches a validation bar. The score is the validation RMSE
(regression) or log loss (direction targets), averaged over blocks and symbols; lower is
better. The information coefficient and directional accuracy are recorded too.

Tuning looks at the data it scores, so tune on an earlier period (``--end``) than the one
whose walk-forward metrics you report.

Search spaces: ``key=a|b|c`` (categorical) or ``key=lo:hi`` (int when both are integers,
else float) or ``key=lo:hi:log`` (log-uniform). Grid search needs categorical values.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from autostock.errors import ConfigError
from autostock.extras import require
from autostock.models.evaluation import classification_metrics, regression_metrics
from autostock.models.targets import Target
from autostock.models.walkforward import accepts_validation, context_rows

METHODS: tuple[str, ...] = ("grid", "optuna")
RESULTS_FILE = "tune_results.csv"
BEST_PARAMS_FILE = "best_params.json"

# default search spaces (used when --space is not given)
DEFAULT_SPACES: dict[str, dict[str, str]] = {
    "random_forest": {"n_estimators": "100|200", "max_depth": "4|6|8", "min_samples_leaf": "10|20|50"},
    "gradient_boosting": {"learning_rate": "0.02|0.05|0.1", "max_depth": "2|3|4", "min_samples_leaf": "20|40"},
    "ridge": {"alpha": "10|100|1000|10000"},
    "logistic": {"C": "0.01|0.1|1"},
}
# any predictor taking these params (the Keras sequence models) gets this space by default
SEQUENCE_SPACE: dict[str, str] = {
    "seq_len": "10|20|40",
    "units": "16|32|64",
    "layers": "1|2",
    "dropout": "0.0|0.2",
    "learning_rate": "0.0003|0.001|0.003",
    "batch_size": "32|64",
    "epochs": "10|30",
}


@dataclass(frozen=True)
class Dimension:
    """One searched hyperparameter."""

    name: str
    choices: tuple[Any, ...] | None = None
    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False


def _value(text: str) -> Any:
    from autostock.config import parse_value

    return parse_value(text)


def parse_space(items: dict[str, str]) -> list[Dimension]:
    """Parse ``{name: 'a|b|c' or 'lo:hi[:log]'}`` into dimensions."""
    dims = []
    for name, text in items.items():
        text = str(text).strip()
        if "|" in text or ":" not in text:
            choices = tuple(_value(v) for v in text.split("|") if v.strip())
            if not choices:
                raise ConfigError(f"--space {name}: no values")
            dims.append(Dimension(name, choices=choices))
            continue
        parts = text.split(":")
        if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] != "log"):
            raise ConfigError(f"--space {name}={text!r}: use a|b|c, lo:hi or lo:hi:log")
        lo, hi = _value(parts[0]), _value(parts[1])
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (lo, hi)) or not lo < hi:
            raise ConfigError(f"--space {name}={text!r}: lo and hi must be numbers with lo < hi")
        log = len(parts) == 3
        if log and lo <= 0:
            raise ConfigError(f"--space {name}={text!r}: a log range needs lo > 0")
        dims.append(Dimension(name, low=lo, high=hi, log=log, integer=isinstance(lo, int) and isinstance(hi, int)))
    return dims


def default_space(model: str, params: dict[str, Any]) -> dict[str, str]:
    """The default search space of ``model`` given its default ``params``."""
    if model in DEFAULT_SPACES:
        return dict(DEFAULT_SPACES[model])
    space = {k: v for k, v in SEQUENCE_SPACE.items() if k in params}
    if not space:
        raise ConfigError(f"no default search space for {model}; give one with --space KEY=a|b|c")
    return space


def purged_splits(
    n: int,
    horizon: int,
    n_splits: int = 4,
    min_train: float = 0.4,
    purge: int | None = None,
    embargo: int = 0,
    first_row: int = 0,
) -> list[tuple[range, range]]:
    """Expanding (train rows, validation rows) splits with a purge gap of ``purge + embargo`` bars.

    Rows before ``first_row`` (the features' warm-up) are left out; the first ``min_train``
    share of the remaining rows is never validated on.
    """
    purge = horizon if purge is None else purge
    if purge < horizon:
        raise ConfigError(f"purge={purge} is shorter than the target horizon {horizon}")
    if n_splits < 1:
        raise ConfigError(f"splits must be >= 1, got {n_splits}")
    start = first_row + int((n - first_row) * min_train)
    edges = np.linspace(start, n, n_splits + 1).astype(int)
    splits = []
    for a, b in zip(edges[:-1], edges[1:]):
        hi = a - purge - embargo
        if hi - first_row < 2 or b <= a:
            raise ConfigError(f"{n} bars are too few for {n_splits} CV splits with purge={purge}, embargo={embargo}")
        splits.append((range(first_row, hi), range(a, b)))
    return splits


def cv_score(
    make_predictor: Callable[[], Any],
    data: dict[str, tuple[pd.DataFrame, pd.Series]],
    target: Target,
    n_splits: int = 4,
    embargo: int = 0,
) -> dict[str, float]:
    """Mean validation score over purged splits and symbols (see the module docstring)."""
    scores, ics, hits = [], [], []
    for X, y in data.values():
        Xa, ya = X.to_numpy(dtype=float), y.to_numpy(dtype=float)
        finite = np.isfinite(Xa).all(axis=1)
        first_row = int(np.argmax(finite)) if finite.any() else len(Xa)
        for tr, va in purged_splits(len(Xa), target.horizon, n_splits, embargo=embargo, first_row=first_row):
            model = make_predictor()
            kwargs = {}
            if accepts_validation(model):
                # early stopping must not peek at the scored block: hold out the end of train
                n_val = max(1, len(tr) // 10)
                v0 = tr.stop - n_val
                fit_end = v0 - target.horizon
                if fit_end > 2:
                    yv = ya[fit_end : tr.stop].copy()
                    yv[: v0 - fit_end] = np.nan
                    kwargs["validation_data"] = (Xa[fit_end : tr.stop], yv)
                    tr = range(tr.start, fit_end)
            model.fit(Xa[tr.start : tr.stop], ya[tr.start : tr.stop], **kwargs)
            lo = max(0, va.start - context_rows(model) + 1)
            pred = np.asarray(model.predict(Xa[lo : va.stop]), dtype=float)[va.start - lo :]
            actual = ya[va.start : va.stop]
            if target.is_classification:
                m = classification_metrics(pred, actual)
                score, hit = m["log_loss"], m["accuracy"]
            else:
                m = regression_metrics(pred, actual)
                score, hit = m["rmse"], m["directional_accuracy"]
            if score is not None:
                scores.append(score)
                hits.append(hit if hit is not None else np.nan)
                ics.append(m["ic"] if m["ic"] is not None else np.nan)
    if not scores:
        return {"score": math.inf, "score_std": math.nan, "ic": math.nan, "directional_accuracy": math.nan}
    return {
        "score": float(np.mean(scores)),
        "score_std": float(np.std(scores)),
        "ic": float(np.nanmean(ics)) if np.isfinite(ics).any() else math.nan,
        "directional_accuracy": float(np.nanmean(hits)) if np.isfinite(hits).any() else math.nan,
    }


def _progress(total: int, desc: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, disable=not enabled, leave=False)


def tune(
    model: str,
    data: dict[str, tuple[pd.DataFrame, pd.Series]],
    target: Target,
    space: dict[str, str],
    method: str = "grid",
    trials: int = 20,
    fixed_params: dict[str, Any] | None = None,
    seed: int = 42,
    n_splits: int = 4,
    embargo: int = 0,
    out: str | Path | None = None,
    progress: bool = True,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Search ``space`` for ``model``; return (results table sorted by score, best params).

    With ``out``, writes ``tune_results.csv`` and ``best_params.json`` into that folder.
    """
    from autostock.models.artifacts import write_json
    from autostock.models.training import predictor_factory

    if method not in METHODS:
        raise ConfigError(f"unknown --method {method!r}; valid: {', '.join(METHODS)}")
    dims = parse_space(space)
    fixed = dict(fixed_params or {})
    rows: list[dict[str, Any]] = []

    def evaluate(params: dict[str, Any]) -> float:
        factory, _ = predictor_factory(model, {**fixed, **params}, target, seed)
        t0 = time.perf_counter()
        result = cv_score(factory, data, target, n_splits, embargo)
        rows.append({"trial": len(rows), **params, **result, "seconds": round(time.perf_counter() - t0, 3)})
        return result["score"]

    if method == "grid":
        if any(d.choices is None for d in dims):
            raise ConfigError("grid search needs listed values (key=a|b|c), not ranges; use --method optuna for ranges")
        combos = list(itertools.product(*(cast(tuple, d.choices) for d in dims)))  # all listed: checked above
        bar = _progress(len(combos), f"grid {model}", progress)
        for combo in combos:
            evaluate(dict(zip((d.name for d in dims), combo)))
            bar.update(1)
        bar.close()
    else:
        optuna = require("ml", "optuna")

        if trials < 1:
            raise ConfigError(f"trials must be >= 1, got {trials}")
        optuna.logging.set_verbosity(optuna.logging.WARNING)

        def objective(trial: Any) -> float:
            params = {}
            for d in dims:
                if d.choices is not None:
                    params[d.name] = trial.suggest_categorical(d.name, list(d.choices))
                elif d.integer:
                    params[d.name] = trial.suggest_int(
                        d.name, int(cast(float, d.low)), int(cast(float, d.high)), log=d.log
                    )
                else:
                    params[d.name] = trial.suggest_float(
                        d.name, float(cast(float, d.low)), float(cast(float, d.high)), log=d.log
                    )
            return evaluate(params)

        study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))
        study.optimize(objective, n_trials=trials, show_progress_bar=progress)
    table = pd.DataFrame(rows).sort_values(["score", "trial"]).reset_index(drop=True)
    best_row = table.iloc[0]
    best = {d.name: _typed(d, table[d.name].iloc[0]) for d in dims}  # per column: a row upcasts ints
    best_all = {**fixed, **best}
    if out is not None:
        from autostock.models.artifacts import TUNED_SCORE_NOTE, TUNING_PERIOD_FILE

        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        table.to_csv(folder / RESULTS_FILE, index=False)
        period = tuning_period(data, target, n_splits, embargo)
        write_json(folder / TUNING_PERIOD_FILE, period)
        write_json(
            folder / BEST_PARAMS_FILE,
            {
                "model": model,
                "method": method,
                "target": target.name,
                "params": best_all,
                "score": float(best_row["score"]),
                "score_selected_on_same_folds": True,
                "score_note": TUNED_SCORE_NOTE.format(n=len(table)),
                "metric": "log_loss" if target.is_classification else "rmse",
                "n_trials": len(table),
                "tuned_on": period,
            },
        )
    return table, best_all


def _typed(dim: Dimension, value: Any) -> Any:
    """A searched value with its dimension's type: the choice itself, or an int for an int range."""
    value = _plain(value)
    if dim.choices is not None:
        return next((c for c in dim.choices if c == value), value)
    if dim.integer:
        return int(value)
    return value


def tuning_period(
    data: dict[str, tuple[pd.DataFrame, pd.Series]], target: Target, n_splits: int = 4, embargo: int = 0
) -> dict[str, Any]:
    """The bars a search looked at: first and last bar overall and per symbol, and every CV fold's
    training and validation bars (what ``train --params-from`` and backtests check for overlap)."""
    symbols: dict[str, Any] = {}
    for symbol, (X, _) in data.items():
        Xa = X.to_numpy(dtype=float)
        finite = np.isfinite(Xa).all(axis=1)
        first_row = int(np.argmax(finite)) if finite.any() else len(Xa)
        idx = X.index
        folds = [
            {
                "train_first": idx[tr.start].isoformat(),
                "train_last": idx[tr.stop - 1].isoformat(),
                "validation_first": idx[va.start].isoformat(),
                "validation_last": idx[va.stop - 1].isoformat(),
            }
            for tr, va in purged_splits(len(Xa), target.horizon, n_splits, embargo=embargo, first_row=first_row)
        ]
        symbols[symbol] = {"first_bar": idx[0].isoformat(), "last_bar": idx[-1].isoformat(), "folds": folds}
    return {
        "first_bar": min(v["first_bar"] for v in symbols.values()),
        "last_bar": max(v["last_bar"] for v in symbols.values()),
        "n_splits": n_splits,
        "embargo": embargo,
        "symbols": symbols,
    }


def _plain(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value
