"""Read-only access to a live state database for the dashboard (plain functions, no Streamlit).

The database is opened with the SQLite URI ``mode=ro`` and a short busy timeout, so a reader
never blocks the trader (the trader's database is in WAL mode: readers and the writer do not
wait for each other) and never writes. A missing, locked or unreadable file becomes a
:class:`LiveView` with a ``notice`` instead of an exception. Every text that came from the
database is scrubbed of registered secrets before it is returned.
"""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autostock.live import secrets
from autostock.live.state import OPEN_STATUSES

#: Alpaca's documented REST limit per account.
ALPACA_LIMIT_PER_MINUTE = 200
#: most points an equity chart draws (the stored series is never altered)
MAX_CHART_POINTS = 2000

_SECRET_ENV = ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY")


def register_env_secrets(environ: dict[str, str] | None = None) -> None:
    """Scrub the Alpaca keys of this process's environment from every text the dashboard shows."""
    env = os.environ if environ is None else environ
    secrets.register(*(env.get(k) for k in _SECRET_ENV))


class StateUnavailable(Exception):
    """The state database cannot be read now (missing, locked, not a database)."""


def connect_ro(path: str | Path, timeout: float = 0.5) -> sqlite3.Connection:
    """Open ``path`` read-only (``mode=ro``); raises :class:`StateUnavailable` with a clear reason."""
    p = Path(path)
    if not p.is_file():
        raise StateUnavailable(f"no state database at {p}: start `autostock trade` (or pass --state)")
    uri = f"file:{urllib.parse.quote(p.resolve().as_posix())}?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=timeout, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
    except sqlite3.Error as exc:
        raise StateUnavailable(_reason(p, exc)) from None
    return conn


def _reason(path: Path, exc: BaseException) -> str:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return f"state database {path} is locked by a writer; retrying at the next refresh"
    return f"cannot read state database {path}: {text}"


def _rows(conn: sqlite3.Connection, sql: str, args: tuple = ()) -> list[dict]:
    try:
        return [dict(r) for r in conn.execute(sql, args).fetchall()]
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []
        raise


def _meta(conn: sqlite3.Connection) -> dict[str, str]:
    return {r["key"]: r["value"] for r in _rows(conn, "SELECT key, value FROM meta")}


