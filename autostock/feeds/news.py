"""News: Alpaca news (alpaca-py ``NewsClient``) or local JSON / CSV files in the same shape,
scored with VADER and aggregated onto bars point-in-time.

A news record has ``headline``, ``summary``, ``symbols`` and a publish time (``created_at``,
as Alpaca names it). Local files: a JSON list of records (or Alpaca's ``{"news": [...]}``), or
a CSV with those columns (``symbols`` comma- or space-separated).

Point in time: an article counts for a bar only when it was published strictly before the
bar's decision time (:func:`decision_times`): the bar's stamp for intraday bars, 16:00 New
York time of the day for daily bars stamped at midnight. An article published after the last
bar counts for none.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from autostock.errors import DataError, UserError
from autostock.feeds.ticks import parse_times

NEWS_COLUMNS: tuple[str, ...] = ("created_at", "headline", "summary", "symbols")
NEWS_BAR_COLUMNS: tuple[str, ...] = ("news_count", "news_sentiment", "news_novelty", "news_positive", "news_negative")
_TIME_KEYS = ("created_at", "published_at", "publish_time", "timestamp", "time", "datetime")
_WORD = re.compile(r"[a-z0-9']+")


def decision_times(index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """When each bar's decision is made: the stamp, or 16:00 for daily bars stamped at midnight."""
    index = pd.DatetimeIndex(index)
    if len(index) and (index == index.normalize()).all():
        return index + pd.Timedelta(hours=16)
    return index


def _split_symbols(value: object) -> list[str]:
    if isinstance(value, (list, tuple, np.ndarray)):
        return [str(s).strip().upper() for s in value if str(s).strip()]
    return [s.upper() for s in re.split(r"[,\s;]+", str(value or "")) if s]


def tidy_news(records: list[dict] | pd.DataFrame, where: str, row_offset: int = 1) -> pd.DataFrame:
    """Canonical news table (``created_at`` naive New York time, sorted by it) from records."""
    df = pd.DataFrame(records).copy()
    if df.empty:
        raise DataError(f"{where}: no news records")
    lower = {str(c).strip().lower(): c for c in df.columns}
    time_col = next((lower[k] for k in _TIME_KEYS if k in lower), None)
    if time_col is None:
        raise DataError(f"{where}: news needs a publish time column (created_at)")
    for col in ("headline", "symbols"):
        if col not in lower:
            raise DataError(f"{where}: news needs a {col!r} column")
    parsed = parse_times(df[time_col])
    bad = parsed.isna()
    if bad.any():
        pos = int(np.argmax(bad.to_numpy()))
        raise DataError(f"{where}: record {pos + row_offset}: unparseable publish time {df[time_col].iloc[pos]!r}")
    headline = df[lower["headline"]].fillna("").astype(str).str.strip()
    empty = headline == ""
    if empty.any():
        pos = int(np.argmax(empty.to_numpy()))
        raise DataError(f"{where}: record {pos + row_offset}: empty headline")
    symbols = df[lower["symbols"]].map(_split_symbols)
    none = symbols.map(len) == 0
    if none.any():
        pos = int(np.argmax(none.to_numpy()))
        raise DataError(f"{where}: record {pos + row_offset}: no symbols")
    summary = df[lower["summary"]].fillna("").astype(str) if "summary" in lower else pd.Series("", index=df.index)
    out = pd.DataFrame(
        {
            "created_at": parsed,
            "headline": headline,
            "summary": summary,
            "symbols": symbols,
        }
    )
    if "id" in lower:
        out["id"] = df[lower["id"]].astype(str)
    return out.sort_values("created_at", kind="stable").reset_index(drop=True)


