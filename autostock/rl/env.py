"""The gymnasium trading environment over the predictors' out-of-sample forecasts.

One symbol. At bar t the agent sees :class:`~autostock.rl.observation.ObservationBuilder`'s
vector (forecasts and causal features of t, normalised with training-fold statistics, and the
account at the close of t); its action becomes a target weight (discrete short / flat / long,
or a continuous weight in [-1, 1], times ``max_leverage``), which fills at the open of t+1 with
the backtest's costs (:class:`~autostock.rl.simulator.Simulator`). The reward plugin scores the
step from the equity net of costs. An episode runs over ``[start, end)`` rows, or over a random
window of ``episode_bars`` rows inside it (drawn with the environment's seeded generator).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pandas as pd

from autostock.errors import ConfigError
from autostock.rl.execution import CostModel
from autostock.rl.observation import ObservationBuilder
from autostock.rl.rewards import Reward
from autostock.rl.simulator import DISCRETE_WEIGHTS, Simulator, action_to_weight


class TradingEnv(gym.Env):
    """Single-symbol trading environment; see the module docstring.

    Parameters
    ----------
    bars : DataFrame
        open / high / low / close per bar.
    market : DataFrame
        Raw market columns (forecasts, features) aligned with ``bars``, finite on ``[start, end)``.
    builder : ObservationBuilder
        Fitted on the training rows.
    reward : Reward
        A reward plugin instance.
    actions : {"discrete", "weight"}
    costs, cash, max_leverage, band, allow_short
        The market the policy trades in (the backtest's costs and leverage cap).
    start, end : int
        Rows of the episode range (``end`` exclusive; the last decision is at ``end - 2``).
    episode_bars : int | None
        Length of a random training window; ``None`` runs the whole range.
    """

    metadata = {"render_modes": []}  # noqa: RUF012 - gymnasium declares it as an instance attribute

    def __init__(
        self,
        bars: pd.DataFrame,
        market: pd.DataFrame,
        builder: ObservationBuilder,
        reward: Reward,
        actions: str = "discrete",
        costs: CostModel | None = None,
        cash: float = 100_000.0,
        max_leverage: float = 1.0,
        band: float = 0.0,
        allow_short: bool = True,
        start: int = 0,
        end: int | None = None,
        episode_bars: int | None = None,
    ) -> None:
        super().__init__()
        if not (0 < max_leverage <= 10):
            raise ConfigError(f"max_leverage must be in (0, 10], got {max_leverage}")
        self.sim = Simulator(bars, market[builder.columns], costs, cash, band)
        self.builder, self.reward, self.kind = builder, reward, actions
        self.max_leverage, self.allow_short = float(max_leverage), bool(allow_short)
        self.start, self.end = int(start), int(len(bars) if end is None else end)
        if self.end - self.start < 2:
            raise ConfigError(f"episode range [{self.start}, {self.end}) needs at least 2 bars")
        block = self.sim.market[self.start : self.end] if self.sim.market is not None else None
        if block is not None and not np.isfinite(block).all():
            raise ConfigError("the environment's market rows hold NaN in its range (forecasts or features missing)")
        self.episode_bars = episode_bars
        if actions == "discrete":
            self.action_space = gym.spaces.Discrete(len(DISCRETE_WEIGHTS))
        elif actions == "weight":
            self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        else:
            raise ConfigError(f"unknown --actions {actions!r}; valid: discrete, weight")
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(builder.size,), dtype=np.float32)
        self.t_end = self.end

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        t0, t_end = self.start, self.end
        if self.episode_bars and self.end - self.start > self.episode_bars + 1:
            t0 = int(self.np_random.integers(self.start, self.end - self.episode_bars))
            t_end = t0 + self.episode_bars + 1
        self.t_end = t_end
        self.sim.reset(t0)
        self.reward.reset()
        return self.sim.observe(self.builder), {"t": t0, "equity": self.sim.equity}

    def weight_of(self, action: Any) -> float:
        return action_to_weight(action, self.kind, self.max_leverage, self.allow_short)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        res = self.sim.step(self.weight_of(action))
        reward = float(self.reward(res.step))
        done = self.sim.t >= self.t_end - 1
        info = {"t": self.sim.t, "equity": res.step.equity, "costs": res.step.costs, "traded": res.step.traded}
        return self.sim.observe(self.builder), reward, done, False, info
