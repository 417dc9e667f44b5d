"""Causal features from OHLCV bars: named, grouped, vectorised (pandas / numpy).

Every feature at bar t uses bars up to and including t only (rolling windows, recursive
EMAs started at the first bar, cumulative sums, forward-filled reference series), so its
value is the same whether it is computed on data up to t or on the whole series; the test
suite checks this for every feature.

Groups
------
returns       simple and log returns over 1..250 bars, lagged one-bar returns
volatility    realised, Parkinson and Garman-Klass volatility, ratios, ATR, percentile rank
trend         price / SMA and price / EMA ratios, SMA slopes and crosses, MACD, ADX, TRIX,
              distance from rolling highs / lows, Donchian position, efficiency ratio, Aroon
momentum      RSI, stochastics, Williams %R, CCI, MFI, Bollinger %b and width, z-scores
volume        OBV slopes and z-score, volume z-scores and ratios, Chaikin money flow
candles       gaps, body, shadows, range, close location
distribution  rolling skew and kurtosis, up-day fraction, autocorrelation, Ulcer index
calendar      day of week / month / quarter, cyclical encodings
regime        the bull / bear / sideways code of :mod:`autostock.models.regime`, its inputs
index         cross-asset vs the high-beta index (QQQ): its returns and volatility, rolling
              beta, correlation, relative strength, trend and regime   (prefix ``idx_``)
benchmark     the same against the benchmark                           (prefix ``bm_``)

Feature sets: ``basic`` (returns, volatility, trend), ``technical`` (all single-asset
OHLCV groups), ``full`` (everything), or a comma list of feature names and group names.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from autostock.errors import ConfigError, DataError
from autostock.models.regime import RegimeRule, regime_codes
from autostock.registry import FEATURES

GROUPS: tuple[str, ...] = (
    "returns",
    "volatility",
    "trend",
    "momentum",
    "volume",
    "candles",
    "distribution",
    "calendar",
    "regime",
    "index",
    "benchmark",
)
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "basic": ("returns", "volatility", "trend"),
    "technical": ("returns", "volatility", "trend", "momentum", "volume", "candles", "distribution"),
    "full": GROUPS,
}
REFERENCE_GROUPS: dict[str, str] = {"index": "idx", "benchmark": "bm"}
#: groups computed from extra bar columns (tick, quote, news, options, sector data), registered by
#: :func:`register_data_group`; group -> the bar columns it needs. Not in any named set: ask for
#: them by group name (``--features basic,trades,news``).
DATA_GROUPS: dict[str, tuple[str, ...]] = {}


@dataclass(frozen=True)
class Feature:
    """One named feature: ``fn(ctx)`` returns a Series aligned to the bars."""

    name: str
    group: str
    fn: Callable[[_Context], pd.Series]
    description: str


def _add(name: str, group: str, description: str) -> Callable:
    """Register ``fn`` as feature ``name`` in the one feature registry (a duplicate raises)."""

    def deco(fn: Callable) -> Callable:
        FEATURES.register(name, Feature(name, group, fn, description))
        return fn

    return deco


def register_data_group(group: str, columns: tuple[str, ...]) -> None:
    """Declare a feature group computed from extra bar columns; a duplicate name raises."""
    if group in GROUPS or group in DATA_GROUPS:
        raise RuntimeError(f"duplicate feature group {group}")
    DATA_GROUPS[group] = tuple(columns)


def register_feature(name: str, group: str, description: str) -> Callable:
    """Decorator registering ``fn(ctx) -> Series`` as feature ``name`` of ``group``."""
    if group not in GROUPS and group not in DATA_GROUPS:
        raise RuntimeError(f"feature {name}: unknown group {group}")
    return _add(name, group, description)


# -- rolling helpers (all causal) ------------------------------------------------------------
def _sma(x: pd.Series, n: int) -> pd.Series:
    return x.rolling(n, min_periods=n).mean()


def _std(x: pd.Series, n: int) -> pd.Series:
    return x.rolling(n, min_periods=n).std()


def _ema(x: pd.Series, n: int) -> pd.Series:
    return x.ewm(span=n, adjust=False, min_periods=n).mean()


def _wilder(x: pd.Series, n: int) -> pd.Series:
    return x.ewm(alpha=1.0 / n, adjust=False, min_periods=n).mean()


def _zscore(x: pd.Series, n: int) -> pd.Series:
    return (x - _sma(x, n)) / _std(x, n)


def _windows(x: pd.Series, n: int) -> np.ndarray:
    arr = x.to_numpy(dtype=float)
    if len(arr) < n:
        return np.empty((0, n))
    return sliding_window_view(arr, n)


def _from_windows(values: np.ndarray, x: pd.Series, n: int) -> pd.Series:
    out = np.full(len(x), np.nan)
    if len(values):
        out[n - 1 :] = values
    return pd.Series(out, index=x.index)


def _rolling_mad(x: pd.Series, n: int) -> pd.Series:
    w = _windows(x, n)
    mad = np.abs(w - w.mean(axis=1, keepdims=True)).mean(axis=1) if len(w) else w[:, 0]
    return _from_windows(mad, x, n)


def _bars_since_extreme(x: pd.Series, n: int, highest: bool) -> pd.Series:
    """Bars since the highest (lowest) value within the last ``n + 1`` bars (0 = this bar)."""
    w = _windows(x, n + 1)
    if not len(w):
        return _from_windows(w[:, 0], x, n + 1)
    # argmax returns the first occurrence: take the most recent by flipping
    pos = (w[:, ::-1].argmax(axis=1) if highest else w[:, ::-1].argmin(axis=1)).astype(float)
    return _from_windows(pos, x, n + 1)


class _Context:
    """Bars and cached intermediate series shared by the feature functions."""

    def __init__(self, bars: pd.DataFrame, references: dict[str, pd.Series | None]) -> None:
        self.bars = bars
        self.o = bars["open"].astype(float)
        self.h = bars["high"].astype(float)
        self.l = bars["low"].astype(float)
        self.c = bars["close"].astype(float)
        self.v = bars["volume"].astype(float)
        self.refs = {
            prefix: (s.astype(float).reindex(bars.index).ffill() if s is not None else None)
            for prefix, s in references.items()
        }

    @cached_property
    def ret(self) -> pd.Series:
        return self.c.pct_change(fill_method=None)

    @cached_property
    def logret(self) -> pd.Series:
        return np.log(self.c).diff()

    @cached_property
    def prev_close(self) -> pd.Series:
        return self.c.shift(1)

    @cached_property
    def true_range(self) -> pd.Series:
        pc = self.prev_close
        return pd.concat([self.h - self.l, (self.h - pc).abs(), (self.l - pc).abs()], axis=1).max(axis=1, skipna=False)

    @cached_property
    def hl_log(self) -> pd.Series:
        return np.log(self.h / self.l)

    @cached_property
    def typical(self) -> pd.Series:
        return (self.h + self.l + self.c) / 3.0

    @cached_property
    def obv(self) -> pd.Series:
        return (np.sign(self.c.diff()).fillna(0.0) * self.v).cumsum()

    @cached_property
    def logvol(self) -> pd.Series:
        return np.log1p(self.v)

    @cached_property
    def regime_rule(self) -> RegimeRule:
        return RegimeRule()

    def hh(self, n: int) -> pd.Series:
        return self.h.rolling(n, min_periods=n).max()

    def ll(self, n: int) -> pd.Series:
        return self.l.rolling(n, min_periods=n).min()

    def vol(self, n: int) -> pd.Series:
        return _std(self.logret, n)

    def ref(self, prefix: str) -> pd.Series:
        s = self.refs.get(prefix)
        if s is None:
            raise DataError(f"feature needs the {prefix} reference series, which is not loaded")
        return s


# == returns ===================================================================================
for _k in (1, 2, 3, 5, 10, 20, 40, 60, 120, 250):
    _add(f"ret_{_k}", "returns", f"simple return over {_k} bars")(lambda x, k=_k: x.c / x.c.shift(k) - 1.0)
    _add(f"logret_{_k}", "returns", f"log return over {_k} bars")(lambda x, k=_k: np.log(x.c / x.c.shift(k)))
for _k in (1, 2, 3, 4, 5):
    _add(f"ret_1_lag_{_k}", "returns", f"one-bar return {_k} bars ago")(lambda x, k=_k: x.ret.shift(k))
_add("mom_250_20", "returns", "12-1 momentum: return over 250 bars excluding the last 20")(
    lambda x: x.c.shift(20) / x.c.shift(250) - 1.0
)

# == volatility ================================================================================
for _k in (5, 10, 20, 60, 120):
    _add(f"vol_{_k}", "volatility", f"std of log returns over {_k} bars")(lambda x, k=_k: x.vol(k))
for _k in (10, 20, 60):
    _add(f"parkinson_{_k}", "volatility", f"Parkinson high-low volatility over {_k} bars")(
        lambda x, k=_k: np.sqrt(_sma(x.hl_log**2, k) / (4.0 * np.log(2.0)))
    )
    _add(f"garman_klass_{_k}", "volatility", f"Garman-Klass volatility over {_k} bars")(
        lambda x, k=_k: np.sqrt(
            _sma(0.5 * x.hl_log**2 - (2 * np.log(2.0) - 1) * np.log(x.c / x.o) ** 2, k).clip(lower=0)
        )
    )
_add("vol_ratio_5_20", "volatility", "vol_5 / vol_20")(lambda x: x.vol(5) / x.vol(20))
_add("vol_ratio_20_60", "volatility", "vol_20 / vol_60")(lambda x: x.vol(20) / x.vol(60))
_add("vol_ratio_20_120", "volatility", "vol_20 / vol_120")(lambda x: x.vol(20) / x.vol(120))
for _k in (7, 14, 28):
    _add(f"atr_{_k}", "volatility", f"Wilder ATR over {_k} bars / close")(
        lambda x, k=_k: _wilder(x.true_range, k) / x.c
    )
_add("vol_pctile_250", "volatility", "percentile rank of vol_20 within the last 250 bars")(
    lambda x: x.vol(20).rolling(250, min_periods=250).rank(pct=True)
)
_add("vol_of_vol_60", "volatility", "std of vol_20 over 60 bars / its mean")(
    lambda x: _std(x.vol(20), 60) / _sma(x.vol(20), 60)
)

# == trend =====================================================================================
for _k in (5, 10, 20, 50, 100, 200):
    _add(f"close_sma_{_k}", "trend", f"close / SMA({_k}) - 1")(lambda x, k=_k: x.c / _sma(x.c, k) - 1.0)
    _add(f"close_ema_{_k}", "trend", f"close / EMA({_k}) - 1")(lambda x, k=_k: x.c / _ema(x.c, k) - 1.0)
for _k in (10, 20, 50, 200):
    _add(f"sma_slope_{_k}", "trend", f"5-bar change of SMA({_k}), relative")(
        lambda x, k=_k: _sma(x.c, k) / _sma(x.c, k).shift(5) - 1.0
    )
for _f, _s in ((5, 20), (10, 50), (20, 50), (50, 200)):
    _add(f"sma_cross_{_f}_{_s}", "trend", f"SMA({_f}) / SMA({_s}) - 1")(
        lambda x, f=_f, s=_s: _sma(x.c, f) / _sma(x.c, s) - 1.0
    )
for _f, _s, _g in ((12, 26, 9), (5, 35, 5)):

    def _macd(x: _Context, f: int = _f, s: int = _s) -> pd.Series:
        return (_ema(x.c, f) - _ema(x.c, s)) / x.c

    _add(f"macd_{_f}_{_s}", "trend", f"MACD({_f},{_s}) / close")(_macd)
    _add(f"macd_signal_{_f}_{_s}_{_g}", "trend", f"EMA({_g}) of MACD({_f},{_s}) / close")(
        lambda x, m=_macd, g=_g: _ema(m(x), g)
    )
    _add(f"macd_hist_{_f}_{_s}_{_g}", "trend", f"MACD({_f},{_s}) minus its signal")(
        lambda x, m=_macd, g=_g: m(x) - _ema(m(x), g)
    )


def _adx_parts(x: _Context, n: int) -> tuple[pd.Series, pd.Series, pd.Series]:
    up = x.h.diff()
    down = -x.l.diff()
    plus_dm = pd.Series(np.where((up > down) & (up > 0), up, 0.0), index=x.c.index)
    minus_dm = pd.Series(np.where((down > up) & (down > 0), down, 0.0), index=x.c.index)
    plus_dm[up.isna()] = np.nan
    minus_dm[up.isna()] = np.nan
    atr = _wilder(x.true_range, n)
    plus_di = 100 * _wilder(plus_dm, n) / atr
    minus_di = 100 * _wilder(minus_dm, n) / atr
    dx = 100 * (plus_di - minus_di).abs() / (plus_di + minus_di)
    return _wilder(dx, n), plus_di, minus_di


for _k in (14, 28):
    _add(f"adx_{_k}", "trend", f"Wilder ADX({_k})")(lambda x, k=_k: _adx_parts(x, k)[0])
_add("plus_di_14", "trend", "+DI(14)")(lambda x: _adx_parts(x, 14)[1])
_add("minus_di_14", "trend", "-DI(14)")(lambda x: _adx_parts(x, 14)[2])
_add("di_diff_14", "trend", "(+DI - -DI)(14)")(lambda x: _adx_parts(x, 14)[1] - _adx_parts(x, 14)[2])
_add("trix_15", "trend", "1-bar change of the triple EMA(15) of close")(
    lambda x: _ema(_ema(_ema(x.c, 15), 15), 15).pct_change(fill_method=None)
)
for _k in (20, 60, 250):
    _add(f"dist_high_{_k}", "trend", f"close / highest high of {_k} bars - 1")(lambda x, k=_k: x.c / x.hh(k) - 1.0)
    _add(f"dist_low_{_k}", "trend", f"close / lowest low of {_k} bars - 1")(lambda x, k=_k: x.c / x.ll(k) - 1.0)
for _k in (20, 55):
    _add(f"donchian_pos_{_k}", "trend", f"position of close in the {_k}-bar high-low channel (0..1)")(
        lambda x, k=_k: (x.c - x.ll(k)) / (x.hh(k) - x.ll(k))
    )
for _k in (10, 20):
    _add(f"efficiency_{_k}", "trend", f"Kaufman efficiency ratio over {_k} bars")(
        lambda x, k=_k: (x.c - x.c.shift(k)).abs() / x.c.diff().abs().rolling(k, min_periods=k).sum()
    )
_add("aroon_up_25", "trend", "Aroon up(25)")(lambda x: 100 * (25 - _bars_since_extreme(x.h, 25, True)) / 25)
_add("aroon_down_25", "trend", "Aroon down(25)")(lambda x: 100 * (25 - _bars_since_extreme(x.l, 25, False)) / 25)
_add("aroon_osc_25", "trend", "Aroon up - down (25)")(
    lambda x: 100 * (_bars_since_extreme(x.l, 25, False) - _bars_since_extreme(x.h, 25, True)) / 25
)


# == momentum oscillators ======================================================================
def _rsi(x: _Context, n: int) -> pd.Series:
    delta = x.c.diff()
    up = _wilder(delta.clip(lower=0), n)
    down = _wilder(-delta.clip(upper=0), n)
    return 100 - 100 / (1 + up / down)


for _k in (2, 7, 14, 21, 28):
    _add(f"rsi_{_k}", "momentum", f"Wilder RSI({_k})")(lambda x, k=_k: _rsi(x, k))
for _k in (5, 14):

    def _stoch_k(x: _Context, k: int = _k) -> pd.Series:
        return 100 * (x.c - x.ll(k)) / (x.hh(k) - x.ll(k))

    _add(f"stoch_k_{_k}", "momentum", f"stochastic %K({_k})")(_stoch_k)
    _add(f"stoch_d_{_k}", "momentum", f"stochastic %D: SMA(3) of %K({_k})")(lambda x, f=_stoch_k: _sma(f(x), 3))
for _k in (10, 14, 28):
    _add(f"williams_r_{_k}", "momentum", f"Williams %R({_k})")(
        lambda x, k=_k: -100 * (x.hh(k) - x.c) / (x.hh(k) - x.ll(k))
    )
for _k in (14, 20, 40):
    _add(f"cci_{_k}", "momentum", f"commodity channel index({_k})")(
        lambda x, k=_k: (x.typical - _sma(x.typical, k)) / (0.015 * _rolling_mad(x.typical, k))
    )
_add("mfi_14", "momentum", "money flow index(14)")(
    lambda x: (
        100
        - 100
        / (
            1
            + (x.typical * x.v).where(x.typical.diff() > 0, 0.0).rolling(14, min_periods=14).sum()
            / (x.typical * x.v).where(x.typical.diff() < 0, 0.0).rolling(14, min_periods=14).sum()
        )
    )
)
for _k in (10, 20, 50):
    _add(f"bb_pctb_{_k}", "momentum", f"Bollinger %b({_k}, 2 std)")(
        lambda x, k=_k: (x.c - _sma(x.c, k) + 2 * _std(x.c, k)) / (4 * _std(x.c, k))
    )
    _add(f"bb_width_{_k}", "momentum", f"Bollinger band width({_k}, 2 std) / SMA")(
        lambda x, k=_k: 4 * _std(x.c, k) / _sma(x.c, k)
    )
for _k in (20, 60):
    _add(f"price_z_{_k}", "momentum", f"z-score of close over {_k} bars")(lambda x, k=_k: _zscore(x.c, k))
for _k in (5, 20):
    _add(f"ret_z_{_k}", "momentum", f"{_k}-bar return divided by vol_60 * sqrt({_k})")(
        lambda x, k=_k: np.log(x.c / x.c.shift(k)) / (x.vol(60) * np.sqrt(k))
    )

# == volume ====================================================================================
for _k in (5, 20):
    _add(f"obv_slope_{_k}", "volume", f"OBV change over {_k} bars / volume traded in them")(
        lambda x, k=_k: (x.obv - x.obv.shift(k)) / x.v.rolling(k, min_periods=k).sum()
    )
_add("obv_z_20", "volume", "z-score of OBV over 20 bars")(lambda x: _zscore(x.obv, 20))
for _k in (5, 20, 60):
    _add(f"volume_z_{_k}", "volume", f"z-score of log volume over {_k} bars")(lambda x, k=_k: _zscore(x.logvol, k))
_add("volume_ratio_5_20", "volume", "mean volume 5 / mean volume 20")(lambda x: _sma(x.v, 5) / _sma(x.v, 20))
_add("volume_ratio_20_60", "volume", "mean volume 20 / mean volume 60")(lambda x: _sma(x.v, 20) / _sma(x.v, 60))
_add("log_volume", "volume", "log(1 + volume)")(lambda x: x.logvol)
_add("dollar_volume_z_20", "volume", "z-score of log dollar volume over 20 bars")(
    lambda x: _zscore(np.log1p(x.v * x.c), 20)
)
_add("cmf_20", "volume", "Chaikin money flow(20)")(
    lambda x: (
        (((x.c - x.l) - (x.h - x.c)) / (x.h - x.l) * x.v).rolling(20, min_periods=20).sum()
        / x.v.rolling(20, min_periods=20).sum()
    )
)
_add("volume_ret_corr_20", "volume", "20-bar correlation of log volume change and return")(
    lambda x: x.logvol.diff().rolling(20, min_periods=20).corr(x.ret)
)

# == candles ===================================================================================
_add("gap", "candles", "open / previous close - 1")(lambda x: x.o / x.prev_close - 1.0)
_add("gap_mean_5", "candles", "mean gap over 5 bars")(lambda x: _sma(x.o / x.prev_close - 1.0, 5))
_add("gap_mean_20", "candles", "mean gap over 20 bars")(lambda x: _sma(x.o / x.prev_close - 1.0, 20))
_add("gap_abs_mean_20", "candles", "mean absolute gap over 20 bars")(
    lambda x: _sma((x.o / x.prev_close - 1.0).abs(), 20)
)
_add("body", "candles", "(close - open) / open")(lambda x: x.c / x.o - 1.0)
_add("upper_shadow", "candles", "(high - max(open, close)) / close")(lambda x: (x.h - np.maximum(x.o, x.c)) / x.c)
_add("lower_shadow", "candles", "(min(open, close) - low) / close")(lambda x: (np.minimum(x.o, x.c) - x.l) / x.c)
_add("range", "candles", "(high - low) / close")(lambda x: (x.h - x.l) / x.c)
_add("close_location", "candles", "(close - low) / (high - low)")(lambda x: (x.c - x.l) / (x.h - x.l))
_add("body_mean_5", "candles", "mean body over 5 bars")(lambda x: _sma(x.c / x.o - 1.0, 5))
_add("close_location_mean_5", "candles", "mean close location over 5 bars")(
    lambda x: _sma((x.c - x.l) / (x.h - x.l), 5)
)
_add("intraday_overnight_ratio_20", "candles", "20-bar mean |body| / mean |gap|")(
    lambda x: _sma((x.c / x.o - 1.0).abs(), 20) / _sma((x.o / x.prev_close - 1.0).abs(), 20)
)

# == distribution ==============================================================================
for _k in (20, 60, 120):
    _add(f"skew_{_k}", "distribution", f"rolling skew of returns over {_k} bars")(
        lambda x, k=_k: x.ret.rolling(k, min_periods=k).skew()
    )
    _add(f"kurt_{_k}", "distribution", f"rolling excess kurtosis of returns over {_k} bars")(
        lambda x, k=_k: x.ret.rolling(k, min_periods=k).kurt()
    )
for _k in (10, 20, 60):
    _add(f"up_frac_{_k}", "distribution", f"fraction of up bars among the last {_k}")(
        lambda x, k=_k: _sma((x.ret > 0).astype(float).where(x.ret.notna()), k)
    )
_add("autocorr_1_60", "distribution", "60-bar correlation of returns with their previous value")(
    lambda x: x.ret.rolling(60, min_periods=60).corr(x.ret.shift(1))
)
_add("ulcer_14", "distribution", "Ulcer index(14): RMS drawdown from the 14-bar max close, percent")(
    lambda x: np.sqrt(_sma((100 * (x.c / x.c.rolling(14, min_periods=14).max() - 1.0)) ** 2, 14))
)
_add("max_drawdown_60", "distribution", "close / max close of 60 bars - 1")(
    lambda x: x.c / x.c.rolling(60, min_periods=60).max() - 1.0
)
_add("downside_vol_20", "distribution", "std of negative returns (others as 0) over 20 bars")(
    lambda x: _std(x.ret.clip(upper=0), 20)
)

# == calendar ==================================================================================
_add("day_of_week", "calendar", "0 = Monday")(lambda x: pd.Series(x.c.index.dayofweek, index=x.c.index, dtype=float))
_add("month", "calendar", "1..12")(lambda x: pd.Series(x.c.index.month, index=x.c.index, dtype=float))
_add("day_of_month", "calendar", "1..31")(lambda x: pd.Series(x.c.index.day, index=x.c.index, dtype=float))
_add("quarter", "calendar", "1..4")(lambda x: pd.Series(x.c.index.quarter, index=x.c.index, dtype=float))
_add("week_of_year", "calendar", "ISO week 1..53")(
    lambda x: pd.Series(x.c.index.isocalendar().week.to_numpy(), index=x.c.index, dtype=float)
)
_add("dow_sin", "calendar", "sin(2 pi day_of_week / 5)")(
    lambda x: pd.Series(np.sin(2 * np.pi * x.c.index.dayofweek / 5), index=x.c.index)
)
_add("dow_cos", "calendar", "cos(2 pi day_of_week / 5)")(
    lambda x: pd.Series(np.cos(2 * np.pi * x.c.index.dayofweek / 5), index=x.c.index)
)
_add("month_sin", "calendar", "sin(2 pi month / 12)")(
    lambda x: pd.Series(np.sin(2 * np.pi * x.c.index.month / 12), index=x.c.index)
)
_add("month_cos", "calendar", "cos(2 pi month / 12)")(
    lambda x: pd.Series(np.cos(2 * np.pi * x.c.index.month / 12), index=x.c.index)
)


# == regime ====================================================================================
def _regime(x: _Context) -> pd.Series:
    return pd.Series(regime_codes(x.c, x.regime_rule), index=x.c.index)


_add("regime", "regime", "market regime code of the symbol: 1 bull, 0 sideways, -1 bear")(_regime)
_add("regime_age", "regime", "bars since the regime code last changed")(
    lambda x: (lambda r: r.groupby((r != r.shift()).cumsum()).cumcount().astype(float).where(r.notna()))(_regime(x))
)
_add("regime_trend", "regime", "SMA(50) / SMA(200) - 1, the regime's trend input")(
    lambda x: _sma(x.c, 50) / _sma(x.c, 200) - 1.0
)
_add("regime_vol_ratio", "regime", "vol_20 / vol_120, the regime's volatility input")(lambda x: x.vol(20) / x.vol(120))


# == cross-asset ===============================================================================
def _ref_logret(x: _Context, prefix: str) -> pd.Series:
    return np.log(x.ref(prefix)).diff()


def _beta(x: _Context, prefix: str, n: int) -> pd.Series:
    r, m = x.logret, _ref_logret(x, prefix)
    return r.rolling(n, min_periods=n).cov(m) / m.rolling(n, min_periods=n).var()


for _group, _p in REFERENCE_GROUPS.items():
    _what = "the high-beta index (QQQ)" if _group == "index" else "the benchmark"
    for _k in (1, 5, 20):
        _add(f"{_p}_ret_{_k}", _group, f"{_k}-bar return of {_what}")(
            lambda x, k=_k, p=_p: x.ref(p) / x.ref(p).shift(k) - 1.0
        )
    for _k in (20, 60):
        _add(f"{_p}_vol_{_k}", _group, f"{_k}-bar volatility of {_what}")(
            lambda x, k=_k, p=_p: _std(_ref_logret(x, p), k)
        )
    for _k in (60, 120):
        _add(f"{_p}_beta_{_k}", _group, f"{_k}-bar rolling beta to {_what}")(lambda x, k=_k, p=_p: _beta(x, p, k))
    for _k in (20, 60, 120):
        _add(f"{_p}_corr_{_k}", _group, f"{_k}-bar return correlation with {_what}")(
            lambda x, k=_k, p=_p: x.logret.rolling(k, min_periods=k).corr(_ref_logret(x, p))
        )
        _add(f"{_p}_rs_{_k}", _group, f"{_k}-bar log return minus that of {_what}")(
            lambda x, k=_k, p=_p: np.log(x.c / x.c.shift(k)) - np.log(x.ref(p) / x.ref(p).shift(k))
        )
    _add(f"{_p}_trend", _group, f"{_what}: close / SMA(200) - 1")(lambda x, p=_p: x.ref(p) / _sma(x.ref(p), 200) - 1.0)
    _add(f"{_p}_regime", _group, f"regime code of {_what}")(
        lambda x, p=_p: pd.Series(regime_codes(x.ref(p), x.regime_rule), index=x.c.index)
    )


# == public API ================================================================================
def feature_names(feature_set: str = "full") -> list[str]:
    """Names in a feature set (``basic``, ``technical``, ``full``) or a comma list of names/groups."""
    return resolve_features(feature_set, have_index=True, have_benchmark=True)[0]


def resolve_features(
    spec: str, have_index: bool, have_benchmark: bool, columns: Collection[str] | None = None
) -> tuple[list[str], list[str]]:
    """Resolve a feature spec to (names to compute, names omitted for lack of a reference series).

    A named set silently omits cross-asset features whose reference is missing (the caller
    reports them); a comma list naming such a feature explicitly is an error. ``columns`` (the
    bars' columns, None = not known yet) is checked against what a data group's features need.
    """
    if not spec or not str(spec).strip():
        raise ConfigError("empty feature set; use basic, technical, full or a comma list of names")
    have = {"index": have_index, "benchmark": have_benchmark}
    spec = str(spec).strip()
    if spec in FEATURE_SETS:
        groups = FEATURE_SETS[spec]
        in_sets = [f.name for f in FEATURES.values() if f.group in groups]
        omitted = [n for n in in_sets if FEATURES[n].group in have and not have[FEATURES[n].group]]
        return [n for n in in_sets if n not in omitted], omitted
    names: list[str] = []
    omitted_sets: list[str] = []
    for token in (t.strip() for t in spec.split(",")):
        if not token:
            continue
        if token in FEATURE_SETS:  # a named set inside a list: its features, same omissions
            sub, sub_omitted = resolve_features(token, have_index, have_benchmark, columns)
            names += [n for n in sub if n not in names]
            omitted_sets += [n for n in sub_omitted if n not in omitted_sets]
            continue
        if token in GROUPS or token in DATA_GROUPS:
            chosen = [f.name for f in FEATURES.values() if f.group == token]
        elif token in FEATURES:
            chosen = [token]
        else:
            raise ConfigError(
                f"unknown feature or group {token!r}; sets: {', '.join(FEATURE_SETS)}; groups: "
                f"{', '.join(GROUPS + tuple(DATA_GROUPS))}; `autostock features` lists the names"
            )
        for name in chosen:
            group = FEATURES[name].group
            need = [c for c in DATA_GROUPS.get(group, ()) if columns is not None and c not in columns]
            if need:
                raise DataError(
                    f"feature {name} (group {group}) needs bar column(s) {', '.join(need)}, which the "
                    "data lacks; see docs/microstructure.md and docs/altdata.md for the sources"
                )
            if group in have and not have[group]:
                what = "--index series (e.g. QQQ)" if group == "index" else "benchmark series"
                raise DataError(f"feature {name} needs the {what}, which is not in the data")
            if name not in names:
                names.append(name)
    return names, omitted_sets


def compute_features(
    bars: pd.DataFrame,
    feature_set: str = "full",
    index: pd.Series | None = None,
    benchmark: pd.Series | None = None,
) -> pd.DataFrame:
    """Compute a feature set on one symbol's bars.

    Parameters
    ----------
    bars : DataFrame
        Columns open, high, low, close, volume; DatetimeIndex in time order.
    feature_set : str
        ``basic``, ``technical``, ``full`` or a comma list of feature and group names.
    index, benchmark : Series, optional
        Close prices of the high-beta index and of the benchmark; aligned to ``bars`` by
        date with a forward fill (causal). Cross-asset features are omitted when absent.

    Returns
    -------
    DataFrame
        One float column per feature, indexed like ``bars``; NaN during each feature's
        warm-up. ``df.attrs['omitted']`` lists features left out for a missing reference.
    """
    missing = [c for c in ("open", "high", "low", "close", "volume") if c not in bars]
    if missing:
        raise DataError(f"bars lack column(s) {', '.join(missing)}")
    names, omitted = resolve_features(feature_set, index is not None, benchmark is not None, list(bars.columns))
    ctx = _Context(bars, {"idx": index, "bm": benchmark})
    with np.errstate(divide="ignore", invalid="ignore"):
        cols = {name: FEATURES[name].fn(ctx).astype(float) for name in names}
    out = pd.DataFrame(cols, index=bars.index).replace([np.inf, -np.inf], np.nan)
    out.attrs["omitted"] = omitted
    return out


# feature groups over tick, quote and alternative data register themselves into FEATURES
from autostock.models import features_alt, features_micro  # noqa: E402, F401
