"""Quotes and trades (tick data): local CSV / Parquet files and Alpaca, validated, cached as Parquet.

Canonical tables (one symbol each, in time order, timestamps naive America/New_York):

* trades: ``timestamp, price, size``
* quotes: ``timestamp, bid, ask, bid_size, ask_size``

Validation mirrors the bar loader: timestamps parse and never go backwards (equal stamps are
allowed, ticks share milliseconds), prices and sizes are finite and positive, ``bid <= ask``.
A violation raises :class:`DataError` naming the file, the row and the value; nothing is
dropped, filled or altered.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autostock.errors import DataError
from autostock.feeds.cache import cache_path, read_cached, write_cached

TRADE_COLUMNS: tuple[str, ...] = ("price", "size")
QUOTE_COLUMNS: tuple[str, ...] = ("bid", "ask", "bid_size", "ask_size")

# lower-cased, spaces/underscores removed -> canonical; Alpaca's JSON keys and alpaca-py's
# DataFrame columns are accepted as they come
_TIME = {"timestamp": "timestamp", "time": "timestamp", "datetime": "timestamp", "date": "timestamp", "t": "timestamp"}
TRADE_ALIASES: dict[str, str] = {
    **_TIME,
    "price": "price",
    "p": "price",
    "size": "size",
    "s": "size",
    "volume": "size",
    "qty": "size",
}
QUOTE_ALIASES: dict[str, str] = {
    **_TIME,
    "bid": "bid",
    "bidprice": "bid",
    "bp": "bid",
    "ask": "ask",
    "askprice": "ask",
    "ap": "ask",
    "bidsize": "bid_size",
    "bs": "bid_size",
    "asksize": "ask_size",
    "as": "ask_size",
}
# carried by Alpaca and alpaca-py; read and ignored
IGNORED: frozenset[str] = frozenset(
    {"symbol", "exchange", "x", "id", "i", "conditions", "c", "tape", "z", "bidexchange", "bx", "askexchange", "ax"}
)


def _canonical(raw: pd.DataFrame, aliases: dict[str, str], required: tuple[str, ...], where: str) -> pd.DataFrame:
    mapping: dict[str, str] = {}
    drop: list[str] = []
    for col in raw.columns:
        key = str(col).strip().lower().replace(" ", "").replace("_", "")
        if key in aliases:
            canon = aliases[key]
            if canon in mapping.values():
                raise DataError(f"{where}: column {col!r} duplicates another {canon!r} column")
            mapping[col] = canon
        elif key in IGNORED:
            drop.append(col)
        else:
            raise DataError(f"{where}: unknown column {col!r}; expected {', '.join(('timestamp',) + required)}")
    missing = [c for c in ("timestamp",) + required if c not in mapping.values()]
    if missing:
        raise DataError(f"{where}: missing column(s) {', '.join(missing)}")
    return raw.drop(columns=drop).rename(columns=mapping)[["timestamp", *required]]


def _to_naive_ny(ts: pd.Series) -> pd.Series:
    if getattr(ts.dt, "tz", None) is not None:
        return ts.dt.tz_convert("America/New_York").dt.tz_localize(None)
    return ts


def parse_times(values: pd.Series) -> pd.Series:
    """Timestamps as naive New York time: stamps with an offset (``Z``, ``+00:00``) are converted,
    naive ones are read as New York time already; unparseable ones become NaT."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return _to_naive_ny(values).astype("datetime64[ns]")
    text = values.astype(str).str.strip()
    aware = text.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True)
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    if aware.any():
        parsed = pd.to_datetime(text[aware], errors="coerce", format="mixed", utc=True)
        out[aware] = parsed.dt.tz_convert("America/New_York").dt.tz_localize(None).astype("datetime64[ns]")
    if (~aware).any():
        out[~aware] = pd.to_datetime(text[~aware], errors="coerce", format="mixed").astype("datetime64[ns]")
    return out


def _parse(df: pd.DataFrame, where: str, row_offset: int) -> pd.DataFrame:
    df = df.copy()
    parsed = parse_times(df["timestamp"])
    bad = parsed.isna()
    if bad.any():
        pos = int(np.argmax(bad.to_numpy()))
        raise DataError(f"{where}: row {pos + row_offset}: unparseable timestamp {df['timestamp'].iloc[pos]!r}")
    df["timestamp"] = parsed
    for col in df.columns[1:]:
        if not pd.api.types.is_numeric_dtype(df[col]):
            text = df[col].astype(str).str.strip()
            num = pd.to_numeric(text, errors="coerce")
            bad = num.isna()
            if bad.any():
                pos = int(np.argmax(bad.to_numpy()))
                raise DataError(f"{where}: row {pos + row_offset}: {col} is not a number ({text.iloc[pos]!r})")
            df[col] = num
        df[col] = df[col].astype(float)
    return df


