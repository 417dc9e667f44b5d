"""Out-of-sample evaluation of RL policies against baselines, across seeds and settings.

Everything runs through :func:`autostock.rl.simulator.run_weights` on the same out-of-sample
bars (from the first bar with an out-of-sample action) with the same costs, cash, band and
leverage cap as the policy:

* ``buy_and_hold``: weight 1 throughout;
* ``flat``: weight 0 (always flat: zero return);
* ``random``: a seeded random action per bar from the policy's action set (mean of
  ``random_draws`` draws);
* ``ml_signal``: the ``ml_signal`` strategy's default threshold rule on the first predictor's
  forecast (long when above 0 for returns / 0.5 for probabilities, else flat).

Across seeds: mean, standard deviation, min and max. Over every trial (each seed of each
setting tried): the deflated Sharpe ratio of the best trial and the probability of backtest
overfitting (:mod:`autostock.robustness.stats`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from autostock.rl.execution import CostModel
from autostock.rl.simulator import DISCRETE_WEIGHTS, run_weights

PERIODS_PER_YEAR = 252


def equity_metrics(frame: pd.DataFrame, cash: float) -> dict[str, Any]:
    """Sharpe (annualised, empyrical), total return, max drawdown, costs and trades of a run."""
    import empyrical

    eq = frame["equity"]
    r = eq.pct_change().dropna()
    sharpe = float(empyrical.sharpe_ratio(r, annualization=PERIODS_PER_YEAR)) if len(r) > 1 and r.std() > 0 else 0.0
    return {
        "sharpe": sharpe,
        "total_return": float(eq.iloc[-1] / cash - 1.0),
        "max_drawdown": float(empyrical.max_drawdown(r)) if len(r) else 0.0,
        "costs": float(frame["costs"].sum()),
        "trades": int((frame["shares"].diff().fillna(frame["shares"].iloc[0]) != 0).sum()),
        "n_bars": len(eq),
    }


def forecast_kind(values: pd.Series) -> str:
    """``probability`` when every finite value lies in [0, 1] with mean in (0.2, 0.8), else ``return``
    (the rule ``ml_signal`` applies)."""
    v = values[np.isfinite(values.to_numpy(dtype=float))]
    if len(v) and v.between(0.0, 1.0).all() and 0.2 < float(v.mean()) < 0.8:
        return "probability"
    return "return"


def baseline_weights(
    market: pd.DataFrame,
    index: pd.DatetimeIndex,
    start: pd.Timestamp,
    kind: str,
    max_leverage: float,
    allow_short: bool,
    draws: int,
    seed: int,
) -> dict[str, list[pd.Series]]:
    live = index >= start
    one = pd.Series(np.where(live, 1.0, np.nan), index=index)
    rng = np.random.default_rng(seed)
    randoms = []
    for _ in range(draws):
        if kind == "discrete":
            choices = np.array(DISCRETE_WEIGHTS if allow_short else (0.0, 1.0)) * max_leverage
            w = rng.choice(choices, len(index))
        else:
            w = rng.uniform(-1.0 if allow_short else 0.0, 1.0, len(index)) * max_leverage
        randoms.append(pd.Series(np.where(live, w, np.nan), index=index))
    fc_cols = [c for c in market.columns if c.startswith("fc_")]
    out = {"buy_and_hold": [one], "flat": [one * 0.0], "random": randoms}
    if fc_cols:
        fc = market[fc_cols[0]].reindex(index)
        centre = 0.5 if forecast_kind(fc) == "probability" else 0.0
        out["ml_signal"] = [pd.Series(np.where(live, (fc > centre).astype(float), np.nan), index=index)]
    return out


def _mean(ms: list[dict[str, Any]]) -> dict[str, Any]:
    keys = [k for k in ms[0] if isinstance(ms[0][k], (int, float))]
    out: dict[str, Any] = {k: float(np.mean([m[k] for m in ms])) for k in keys}
    if len(ms) > 1:
        out["sharpe_std"] = float(np.std([m["sharpe"] for m in ms], ddof=1))
        out["draws"] = len(ms)
    return out


def spread(values: list[float]) -> dict[str, float | None]:
    a = np.asarray(values, dtype=float)
    return {
        "mean": float(a.mean()),
        "std": float(a.std(ddof=1)) if len(a) > 1 else None,
        "min": float(a.min()),
        "max": float(a.max()),
        "n": len(a),
    }


def pbo_splits(n_periods: int) -> int:
    """The largest even number of CSCV blocks (<= 16) that leaves >= 20 periods per block (min 2)."""
    s = min(16, n_periods // 20)
    s -= s % 2
    return max(2, s)


def overfitting(trial_returns: pd.DataFrame) -> dict[str, Any]:
    """Deflated Sharpe ratio of the best trial and PBO over ``trial_returns`` (periods x trials)."""
    from autostock.robustness.stats import (
        deflated_sharpe_from_returns,
        probability_of_backtest_overfitting,
        sharpe_per_period,
    )

    m = trial_returns.dropna(how="any")
    out: dict[str, Any] = {"n_trials": int(m.shape[1]), "n_periods": int(m.shape[0])}
    if m.shape[0] < 3:
        return out
    sharpes = np.array([sharpe_per_period(m[c].to_numpy()) for c in m.columns])
    finite = np.where(np.isfinite(sharpes), sharpes, -np.inf)
    best = m.columns[int(np.argmax(finite))]
    out["best_trial"] = str(best)
    out["deflated_sharpe"] = deflated_sharpe_from_returns(m[best].to_numpy(), sharpes).to_dict()
    if m.shape[1] >= 2 and m.shape[0] >= 4:
        out["pbo"] = probability_of_backtest_overfitting(m.to_numpy(), pbo_splits(m.shape[0])).to_dict()
    else:
        out["pbo"] = None
        out["pbo_note"] = "PBO needs at least 2 trials (seeds or settings)"
    return out


def evaluate_symbol(
    bars: pd.DataFrame,
    market: pd.DataFrame,
    actions: pd.DataFrame,
    costs: CostModel,
    cash: float,
    band: float,
    max_leverage: float,
    allow_short: bool,
    action_kind: str,
    random_draws: int = 5,
    seed: int = 0,
) -> tuple[dict[str, Any], dict[str, pd.Series]]:
    """Metrics of each seed's actions and of the baselines on the same out-of-sample bars,
    and each seed's per-bar returns (for DSR / PBO)."""
    first = min(actions[c].first_valid_index() for c in actions.columns)
    idx = bars.index
    policy: dict[str, Any] = {}
    returns: dict[str, pd.Series] = {}
    for col in actions.columns:
        run = run_weights(bars, actions[col].reindex(idx), costs, cash, band)
        policy[col] = equity_metrics(run, cash)
        returns[col] = run["equity"].pct_change().dropna()
    base: dict[str, Any] = {}
    for name, series in baseline_weights(
        market, idx, first, action_kind, max_leverage, allow_short, random_draws, seed
    ).items():
        base[name] = _mean([equity_metrics(run_weights(bars, w, costs, cash, band), cash) for w in series])
    sharpe = spread([m["sharpe"] for m in policy.values()])
    total = spread([m["total_return"] for m in policy.values()])
    beats = {name: int(sum(m["sharpe"] > b["sharpe"] for m in policy.values())) for name, b in base.items()}
    beats_flat_return = int(sum(m["total_return"] > 0 for m in policy.values()))
    summary = {
        "oos_start": str(first.date()),
        "oos_end": str(idx[-1].date()),
        "policy": policy,
        "across_seeds": {"sharpe": sharpe, "total_return": total},
        "baselines": base,
        "seeds_beating_baseline_sharpe": beats,
        "seeds_beating_flat_total_return": beats_flat_return,
    }
    return summary, returns


