"""Microstructure features: top of book, trades, volume profile (registered into the one registry).

They read the extra bar columns made by :mod:`autostock.feeds.bars` (trades and quotes
aggregated onto bars; ``--data trades:FILE@dollar=5e6+quotes:FILE`` or ``micro-synthetic``).
Every value at bar t uses bars up to t only.

Groups
------
quotes          quoted spread, microprice, quote size imbalance, Cont-Kukanov-Stoikov OFI
                (Alpaca equities carry the top of book only, not depth)
trades          tick-rule signed volume, trade imbalance, VPIN, Amihud illiquidity, realised
                volatility from ticks, trade intensity
volume_profile  rolling point of control and 70% value area from OHLCV (the bar's VWAP when
                present, else its typical price, carries the bar's volume), close's distance
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from autostock.models.features import (
    _sma,
    _windows,
    _zscore,
    register_data_group,
    register_feature,
)

register_data_group("quotes", ("bid", "ask", "bid_size", "ask_size", "spread_mean", "imbalance_mean", "ofi"))
register_data_group("trades", ("buy_volume", "sell_volume", "n_trades", "dollar_volume", "rv"))
register_data_group("volume_profile", ())


def _col(x, name: str) -> pd.Series:
    return x.bars[name].astype(float)


def _mid(x) -> pd.Series:
    return (_col(x, "bid") + _col(x, "ask")) / 2.0


def microprice(bid: pd.Series, ask: pd.Series, bid_size: pd.Series, ask_size: pd.Series) -> pd.Series:
    """Size-weighted mid: ``(bid * ask_size + ask * bid_size) / (bid_size + ask_size)``."""
    return (bid * ask_size + ask * bid_size) / (bid_size + ask_size)


def _micro(x) -> pd.Series:
    return microprice(_col(x, "bid"), _col(x, "ask"), _col(x, "bid_size"), _col(x, "ask_size"))


def _depth(x, n: int = 20) -> pd.Series:
    return _sma((_col(x, "bid_size") + _col(x, "ask_size")) / 2.0, n)


# == quotes ====================================================================================
register_feature("quoted_spread", "quotes", "(ask - bid) / mid of the quote standing at the bar's close")(
    lambda x: (_col(x, "ask") - _col(x, "bid")) / _mid(x)
)
register_feature("spread_mean", "quotes", "mean relative quoted spread over the bar's quotes")(
    lambda x: _col(x, "spread_mean").fillna((_col(x, "ask") - _col(x, "bid")) / _mid(x))
)
register_feature("spread_z_20", "quotes", "z-score of the quoted spread over 20 bars")(
    lambda x: _zscore((_col(x, "ask") - _col(x, "bid")) / _mid(x), 20)
)
register_feature("microprice_dev", "quotes", "(microprice - mid) / mid; microprice = (b*qa + a*qb) / (qb + qa)")(
    lambda x: _micro(x) / _mid(x) - 1.0
)
register_feature("close_microprice", "quotes", "close / microprice - 1")(lambda x: x.c / _micro(x) - 1.0)
register_feature("quote_imbalance", "quotes", "(bid_size - ask_size) / (bid_size + ask_size) at the close")(
    lambda x: (_col(x, "bid_size") - _col(x, "ask_size")) / (_col(x, "bid_size") + _col(x, "ask_size"))
)
register_feature("quote_imbalance_mean", "quotes", "mean quote size imbalance over the bar's quotes")(
    lambda x: _col(x, "imbalance_mean").fillna(
        (_col(x, "bid_size") - _col(x, "ask_size")) / (_col(x, "bid_size") + _col(x, "ask_size"))
    )
)
register_feature("quote_imbalance_mean_5", "quotes", "5-bar mean of quote_imbalance")(
    lambda x: _sma((_col(x, "bid_size") - _col(x, "ask_size")) / (_col(x, "bid_size") + _col(x, "ask_size")), 5)
)
register_feature("ofi", "quotes", "Cont-Kukanov-Stoikov order-flow imbalance of the bar / 20-bar mean depth")(
    lambda x: _col(x, "ofi") / _depth(x)
)
for _k in (5, 20):
    register_feature(f"ofi_{_k}", "quotes", f"OFI summed over {_k} bars / 20-bar mean depth")(
        lambda x, k=_k: _col(x, "ofi").rolling(k, min_periods=k).sum() / _depth(x)
    )


# == trades ====================================================================================
def _signed(x) -> pd.Series:
    return _col(x, "buy_volume") - _col(x, "sell_volume")


def _classified(x) -> pd.Series:
    return _col(x, "buy_volume") + _col(x, "sell_volume")


register_feature("signed_volume", "trades", "tick-rule signed volume (buys - sells) / bar volume")(
    lambda x: _signed(x) / x.v
)
register_feature("trade_imbalance", "trades", "(buy - sell) / (buy + sell) volume in the bar")(
    lambda x: _signed(x) / _classified(x)
)
for _k in (5, 20):
    register_feature(f"trade_imbalance_{_k}", "trades", f"signed / classified volume over {_k} bars")(
        lambda x, k=_k: _signed(x).rolling(k, min_periods=k).sum() / _classified(x).rolling(k, min_periods=k).sum()
    )
for _k in (20, 50):
    register_feature(
        f"vpin_{_k}", "trades", f"VPIN: sum |buy - sell| / sum volume over {_k} bars (volume bars: Easley et al.)"
    )(lambda x, k=_k: (_signed(x).abs()).rolling(k, min_periods=k).sum() / x.v.rolling(k, min_periods=k).sum())
register_feature("amihud_20", "trades", "Amihud illiquidity: 20-bar mean |return| / dollar volume, x 1e6")(
    lambda x: _sma(x.ret.abs() / _col(x, "dollar_volume"), 20) * 1e6
)
register_feature("rv_ticks", "trades", "realised volatility of the bar from tick-to-tick log returns")(
    lambda x: np.sqrt(_col(x, "rv"))
)
register_feature("rv_ticks_20", "trades", "realised volatility from ticks over 20 bars")(
    lambda x: np.sqrt(_col(x, "rv").rolling(20, min_periods=20).sum())
)
register_feature("rv_ratio_20", "trades", "tick realised variance / squared bar-to-bar returns, 20 bars")(
    lambda x: _col(x, "rv").rolling(20, min_periods=20).sum() / (x.logret**2).rolling(20, min_periods=20).sum()
)
register_feature("trade_count_z_20", "trades", "z-score of the number of trades over 20 bars")(
    lambda x: _zscore(np.log1p(_col(x, "n_trades")), 20)
)
register_feature("avg_trade_size_z_20", "trades", "z-score of log mean trade size over 20 bars")(
    lambda x: _zscore(np.log(x.v / _col(x, "n_trades")), 20)
)


# == volume profile ============================================================================
def volume_profile(
    price: np.ndarray, volume: np.ndarray, n: int, bins: int = 24, value_area: float = 0.7
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rolling (POC, VAH, VAL) over windows of ``n`` bars; NaN for the first ``n - 1``.

    Each bar's volume sits at its price; the window's price range is cut into ``bins`` equal
    bins. POC: the centre of the bin with the most volume (lowest on ties). The value area
    takes bins in order of volume until ``value_area`` of the window's volume is covered;
    VAH / VAL are the top / bottom edges of the bins taken.
    """
    out = np.full((3, len(price)), np.nan)
    if len(price) < n:
        return out[0], out[1], out[2]
    p = _windows(pd.Series(price), n)
    v = _windows(pd.Series(volume), n)
    lo, hi = p.min(axis=1, keepdims=True), p.max(axis=1, keepdims=True)
    width = np.where(hi > lo, (hi - lo) / bins, 1.0)
    b = np.clip(((p - lo) / width).astype(int), 0, bins - 1)
    rows = np.repeat(np.arange(len(p)), n)
    hist = np.zeros((len(p), bins))
    np.add.at(hist, (rows, b.ravel()), v.ravel())
    poc = hist.argmax(axis=1)
    order = np.argsort(-hist, axis=1, kind="stable")
    sorted_v = np.take_along_axis(hist, order, axis=1)
    cum = np.cumsum(sorted_v, axis=1)
    total = cum[:, -1:]
    taken_sorted = (cum - sorted_v) < value_area * total  # take until the target is reached
    taken = np.zeros_like(taken_sorted)
    np.put_along_axis(taken, order, taken_sorted, axis=1)
    idx = np.arange(bins)[None, :]
    top = np.where(taken, idx, -1).max(axis=1)
    bottom = np.where(taken, idx, bins).min(axis=1)
    w = width[:, 0]
    out[0, n - 1 :] = lo[:, 0] + (poc + 0.5) * w
    out[1, n - 1 :] = lo[:, 0] + (top + 1) * w
    out[2, n - 1 :] = lo[:, 0] + bottom * w
    return out[0], out[1], out[2]