def read_news(path: str | Path) -> pd.DataFrame:
    """Read a local news file (JSON list / ``{"news": [...]}`` or CSV)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise DataError(f"{path}: not valid JSON: {str(exc).splitlines()[0]}") from None
        if isinstance(data, dict):
            data = data.get("news")
        if not isinstance(data, list):
            raise DataError(f'{path}: expected a JSON list of news records or {{"news": [...]}}')
        return tidy_news(data, str(path))
    if path.suffix.lower() == ".csv":
        try:
            raw = pd.read_csv(path, dtype=str, keep_default_na=False)
        except pd.errors.EmptyDataError:
            raise DataError(f"{path}: file is empty") from None
        return tidy_news(raw, str(path), row_offset=2)
    raise DataError(f"{path}: unsupported news file type {path.suffix!r}; use .json or .csv")


def load_alpaca_news(symbols: list[str], start: str, end: str | None = None) -> pd.DataFrame:
    """Every page of Alpaca news for ``symbols`` between ``start`` and ``end`` (alpaca-py)."""
    key, secret = os.environ.get("APCA_API_KEY_ID"), os.environ.get("APCA_API_SECRET_KEY")
    if not key or not secret:
        raise DataError("alpaca: set APCA_API_KEY_ID and APCA_API_SECRET_KEY (environment or .env)")
    try:
        from alpaca.data.historical.news import NewsClient
        from alpaca.data.requests import NewsRequest
    except ImportError:
        raise DataError("alpaca: alpaca-py is not installed (pip install 'autostock[live]')") from None
    client = NewsClient(key, secret, raw_data=True, url_override=os.environ.get("APCA_API_DATA_URL"))
    try:
        req = NewsRequest(
            symbols=",".join(symbols),
            start=pd.Timestamp(start).to_pydatetime(),
            end=pd.Timestamp(end).to_pydatetime() if end else None,
            limit=None,
        )
        raw = client.get_news(req)
    except Exception as exc:  # noqa: BLE001 - network and API errors come in many types
        raise DataError(f"alpaca: cannot download news: {type(exc).__name__}") from None
    records = raw.get("news", []) if isinstance(raw, dict) else []
    if not records:
        raise DataError(f"alpaca: no news for {', '.join(symbols)} between {start} and {end}")
    return tidy_news(records, "alpaca:news")


def sentiment_scores(texts: list[str]) -> np.ndarray:
    """VADER compound score (-1..1) of each text (vaderSentiment, extra ``altdata``)."""
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    except ImportError:
        raise UserError("news sentiment needs vaderSentiment: pip install 'autostock[altdata]'") from None
    analyzer = SentimentIntensityAnalyzer()
    return np.array([analyzer.polarity_scores(t)["compound"] for t in texts], dtype=float)


def novelty(headlines: list[str], window: int = 20) -> np.ndarray:
    """``1 - max Jaccard(words, words of each of the previous `window` headlines)``; the first is 1."""
    sets = [frozenset(_WORD.findall(h.lower())) for h in headlines]
    out = np.ones(len(sets))
    for i, s in enumerate(sets):
        best = 0.0
        for prev in sets[max(0, i - window) : i]:
            union = len(s | prev)
            if union:
                best = max(best, len(s & prev) / union)
        out[i] = 1.0 - best
    return out


def score_news(news: pd.DataFrame, symbol: str) -> pd.DataFrame:
    """The articles naming ``symbol`` with ``sentiment`` and ``novelty`` (vs that symbol's earlier news)."""
    mine = news[news["symbols"].map(lambda s: symbol.upper() in s)].reset_index(drop=True)
    text = (mine["headline"] + ". " + mine["summary"]).tolist()
    mine = mine.assign(
        sentiment=sentiment_scores(text) if len(mine) else np.array([]), novelty=novelty(mine["headline"].tolist())
    )
    return mine


def news_to_bars(news: pd.DataFrame, symbol: str, index: pd.DatetimeIndex) -> pd.DataFrame:
    """Per-bar news columns for ``symbol``: only articles published before each decision time."""
    scored = score_news(news, symbol)
    n = len(index)
    decide = decision_times(index).to_numpy()
    k = np.searchsorted(decide, scored["created_at"].to_numpy(), side="right")  # first decision after it
    keep = k < n
    k = k[keep]
    sent = scored["sentiment"].to_numpy()[keep]
    nov = scored["novelty"].to_numpy()[keep]
    count = np.bincount(k, minlength=n).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = pd.DataFrame(
            {
                "news_count": count,
                "news_sentiment": np.bincount(k, weights=sent, minlength=n) / count,
                "news_novelty": np.bincount(k, weights=nov, minlength=n) / count,
                "news_positive": np.bincount(k, weights=(sent > 0.05).astype(float), minlength=n),
                "news_negative": np.bincount(k, weights=(sent < -0.05).astype(float), minlength=n),
            },
            index=index,
        )
    return out[list(NEWS_BAR_COLUMNS)]
