"""``--data`` sources for tick data and alternative data.

Grammar (one string, so every command that takes ``--data`` accepts it)::

    trades:PATH[@BARS]         trades file (symbol = stem, or --symbols) or folder -> bars
    trades:alpaca[@BARS]       Alpaca historical trades of --symbols between --start and --end
    quotes:PATH[@time=SPAN]    quotes alone -> time bars of the mid price (volume 0)
    micro-synthetic            seeded synthetic trades, quotes, news, options (planted effects)
    micro-synthetic-null       the same without any planted effect (a control)
    BASE+quotes:PATH           top-of-book columns from a quotes file / folder onto BASE's bars
    BASE+news:PATH|alpaca      per-bar news columns (point-in-time)
    BASE+options:PATH          per-bar options-flow columns (point-in-time)
    BASE+sectors               sector index and rank columns (sector ETFs when loaded, else the
                               equal-weight basket of the loaded symbols of each sector)

``BARS`` is ``time=5min``, ``tick=N``, ``volume=V`` or ``dollar=D`` (``--bars`` on ``autostock
backtest`` appends it); the default is ``time=1min``. ``BASE`` is any other source.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from autostock.errors import DataError
from autostock.feeds.bars import (
    parse_bar_spec,
    quotes_to_bars,
    quotes_to_time_bars,
    split_bar_suffix,
    trades_to_bars,
)
from autostock.feeds.market import Market
from autostock.feeds.validate import validate_ohlcv

ATTACHMENTS: tuple[str, ...] = ("quotes", "news", "options", "sectors")
_SPLIT = re.compile(r"\+(?=(?:quotes|news|options):|sectors$|sectors\+)")
SECTOR_ETFS: dict[str, str] = {
    "Technology": "XLK",
    "Financials": "XLF",
    "Energy": "XLE",
    "Healthcare": "XLV",
    "Consumer": "XLY",
    "Industrials": "XLI",
    "Utilities": "XLU",
    "Materials": "XLB",
    "Real Estate": "XLRE",
    "Communication": "XLC",
}
SECTOR_WINDOWS: tuple[int, ...] = (20, 60, 120)


def is_micro_source(source: str) -> bool:
    """Whether ``source`` uses this module's grammar."""
    s = str(source)
    return s.startswith(("trades:", "quotes:", "micro-synthetic")) or bool(_SPLIT.search(s))


def _files(path: str, symbols: list[str] | None, what: str) -> dict[str, Path]:
    p = Path(path).expanduser()
    if p.is_dir():
        files = {
            f.stem.upper(): f for f in sorted(p.iterdir()) if f.suffix.lower() in (".csv", ".parquet", ".pq", ".json")
        }
        if not files:
            raise DataError(f"{path}: no {what} files in folder")
        wanted = symbols or list(files)
        missing = [s for s in wanted if s not in files]
        if missing:
            raise DataError(f"{path}: no {what} file for symbol(s) {', '.join(missing)}; found: {', '.join(files)}")
        return {s: files[s] for s in wanted}
    if p.is_file():
        if symbols and len(symbols) > 1:
            raise DataError(f"{path}: one {what} file holds one symbol; give a folder for {', '.join(symbols)}")
        return {(symbols[0] if symbols else p.stem.upper()): p}
    raise DataError(f"{what} source not found: {path}")


def _check(bars: pd.DataFrame, where: str) -> pd.DataFrame:
    table = bars.reset_index()
    table = table.rename(columns={table.columns[0]: "date"})
    validate_ohlcv(table[["date", "open", "high", "low", "close", "volume"]], where)
    return bars


def _load_base(
    source: str, symbols: list[str] | None, start: str | None, end: str | None, benchmark: str | None, seed: int
) -> Market:
    from autostock.feeds.ticks import load_alpaca_ticks, read_quotes, read_trades

    source, bars_text = split_bar_suffix(source)
    if source.startswith("micro-synthetic"):
        from autostock.feeds.synthetic_micro import generate_micro_market

        null = source == "micro-synthetic-null"
        if source not in ("micro-synthetic", "micro-synthetic-null"):
            raise DataError(f"unknown source {source!r}; use micro-synthetic or micro-synthetic-null")
        return generate_micro_market(symbols, seed=seed, effects=not null, bars=bars_text or "time=5min")
    kind, _, path = source.partition(":")
    spec = parse_bar_spec(bars_text or "time=1min")
    out: dict[str, pd.DataFrame] = {}
    if kind == "quotes":
        if spec.kind != "time":
            raise DataError(f"{source}: quotes alone make time bars only (use @time=SPAN), got {spec}")
        for sym, f in _files(path, symbols, "quotes").items():
            out[sym] = _check(quotes_to_time_bars(read_quotes(f), str(spec.threshold)), f"{f} ({spec})")
        return Market(
            bars=out, source=f"quotes:{path}@{spec}", notes=[f"time bars of the quoted mid ({spec}); volume 0"]
        )
    if path == "alpaca":
        if not symbols or not start:
            raise DataError("trades:alpaca needs --symbols and --start")
        ticks = load_alpaca_ticks("trades", symbols, start, end)
    else:
        ticks = {sym: read_trades(f) for sym, f in _files(path, symbols, "trades").items()}
    for sym, trades in ticks.items():
        out[sym] = _check(trades_to_bars(trades, spec), f"{path}:{sym} ({spec})")
    return Market(
        bars=out, source=f"trades:{path}@{spec}", notes=[f"{spec} bars built from trades (last bar may be incomplete)"]
    )


