"""Validation of loaded OHLCV tables: one clear line naming the file, row and problem.

Nothing is dropped, filled or altered here: a violation raises :class:`DataError`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from autostock.errors import DataError

# accepted column names (lower-cased, spaces/underscores removed) -> canonical name
ALIASES: dict[str, str] = {
    "date": "date",
    "datetime": "date",
    "time": "date",
    "timestamp": "date",
    "open": "open",
    "high": "high",
    "low": "low",
    "close": "close",
    "adjclose": "adj_close",
    "adjustedclose": "adj_close",
    "volume": "volume",
    "openinterest": "openinterest",
}
REQUIRED = ("date", "open", "high", "low", "close", "volume")


def canonical_columns(columns: list[str], where: str) -> dict[str, str]:
    """Map raw column names to canonical ones, case-insensitively; unknown columns are an error."""
    mapping: dict[str, str] = {}
    for col in columns:
        key = str(col).strip().lower().replace(" ", "").replace("_", "")
        if key not in ALIASES:
            raise DataError(
                f"{where}: unknown column {col!r}; expected Date, Open, High, Low, Close, "
                "Volume and optionally Adj Close, OpenInterest"
            )
        canon = ALIASES[key]
        if canon in mapping.values():
            raise DataError(f"{where}: column {col!r} duplicates another {canon!r} column")
        mapping[col] = canon
    missing = [c for c in REQUIRED if c not in mapping.values()]
    if missing:
        raise DataError(f"{where}: missing column(s) {', '.join(missing)}")
    return mapping


def validate_ohlcv(df: pd.DataFrame, where: str, row_offset: int = 2) -> None:
    """Check a canonical table (``date`` column, float prices) row by row.

    ``row_offset`` converts a 0-based position to the file's line number (header on line 1).
    """
    if df.empty:
        raise DataError(f"{where}: no rows")

    def fail(pos: int, problem: str) -> None:
        raise DataError(f"{where}: row {pos + row_offset}: {problem}")

    dates = df["date"]
    bad_date = dates.isna().to_numpy()
    if bad_date.any():
        fail(int(np.argmax(bad_date)), "missing or unparseable date")
    values = dates.to_numpy()
    if len(values) > 1:
        diffs = values[1:] - values[:-1]
        dup = diffs == np.timedelta64(0)
        if dup.any():
            pos = int(np.argmax(dup)) + 1
            fail(pos, f"duplicate timestamp {pd.Timestamp(values[pos])}")
        back = diffs < np.timedelta64(0)
        if back.any():
            pos = int(np.argmax(back)) + 1
            fail(pos, f"timestamps not sorted: {pd.Timestamp(values[pos])} comes after {pd.Timestamp(values[pos - 1])}")
    price_cols = [c for c in ("open", "high", "low", "close", "adj_close") if c in df]
    for col in price_cols + ["volume"]:
        arr = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)
        nonfinite = ~np.isfinite(arr)
        if nonfinite.any():
            pos = int(np.argmax(nonfinite))
            fail(pos, f"{col} is not a finite number ({df[col].iloc[pos]!r})")
        if col == "volume":
            neg = arr < 0
            if neg.any():
                pos = int(np.argmax(neg))
                fail(pos, f"negative volume {arr[pos]:g}")
        else:
            nonpos = arr <= 0
            if nonpos.any():
                pos = int(np.argmax(nonpos))
                fail(pos, f"{col} must be positive, got {arr[pos]:g}")
    o, h, lo, c = (df[k].to_numpy(dtype=float) for k in ("open", "high", "low", "close"))
    checks = (
        (h < lo, "high {h:g} < low {l:g}"),
        (o > h, "open {o:g} > high {h:g}"),
        (c > h, "close {c:g} > high {h:g}"),
        (o < lo, "open {o:g} < low {l:g}"),
        (c < lo, "close {c:g} < low {l:g}"),
    )
    for mask, text in checks:
        if mask.any():
            pos = int(np.argmax(mask))
            fail(pos, text.format(o=o[pos], h=h[pos], l=lo[pos], c=c[pos]))


def find_gaps(index: pd.DatetimeIndex, symbol: str, max_calendar_days: int = 4) -> list[dict]:
    """Gaps between consecutive daily bars longer than a weekend plus a holiday (reported, not filled)."""
    if len(index) < 2:
        return []
    step = index[1:] - index[:-1]
    if (step < pd.Timedelta(days=1)).sum() > len(step) / 2:  # intraday series: no calendar check
        return []
    out = []
    for pos in np.flatnonzero(step > pd.Timedelta(days=max_calendar_days)):
        out.append(
            {
                "symbol": symbol,
                "from": str(index[pos].date()),
                "to": str(index[pos + 1].date()),
                "calendar_days": int(step[pos].days),
            }
        )
    return out
