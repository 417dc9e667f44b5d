"""Dump a set of backtests' outputs, to compare two checkouts bit for bit.

    PYTHONPATH=/path/to/before python benchmarks/engine_parity.py OUT_BEFORE
    PYTHONPATH=/path/to/after  python benchmarks/engine_parity.py OUT_AFTER
    diff -r OUT_BEFORE OUT_AFTER

Each configuration (strategies, costs, sizers, shorting, risk settings) runs on 6 synthetic
symbols x 5 years and on the same market plus a symbol that starts 17 months late; it writes
equity.csv, trades.csv, orders.csv, positions.csv (pandas' round-trip float text), the metrics'
reprs and the run's events.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

from autostock.config import RunSpec
from autostock.engine import run_backtest
from autostock.feeds.synthetic import generate_market

COSTS = {"commission": 0.1, "slippage": 0.05}
CONFIGS: dict[str, dict] = {
    "sma": {},
    "sma_costs": dict(COSTS),
    "sma_short": {"params": {"allow_short": True}, **COSTS},
    "sma_fixed": {"sizer": "fixed", "sizer_params": {"stake": 50}, **COSTS},
    "sma_pct": {"sizer": "percent", "sizer_params": {"percent": 30}, **COSTS},
    "sma_risk": {
        "risk": {"stop_loss": 0.05, "take_profit": 0.1, "max_drawdown": 0.15, "max_position_weight": 0.3},
        **COSTS,
    },
    "sma_trail": {"risk": {"trailing_stop": 0.05}, "params": {"allow_short": True}, **COSTS},
    "rsi": {"strategy": "rsi", **COSTS},
    "mean_rev": {"strategy": "mean_reversion", **COSTS},
    "mean_rev_short": {
        "strategy": "mean_reversion",
        "params": {"allow_short": True},
        "commission_per_share": 0.005,
        "commission_min": 1.0,
    },
    "buy_hold": {"strategy": "buy_hold", **COSTS},
    "momentum": {"strategy": "momentum", **COSTS},
}


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    market = generate_market([f"S{i:02d}" for i in range(6)], "2012-01-01", "2016-12-31", seed=3)
    late = generate_market(["L00"], "2013-06-03", "2016-12-31", seed=4)
    markets = {"m": market, "late": dataclasses.replace(market, bars={**market.bars, **late.bars})}
    for name, kw in CONFIGS.items():
        for label, mk in markets.items():
            result = run_backtest(RunSpec(symbols=list(mk.bars), **kw), mk)
            folder = out / f"{name}-{label}"
            folder.mkdir(exist_ok=True)
            for frame in ("equity", "trades", "orders", "positions"):
                getattr(result, frame).to_csv(folder / f"{frame}.csv")
            metrics = {k: repr(v) for k, v in result.metrics.items()}
            (folder / "metrics.json").write_text(json.dumps(metrics, sort_keys=True, indent=0))
            (folder / "events.txt").write_text("\n".join(map(repr, result.events)))
            print(name, label, len(result.orders), "orders", len(result.trades), "trades")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
