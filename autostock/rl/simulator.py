"""Step a single-symbol account through bars: the core of the environment, without gymnasium.

Row ``t`` of the arrays is bar t. :meth:`Simulator.step` takes the target weight decided at the
close of bar t, plans the order on that close, fills it at the open of bar t+1 with the costs,
and marks the account at the close of t+1 (:mod:`autostock.rl.execution`). Baselines and the
out-of-sample rollouts run through the same code as training.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from autostock.errors import ConfigError
from autostock.rl.execution import (
    GAP_BUFFER,
    Account,
    CostModel,
    Rebalancer,
    clip_weight,
    plan_order,
)
from autostock.rl.observation import ObservationBuilder
from autostock.rl.rewards import Step

DISCRETE_WEIGHTS: tuple[float, ...] = (-1.0, 0.0, 1.0)  # short / flat / long
ACTION_KINDS: tuple[str, ...] = ("discrete", "weight")


def action_to_weight(action: object, kind: str, max_leverage: float, allow_short: bool = True) -> float:
    """Target weight of an agent's action: discrete 0/1/2 = short/flat/long, or a weight in [-1, 1];
    scaled by ``max_leverage`` (and floored at 0 without ``allow_short``)."""
    if kind == "discrete":
        w = DISCRETE_WEIGHTS[int(np.asarray(action).reshape(-1)[0])]
    elif kind == "weight":
        w = float(np.clip(np.asarray(action, dtype=float).reshape(-1)[0], -1.0, 1.0))
    else:
        raise ConfigError(f"unknown action kind {kind!r}; valid: {', '.join(ACTION_KINDS)}")
    if not allow_short:
        w = max(w, 0.0)
    return clip_weight(w * max_leverage, max_leverage)


@dataclass
class StepResult:
    step: Step
    fill_price: float
    shares: int


class Simulator:
    """Account over bars ``bars`` (open/high/low/close) with market rows ``market`` (raw values).

    Parameters
    ----------
    bars : DataFrame
        OHLC columns, one row per bar.
    market : DataFrame | None
        Raw market columns aligned with ``bars`` (forecasts, features); needed for observations.
    costs : CostModel
    cash : float
        Starting cash of each episode.
    band : float
        Rebalance band on the target weight (:class:`~autostock.rl.execution.Rebalancer`).
    """

    def __init__(
        self,
        bars: pd.DataFrame,
        market: pd.DataFrame | None = None,
        costs: CostModel | None = None,
        cash: float = 100_000.0,
        band: float = 0.0,
    ) -> None:
        if not (cash > 0):
            raise ConfigError(f"cash must be > 0, got {cash}")
        self.index = bars.index
        self.open = bars["open"].to_numpy(dtype=float)
        self.high = bars["high"].to_numpy(dtype=float)
        self.low = bars["low"].to_numpy(dtype=float)
        self.close = bars["close"].to_numpy(dtype=float)
        self.market = None if market is None else market.to_numpy(dtype=float)
        self.market_columns = [] if market is None else list(market.columns)
        self.costs = costs or CostModel()
        self.cash0 = float(cash)
        self.band = float(band)
        self.reset(0)

    def __len__(self) -> int:
        return len(self.close)

    def reset(self, t: int, account: Account | None = None) -> None:
        """Start at bar ``t`` with ``account`` (default: flat with the starting cash)."""
        self.t = int(t)
        self.account = account or Account(self.cash0)
        self.rebalancer = Rebalancer(self.band)

    @property
    def equity(self) -> float:
        return self.account.equity(self.close[self.t])

    def observe(self, builder: ObservationBuilder) -> np.ndarray:
        if self.market is None:
            raise ConfigError("this simulator has no market rows to observe")
        return builder.observe(self.market[self.t], self.account, self.close[self.t])

    def step(self, weight: float) -> StepResult:
        """Decide ``weight`` at the close of bar t; fill at the open of t+1; mark at its close."""
        t = self.t
        if t + 1 >= len(self.close):
            raise ConfigError("the simulator is at the last bar: no next bar to fill at")
        acc = self.account
        eq0 = acc.equity(self.close[t])
        delta, fee, price, traded = 0, 0.0, float("nan"), False
        if self.rebalancer.wants_trade(weight):
            delta = plan_order(acc, weight, self.close[t], self.costs.fee, self.costs.slip + GAP_BUFFER)
            self.rebalancer.traded(weight)
        if delta:
            price = self.costs.fill_price(delta > 0, self.open[t + 1], self.high[t + 1], self.low[t + 1])
            planned = delta
            delta, fee = acc.apply_fill(delta, price, self.costs.fee)
            traded = bool(delta)
            if delta != planned:
                self.rebalancer.retry()
        self.t = t + 1
        eq1 = acc.equity(self.close[t + 1])
        slip_cost = abs(delta) * abs(price - self.open[t + 1]) if traded else 0.0
        return StepResult(Step(eq0, eq1, fee + slip_cost, acc.weight(self.close[t + 1]), traded), price, acc.shares)


def run_weights(
    bars: pd.DataFrame, weights: pd.Series, costs: CostModel | None = None, cash: float = 100_000.0, band: float = 0.0
) -> pd.DataFrame:
    """Equity per bar of trading the target ``weights`` (indexed like ``bars``; the weight at bar t
    fills at t+1's open). Rows before the first finite weight are skipped; the frame starts there.

    Returns columns ``equity``, ``shares``, ``weight`` (target) and ``costs`` per bar.
    """
    w = weights.reindex(bars.index).to_numpy(dtype=float)
    finite = np.isfinite(w)
    if not finite.any():
        raise ConfigError("no finite target weight to trade")
    first = int(np.argmax(finite))
    sim = Simulator(bars, None, costs, cash, band)
    sim.reset(first)
    rows = [(sim.equity, sim.account.shares, w[first], 0.0)]
    for t in range(first, len(bars) - 1):
        res = sim.step(w[t])
        rows.append((res.step.equity, res.shares, w[t + 1], res.step.costs))
    return pd.DataFrame(rows, index=bars.index[first:], columns=["equity", "shares", "weight", "costs"])