def validate_ticks(df: pd.DataFrame, where: str, row_offset: int = 2) -> None:
    """Check a canonical trades or quotes table; raise :class:`DataError` on the first bad row."""
    if df.empty:
        raise DataError(f"{where}: no rows")

    def fail(pos: int, problem: str) -> None:
        raise DataError(f"{where}: row {pos + row_offset}: {problem}")

    t = df["timestamp"].to_numpy()
    if len(t) > 1:
        back = (t[1:] - t[:-1]) < np.timedelta64(0)
        if back.any():
            pos = int(np.argmax(back)) + 1
            fail(pos, f"timestamps not sorted: {pd.Timestamp(t[pos])} comes after {pd.Timestamp(t[pos - 1])}")
    for col in df.columns[1:]:
        arr = df[col].to_numpy(dtype=float)
        bad = ~np.isfinite(arr)
        if bad.any():
            pos = int(np.argmax(bad))
            fail(pos, f"{col} is not a finite number ({arr[pos]!r})")
        bad = arr <= 0
        if bad.any():
            pos = int(np.argmax(bad))
            fail(pos, f"{col} must be positive, got {arr[pos]:g}")
    if "bid" in df:
        crossed = df["bid"].to_numpy() > df["ask"].to_numpy()
        if crossed.any():
            pos = int(np.argmax(crossed))
            fail(pos, f"crossed quote: bid {df['bid'].iloc[pos]:g} > ask {df['ask'].iloc[pos]:g}")


def _read(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        if path.suffix.lower() == ".csv":
            return pd.read_csv(path, dtype=str, keep_default_na=False)
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: file is empty") from None
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise DataError(f"{path}: cannot read: {str(exc).splitlines()[0]}") from None
    raise DataError(f"{path}: unsupported file type {path.suffix!r}; use .csv or .parquet")


def tidy_ticks(raw: pd.DataFrame, kind: str, where: str, row_offset: int = 2) -> pd.DataFrame:
    """Canonical, validated trades (``kind='trades'``) or quotes (``'quotes'``) from any accepted shape."""
    if raw.empty:
        raise DataError(f"{where}: no rows")
    aliases, required = (TRADE_ALIASES, TRADE_COLUMNS) if kind == "trades" else (QUOTE_ALIASES, QUOTE_COLUMNS)
    df = _parse(_canonical(raw, aliases, required, where), where, row_offset)
    validate_ticks(df, where, row_offset)
    return df.reset_index(drop=True)


def read_trades(path: str | Path) -> pd.DataFrame:
    """Read and validate a trades file (CSV or Parquet): ``timestamp, price, size``."""
    return tidy_ticks(_read(Path(path).expanduser()), "trades", str(path))


def read_quotes(path: str | Path) -> pd.DataFrame:
    """Read and validate a quotes file: ``timestamp, bid, ask, bid_size, ask_size``."""
    return tidy_ticks(_read(Path(path).expanduser()), "quotes", str(path))


# -- Alpaca ---------------------------------------------------------------------------------
def _alpaca_keys() -> tuple[str, str]:
    key, secret = os.environ.get("APCA_API_KEY_ID"), os.environ.get("APCA_API_SECRET_KEY")
    if not key or not secret:
        raise DataError("alpaca: set APCA_API_KEY_ID and APCA_API_SECRET_KEY (environment or .env)")
    return key, secret


def load_alpaca_ticks(
    kind: str, symbols: list[str], start: str, end: str | None = None, feed: str | None = None, cache: bool = True
) -> dict[str, pd.DataFrame]:
    """Historical trades or quotes per symbol from Alpaca (alpaca-py, every page), cached as Parquet.

    Parameters
    ----------
    kind : ``"trades"`` or ``"quotes"``
    symbols : tickers
    start, end : ISO timestamps (naive = UTC, as Alpaca reads them)
    feed : ``iex`` or ``sip`` (Alpaca's default when None)
    """
    if kind not in ("trades", "quotes"):
        raise DataError(f"alpaca ticks: kind must be trades or quotes, got {kind!r}")
    out: dict[str, pd.DataFrame] = {}
    todo = []
    for sym in symbols:
        cached = read_cached(cache_path(f"alpaca-{kind}", sym, start, end, feed or "default")) if cache else None
        if cached is None:
            todo.append(sym)
        else:
            out[sym] = cached
    if not todo:
        return out
    key, secret = _alpaca_keys()
    try:
        from alpaca.data.historical import StockHistoricalDataClient
        from alpaca.data.requests import StockQuotesRequest, StockTradesRequest
    except ImportError:
        raise DataError("alpaca: alpaca-py is not installed (pip install 'autostock[live]')") from None
    client = StockHistoricalDataClient(key, secret, raw_data=True, url_override=os.environ.get("APCA_API_DATA_URL"))
    stamps = {"start": pd.Timestamp(start).to_pydatetime(), "end": pd.Timestamp(end).to_pydatetime() if end else None}
    try:
        if kind == "trades":
            raw: Any = client.get_stock_trades(StockTradesRequest(symbol_or_symbols=todo, feed=feed, **stamps))  # type: ignore[arg-type]
        else:
            raw = client.get_stock_quotes(StockQuotesRequest(symbol_or_symbols=todo, feed=feed, **stamps))  # type: ignore[arg-type]
    except Exception as exc:  # noqa: BLE001 - network and API errors come in many types
        raise DataError(
            f"alpaca: cannot download {kind}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        ) from None
    for sym in todo:
        rows = raw.get(sym) or []
        if not rows:
            raise DataError(f"alpaca: no {kind} for {sym} between {start} and {end}")
        df = tidy_ticks(pd.DataFrame(rows), kind, f"alpaca:{kind}:{sym}", row_offset=1)
        if cache:
            write_cached(cache_path(f"alpaca-{kind}", sym, start, end, feed or "default"), df)
        out[sym] = df
    return out
