"""Walk-forward training over a market: the engine function behind ``autostock train``.

For each symbol: causal features, the target, a walk-forward fit of the predictor (or of
each member of an ensemble, then the ensemble over their out-of-sample predictions),
out-of-sample metrics next to the naive baselines, and the artifacts of
:mod:`autostock.models.artifacts`.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from autostock.errors import ConfigError, DataError
from autostock.models.ensembles import METHODS, ensemble
from autostock.models.evaluation import aligned, metrics_from_frame
from autostock.models.features import compute_features
from autostock.models.regime import regime_codes
from autostock.models.targets import Target, make_target, parse_target
from autostock.models.walkforward import Fold, WalkForwardConfig, walk_forward


def predictor_factory(
    model: str, params: dict[str, Any] | None, target: Target, seed: int
) -> tuple[Callable[[], Any], dict[str, Any]]:
    """A zero-argument factory of fresh predictors for ``model`` and the params it will use.

    ``seed`` and ``task`` (classification for direction targets) are filled in when the
    predictor has such params and the user did not set them.
    """
    from autostock.registry import PREDICTORS

    cls = PREDICTORS.get(model)
    user = dict(params or {})
    try:
        defaults = cls().get_params()
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"predictor {model}: {exc}") from None
    final = dict(user)
    if "seed" in defaults and "seed" not in user:
        final["seed"] = seed
    if "task" in defaults and "task" not in user:
        final["task"] = "classification" if target.is_classification else "regression"
    try:
        cls(**final)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"predictor {model}: {exc}") from None
    if target.is_classification != (cls(**final).get_params().get("task", "regression") == "classification"):
        kind = "a classification" if target.is_classification else "a regression"
        raise ConfigError(f"predictor {model} does not fit {kind} target {target.name}")
    return (lambda: cls(**final)), {**defaults, **final}


def symbol_data(
    market: Any, feature_set: str, target: Target, index: pd.Series | None = None, min_bars: int = 0
) -> tuple[dict[str, tuple[pd.DataFrame, pd.Series]], list[str]]:
    """Features and labels per symbol, and the feature names omitted for a missing reference."""
    data: dict[str, tuple[pd.DataFrame, pd.Series]] = {}
    omitted: list[str] = []
    for symbol, bars in market.bars.items():
        if len(bars) <= min_bars:
            raise DataError(f"{symbol}: {len(bars)} bars, need more than {min_bars}")
        X = compute_features(bars, feature_set, index, market.benchmark)
        omitted = list(X.attrs.get("omitted", []))
        data[symbol] = (X, make_target(bars["close"], target))
    return data, omitted


def member_params(params: dict[str, Any] | None, member: str, members: list[str]) -> dict[str, Any]:
    """Params for one member: plain ``key`` applies to all, ``member.key`` to that member only."""
    out: dict[str, Any] = {}
    for key, value in (params or {}).items():
        owner, dot, name = key.partition(".")
        if not dot:
            out[key] = value
        elif owner not in members:
            raise ConfigError(f"--param {key}: {owner!r} is not one of the models {', '.join(members)}")
        elif owner == member:
            out[name] = value
    return out


def _symbol_predictions(
    X: pd.DataFrame,
    y: pd.Series,
    bars: pd.DataFrame,
    factories: dict[str, tuple[Callable[[], Any], dict[str, Any]]],
    tgt: Target,
    walk: WalkForwardConfig,
    ensemble_method: str | None,
    progress: Callable[[str, int, int], None] | None = None,
    label: str = "",
) -> tuple[pd.Series, dict[str, Any], Any]:
    """One symbol's out-of-sample prediction: each member walk-forward, then the ensemble over
    their out-of-sample predictions (``ensemble_method``); returns (prediction, member results,
    ensemble or None)."""
    results: dict[str, Any] = {}
    for name, (factory, _) in factories.items():
        results[name] = walk_forward(
            factory,
            X,
            y,
            tgt.horizon,
            walk,
            progress=functools.partial(progress, f"{label} {name}") if progress else None,
        )
    if not ensemble_method:
        return next(iter(results.values())).predictions, results, None
    preds = pd.DataFrame({name: res.predictions for name, res in results.items()})
    regime = pd.Series(regime_codes(bars["close"]), index=bars.index)
    ens = ensemble(ensemble_method, preds, y, tgt.horizon, regime=regime, classification=tgt.is_classification)
    return ens.prediction.where(preds.notna().any(axis=1)), results, ens


def ablation(
    data: dict[str, tuple[pd.DataFrame, pd.Series]],
    market: Any,
    factories: dict[str, tuple[Callable[[], Any], dict[str, Any]]],
    tgt: Target,
    walk: WalkForwardConfig,
    ensemble_method: str | None,
    full: dict[str, Any],
) -> dict[str, Any] | None:
    """Out-of-sample skill with and without each microstructure / alt-data group in the features.

    The features' columns split into price-only ones (every group not in
    :data:`~autostock.models.features.DATA_GROUPS`) and one block per data group. For each
    group ``g`` the same predictor (or ensemble) is trained walk-forward exactly as the main
    model on ``price-only + g`` and on ``all - g``; each variant's rows are masked to the rows
    where the full feature set is finite, so every variant is fitted, and scored, on the same
    bars and folds as the main model. Figures are pooled out-of-sample metrics over the symbols
    (``ic``: rank correlation of forecast and outcome). ``ic_gain`` is
    ``ic(price-only + g) - ic(price-only)``; ``ic_drop_without`` is ``ic(all) - ic(all - g)``.
    Returns None when the features hold no data group.
    """
    import numpy as np

    from autostock.models.features import DATA_GROUPS
    from autostock.registry import FEATURES

    group_of = {name: f.group for name, f in FEATURES.items()}
    columns = list(next(iter(data.values()))[0].columns)
    groups = [g for g in DATA_GROUPS if any(group_of.get(c) == g for c in columns)]
    if not groups:
        return None
    price = [c for c in columns if group_of.get(c) not in DATA_GROUPS]
    scores: dict[tuple[str, ...], dict[str, Any]] = {tuple(columns): full}

    def skill(cols: list[str]) -> dict[str, Any] | None:
        if not cols:
            return None
        wanted = set(cols)
        cols = [c for c in columns if c in wanted]  # the main model's column order: one run per set
        key = tuple(cols)
        if key not in scores:
            frames = []
            for symbol, (X, y) in data.items():
                keep = np.isfinite(X.to_numpy(dtype=float)).all(axis=1)
                Xs = X[cols].copy()
                Xs.loc[~keep] = np.nan
                bars = market.bars[symbol]
                pred, _, _ = _symbol_predictions(Xs, y, bars, factories, tgt, walk, ensemble_method)
                frames.append(aligned(pred, bars["close"], tgt))
            scores[key] = metrics_from_frame(pd.concat(frames), tgt, price_level=False)["model"]
        return scores[key]

    def diff(a: dict[str, Any] | None, b: dict[str, Any] | None) -> float | None:
        if a is None or b is None or a.get("ic") is None or b.get("ic") is None:
            return None
        return float(a["ic"] - b["ic"])

    price_only = skill(price)
    out: dict[str, Any] = {
        "note": (
            "out-of-sample (walk-forward, as the main model, on the same bars and folds); pooled over "
            "the symbols; ic_gain = ic(price_only + group) - ic(price_only), "
            "ic_drop_without = ic(all) - ic(all - group)"
        ),
        "price_only_features": len(price),
        "price_only": price_only,
        "all": full,
        "groups": {},
    }
    for g in groups:
        mine = [c for c in columns if group_of.get(c) == g]
        with_g = skill(price + mine)
        without = skill([c for c in columns if group_of.get(c) != g])
        out["groups"][g] = {
            "features": len(mine),
            "price_plus_group": with_g,
            "all_minus_group": without,
            "ic_gain": diff(with_g, price_only),
            "ic_drop_without": diff(full, without),
        }
    return out


@dataclass
class TrainResult:
    """Everything a training run produced (also written to ``out`` when given)."""

    params: dict[str, Any]
    metrics: dict[str, Any]
    predictions: dict[str, pd.Series]
    models: dict[str, Any]
    folds: dict[str, list[Fold]] = field(default_factory=dict)
    windows: dict[str, Any] = field(default_factory=dict)
    out: Path | None = None


def train(
    market: Any,
    model: str,
    target: str | Target = "fwd_return_5",
    feature_set: str = "full",
    walk: WalkForwardConfig | None = None,
    model_params: dict[str, Any] | None = None,
    index: pd.Series | None = None,
    index_symbol: str | None = None,
    seed: int = 42,
    ensemble_method: str | None = None,
    out: str | Path | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    tuned_on: dict[str, Any] | None = None,
    ablate: bool = True,
) -> TrainResult:
    """Train ``model`` walk-forward on every symbol of ``market``.

    Parameters
    ----------
    market : Market
        Bars per symbol and the benchmark (its close feeds the ``bm_*`` features).
    model : str
        A PREDICTORS name or reference; a comma list of names makes an ensemble.
    target : str | Target
        ``fwd_return_K``, ``fwd_logreturn_K`` or ``direction_K`` (parsed once, by the caller or here).
    feature_set : str
        ``basic``, ``technical``, ``full`` or a comma list of names and groups.
    walk : WalkForwardConfig
        Walk-forward settings.
    model_params : dict
        Params for the predictor (for every member of an ensemble).
    index, index_symbol : Series, str
        Close prices (and name) of the high-beta index for the ``idx_*`` features.
    seed : int
        Seed given to predictors that take one.
    ensemble_method : str
        ``mean``, ``weighted``, ``regime`` or ``stacking`` (default ``weighted`` for a list).
    out : path, optional
        Where to write the model directory.
    progress : callable, optional
        ``progress(label, done, total)`` after each fold.
    tuned_on : dict, optional
        The period the params were tuned on (``best_params.json``'s ``tuned_on``); when it
        overlaps the training data, ``metrics["tuned_on_overlap"]`` is True and
        ``metrics["warnings"]`` names the overlap (those out-of-sample figures are in-sample
        for the params).
    ablate : bool
        When the features hold a microstructure / alternative-data group, add
        ``metrics["ablation"]`` (see :func:`ablation`).
    """
    tgt = parse_target(target)
    walk = (walk or WalkForwardConfig()).resolved(tgt.horizon)
    members = [m.strip() for m in model.split(",") if m.strip()]
    if not members:
        raise ConfigError("--model is empty")
    if len(set(members)) != len(members):
        raise ConfigError(f"duplicate member in --model {model}")
    if len(members) > 1 or ensemble_method:
        ensemble_method = ensemble_method or "weighted"
        if ensemble_method not in METHODS:
            raise ConfigError(f"unknown --ensemble {ensemble_method!r}; valid: {', '.join(METHODS)}")
    factories = {m: predictor_factory(m, member_params(model_params, m, members), tgt, seed) for m in members}

    predictions: dict[str, pd.Series] = {}
    models: dict[str, Any] = {}
    windows: dict[str, Any] = {}
    folds: dict[str, list[Fold]] = {}
    per_symbol: dict[str, Any] = {}
    frames: list[pd.DataFrame] = []
    member_frames: dict[str, list[pd.DataFrame]] = {m: [] for m in members}
    fit_seconds = 0.0
    t_start = time.perf_counter()
    data, omitted = symbol_data(market, feature_set, tgt, index, min_bars=walk.train)
    feature_names: list[str] = list(next(iter(data.values()))[0].columns)
    for symbol, (X, y) in data.items():
        bars = market.bars[symbol]
        pred, results, ens = _symbol_predictions(
            X, y, bars, factories, tgt, walk, ensemble_method, progress=progress, label=symbol
        )
        for name, res in results.items():
            fit_seconds += res.fit_seconds
            sym_folds = res.folds
            folds[symbol if len(members) == 1 else f"{symbol}:{name}"] = res.folds
            if len(members) == 1:
                models[symbol] = res.model
                windows[symbol] = res.training_window()
        frame = aligned(pred, bars["close"], tgt)
        sym_metrics: dict[str, Any] = metrics_from_frame(frame, tgt)
        if ensemble_method:
            sym_metrics["members"] = {}
            for name, res in results.items():
                mf = aligned(res.predictions, bars["close"], tgt)
                member_frames[name].append(mf)
                sym_metrics["members"][name] = metrics_from_frame(mf, tgt)["model"]
            if ens is not None and ens.weights is not None:
                sym_metrics["mean_weights"] = ens.weights.mean().to_dict()
        sym_metrics["first_prediction"] = pred.first_valid_index().isoformat() if pred.notna().any() else None
        sym_metrics["n_folds"] = len(sym_folds)
        sym_metrics["n_fits"] = sum(f.refit for f in sym_folds)
        per_symbol[symbol] = sym_metrics
        predictions[symbol] = pred
        frames.append(frame)

    pooled = metrics_from_frame(pd.concat(frames), tgt, price_level=False)
    pooled.pop("price_level", None)
    if ensemble_method:
        pooled["members"] = {
            m: metrics_from_frame(pd.concat(f), tgt, price_level=False)["model"] for m, f in member_frames.items()
        }
    metrics = {
        "model": model,
        "target": tgt.name,
        "out_of_sample": True,
        "note": (
            "every figure is out-of-sample (walk-forward); baselines are scored on exactly the "
            "model's bars; price_level compares close[t]*(1+forecast) with the naive "
            "last-price forecast close[t]"
        ),
        "symbols": per_symbol,
        "pooled": pooled,
        "walk_forward": walk.to_dict(),
        "n_features": len(feature_names),
        "fit_seconds": round(fit_seconds, 3),
        "wall_seconds": round(time.perf_counter() - t_start, 3),
    }
    if ablate:
        section = ablation(data, market, factories, tgt, walk, ensemble_method, pooled["model"])
        if section is not None:
            metrics["ablation"] = section
    params = {
        "model": model if len(members) == 1 else None,
        "members": members,
        "ensemble": ensemble_method,
        "model_params": factories[members[0]][1] if len(members) == 1 else {m: f[1] for m, f in factories.items()},
        "target": tgt.name,
        "prediction_kind": tgt.prediction_kind,
        "feature_set": feature_set,
        "features": feature_names,
        "features_omitted": omitted,
        "walk_forward": walk.to_dict(),
        "data": market.source,
        "symbols": list(market.bars),
        "index_symbol": index_symbol if index is not None else None,
        "benchmark_symbol": market.benchmark_symbol if market.benchmark is not None else None,
        "seed": seed,
        "synthetic": bool(getattr(market, "synthetic", False)),
    }
    from autostock.models.artifacts import period_overlap, tuned_overlap_warning

    first = min(b.index[0] for b in market.bars.values())
    last = max(b.index[-1] for b in market.bars.values())
    overlap = period_overlap(tuned_on, first, last)
    params["tuned_on"] = tuned_on
    metrics["tuned_on_overlap"] = overlap is not None
    metrics["tuned_overlap"] = [overlap[0].isoformat(), overlap[1].isoformat()] if overlap else None
    metrics["warnings"] = (
        [tuned_overlap_warning(tuned_on, overlap, "the training data")] if overlap and tuned_on else []
    )
    result = TrainResult(params, metrics, predictions, models, folds, windows)
    if out is not None:
        from autostock.models.artifacts import save_artifacts

        result.out = save_artifacts(out, params, metrics, predictions, models, windows)
    return result
