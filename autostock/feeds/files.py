"""CSV / Parquet loader: a file, or a folder of them (one per symbol, symbol = file stem)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from autostock.errors import DataError
from autostock.feeds.market import COLUMNS, Market
from autostock.feeds.validate import canonical_columns, find_gaps, validate_ohlcv

SUFFIXES = (".csv", ".parquet", ".pq")
EXCHANGE_TZ = "America/New_York"
MIN_ROWS = 2
# a trailing UTC offset or Z on a date string: 2020-01-02T00:00:00Z, 2020-01-02 09:30:00-05:00
_OFFSET = r"(Z|[+-]\d{2}:?\d{2})$"


def _read_raw(path: Path) -> pd.DataFrame:
    """The file's cells as written: a CSV column of plain numbers comes back as numbers (pandas' C
    parser, the same values as Python's ``float`` of the text), any other column as text, with no
    cell turned into NaN by pandas' NA words; :func:`read_ohlcv` checks the text columns cell by cell."""
    try:
        if path.suffix.lower() == ".csv":
            return pd.read_csv(path, keep_default_na=False, na_values=[])
        return pd.read_parquet(path)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: file is empty") from None
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise DataError(f"{path}: cannot read: {str(exc).splitlines()[0]}") from None


def parse_dates(column: pd.Series, path: Path) -> tuple[pd.Series, str | None]:
    """Parse a date column to naive timestamps; return them and a note when offsets were handled.

    Daily bars keep the calendar date written in the file (``2020-01-02T00:00:00Z`` is
    2020-01-02, not 19:00 of the day before in New York). Intraday bars with offsets are
    converted to exchange time (America/New_York). A column where only some rows carry an
    offset is refused, naming the first row that differs.
    """
    if pd.api.types.is_datetime64_any_dtype(column):
        if getattr(column.dt, "tz", None) is None:
            return column, None
        wall = column.dt.tz_localize(None)  # the wall clock in the column's own time zone
        instants = column.dt.tz_convert("UTC")
        zone = str(column.dt.tz)
    else:
        text = column.astype(str).str.strip()
        empty = text == ""
        if empty.any():
            pos = int(np.argmax(empty.to_numpy()))
            raise DataError(f"{path}: row {pos + 2}: missing date")
        offset = text.str.extract(_OFFSET, expand=False)
        has = offset.notna().to_numpy()
        if has.any() and not has.all():
            first_with, first_without = int(np.argmax(has)), int(np.argmax(~has))
            raise DataError(
                f"{path}: row {first_without + 2}: date {text.iloc[first_without]!r} has no UTC offset, "
                f"but row {first_with + 2} ({text.iloc[first_with]!r}) has one; give every date an offset or none"
            )
        naive_text = text.str.replace(_OFFSET, "", regex=True) if has.any() else text
        wall = pd.to_datetime(naive_text, errors="coerce", format="mixed")
        bad = wall.isna().to_numpy()
        if bad.any():
            pos = int(np.argmax(bad))
            raise DataError(f"{path}: row {pos + 2}: unparseable date {text.iloc[pos]!r}")
        if not has.any():
            return wall, None
        try:
            instants = pd.to_datetime(text, utc=True, format="mixed")
        except (ValueError, TypeError) as exc:
            raise DataError(f"{path}: cannot read the dates' UTC offsets: {str(exc).splitlines()[0]}") from None
        zone = "their UTC offsets"
    if _is_daily(wall):
        return wall.dt.normalize(), (
            f"{path.name}: daily bars with time zone ({zone}): each bar keeps the calendar date written in the file"
        )
    converted = instants.dt.tz_convert(EXCHANGE_TZ).dt.tz_localize(None)
    return converted, f"{path.name}: intraday timestamps converted from {zone} to exchange time ({EXCHANGE_TZ})"


def _is_daily(wall: pd.Series) -> bool:
    """Daily bars: consecutive bars at least 20 hours apart on the whole (one bar per day)."""
    values = wall.sort_values().to_numpy()
    if len(values) < 2:
        return bool((wall.dt.normalize() == wall).all())
    steps = values[1:] - values[:-1]
    return bool(np.median(steps) >= np.timedelta64(20, "h"))


def read_ohlcv(path: str | Path) -> tuple[pd.DataFrame, list[str]]:
    """Read and validate one file; return (bars indexed by date, notes).

    With an ``Adj Close`` column, open/high/low/close are back-adjusted by
    ``adj_close / close`` (volume unchanged), and a note says so.
    """
    path = Path(path)
    raw = _read_raw(path)
    if raw.empty:
        raise DataError(f"{path}: no data rows")
    if isinstance(raw.index, pd.DatetimeIndex):  # a Parquet file written with the dates as its index
        raw = raw.reset_index()
    lower = {str(c).strip().lower(): c for c in raw.columns}
    if "date" in lower and "time" in lower:  # backtrader-style Date + Time columns
        raw = raw.copy()
        raw[lower["date"]] = raw[lower["date"]].astype(str) + " " + raw[lower["time"]].astype(str)
        raw = raw.drop(columns=[lower["time"]])
    mapping = canonical_columns(list(raw.columns), str(path))
    df = raw.rename(columns=mapping)
    notes: list[str] = []
    if "date" in df:
        df["date"], note = parse_dates(df["date"], path)
        if note:
            notes.append(note)
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
    if len(df) < MIN_ROWS:
        raise DataError(f"{path}: only {len(df)} data row; a backtest needs at least {MIN_ROWS} bars")
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
        raise DataError(
            f"bars of different frequencies cannot share one timeline: {listed}; "
            "load one frequency per run (resample or pick the files)"
        )


def load_path(source: str, symbols: list[str] | None, benchmark: str | None) -> Market:
    """Load a file (symbol = stem) or a folder of files; ``benchmark`` must be one of them."""
    path = Path(source).expanduser()
    if path.is_dir():
        files: dict[str, Path] = {}
        for p in sorted(path.iterdir()):
            if p.suffix.lower() not in SUFFIXES:
                continue
            symbol = p.stem.upper()
            if symbol in files:
                raise DataError(f"{source}: two files for symbol {symbol}: {files[symbol].name} and {p.name}; keep one")
            files[symbol] = p
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
    return Market(
        bars=bars, source=str(source), benchmark=bench_series, benchmark_symbol=bench_symbol, notes=notes, gaps=gaps
    )