def evaluate_symbols(
    data: dict[str, Any],
    actions: dict[str, pd.DataFrame],
    settings: Any,
    settings_tried: list[dict[str, Any]],
    extra_trials: dict[str, pd.DataFrame] | None = None,
) -> dict[str, Any]:
    """metrics.json: per symbol the policy seeds and baselines; over all trials DSR and PBO."""
    symbols: dict[str, Any] = {}
    trials: dict[str, pd.Series] = {}
    for symbol, sd in data.items():
        summary, rets = evaluate_symbol(
            sd.bars,
            sd.market,
            actions[symbol].reindex(sd.bars.index),
            settings.costs,
            settings.cash,
            settings.band,
            settings.max_leverage,
            settings.allow_short,
            settings.actions,
        )
        symbols[symbol] = summary
        for col, r in rets.items():
            trials[f"{symbol}:{col}"] = r
    frames = [pd.DataFrame(trials)]
    if extra_trials:
        frames += list(extra_trials.values())
    per_symbol_overfit = {}
    for symbol in data:
        cols = pd.concat(frames, axis=1)
        cols = cols[[c for c in cols.columns if str(c).startswith(f"{symbol}:")]]
        per_symbol_overfit[symbol] = overfitting(cols)
    return {
        "evaluated_on": "out-of-sample bars only, same costs, cash, band and leverage cap as the policy",
        "sharpe": "annualised (252 bars), empyrical; DSR and PBO use per-period Sharpe ratios",
        "settings_tried": settings_tried,
        "symbols": symbols,
        "overfitting": per_symbol_overfit,
    }


def evaluate_policies(market: Any, policy_dirs: list[str]) -> dict[str, Any]:
    """Metrics of saved policy directories on ``market`` (``autostock rl evaluate``).

    Each directory is evaluated with its own costs and settings; the deflated Sharpe ratio and
    PBO pool every seed of every directory (the settings tried) per symbol.
    """
    from pathlib import Path

    from autostock.errors import DataError
    from autostock.rl.artifacts import load_action_frame, load_policy_params
    from autostock.rl.training import settings_from_params, symbol_market

    out: dict[str, Any] = {"symbols": {}, "settings_tried": [], "overfitting": {}}
    trials: dict[str, pd.Series] = {}
    for folder in policy_dirs:
        params = load_policy_params(folder)
        settings = settings_from_params(params)
        out["settings_tried"].append({"policy": str(folder), **settings.to_dict()})
        syms = [s for s in params["symbols"] if s in market.bars]
        if not syms:
            raise DataError(f"{folder}: trained on {', '.join(params['symbols'])}, none of which is in the data")
        data = {s: symbol_market(s, market.bars[s], settings.predictors, settings.features) for s in syms}
        actions = {s: load_action_frame(folder, s) for s in syms}
        res = evaluate_symbols(data, actions, settings, [])
        tag = Path(folder).name
        for s in syms:
            key = s if len(policy_dirs) == 1 else f"{s} [{tag}]"
            out["symbols"][key] = res["symbols"][s]
            for col in actions[s].columns:
                run = run_weights(
                    data[s].bars,
                    actions[s][col].reindex(data[s].bars.index),
                    settings.costs,
                    settings.cash,
                    settings.band,
                )
                trials[f"{s}:{tag}:{col}"] = run["equity"].pct_change().dropna()
    frame = pd.DataFrame(trials)
    for s in sorted({k.split(":")[0] for k in trials}):
        out["overfitting"][s] = overfitting(frame[[c for c in frame.columns if c.startswith(f"{s}:")]])
    for key in list(out["symbols"]):
        out["overfitting"].setdefault(key, out["overfitting"].get(key.split(" ")[0], {}))
    return out
