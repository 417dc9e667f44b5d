"""Alternative-data features: news sentiment, options flow, sector rotation (one registry).

They read the per-bar columns attached point-in-time by :mod:`autostock.feeds.news`,
:mod:`autostock.feeds.options` and :mod:`autostock.feeds.micro_source` (``+news:FILE``,
``+options:FILE``, ``+sectors``): an article or snapshot counts for a bar only when stamped
strictly before the bar's decision time, so nothing here can see later records.

Groups
------
news     VADER sentiment (vaderSentiment) of headline + summary, article count, novelty;
         a bar without news has sentiment 0 and count 0
options  put/call volume and open-interest ratios, IV skew (OTM put - OTM call), unusual
         option volume (volume / open interest, z-scored); the newest snapshot of the last
         5 bars is used (older ones are NaN)
sector   relative momentum of the symbol's sector (ETF or basket) against the benchmark and
         the sector's rank among the loaded sectors
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from autostock.models.features import (
    _ema,
    _sma,
    _zscore,
    register_data_group,
    register_feature,
)

register_data_group("news", ("news_count", "news_sentiment", "news_novelty"))
register_data_group("options", ("opt_pc_volume", "opt_pc_oi", "opt_iv_skew", "opt_volume_oi"))
register_data_group(
    "sector", ("sector_close", "sector_bm_close", "sector_rank_20", "sector_rank_60", "sector_rank_120")
)
OPTIONS_STALE_BARS = 5


def _col(x, name: str) -> pd.Series:
    return x.bars[name].astype(float)


# == news ======================================================================================
def _count(x) -> pd.Series:
    return _col(x, "news_count").fillna(0.0)


def _sent_sum(x) -> pd.Series:
    return (_col(x, "news_sentiment") * _count(x)).fillna(0.0)


register_feature("news_count", "news", "articles published since the previous decision time")(_count)
register_feature("news_sentiment", "news", "mean VADER compound of those articles (0 without news)")(
    lambda x: _col(x, "news_sentiment").fillna(0.0)
)
for _k in (5, 20):
    register_feature(f"news_sentiment_sum_{_k}", "news", f"sum of VADER compound scores over {_k} bars")(
        lambda x, k=_k: _sent_sum(x).rolling(k, min_periods=k).sum()
    )
    register_feature(f"news_count_{_k}", "news", f"articles over {_k} bars")(
        lambda x, k=_k: _count(x).rolling(k, min_periods=k).sum()
    )
register_feature("news_sentiment_ewm_20", "news", "EMA(20) of per-bar summed sentiment")(
    lambda x: _ema(_sent_sum(x), 20)
)
register_feature("news_count_z_60", "news", "z-score of the 5-bar article count over 60 bars")(
    lambda x: _zscore(_count(x).rolling(5, min_periods=5).sum(), 60)
)
register_feature(
    "news_novelty", "news", "mean novelty (1 - max headline Jaccard vs the last 20) of the bar's news, 0 without"
)(lambda x: _col(x, "news_novelty").fillna(0.0))
register_feature("news_novel_sentiment_5", "news", "sentiment x novelty summed over 5 bars")(
    lambda x: (_sent_sum(x) * _col(x, "news_novelty").fillna(0.0)).rolling(5, min_periods=5).sum()
)


# == options ===================================================================================
def _opt(x, name: str) -> pd.Series:
    return _col(x, name).ffill(limit=OPTIONS_STALE_BARS)


register_feature("opt_pc_volume", "options", "log put / call option volume")(lambda x: np.log(_opt(x, "opt_pc_volume")))
register_feature("opt_pc_oi", "options", "log put / call open interest")(lambda x: np.log(_opt(x, "opt_pc_oi")))
register_feature("opt_iv_skew", "options", "IV of the 25-delta put minus the 25-delta call (nearest expiry >= 7 days)")(
    lambda x: _opt(x, "opt_iv_skew")
)
register_feature("opt_pc_volume_z_20", "options", "z-score of log put / call volume over 20 bars")(
    lambda x: _zscore(np.log(_opt(x, "opt_pc_volume")), 20)
)
register_feature("opt_iv_skew_z_20", "options", "z-score of the IV skew over 20 bars")(
    lambda x: _zscore(_opt(x, "opt_iv_skew"), 20)
)
register_feature(
    "opt_unusual_volume_z_20", "options", "unusual option volume: z-score of volume / open interest, 20 bars"
)(lambda x: _zscore(_opt(x, "opt_volume_oi"), 20))
register_feature("opt_pc_volume_mean_5", "options", "5-bar mean of log put / call volume")(
    lambda x: _sma(np.log(_opt(x, "opt_pc_volume")), 5)
)


# == sector rotation ===========================================================================
for _k in (20, 60, 120):
    register_feature(f"sector_rel_mom_{_k}", "sector", f"{_k}-bar log return of the sector minus the benchmark's")(
        lambda x, k=_k: (
            np.log(_col(x, "sector_close") / _col(x, "sector_close").shift(k))
            - np.log(_col(x, "sector_bm_close") / _col(x, "sector_bm_close").shift(k))
        )
    )
    register_feature(f"sector_rank_{_k}", "sector", f"the sector's rank by {_k}-bar relative momentum (1 = strongest)")(
        lambda x, k=_k: _col(x, f"sector_rank_{k}")
    )
register_feature("sector_rel_trend_50", "sector", "sector / SMA(50) minus benchmark / SMA(50)")(
    lambda x: (
        _col(x, "sector_close") / _sma(_col(x, "sector_close"), 50)
        - _col(x, "sector_bm_close") / _sma(_col(x, "sector_bm_close"), 50)
    )
)
