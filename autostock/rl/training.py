"""Walk-forward training of RL policies: one policy per fold and seed, out-of-sample actions only.

Per symbol:

1. the market rows: each predictor directory's out-of-sample forecasts (``autostock train``)
   and the causal features, from the first bar where all are finite (every later bar must be);
2. the fold plan of :func:`autostock.models.walkforward.plan_folds` over those rows with a
   horizon of 1 bar (a decision at bar i is rewarded with bar i+1's prices), so a fold's
   training episodes never reach its first test bar;
3. per fold: the observation statistics fitted on the training rows only, then one agent per
   seed trained on random windows of the training rows;
4. one out-of-sample rollout per seed over all test blocks in time order: at bar t the policy of
   the fold whose test block holds t decides (normalising with that fold's statistics), and the
   account carries over from one block to the next, as in a backtest of the actions.

No policy acts on a bar it was trained on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autostock.errors import ConfigError, DataError
from autostock.models.walkforward import Fold, WalkForwardConfig, plan_folds
from autostock.rl.artifacts import METRICS_FILE, PARAMS_FILE, fold_dir, save_actions, save_closes
from autostock.rl.execution import CostModel
from autostock.rl.observation import ObservationBuilder, market_frame, oos_forecasts
from autostock.rl.rewards import make_reward
from autostock.rl.simulator import Simulator, action_to_weight


@dataclass
class RLSettings:
    """Everything that defines one ``autostock rl train`` run besides the data."""

    predictors: list[str]
    agent: str = "ppo"
    reward: str = "dsr"
    reward_params: dict[str, float] = field(default_factory=dict)
    actions: str = "discrete"
    features: str = "logret_1,logret_5,vol_20,rsi_14,regime"
    walk: WalkForwardConfig = field(default_factory=lambda: WalkForwardConfig(train=504, test=126))
    timesteps: int = 20_000
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    costs: CostModel = field(default_factory=CostModel)
    cash: float = 100_000.0
    max_leverage: float = 1.0
    band: float = 0.0
    allow_short: bool = True
    episode_bars: int = 252
    net: tuple[int, ...] = (32, 32)
    device: str = "cpu"

    def __post_init__(self) -> None:
        if not self.predictors:
            raise ConfigError("--predictors needs at least one model directory written by autostock train")
        if self.agent not in ("ppo", "dqn", "a2c"):
            raise ConfigError(f"unknown agent {self.agent!r}; valid: ppo, dqn, a2c")
        if self.actions not in ("discrete", "weight"):
            raise ConfigError(f"unknown actions {self.actions!r}; valid: discrete, weight")
        if self.agent == "dqn" and self.actions != "discrete":
            raise ConfigError("--agent dqn needs --actions discrete (DQN cannot output a continuous weight)")
        if self.timesteps < 1:
            raise ConfigError(f"--timesteps must be >= 1, got {self.timesteps}")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"seeds must be distinct, got {self.seeds}")
        if self.episode_bars < 2:
            raise ConfigError(f"episode_bars must be >= 2, got {self.episode_bars}")
        if not (0 < self.max_leverage <= 10):
            raise ConfigError(f"max_leverage must be in (0, 10], got {self.max_leverage}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "reward": self.reward,
            "reward_params": self.reward_params,
            "actions": self.actions,
            "predictors": [str(Path(p).expanduser().resolve()) for p in self.predictors],
            "features": self.features,
            "walk_forward": self.walk.to_dict(),
            "timesteps": self.timesteps,
            "seeds": self.seeds,
            "costs": self.costs.to_dict(),
            "cash": self.cash,
            "max_leverage": self.max_leverage,
            "band": self.band,
            "allow_short": self.allow_short,
            "episode_bars": self.episode_bars,
            "net": list(self.net),
        }


@dataclass
class SymbolData:
    """One symbol's bars and raw market rows from its first fully observed bar on."""

    symbol: str
    bars: pd.DataFrame
    market: pd.DataFrame


