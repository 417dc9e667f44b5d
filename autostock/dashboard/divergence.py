"""Live vs backtest divergence: replay the bars a live session traded through the same strategy
in a backtest and line the two order streams up (plain functions, no Streamlit).

Orders are paired by the bar they were decided on, the symbol and the side (the n-th live buy
of AAA on a bar with the n-th backtest buy of AAA on that bar). A pair whose quantities differ
is marked ``qty differs``; an order on one side only is ``live only`` / ``backtest only``. For a
pair with fills on both sides, ``slippage_bps`` is the live fill price against the backtest
fill price, signed so that a positive value means live paid more (buy) or got less (sell).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autostock.dashboard.data import StateUnavailable, _json, _meta, _rows, connect_ro
from autostock.errors import UserError

COLUMNS = [
    "bar",
    "symbol",
    "side",
    "status",
    "live_cid",
    "live_qty",
    "live_filled_qty",
    "live_price",
    "backtest_qty",
    "backtest_price",
    "price_diff",
    "slippage_bps",
    "live_status",
]


@dataclass
class LiveSession:
    """What a state database says about the session that traded."""

    orders: pd.DataFrame
    session: dict[str, Any] = field(default_factory=dict)

    @property
    def strategy(self) -> str | None:
        if self.session.get("strategy"):
            return self.session["strategy"]
        names = self.orders["strategy"].dropna().unique().tolist() if len(self.orders) else []
        return names[0] if len(names) == 1 else None


def read_live(path: str | Path) -> LiveSession:
    """Every order of the state database (read-only) with its recorded fill, and the session facts."""
    try:
        conn = connect_ro(path)
    except StateUnavailable as exc:
        raise UserError(str(exc)) from None
    try:
        orders = pd.DataFrame(
            _rows(
                conn,
                "SELECT cid, strategy, symbol, side, qty, type, status, bar_time,"
                " filled_qty, filled_avg_price, parent_cid, leg, created_at FROM orders"
                " ORDER BY created_at, cid",
            )
        )
        session = _json(_meta(conn).get("session"))
    finally:
        conn.close()
    return LiveSession(orders, session)


def _bar_key(values: pd.Series, daily: bool) -> pd.Series:
    ts = pd.to_datetime(values, utc=True, errors="coerce", format="ISO8601").dt.tz_localize(None)
    return ts.dt.normalize() if daily else ts


def _numbered(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    df["n"] = df.groupby(["bar", "symbol", "side"]).cumcount()
    return df


def compare_orders(
    live: pd.DataFrame,
    backtest: pd.DataFrame,
    *,
    daily: bool = True,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Pair live orders (state database rows) with backtest orders (``RunResult.orders``).

    Only bars in ``start``..``end`` are compared (the live window; the backtest's warm-up bars
    are the live session's backfill, on which live never trades).
    """
    lv = pd.DataFrame(
        {
            "bar": _bar_key(live["bar_time"], daily) if len(live) else pd.Series(dtype="datetime64[ns]"),
            "symbol": live.get("symbol"),
            "side": live.get("side"),
            "live_cid": live.get("cid"),
            "live_qty": live.get("qty"),
            "live_filled_qty": live.get("filled_qty"),
            "live_price": live.get("filled_avg_price"),
            "live_status": live.get("status"),
        }
    )
    if len(live) and "parent_cid" in live:  # bracket legs are children of their entry order
        lv = lv[live["parent_cid"].isna().to_numpy()]
    bt_o = backtest.drop_duplicates("ref") if "ref" in backtest else backtest
    bt = pd.DataFrame(
        {
            "bar": _bar_key(bt_o["created"], daily) if len(bt_o) else pd.Series(dtype="datetime64[ns]"),
            "symbol": bt_o.get("symbol"),
            "side": bt_o.get("side"),
            "backtest_qty": bt_o["size"].abs() if len(bt_o) else None,
            "backtest_price": bt_o.get("exec_price"),
        }
    )
    for frame in (lv, bt):
        if start is not None:
            frame.drop(frame.index[frame["bar"] < pd.Timestamp(start)], inplace=True)
        if end is not None:
            frame.drop(frame.index[frame["bar"] > pd.Timestamp(end)], inplace=True)
    merged = pd.merge(_numbered(lv), _numbered(bt), on=["bar", "symbol", "side", "n"], how="outer", indicator=True)
    status = np.where(
        merged["_merge"] == "left_only",
        "live only",
        np.where(merged["_merge"] == "right_only", "backtest only", "matched"),
    )
    differs = (merged["_merge"] == "both") & ~np.isclose(
        merged["live_qty"].astype(float), merged["backtest_qty"].astype(float)
    )
    merged["status"] = np.where(differs, "qty differs", status)
    lp, bp = merged["live_price"].astype(float), merged["backtest_price"].astype(float)
    sign = np.where(merged["side"] == "buy", 1.0, -1.0)
    merged["price_diff"] = lp - bp
    merged["slippage_bps"] = (lp / bp - 1.0) * sign * 1e4
    out = merged.sort_values(["bar", "symbol", "side", "n"]).reset_index(drop=True)
    return out[COLUMNS]


