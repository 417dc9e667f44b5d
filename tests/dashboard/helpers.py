"""Fixture state databases written through the trader's own API (autostock.live.state.StateDB)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from autostock.live.state import StateDB

APP = Path(__file__).resolve().parents[2] / "autostock" / "dashboard" / "app.py"
SECRET = "SECRETCANARY-dash-7f3a"
KEY_ID = "PKCANARYKEY123"
EQUITY_LAST = 101234.56
OPEN = ("new", "accepted", "partially_filled", "pending_new")
SLIP = 0.001  # the loopback broker fills 10 bps worse than the backtest's next open


def make_state(
    path: Path,
    *,
    halted: str | None = None,
    n_equity: int = 300,
    seed: int = 3,
    now: float | None = None,
    health: bool = True,
    secret_event: bool = False,
) -> Path:
    """A state database with equity snapshots ending at ``EQUITY_LAST``, an AAPL long with a
    published mark, an open MSFT limit order, fills and events; optionally halted."""
    now = time.time() if now is None else now
    db = StateDB(path)
    rng = np.random.default_rng(seed)
    eq = 100_000.0 * np.cumprod(1 + rng.normal(0.0002, 0.002, n_equity))
    eq = eq * (EQUITY_LAST / eq[-1])  # ends exactly at EQUITY_LAST
    eq[-1] = EQUITY_LAST
    ts0 = now - 60.0 * n_equity
    for i, v in enumerate(eq):
        db.snapshot_equity(float(v), 50_000.0, ts=ts0 + 60.0 * i)
    db.record_order(
        "run1-aapl-1",
        symbol="AAPL",
        side="buy",
        qty=10,
        type="market",
        run_id="run1",
        strategy="sma_cross",
        status="filled",
        bar_time="2024-05-01T00:00:00",
    )
    db.record_fill("exec-1", "run1-aapl-1", "AAPL", 10, 150.0, ts=now - 600)
    db.record_order(
        "run1-msft-1",
        symbol="MSFT",
        side="buy",
        qty=5,
        type="limit",
        limit_price=300.0,
        run_id="run1",
        strategy="sma_cross",
        status="new",
        bar_time="2024-05-02T00:00:00",
    )
    db.event("start", "session run1 (paper) sma_cross on AAPL,MSFT")
    db.event("blocked", "MSFT: order notional 99,999.00 exceeds max order notional 50,000.00", level="warning")
    db.set_meta(
        "session",
        json.dumps(
            {
                "run_id": "run1",
                "mode": "paper",
                "strategy": "sma_cross",
                "params": {"fast": 3, "slow": 8},
                "symbols": ["AAPL", "MSFT"],
                "sizer": "percent",
                "sizer_params": {},
                "cash": 100000.0,
                "timeframe": "1Day",
                "backfill": 10,
                "started_at": now - 3600,
                "limits": {
                    "max_drawdown": 0.2,
                    "max_order_notional": 50000.0,
                    "max_position": 40000.0,
                    "max_orders_per_minute": 30,
                    "halt_file": None,
                },
            }
        ),
    )
    if health:
        db.set_meta(
            "health",
            json.dumps(
                {
                    "ts": now,
                    "last_message": {"trade": now - 4.0, "data": now - 1.5},
                    "reconnects": {"trade": 1, "data": 2},
                    "requests_total": 321,
                    "requests_last_minute": 42,
                    "requests_window_s": 60.0,
                    "rate_limited": 0,
                    "client_limit_per_minute": 190,
                    "marks": {"AAPL": 155.5},
                }
            ),
        )
    if halted:
        db.halt(halted)
    db.close()
    if secret_event:  # a raw row as an older or buggy writer might leave it (StateDB.event scrubs)
        import sqlite3

        c = sqlite3.connect(path)
        c.execute(
            "INSERT INTO events (ts, level, kind, message) VALUES (?,?,?,?)",
            (now, "error", "http", f"401 for key {KEY_ID} secret {SECRET}"),
        )
        c.commit()
        c.close()
    return path


def all_text(at) -> str:
    """Every value an AppTest run rendered (markdown, metrics, alerts, tables, captions)."""
    parts: list[str] = []
    for kind in (
        "markdown",
        "caption",
        "title",
        "subheader",
        "header",
        "text",
        "success",
        "error",
        "warning",
        "info",
        "code",
        "json",
    ):
        for el in getattr(at, kind, []):
            parts.append(str(getattr(el, "value", "")))
    for m in at.metric:
        parts.append(f"{m.label} {m.value}")
    for df in at.dataframe:
        parts.append(df.value.to_csv())
    for el in at.get("plotly_chart"):
        parts.append(str(el.proto))
    return "\n".join(parts)