def _json(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


@dataclass
class EquityCache:
    """The equity rows already read (by rowid), so a refresh reads only the new snapshots."""

    path: str = ""
    inode: int = -1
    last_rowid: int = 0
    rows: np.ndarray = field(default_factory=lambda: np.empty((0, 3)))


def _equity_rows(conn: sqlite3.Connection, after_rowid: int = 0) -> tuple[np.ndarray, int]:
    cur = conn.cursor()
    cur.row_factory = None  # plain tuples: ~10x faster than sqlite3.Row for 100k+ rows
    rows = cur.execute(
        "SELECT rowid, ts, equity, cash FROM equity WHERE rowid > ? ORDER BY ts", (after_rowid,)
    ).fetchall()
    if not rows:
        return np.empty((0, 3)), after_rowid
    arr = np.array(rows, dtype=float)
    return arr[:, 1:], int(arr[:, 0].max())


def equity_frame(conn: sqlite3.Connection, cache: EquityCache | None = None, path: str = "") -> pd.DataFrame:
    """Every equity snapshot (UTC index) with its drawdown from the running peak.

    With ``cache``, only rows added since the last call are read; the cache is rebuilt when the
    file was replaced, rows were removed, or a new row is older than the newest cached one.
    """
    if not _has_table(conn, "equity"):
        arr = np.empty((0, 3))
    elif cache is None:
        arr, _ = _equity_rows(conn)
    else:
        inode = Path(path).stat().st_ino if path else -1
        top = conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM equity").fetchone()[0]
        if cache.path != path or cache.inode != inode or top < cache.last_rowid:
            cache.path, cache.inode, cache.last_rowid, cache.rows = path, inode, 0, np.empty((0, 3))
        new, last = _equity_rows(conn, cache.last_rowid)
        if len(new) and len(cache.rows) and new[0, 0] < cache.rows[-1, 0]:
            new, last = _equity_rows(conn)
            cache.rows = np.empty((0, 3))
        cache.rows = np.vstack([cache.rows, new]) if len(new) else cache.rows
        cache.last_rowid = last
        arr = cache.rows
    if not len(arr):
        return pd.DataFrame(columns=["equity", "cash", "drawdown"], index=pd.DatetimeIndex([], tz="UTC"))
    eq = arr[:, 1]
    peak = np.maximum.accumulate(eq)
    dd = np.where(peak > 0, eq / peak - 1.0, 0.0)
    idx = pd.to_datetime(arr[:, 0], unit="s", utc=True)
    return pd.DataFrame({"equity": eq, "cash": arr[:, 2], "drawdown": dd}, index=idx)


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    return bool(conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone())


def downsample(frame: pd.DataFrame, max_points: int = MAX_CHART_POINTS, column: str = "equity") -> pd.DataFrame:
    """At most about ``max_points`` rows for drawing: per bucket the first, lowest, highest and
    last row of ``column`` (so peaks and troughs stay visible). A copy; ``frame`` is untouched."""
    n = len(frame)
    if n <= max_points:
        return frame
    buckets = max(1, max_points // 4)
    edges = np.linspace(0, n, buckets + 1).astype(int)
    values = frame[column].to_numpy()
    keep: list[int] = []
    for a, b in itertools.pairwise(edges):
        if b <= a:
            continue
        seg = values[a:b]
        keep.extend((a, a + int(np.argmin(seg)), a + int(np.argmax(seg)), b - 1))
    return frame.iloc[sorted(set(keep))]


@dataclass
class LiveView:
    """Everything the live page shows, read in one go."""

    path: str
    notice: str | None = None
    read_at: float = field(default_factory=time.time)
    equity: pd.DataFrame = field(default_factory=pd.DataFrame)
    n_snapshots: int = 0
    last_equity: dict | None = None
    equity_peak: float | None = None
    positions: pd.DataFrame = field(default_factory=pd.DataFrame)
    open_orders: pd.DataFrame = field(default_factory=pd.DataFrame)
    fills: pd.DataFrame = field(default_factory=pd.DataFrame)
    events: pd.DataFrame = field(default_factory=pd.DataFrame)
    halt: str | None = None
    halt_time: float | None = None
    session: dict[str, Any] = field(default_factory=dict)
    health: dict[str, Any] = field(default_factory=dict)
    orders_last_minute: int = 0

    @property
    def ok(self) -> bool:
        return self.notice is None


def _ts(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, unit="s", utc=True)


def positions_frame(rows: list[dict], marks: dict[str, float]) -> pd.DataFrame:
    """Positions with cost basis, mark, market value and unrealised P&L (mark = last price the
    trader published; without one the mark and P&L are left empty, never guessed)."""
    cols = [
        "symbol",
        "qty",
        "avg_price",
        "cost_basis",
        "mark",
        "market_value",
        "unrealized_pnl",
        "unrealized_pct",
        "updated",
    ]
    out = []
    for r in rows:
        qty, avg = float(r["qty"]), float(r["avg_price"])
        mark = marks.get(r["symbol"])
        mark = float(mark) if mark else None
        pnl = (mark - avg) * qty if mark is not None else None
        out.append(
            {
                "symbol": r["symbol"],
                "qty": qty,
                "avg_price": avg,
                "cost_basis": qty * avg,
                "mark": mark,
                "market_value": qty * mark if mark is not None else None,
                "unrealized_pnl": pnl,
                "unrealized_pct": (mark / avg - 1.0) * (1 if qty > 0 else -1) if mark and avg else None,
                "updated": pd.Timestamp(r["updated_at"], unit="s", tz="UTC"),
            }
        )
    return pd.DataFrame(out, columns=cols)


def load_live(
    path: str | Path, fills_limit: int = 50, events_limit: int = 50, cache: EquityCache | None = None
) -> LiveView:
    """Read the live state database at ``path`` once (read-only); never raises for an
    unreadable database (the result carries a ``notice``). ``cache`` makes a refresh read only
    the equity snapshots added since the previous call."""
    view = LiveView(path=str(path))
    try:
        conn = connect_ro(path)
    except StateUnavailable as exc:
        view.notice = str(exc)
        return view
    try:
        conn.execute("BEGIN")  # one consistent snapshot of every table (WAL readers see a fixed point)
        meta = _meta(conn) if _has_table(conn, "meta") else {}
        view.halt = secrets.scrub(meta["halt"]) if meta.get("halt") else None
        view.equity_peak = float(meta["equity_peak"]) if meta.get("equity_peak") else None
        view.session = _json(meta.get("session"))
        view.health = _json(meta.get("health"))
        view.equity = equity_frame(conn, cache, str(Path(path).resolve()))
        view.n_snapshots = len(view.equity)
        if view.n_snapshots:
            last = view.equity.iloc[-1]
            view.last_equity = {
                "ts": view.equity.index[-1],
                "equity": float(last["equity"]),
                "cash": float(last["cash"]),
            }
        marks = {k: float(v) for k, v in (view.health.get("marks") or {}).items() if v}
        view.positions = positions_frame(_rows(conn, "SELECT * FROM positions WHERE qty != 0 ORDER BY symbol"), marks)
        marks_sql = ",".join("?" * len(OPEN_STATUSES))
        orders = pd.DataFrame(
            _rows(
                conn,
                "SELECT cid, symbol, side, qty, type, limit_price, stop_price, tif, status,"
                " filled_qty, filled_avg_price, bar_time, created_at FROM orders"
                f" WHERE status IN ({marks_sql}) ORDER BY created_at",
                OPEN_STATUSES,
            )
        )
        if len(orders):
            orders["created_at"] = _ts(orders["created_at"])
        view.open_orders = orders
        fills = pd.DataFrame(
            _rows(
                conn,
                "SELECT f.ts, f.symbol, f.qty, f.price, f.cid, f.exec_id, f.source,"
                " o.side FROM fills f LEFT JOIN orders o ON o.cid = f.cid"
                " ORDER BY f.ts DESC, f.exec_id DESC LIMIT ?",
                (fills_limit,),
            )
        )
        if len(fills):
            fills["ts"] = _ts(fills["ts"])
        view.fills = fills
        events = pd.DataFrame(
            _rows(conn, "SELECT id, ts, level, kind, message FROM events ORDER BY id DESC LIMIT ?", (events_limit,))
        )
        if len(events):
            events["ts"] = _ts(events["ts"])
            events["message"] = events["message"].map(lambda m: secrets.scrub(str(m)))
        view.events = events
        recent = _rows(conn, "SELECT COUNT(*) AS n FROM orders WHERE created_at >= ?", (view.read_at - 60.0,))
        view.orders_last_minute = int(recent[0]["n"]) if recent else 0
        if view.halt is not None:
            halt_rows = _rows(conn, "SELECT ts FROM events WHERE kind='halt' ORDER BY id DESC LIMIT 1")
            view.halt_time = float(halt_rows[0]["ts"]) if halt_rows else None
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        view.notice = _reason(Path(path), exc)
    finally:
        conn.close()
    return view


# -- derived figures ----------------------------------------------------------------------------


def stream_health(health: dict[str, Any], now: float | None = None) -> pd.DataFrame:
    """Age in seconds of the last message of each stream, from the trader's published health."""
    now = time.time() if now is None else now
    rows = []
    for name, last in sorted((health.get("last_message") or {}).items()):
        rows.append(
            {
                "stream": name,
                "last_message": pd.Timestamp(float(last), unit="s", tz="UTC"),
                "age_s": max(0.0, now - float(last)),
                "reconnects": (health.get("reconnects") or {}).get(name),
            }
        )
    return pd.DataFrame(rows, columns=["stream", "last_message", "age_s", "reconnects"])


def request_rate(health: dict[str, Any]) -> dict[str, Any] | None:
    """REST requests in the last minute against Alpaca's 200/minute limit (None when unknown)."""
    if "requests_last_minute" not in health:
        return None
    used = int(health["requests_last_minute"])
    return {
        "used": used,
        "limit": ALPACA_LIMIT_PER_MINUTE,
        "fraction": used / ALPACA_LIMIT_PER_MINUTE,
        "client_limit": health.get("client_limit_per_minute"),
        "total": health.get("requests_total"),
        "rate_limited": health.get("rate_limited", 0),
        "window_s": health.get("requests_window_s"),
    }


def killswitch_rows(view: LiveView) -> pd.DataFrame:
    """Each armed kill-switch limit with the current value and the distance left to it.

    Limits come from the session the trader published; the drawdown is measured from the
    persisted equity peak, as the kill switch measures it.
    """
    limits = view.session.get("limits") or {}
    rows: list[dict[str, Any]] = []
    equity = view.last_equity["equity"] if view.last_equity else None
    dd_lim = limits.get("max_drawdown")
    if dd_lim is not None:
        peak = max(view.equity_peak or 0.0, equity or 0.0)
        dd = 1.0 - equity / peak if equity is not None and peak > 0 else None
        rows.append(
            {
                "limit": "max drawdown",
                "armed": f"{dd_lim:.1%}",
                "current": f"{dd:.2%}" if dd is not None else "n/a",
                "distance": f"{dd_lim - dd:.2%} (equity {equity - peak * (1 - dd_lim):,.2f} above the trip)"
                if dd is not None
                else "n/a",
            }
        )
    notional = limits.get("max_order_notional")
    if notional is not None:
        rows.append(
            {
                "limit": "max order notional",
                "armed": f"{notional:,.2f}",
                "current": "per order",
                "distance": "checked before each order",
            }
        )
    max_pos = limits.get("max_position")
    if max_pos is not None:
        pos = view.positions
        biggest = None
        if len(pos) and pos["market_value"].notna().any():
            biggest = float(pos["market_value"].abs().max())
        elif len(pos):
            biggest = float(pos["cost_basis"].abs().max())
        rows.append(
            {
                "limit": "max position",
                "armed": f"{max_pos:,.2f}",
                "current": f"{biggest:,.2f}" if biggest is not None else "flat",
                "distance": f"{max_pos - biggest:,.2f}" if biggest is not None else f"{max_pos:,.2f}",
            }
        )
    per_min = limits.get("max_orders_per_minute")
    if per_min is not None:
        recent = view.orders_last_minute
        rows.append(
            {
                "limit": "orders per minute",
                "armed": str(per_min),
                "current": str(recent),
                "distance": str(per_min - recent),
            }
        )
    if limits.get("halt_file"):
        exists = Path(limits["halt_file"]).exists()
        rows.append(
            {
                "limit": "halt file",
                "armed": str(limits["halt_file"]),
                "current": "present" if exists else "absent",
                "distance": "halts now" if exists else "-",
            }
        )
    return pd.DataFrame(rows, columns=["limit", "armed", "current", "distance"])


# -- the one write: the halt ---------------------------------------------------------------------


def halt_trading(path: str | Path, reason: str = "halted from the dashboard") -> str:
    """Set the persistent halt with the trader's own code (:meth:`StateDB.halt`); returns the
    reason now stored. Refuses to create a database that does not exist."""
    from autostock.live.state import StateDB

    if not Path(path).is_file():
        raise StateUnavailable(f"no state database at {path}: nothing to halt")
    db = StateDB(path)
    try:
        db.halt(reason)
        return db.halted() or reason
    finally:
        db.close()