def replay(session: dict[str, Any], bars: dict[str, pd.DataFrame], source: str = "replay") -> Any:
    """Backtest the session's strategy, params, sizer and cash over ``bars`` (the engine's
    one Cerebro builder; the same code the live session ran)."""
    from autostock.config import RunSpec
    from autostock.engine import run_backtest
    from autostock.feeds.market import Market

    spec = RunSpec(
        strategy=session["strategy"],
        params=dict(session.get("params") or {}),
        symbols=list(bars),
        cash=float(session.get("cash") or 100_000.0),
        sizer=session.get("sizer") or "percent",
        sizer_params=dict(session.get("sizer_params") or {}),
    )
    return run_backtest(spec, Market(bars=bars, source=source))


@dataclass
class Divergence:
    """The paired orders and their summary."""

    table: pd.DataFrame
    session: dict[str, Any]
    start: pd.Timestamp | None
    end: pd.Timestamp | None

    def summary(self) -> dict[str, Any]:
        t = self.table
        slip = t["slippage_bps"].dropna()
        return {
            "orders_live": int(t["live_cid"].notna().sum()),
            "orders_backtest": int(t["backtest_qty"].notna().sum()),
            "matched": int((t["status"] == "matched").sum()),
            "qty_differs": int((t["status"] == "qty differs").sum()),
            "live_only": int((t["status"] == "live only").sum()),
            "backtest_only": int((t["status"] == "backtest only").sum()),
            "fills_compared": len(slip),
            "mean_slippage_bps": float(slip.mean()) if len(slip) else None,
            "max_abs_slippage_bps": float(slip.abs().max()) if len(slip) else None,
        }


def divergence(
    state: str | Path,
    bars: dict[str, pd.DataFrame],
    *,
    session: dict[str, Any] | None = None,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
) -> Divergence:
    """Replay ``bars`` through the live session's strategy and compare its orders with the live ones.

    ``session`` overrides the facts the trader recorded (strategy, params, sizer, cash,
    timeframe). ``start`` is the first live bar; by default the bar of the first live order.
    """
    live = read_live(state)
    facts = {**live.session, **{k: v for k, v in (session or {}).items() if v is not None}}
    if not facts.get("strategy"):
        if live.strategy is None:
            raise UserError(f"{state} does not record which strategy traded: pass --strategy (and --param)")
        facts["strategy"] = live.strategy
    daily = str(facts.get("timeframe") or "1Day").lower().endswith("day")
    result = replay(facts, bars)
    first = None
    if start is not None:
        first = pd.Timestamp(start)
    elif len(live.orders):
        first = _bar_key(live.orders["bar_time"], daily).min()
    last = pd.Timestamp(end) if end is not None else None
    table = compare_orders(live.orders, result.orders, daily=daily, start=first, end=last)
    return Divergence(table, facts, first, last)


def write(div: Divergence, out: str | Path) -> dict[str, Path]:
    """``divergence.csv`` (every pair) and ``divergence.png`` (fill prices and slippage per fill)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = {"csv": out / "divergence.csv", "png": out / "divergence.png"}
    div.table.to_csv(files["csv"], index=False)
    t = div.table
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    both = t.dropna(subset=["live_price", "backtest_price"])
    for sym, g in both.groupby("symbol"):
        ax1.plot(g["bar"], g["backtest_price"], "o", mfc="none", label=f"{sym} backtest fill")
        ax1.plot(g["bar"], g["live_price"], "x", label=f"{sym} live fill")
    for label, marker in (("live only", "v"), ("backtest only", "^")):
        g = t[t["status"] == label]
        if len(g):
            y = g["live_price"].fillna(g["backtest_price"])
            ax1.plot(g["bar"], y.fillna(0.0) if y.notna().any() else np.zeros(len(g)), marker, ms=10, label=label)
    ax1.set_ylabel("fill price")
    ax1.set_title(f"live vs backtest: {div.session.get('strategy')} ({len(t)} orders)")
    if len(t):
        ax1.legend(fontsize=7, loc="best")
    if len(both):
        ax2.bar(
            both["bar"],
            both["slippage_bps"],
            width=0.8,
            color=np.where(both["slippage_bps"] > 0, "tab:red", "tab:green"),
        )
    ax2.axhline(0.0, color="black", lw=0.5)
    ax2.set_ylabel("slippage (bps, + = live worse)")
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(files["png"], dpi=100)
    plt.close(fig)
    return files
