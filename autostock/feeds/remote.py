"""Downloaded daily bars: Yahoo (yfinance) and Alpaca historical (alpaca-py), cached as Parquet.

Without network or keys they fail with one clear line; downloaded data is validated like a file.
"""

from __future__ import annotations

import os
from typing import Any, cast

import pandas as pd

from autostock.errors import DataError
from autostock.extras import require
from autostock.feeds.cache import cache_path, read_cached, write_cached
from autostock.feeds.market import COLUMNS, Market
from autostock.feeds.validate import find_gaps, validate_ohlcv


def _finish(provider: str, frames: dict[str, pd.DataFrame], benchmark: str | None, start, end) -> Market:
    bars, gaps = {}, []
    for sym, df in frames.items():
        table = df.reset_index()
        table.columns = ["date"] + list(df.columns)
        validate_ohlcv(table, f"{provider}:{sym}")
        bars[sym] = df[list(COLUMNS)].astype(float)
        gaps += find_gaps(df.index, sym)
    bench = bars.pop(benchmark)["close"] if benchmark and benchmark in bars else None
    return Market(
        bars=bars,
        source=provider,
        benchmark=bench,
        benchmark_symbol=benchmark if bench is not None else None,
        notes=[f"{provider} daily bars {start or ''}..{end or ''}, cached on disk"],
        gaps=gaps,
    )


def load_yahoo(symbols: list[str], start: str | None, end: str | None, benchmark: str | None) -> Market:
    """Adjusted daily bars from Yahoo Finance via yfinance (auto_adjust=True)."""
    wanted = list(dict.fromkeys(symbols + ([benchmark] if benchmark else [])))
    frames: dict[str, pd.DataFrame] = {}
    for sym in wanted:
        path = cache_path("yahoo", sym, start, end)
        df = read_cached(path)
        if df is None:
            yf = require("yahoo", "yfinance")
            try:
                raw = yf.Ticker(sym).history(start=start, end=end, auto_adjust=True, raise_errors=True)
            except Exception as exc:  # network errors come in many types
                raise DataError(
                    f"yahoo: cannot download {sym}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no detail'}"
                ) from None
            if raw.empty:
                raise DataError(f"yahoo: no bars for {sym} between {start} and {end}")
            df = raw.rename(columns=str.lower)[list(COLUMNS)]
            df.index = pd.DatetimeIndex(df.index).tz_localize(None).normalize()
            df.index.name = "date"
            write_cached(path, df)
        frames[sym] = df
    return _finish("yahoo", frames, benchmark, start, end)


def load_alpaca(symbols: list[str], start: str | None, end: str | None, benchmark: str | None) -> Market:
    """Split-adjusted daily bars from Alpaca's market data API, one request for all symbols."""
    key, secret = os.environ.get("APCA_API_KEY_ID"), os.environ.get("APCA_API_SECRET_KEY")
    if not key or not secret:
        raise DataError("alpaca: set APCA_API_KEY_ID and APCA_API_SECRET_KEY (environment or .env)")
    wanted = list(dict.fromkeys(symbols + ([benchmark] if benchmark else [])))
    frames: dict[str, pd.DataFrame] = {}
    todo = []
    for sym in wanted:
        df = read_cached(cache_path("alpaca", sym, start, end))
        if df is None:
            todo.append(sym)
        else:
            frames[sym] = df
    if todo:
        require("live", "alpaca.data.historical")
        try:
            from alpaca.data.enums import Adjustment
            from alpaca.data.historical import StockHistoricalDataClient
            from alpaca.data.requests import StockBarsRequest
            from alpaca.data.timeframe import TimeFrame

            client = StockHistoricalDataClient(key, secret, url_override=os.environ.get("APCA_API_DATA_URL"))
            req = StockBarsRequest(
                symbol_or_symbols=todo,
                timeframe=TimeFrame.Day,
                start=pd.Timestamp(start or "2015-01-01"),
                end=pd.Timestamp(end) if end else None,
                adjustment=Adjustment.ALL,
            )
            data = cast(Any, client.get_stock_bars(req)).df  # a BarSet (raw_data is off)
        except Exception as exc:
            raise DataError(f"alpaca: cannot download bars: {type(exc).__name__}") from None
        for sym in todo:
            if data.empty or sym not in data.index.get_level_values(0):
                raise DataError(f"alpaca: no bars for {sym}")
            df = data.xs(sym, level=0)[list(COLUMNS)]
            df.index = pd.DatetimeIndex(df.index).tz_convert("America/New_York").tz_localize(None).normalize()
            df.index.name = "date"
            write_cached(cache_path("alpaca", sym, start, end), df)
            frames[sym] = df
    return _finish("alpaca", frames, benchmark, start, end)
