"""Market regime label: bull / bear / sideways from trend and volatility.

The rule, evaluated at every bar t on closes up to t only::

    trend_t    = SMA(close, fast)_t / SMA(close, slow)_t - 1
    vol_t      = std(log-returns over the last vol_window bars)
    vol_ref_t  = std(log-returns over the last vol_long bars)
    high_vol_t = vol_t > vol_mult * vol_ref_t

    bull      if trend_t >  band and close_t > SMA(slow)_t and not high_vol_t
    bear      if (trend_t < -band or high_vol_t) and close_t < SMA(slow)_t
    sideways  otherwise

Codes: bull = 1, sideways = 0, bear = -1, NaN during the warm-up
(``max(slow, vol_long + 1)`` bars). The same rule is served inside backtrader by
:class:`autostock.indicators.regime.MarketRegime`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from autostock.errors import ConfigError

REGIME_NAMES: dict[int, str] = {1: "bull", 0: "sideways", -1: "bear"}


@dataclass(frozen=True)
class RegimeRule:
    """Parameters of the regime rule (see the module docstring)."""

    fast: int = 50
    slow: int = 200
    band: float = 0.02
    vol_window: int = 20
    vol_long: int = 120
    vol_mult: float = 1.5

    def __post_init__(self) -> None:
        for name in ("fast", "slow", "vol_window", "vol_long"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 2:
                raise ConfigError(f"regime {name} must be an integer >= 2, got {value!r}")
        if self.fast >= self.slow:
            raise ConfigError(f"regime fast ({self.fast}) must be shorter than slow ({self.slow})")
        if self.vol_window >= self.vol_long:
            raise ConfigError(f"regime vol_window ({self.vol_window}) must be shorter than vol_long ({self.vol_long})")
        if not (self.band >= 0) or not (self.vol_mult > 0):
            raise ConfigError(f"regime band must be >= 0 and vol_mult > 0, got {self.band}, {self.vol_mult}")

    @property
    def warmup(self) -> int:
        """Bars needed before the first label."""
        return max(self.slow, self.vol_long + 1)

    def to_dict(self) -> dict:
        return asdict(self)


def _classify(
    close: np.ndarray,
    sma_fast: np.ndarray,
    sma_slow: np.ndarray,
    vol: np.ndarray,
    vol_ref: np.ndarray,
    rule: RegimeRule,
) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        trend = sma_fast / sma_slow - 1.0
        high_vol = vol > rule.vol_mult * vol_ref
        above = close > sma_slow
        bull = (trend > rule.band) & above & ~high_vol
        bear = ((trend < -rule.band) | high_vol) & ~above
    code = np.where(bull, 1.0, np.where(bear, -1.0, 0.0))
    unknown = ~np.isfinite(trend) | ~np.isfinite(vol) | ~np.isfinite(vol_ref)
    code[unknown] = np.nan
    return code


def regime_codes(close: pd.Series | np.ndarray, rule: RegimeRule | None = None) -> np.ndarray:
    """Regime code per bar (1 bull, 0 sideways, -1 bear, NaN in warm-up); causal and vectorised.

    Parameters
    ----------
    close : Series or array
        Close prices in time order.
    rule : RegimeRule, optional
        Rule parameters; defaults to ``RegimeRule()``.
    """
    rule = rule or RegimeRule()
    c = pd.Series(np.asarray(close, dtype=float))
    lr = np.log(c).diff()
    return _classify(
        c.to_numpy(),
        c.rolling(rule.fast, min_periods=rule.fast).mean().to_numpy(),
        c.rolling(rule.slow, min_periods=rule.slow).mean().to_numpy(),
        lr.rolling(rule.vol_window, min_periods=rule.vol_window).std().to_numpy(),
        lr.rolling(rule.vol_long, min_periods=rule.vol_long).std().to_numpy(),
        rule,
    )


def regime_code_last(close: np.ndarray, rule: RegimeRule | None = None) -> float:
    """Regime code of the last bar of ``close`` (needs ``rule.warmup`` bars; NaN otherwise).

    Used for one new bar in live mode; agrees with :func:`regime_codes` on the same data.
    """
    rule = rule or RegimeRule()
    c = np.asarray(close, dtype=float)
    if len(c) < rule.warmup:
        return float("nan")
    lr = np.diff(np.log(c[-(rule.vol_long + 1) :]))
    code = _classify(
        c[-1:],
        np.array([c[-rule.fast :].mean()]),
        np.array([c[-rule.slow :].mean()]),
        np.array([lr[-rule.vol_window :].std(ddof=1)]),
        np.array([lr.std(ddof=1)]),
        rule,
    )
    return float(code[0])


def regime_label(close: pd.Series, rule: RegimeRule | None = None) -> pd.Series:
    """Regime name per bar ('bull', 'bear', 'sideways'; None in warm-up), indexed like ``close``."""
    codes = regime_codes(close, rule)
    labels = [REGIME_NAMES[int(c)] if np.isfinite(c) else None for c in codes]
    return pd.Series(labels, index=close.index, name="regime", dtype=object)