def symbol_market(symbol: str, bars: pd.DataFrame, predictors: list[str], features: str) -> SymbolData:
    """The bars and market rows (forecasts + features) from the first bar where all are finite.

    Bars before it (no out-of-sample forecast yet, or feature warm-up) are left out; a bar
    after it with a missing value is an error naming the date (nothing is filled).
    """
    forecasts = oos_forecasts(predictors, symbol, bars.index)
    mkt = market_frame(bars, forecasts, features)
    ok = np.isfinite(mkt.to_numpy(dtype=float)).all(axis=1)
    if not ok.any():
        raise DataError(
            f"{symbol}: no bar has every forecast and feature ({', '.join(mkt.columns)}); "
            "do the predictors cover this data?"
        )
    first = int(np.argmax(ok))
    gaps = np.flatnonzero(~ok[first:])
    if len(gaps):
        bad = mkt.iloc[first + gaps[0]]
        cols = [c for c in mkt.columns if not np.isfinite(bad[c])]
        raise DataError(
            f"{symbol}: {', '.join(cols)} missing on {mkt.index[first + gaps[0]].date()} "
            f"after the first complete bar {mkt.index[first].date()} ({len(gaps)} bar(s)); "
            "train the predictors on the same data (--end) or trim it"
        )
    return SymbolData(symbol, bars.iloc[first:], mkt.iloc[first:])


def plan(sd: SymbolData, walk: WalkForwardConfig) -> list[Fold]:
    n = len(sd.bars)
    if n <= walk.train + 1:
        raise DataError(
            f"{sd.symbol}: {n} bars with forecasts and features, need more than train={walk.train} + 1 "
            f"(forecasts start {sd.bars.index[0].date()})"
        )
    return plan_folds(n, 1, walk)


def fold_of(folds: list[Fold], t: int) -> int:
    for k, f in enumerate(folds):
        if f.test_start <= t < f.test_end:
            return k
    raise ConfigError(f"row {t} is in no test block")


def rollout(
    sd: SymbolData, folds: list[Fold], builders: list[ObservationBuilder], policies: list[Any], settings: RLSettings
) -> pd.Series:
    """Out-of-sample target weights over all test blocks, the account carried across folds."""
    sim = Simulator(sd.bars, sd.market[builders[0].columns], settings.costs, settings.cash, settings.band)
    start = folds[0].test_start
    sim.reset(start)
    n = len(sd.bars)
    out = np.full(n, np.nan)
    for t in range(start, n):
        k = fold_of(folds, t)
        obs = sim.observe(builders[k])
        action, _ = policies[k].predict(obs, deterministic=True)
        out[t] = action_to_weight(action, settings.actions, settings.max_leverage, settings.allow_short)
        if t + 1 < n:
            sim.step(out[t])
    return pd.Series(out, index=sd.bars.index, name="weight")