def load_micro(
    source: str, symbols: list[str] | None, start: str | None, end: str | None, benchmark: str | None, seed: int
) -> Market:
    """Load a source written in this module's grammar (see the module docstring)."""
    from autostock.feeds.market import is_equal_weight, with_equal_weight_benchmark

    parts = _SPLIT.split(str(source))
    base, attachments = parts[0], parts[1:]
    if is_micro_source(base):
        basket = is_equal_weight(benchmark)
        market = _load_base(base, symbols, start, end, None if basket else benchmark, seed)
        if basket:
            market = with_equal_weight_benchmark(market)
    else:
        from autostock.feeds import load_market

        market = load_market(base, symbols, start, end, benchmark, seed)
    for att in attachments:
        kind, _, path = att.partition(":")
        market = attach(market, kind, path, start, end)
    return market


def attach(market: Market, kind: str, path: str, start: str | None = None, end: str | None = None) -> Market:
    """``market`` with the per-bar columns of one attachment (quotes, news, options, sectors)."""
    bars = dict(market.bars)
    if kind == "sectors":
        return replace(
            market, bars=sector_columns(market), notes=market.notes + ["sector index and rank columns attached"]
        )
    if kind == "quotes":
        from autostock.feeds.ticks import read_quotes

        for sym, f in _files(path, market.symbols, "quotes").items():
            bars[sym] = (
                bars[sym]
                .drop(columns=[c for c in bars[sym] if c in _quote_cols()])
                .join(quotes_to_bars(read_quotes(f), bars[sym].index))
            )
    elif kind == "news":
        from autostock.feeds.news import load_alpaca_news, news_to_bars, read_news

        news = (
            load_alpaca_news(market.symbols, start or str(market.dates()[0]), end)
            if path == "alpaca"
            else read_news(path)
        )
        for sym in market.symbols:
            bars[sym] = bars[sym].join(news_to_bars(news, sym, bars[sym].index))
    elif kind == "options":
        from autostock.feeds.options import options_to_bars, read_snapshots

        snaps = read_snapshots(path)
        for sym in market.symbols:
            bars[sym] = bars[sym].join(options_to_bars(snaps, sym, bars[sym].index))
    else:
        raise DataError(f"unknown attachment {kind!r}; use one of {', '.join(ATTACHMENTS)}")
    return replace(market, bars=bars, notes=market.notes + [f"{kind} columns from {path} (point-in-time)"])


def _quote_cols() -> tuple[str, ...]:
    from autostock.feeds.bars import QUOTE_BAR_COLUMNS

    return QUOTE_BAR_COLUMNS


def sector_columns(market: Market) -> dict[str, pd.DataFrame]:
    """Per symbol: ``sector_close`` (its sector's ETF close, or the equal-weight basket of the
    loaded symbols of that sector), ``sector_bm_close`` (the benchmark, forward-filled), and
    ``sector_rank_K``: the sector's rank by K-bar momentum relative to the benchmark among the
    loaded sectors, scaled to (0, 1] with 1 the strongest."""
    from autostock.universe import sectors_for

    if market.benchmark is None:
        raise DataError(
            "+sectors needs a benchmark series (e.g. --benchmark SPY, or --benchmark equal-weight for the "
            "equal-weight basket of the loaded symbols)"
        )
    sec_of = {**sectors_for(market.symbols), **market.sectors}
    dates = market.dates()
    closes = pd.DataFrame({s: df["close"] for s, df in market.bars.items()}).reindex(dates)
    index: dict[str, pd.Series] = {}
    for sector in sorted({sec_of.get(s, "Other") for s in market.symbols}):
        etf = SECTOR_ETFS.get(sector)
        if etf in closes:
            index[sector] = closes[etf].ffill()
        else:
            members = [s for s in market.symbols if sec_of.get(s, "Other") == sector]
            logret = np.log(closes[members]).diff().mean(axis=1, skipna=True)
            index[sector] = np.exp(logret.fillna(0.0).cumsum())
    bm = market.benchmark.astype(float).reindex(dates).ffill()
    ranks = {}
    for k in SECTOR_WINDOWS:
        rel = pd.DataFrame({sec: np.log(s / s.shift(k)) - np.log(bm / bm.shift(k)) for sec, s in index.items()})
        ranks[k] = rel.rank(axis=1, pct=True)
    out = {}
    for sym, df in market.bars.items():
        sec = sec_of.get(sym, "Other")
        cols = {
            "sector_close": index[sec],
            "sector_bm_close": bm,
            **{f"sector_rank_{k}": ranks[k][sec] for k in SECTOR_WINDOWS},
        }
        out[sym] = df.join(pd.DataFrame(cols).reindex(df.index))
    return out