def _profile_price(x) -> pd.Series:
    return _col(x, "vwap") if "vwap" in x.bars else x.typical


def _vp(x, n: int) -> tuple[pd.Series, pd.Series, pd.Series]:
    key = f"_vp_{n}"
    cached = x.__dict__.get(key)
    if cached is None:
        arrs = volume_profile(_profile_price(x).to_numpy(float), x.v.to_numpy(float), n)
        cached = tuple(pd.Series(a, index=x.c.index) for a in arrs)
        x.__dict__[key] = cached
    return cached


for _k in (20, 60):
    register_feature(f"vp_poc_dist_{_k}", "volume_profile", f"close / {_k}-bar volume point of control - 1")(
        lambda x, k=_k: x.c / _vp(x, k)[0] - 1.0
    )
    register_feature(f"vp_vah_dist_{_k}", "volume_profile", f"close / {_k}-bar value-area high - 1")(
        lambda x, k=_k: x.c / _vp(x, k)[1] - 1.0
    )
    register_feature(f"vp_val_dist_{_k}", "volume_profile", f"close / {_k}-bar value-area low - 1")(
        lambda x, k=_k: x.c / _vp(x, k)[2] - 1.0
    )
    register_feature(
        f"vp_in_value_{_k}", "volume_profile", f"position of close in the {_k}-bar value area (0..1 inside)"
    )(lambda x, k=_k: (x.c - _vp(x, k)[2]) / (_vp(x, k)[1] - _vp(x, k)[2]))
register_feature("vp_width_20", "volume_profile", "20-bar value-area width / close")(
    lambda x: (_vp(x, 20)[1] - _vp(x, 20)[2]) / x.c
)