class _Bar:
    """A tqdm bar over environment steps; stable-baselines3 callbacks update it."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc="rl train", unit="step", leave=False)

    def callback(self, label: str) -> Any:
        from stable_baselines3.common.callbacks import BaseCallback

        bar = self.bar

        class _CB(BaseCallback):
            def _on_training_start(self) -> None:
                if bar is not None:
                    bar.set_postfix_str(label)

            def _on_step(self) -> bool:
                if bar is not None and self.n_calls % 64 == 0:
                    bar.update(64)
                return True

        return _CB()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@dataclass
class TrainResult:
    params: dict[str, Any]
    metrics: dict[str, Any]
    actions: dict[str, pd.DataFrame]
    data: dict[str, SymbolData]
    out: Path | None = None
    env_steps: int = 0
    train_seconds: float = 0.0


def train_policies(
    market: Any,
    settings: RLSettings,
    out: str | Path | None = None,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train ``settings.agent`` walk-forward on every symbol of ``market``; see the module docstring.

    Writes the policy directory (:mod:`autostock.rl.artifacts`) when ``out`` is given.
    """
    from autostock.rl.agents import make_agent, require_rl
    from autostock.rl.env import TradingEnv
    from autostock.rl.evaluation import evaluate_symbols

    require_rl()
    make_reward(settings.reward, settings.reward_params)  # fail fast on a bad reward
    folder = Path(out) if out else None
    data = {s: symbol_market(s, b, settings.predictors, settings.features) for s, b in market.bars.items()}
    plans = {s: plan(sd, settings.walk) for s, sd in data.items()}
    total = sum(len(f) for f in plans.values()) * len(settings.seeds) * settings.timesteps
    bar = _Bar(total, progress)
    actions: dict[str, pd.DataFrame] = {}
    fold_info: dict[str, list[dict[str, Any]]] = {}
    t0 = time.perf_counter()
    try:
        for symbol, sd in data.items():
            folds = plans[symbol]
            builders: list[ObservationBuilder] = []
            policies: dict[int, list[Any]] = {s: [] for s in settings.seeds}
            for k, fold in enumerate(folds):
                builder = ObservationBuilder(list(sd.market.columns)).fit(sd.market.iloc[fold.fit_start : fold.fit_end])
                builders.append(builder)
                if folder is not None:
                    from autostock.models.artifacts import write_json

                    write_json(fold_dir(folder, symbol, k) / "observation.json", builder.to_dict())
                for seed in settings.seeds:
                    env = TradingEnv(
                        sd.bars,
                        sd.market,
                        builder,
                        make_reward(settings.reward, settings.reward_params),
                        settings.actions,
                        settings.costs,
                        settings.cash,
                        settings.max_leverage,
                        settings.band,
                        settings.allow_short,
                        fold.fit_start,
                        fold.fit_end,
                        settings.episode_bars,
                    )
                    env.reset(seed=seed)
                    agent = make_agent(settings.agent, env, seed, settings.timesteps, settings.net, settings.device)
                    agent.learn(
                        settings.timesteps, callback=bar.callback(f"{symbol} fold {k + 1}/{len(folds)} seed {seed}")
                    )
                    if folder is not None:
                        agent.save(str(fold_dir(folder, symbol, k) / f"seed_{seed}.zip"))
                    policies[seed].append(agent)
            frame = pd.DataFrame(index=market.bars[symbol].index)
            for seed in settings.seeds:
                frame[f"seed_{seed}"] = rollout(sd, folds, builders, policies[seed], settings).reindex(frame.index)
            actions[symbol] = frame
            idx = sd.bars.index
            fold_info[symbol] = [
                {
                    "fold": k,
                    "fit_start": str(idx[f.fit_start].date()),
                    "fit_end": str(idx[f.fit_end - 1].date()),
                    "test_start": str(idx[f.test_start].date()),
                    "test_end": str(idx[f.test_end - 1].date()),
                }
                for k, f in enumerate(folds)
            ]
    finally:
        bar.close()
    seconds = time.perf_counter() - t0
    params = {
        **settings.to_dict(),
        "symbols": list(data),
        "folds": fold_info,
        "env_steps": total,
        "train_seconds": seconds,
    }
    metrics = evaluate_symbols(data, actions, settings, [settings.to_dict()])
    if folder is not None:
        from autostock.models.artifacts import write_json

        write_json(folder / PARAMS_FILE, params)
        write_json(folder / METRICS_FILE, metrics)
        for symbol, frame in actions.items():
            save_actions(folder, symbol, frame)
            save_closes(folder, symbol, market.bars[symbol]["close"])
    return TrainResult(params, metrics, actions, data, folder, total, seconds)


def settings_from_params(params: dict[str, Any]) -> RLSettings:
    """The :class:`RLSettings` recorded in a policy directory's params.json."""
    wf = dict(params["walk_forward"])
    return RLSettings(
        list(params["predictors"]),
        params["agent"],
        params["reward"],
        dict(params.get("reward_params") or {}),
        params["actions"],
        params["features"],
        WalkForwardConfig(**wf),
        int(params["timesteps"]),
        [int(s) for s in params["seeds"]],
        CostModel(**params["costs"]),
        float(params["cash"]),
        float(params["max_leverage"]),
        float(params["band"]),
        bool(params.get("allow_short", True)),
        int(params.get("episode_bars", 252)),
        tuple(params.get("net", (32, 32))),
    )
