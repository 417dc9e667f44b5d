"""CSV / Parquet loader: a file, or a folder of them (one per symbol, symbol = file stem)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from autostock.errors import DataError
from autostock.feeds.market import COLUMNS, Market
from autostock.feeds.validate import canonical_columns, find_gaps, validate_ohlcv

SUFFIXES = (".csv", ".parquet", ".pq")


def _read_raw(path: Path) -> pd.DataFrame:
    try:
        if path.suffix.lower() == ".csv":
            return pd.read_csv(path, dtype=str, keep_default_na=False)
        return pd.read_parquet(path)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: file is empty") from None
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise DataError(f"{path}: cannot read: {str(exc).splitlines()[0]}") from None


def read_ohlcv(path: str | Path) -> tuple[pd.DataFrame, list[str]]:
    """Read and validate one file; return (bars indexed by date, notes).

    With an ``Adj Close`` column, open/high/low/close are back-adjusted by
    ``adj_close / close`` (volume unchanged), and a note says so.
    """
    path = Path(path)
    raw = _read_raw(path)
    if raw.empty:
        raise DataError(f"{path}: no data rows")
    lower = {str(c).strip().lower(): c for c in raw.columns}
    if "date" in lower and "time" in lower:  # backtrader-style Date + Time columns
        raw = raw.copy()
        raw[lower["date"]] = raw[lower["date"]].astype(str) + " " + raw[lower["time"]].astype(str)
        raw = raw.drop(columns=[lower["time"]])
    mapping = canonical_columns(list(raw.columns), str(path))
    df = raw.rename(columns=mapping)
    if "date" in df and not pd.api.types.is_datetime64_any_dtype(df["date"]):
        text = df["date"].astype(str).str.strip()
        parsed = pd.to_datetime(text, errors="coerce", format="mixed")
        bad = parsed.isna() & (text != "")
        if bad.any():
            pos = int(np.argmax(bad.to_numpy()))
            raise DataError(f"{path}: row {pos + 2}: unparseable date {text.iloc[pos]!r}")
        df["date"] = parsed
    if getattr(df["date"].dt, "tz", None) is not None:
        df["date"] = df["date"].dt.tz_convert("America/New_York").dt.tz_localize(None)
    for col in df.columns:
        if col != "date":
            if df[col].dtype == object or pd.api.types.is_string_dtype(df[col]):
                text = df[col].astype(str).str.strip()
                num = pd.to_numeric(text, errors="coerce")
                bad = num.isna() & ~text.str.lower().isin(["nan", "", "null", "none", "na"])
                if bad.any():
                    pos = int(np.argmax(bad.to_numpy()))
                    raise DataError(f"{path}: row {pos + 2}: {col} is not a number ({text.iloc[pos]!r})")
                df[col] = num
            df[col] = df[col].astype(float)
    validate_ohlcv(df, str(path))
    notes: list[str] = []
    bars = df.set_index("date")
    bars.index.name = "date"
    if "adj_close" in bars:
        factor = bars["adj_close"] / bars["close"]
        for col in ("open", "high", "low", "close"):
            bars[col] = bars[col] * factor
        notes.append(f"{path.name}: OHLC back-adjusted by Adj Close / Close (volume unchanged)")
    return bars[list(COLUMNS)].astype(float), notes


def _refuse_mixed_frequencies(indexes: dict[str, tuple[Path, pd.DatetimeIndex]]) -> None:
    """One line naming the files when a run would merge bars of different frequencies."""
    from autostock.reports.metrics import periods_per_year

    freq = {sym: periods_per_year(idx) for sym, (_, idx) in indexes.items()}
    if len(set(freq.values())) > 1:
        listed = ", ".join(f"{indexes[s][0].name} ({freq[s]} bars/year)" for s in sorted(freq))
        raise DataError(f"bars of different frequencies cannot share one timeline: {listed}; "
                        "load one frequency per run (resample or pick the files)")


def load_path(source: str, symbols: list[str] | None, benchmark: str | None) -> Market:
    """Load a file (symbol = stem) or a folder of files; ``benchmark`` must be one of them."""
    path = Path(source).expanduser()
    if path.is_dir():
        files = {p.stem.upper(): p for p in sorted(path.iterdir()) if p.suffix.lower() in SUFFIXES}
        if not files:
            raise DataError(f"{source}: no .csv or .parquet files in folder")
    elif path.is_file():
        if path.suffix.lower() not in SUFFIXES:
            raise DataError(f"{source}: unsupported file type {path.suffix!r}; use .csv or .parquet")
        files = {path.stem.upper(): path}
    else:
        raise DataError(f"data source not found: {source} (use synthetic, sample, yahoo, alpaca, a file or a folder)")
    wanted = symbols or [s for s in files if s != (benchmark or "").upper()] or list(files)
    missing = [s for s in wanted if s not in files]
    if missing and len(files) == 1 and len(wanted) == 1:
        # one file given explicitly: let --symbols rename it
        files = {wanted[0]: next(iter(files.values()))}
        missing = []
    if missing:
        raise DataError(f"{source}: no file for symbol(s) {', '.join(missing)}; found: {', '.join(files)}")
    bars: dict[str, pd.DataFrame] = {}
    notes: list[str] = []
    gaps: list[dict] = []
    for sym in wanted:
        df, n = read_ohlcv(files[sym])
        bars[sym] = df
        notes += n
        gaps += find_gaps(df.index, sym)
    _refuse_mixed_frequencies({sym: (files[sym], bars[sym].index) for sym in wanted})
    bench_series, bench_symbol = None, None
    if benchmark:
        b = benchmark.upper()
        if b in bars:
            bench_series = bars[b]["close"]
        elif b in files:
            bdf, n = read_ohlcv(files[b])
            notes += n
            bench_series = bdf["close"]
        else:
            raise DataError(f"benchmark {benchmark!r} not found in {source}; found: {', '.join(files)}")
        bench_symbol = b
    return Market(bars=bars, source=str(source), benchmark=bench_series, benchmark_symbol=bench_symbol,
                  notes=notes, gaps=gaps)
