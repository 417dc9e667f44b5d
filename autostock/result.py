"""What a run produced: :class:`RunResult`, the one input of every report.

This module imports neither backtrader nor the engine, so ``reports/`` depends on it alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from autostock.config import RunSpec
    from autostock.feeds.market import Market

#: columns of :attr:`RunResult.trades` (one row per closed trade)
TRADE_COLUMNS = [
    "symbol",
    "direction",
    "entry_date",
    "entry_price",
    "exit_date",
    "exit_price",
    "size",
    "bars",
    "pnl",
    "commission",
    "slippage_cost",
    "pnl_after_costs",
]
#: columns of :attr:`RunResult.orders` (one row per order reaching a final state)
ORDER_COLUMNS = [
    "ref",
    "created",
    "symbol",
    "side",
    "type",
    "size",
    "status",
    "executed",
    "exec_price",
    "exec_size",
    "commission",
    "slippage_cost",
]
#: columns of :attr:`RunResult.positions` (one row per held symbol per bar)
POSITION_COLUMNS = ["date", "symbol", "size", "value"]
#: columns of the recorder's equity rows, before ``returns`` is added
EQUITY_COLUMNS = ["date", "value", "cash"]


@dataclass
class RunResult:
    """What one run produced; every report is derived from it."""

    spec: RunSpec
    market: Market
    params: dict[str, Any]
    equity: pd.DataFrame
    trades: pd.DataFrame
    orders: pd.DataFrame
    positions: pd.DataFrame
    benchmark_returns: pd.Series | None
    metrics: dict[str, Any]
    analyses: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    pyfolio: dict[str, Any] | None = None

    @property
    def returns(self) -> pd.Series:
        return self.equity["returns"]

    @property
    def final_value(self) -> float:
        return float(self.equity["value"].iloc[-1])
