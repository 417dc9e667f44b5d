"""News known to a live session, put onto bars point-in-time (the news feature group, live).

Records come from the REST backfill (:meth:`AlpacaStore.news`, for the warm-up history) and the
news stream (:meth:`AlpacaStore.start_news_stream`). A record counts for a bar only when it was
*known* strictly before the bar's decision time (:func:`autostock.feeds.news.decision_times`):
a backfilled article from its publish time (``created_at``), a streamed one from the later of
its publish time and the time the store received it, so an article delivered late never
changes a decision already taken. The columns are those of
:func:`autostock.feeds.news.news_to_bars`, as in backtests.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pandas as pd

from autostock.feeds.news import NEWS_BAR_COLUMNS, news_to_bars, tidy_news

NEWS_FEATURE_GROUP = "news"


def needs_news(feature_names: list[str]) -> bool:
    """Whether any of ``feature_names`` belongs to the news group."""
    from autostock.registry import FEATURES

    names = set(FEATURES.names())
    return any(n in names and FEATURES[n].group == NEWS_FEATURE_GROUP for n in feature_names)


def served_features(params: dict[str, Any]) -> list[str]:
    """Feature names the strategy params serve live: a model directory's (``model=``, as
    ``ml_signal`` takes it) and an RL policy directory's (``policy=``: the observation's own
    features and each of its predictors'). Empty when neither names a trained directory."""
    import json
    from pathlib import Path

    names: list[str] = []

    def read(folder: Any) -> dict[str, Any]:
        path = Path(str(folder)).expanduser() / "params.json" if folder else None
        return json.loads(path.read_text()) if path is not None and path.is_file() else {}

    names += list(read(params.get("model")).get("features") or [])
    policy = read(params.get("policy"))
    if policy:
        from autostock.models.features import resolve_features

        own = str(policy.get("features") or "")
        names += resolve_features(own, False, False)[0] if own else []
        for folder in policy.get("predictors") or []:
            names += list(read(folder).get("features") or [])
    return list(dict.fromkeys(names))


class LiveNews:
    """Thread-safe news collector; :meth:`columns` is the run context's ``bar_columns``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[dict[str, Any]] = []
        self._ids: set[str] = set()
        self._table: pd.DataFrame | None = None

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    def _add(self, record: dict[str, Any], known_at: Any) -> None:
        rid = str(record.get("id", ""))
        if not record.get("headline") or not record.get("symbols") or known_at is None:
            return
        with self._lock:
            if rid and rid in self._ids:
                return
            if rid:
                self._ids.add(rid)
            self._records.append(
                {
                    "id": rid,
                    "headline": str(record["headline"]),
                    "summary": str(record.get("summary") or ""),
                    "symbols": list(record["symbols"]),
                    "created_at": known_at,
                }
            )
            self._table = None

    def backfill(self, records: list[dict[str, Any]]) -> None:
        """Historical records (REST), known from their publish time."""
        for r in records:
            self._add(r, r.get("created_at"))

    def on_news(self, record: dict[str, Any]) -> None:
        """A streamed record (the store's :meth:`on_news` handler): known from when it arrived."""
        created, received = record.get("created_at"), record.get("received_at")
        if created is None:
            known = received
        elif received is None:
            known = created
        else:
            known = max(pd.Timestamp(created), pd.Timestamp(received)).isoformat()
        self._add(record, known)

    def columns(self, symbol: str, index: pd.DatetimeIndex) -> pd.DataFrame:
        """Per-bar news columns of ``symbol`` on ``index`` (count 0 and NaN scores without news)."""
        with self._lock:
            if self._table is None and self._records:
                self._table = tidy_news(list(self._records), "live news")
            table = self._table
        if table is None:
            empty = {c: np.full(len(index), np.nan) for c in NEWS_BAR_COLUMNS}
            for c in ("news_count", "news_positive", "news_negative"):
                empty[c] = np.zeros(len(index))
            return pd.DataFrame(empty, index=index)[list(NEWS_BAR_COLUMNS)]
        return news_to_bars(table, symbol, index)
