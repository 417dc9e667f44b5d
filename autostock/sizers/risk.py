"""Pure risk math behind the sizers and the risk guard: plain functions, no backtrader.

Conventions: ``equity`` is the portfolio value, ``price`` the share price, values are in
currency, weights are fractions of equity, sizes are whole shares (never negative: the
direction is the caller's business). Every function checks its inputs and raises
``ValueError`` naming the bad value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

TRADING_DAYS = 252


def _check_positive(name: str, value: float) -> None:
    if not (value > 0) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number > 0, got {value}")


def _check_fraction(name: str, value: float, upper: float = 1.0) -> None:
    if not (0 <= value <= upper):
        raise ValueError(f"{name} must be in [0, {upper}], got {value}")


# -- basic conversions -------------------------------------------------------------------
def shares_for_value(value: float, price: float) -> int:
    """Whole shares worth at most ``value`` at ``price`` (zero for a non-positive value)."""
    _check_positive("price", price)
    if not (value > 0) or not math.isfinite(value):
        return 0
    return int(math.floor(value / price + 1e-9))


def cap_shares(
    shares: int,
    price: float,
    *,
    equity: float,
    cash: float | None = None,
    gross_exposure: float = 0.0,
    max_leverage: float = 1.0,
) -> int:
    """``shares`` reduced so that their cost fits in ``cash`` and the leverage room.

    The leverage room is ``max_leverage * equity - gross_exposure`` (gross exposure of the
    book before this order, at current prices).
    """
    _check_positive("price", price)
    room = max_leverage * equity - max(gross_exposure, 0.0)
    if cash is not None:
        room = min(room, cash)
    return max(0, min(int(shares), shares_for_value(room, price)))


# -- fixed fraction ----------------------------------------------------------------------
def average_true_range(high: Sequence[float], low: Sequence[float], close: Sequence[float], period: int = 14) -> float:
    """Mean true range over the last ``period`` bars (needs ``period + 1`` closes).

    ``TR_t = max(high_t, close_{t-1}) - min(low_t, close_{t-1})``. Returns ``nan`` when the
    history is too short.
    """
    if period < 1:
        raise ValueError(f"ATR period must be >= 1, got {period}")
    h, lo, c = (np.asarray(x, dtype=float) for x in (high, low, close))
    if len(c) < period + 1 or not (len(h) == len(lo) == len(c)):
        return float("nan")
    prev = c[-period - 1 : -1]
    tr = np.maximum(h[-period:], prev) - np.minimum(lo[-period:], prev)
    return float(np.mean(tr))


def fixed_fraction_shares(
    equity: float,
    price: float,
    stop_distance: float,
    *,
    risk_fraction: float = 0.02,
    cash: float | None = None,
    gross_exposure: float = 0.0,
    max_leverage: float = 1.0,
) -> int:
    """Shares such that hitting the stop loses ``risk_fraction`` of equity.

    ``shares = floor(equity * risk_fraction / stop_distance)``, then capped by cash and by the
    gross leverage room (:func:`cap_shares`).

    Parameters
    ----------
    equity, price
        Portfolio value and share price (> 0).
    stop_distance
        Price distance from entry to stop (> 0), e.g. ``price * stop_pct`` or ``k * ATR``.
    risk_fraction
        Fraction of equity lost if the stop is hit, in [0, 1].
    """
    _check_positive("equity", equity)
    _check_positive("stop_distance", stop_distance)
    _check_fraction("risk_fraction", risk_fraction)
    raw = int(math.floor(equity * risk_fraction / stop_distance + 1e-9))
    return cap_shares(raw, price, equity=equity, cash=cash, gross_exposure=gross_exposure, max_leverage=max_leverage)


# -- Kelly -------------------------------------------------------------------------------
def trade_stats(pnls: Sequence[float]) -> tuple[float, float]:
    """Win rate and payoff ratio (mean win / mean loss) of closed-trade profits.

    A series with wins and no losses has an infinite payoff; one with no wins has payoff 0.
    """
    x = np.asarray(pnls, dtype=float)
    if x.size == 0:
        return 0.0, 0.0
    wins, losses = x[x > 0], x[x < 0]
    win_rate = wins.size / x.size
    if losses.size == 0:
        return win_rate, (float("inf") if wins.size else 0.0)
    with np.errstate(over="ignore", divide="ignore"):  # vanishing losses: an unbounded payoff
        payoff = (wins.mean() if wins.size else 0.0) / -losses.mean()
    return float(win_rate), float(payoff)


def kelly_fraction(win_rate: float, payoff: float, *, fraction: float = 0.5, cap: float = 0.25) -> float:
    """Fractional Kelly bet size as a fraction of equity, in ``[0, cap]``.

    Full Kelly is ``f* = W - (1 - W) / R`` for win rate ``W`` and payoff ratio ``R``; the bet
    is ``fraction * f*`` clipped to ``[0, cap]``, so no edge (``W * R <= 1 - W``) gives zero.
    """
    _check_fraction("win_rate", win_rate)
    _check_fraction("fraction", fraction)
    _check_fraction("cap", cap, upper=10.0)
    if not (payoff >= 0):
        raise ValueError(f"payoff ratio must be >= 0, got {payoff}")
    if payoff == 0 or win_rate == 0:
        return 0.0
    with np.errstate(over="ignore", divide="ignore"):
        full = win_rate - (1 - win_rate) / payoff
    if not full > 0:  # no edge (a vanishing payoff makes it -inf)
        return 0.0
    return float(min(fraction * full, cap))


def kelly_from_pnls(
    pnls: Sequence[float],
    *,
    window: int = 50,
    min_trades: int = 10,
    fraction: float = 0.5,
    cap: float = 0.25,
    warmup: float = 0.05,
) -> float:
    """Fractional Kelly from the last ``window`` closed trades.

    Until ``min_trades`` trades have closed there are no statistics to use, so the bet is the
    fixed ``warmup`` fraction (clipped to ``cap``); afterwards :func:`kelly_fraction`.
    """
    if window < 1 or min_trades < 1:
        raise ValueError(f"window and min_trades must be >= 1, got {window}, {min_trades}")
    _check_fraction("warmup", warmup)
    recent = list(pnls)[-window:]
    if len(recent) < min_trades:
        return float(min(warmup, cap))
    win_rate, payoff = trade_stats(recent)
    return kelly_fraction(win_rate, min(payoff, 1e9), fraction=fraction, cap=cap)


# -- volatility targeting ----------------------------------------------------------------
def inverse_vol_weights(vols: Sequence[float] | np.ndarray) -> np.ndarray:
    """Weights proportional to ``1 / vol``, summing to 1."""
    v = np.asarray(vols, dtype=float)
    if v.size == 0 or not np.all(v > 0) or not np.all(np.isfinite(v)):
        raise ValueError(f"volatilities must be finite and > 0, got {v}")
    w = 1.0 / v
    return w / w.sum()


def risk_parity_weights(cov: np.ndarray, *, tol: float = 1e-10, max_iter: int = 1000) -> np.ndarray:
    """Long-only equal-risk-contribution weights (summing to 1) for covariance ``cov``.

    Cyclical coordinate descent: for each asset solve
    ``cov_ii w_i^2 + w_i sum_{j != i} cov_ij w_j = 1 / n`` for the positive root, until the
    weights stop moving; then normalise.
    """
    c = np.asarray(cov, dtype=float)
    if c.ndim != 2 or c.shape[0] != c.shape[1] or c.shape[0] == 0:
        raise ValueError(f"covariance must be a non-empty square matrix, got shape {c.shape}")
    diag = np.diag(c)
    if not np.all(diag > 0) or not np.all(np.isfinite(c)):
        raise ValueError("covariance must be finite with positive variances")
    n = c.shape[0]
    w = inverse_vol_weights(np.sqrt(diag))
    b = 1.0 / n
    for _ in range(max_iter):
        old = w.copy()
        for i in range(n):
            cross = c[i] @ w - c[i, i] * w[i]
            w[i] = (-cross + math.sqrt(cross * cross + 4 * c[i, i] * b)) / (2 * c[i, i])
        if np.max(np.abs(w - old)) < tol:
            break
    return w / w.sum()


def portfolio_vol(weights: np.ndarray, cov: np.ndarray, periods_per_year: int = TRADING_DAYS) -> float:
    """Annualised volatility ``sqrt(w' cov w * periods_per_year)`` of per-period covariance."""
    w = np.asarray(weights, dtype=float)
    return float(math.sqrt(max(float(w @ np.asarray(cov, dtype=float) @ w), 0.0) * periods_per_year))


def vol_target_weights(
    returns: np.ndarray,
    *,
    target_vol: float = 0.10,
    method: str = "risk_parity",
    max_leverage: float = 1.0,
    max_weight: float | None = None,
    periods_per_year: int = TRADING_DAYS,
) -> np.ndarray:
    """Long-only weights from per-period returns (rows: periods, columns: assets).

    Inverse-volatility or risk-parity weights are scaled so the portfolio's annualised
    volatility equals ``target_vol``, then each weight is capped at ``max_weight`` and the
    total at ``max_leverage`` (both only ever scale down).
    """
    r = np.asarray(returns, dtype=float)
    if r.ndim != 2 or r.shape[0] < 2 or r.shape[1] == 0:
        raise ValueError(f"returns must be (periods >= 2, assets >= 1), got shape {r.shape}")
    if not np.all(np.isfinite(r)):
        raise ValueError("returns contain NaN or infinite values")
    _check_positive("target_vol", target_vol)
    if not (max_leverage > 0):
        raise ValueError(f"max_leverage must be > 0 (inf for no cap), got {max_leverage}")
    cov = np.atleast_2d(np.cov(r, rowvar=False))
    vols = np.sqrt(np.maximum(np.diag(cov), 1e-16))
    cov = cov + np.eye(cov.shape[0]) * 1e-16
    if method == "inverse_vol":
        w = inverse_vol_weights(vols)
    elif method == "risk_parity":
        w = risk_parity_weights(cov)
    else:
        raise ValueError(f"unknown vol_target method {method!r}; valid: inverse_vol, risk_parity")
    vol = portfolio_vol(w, cov, periods_per_year)
    w = w * (target_vol / vol if vol > 0 else 1.0)
    if max_weight is not None:
        _check_positive("max_weight", max_weight)
        w = np.minimum(w, max_weight)
    total = w.sum()
    if total > max_leverage:
        w = w * (max_leverage / total)
    return w


def equal_weight_shares(
    equity: float, price: float, n_positions: int, *, cash: float | None = None, current_shares: float = 0.0
) -> int:
    """Shares to add so the position is worth ``equity / n_positions``, capped by cash."""
    _check_positive("equity", equity)
    if n_positions < 1:
        raise ValueError(f"n_positions must be >= 1, got {n_positions}")
    target = shares_for_value(equity / n_positions, price)
    return cap_shares(
        max(target - int(abs(current_shares)), 0), price, equity=equity, cash=cash, max_leverage=float("inf")
    )


def target_shares(
    weight: float, equity: float, price: float, *, current_shares: float = 0.0, cash: float | None = None
) -> int:
    """Shares to add so the position reaches ``weight`` of equity (never negative), capped by cash."""
    _check_positive("equity", equity)
    if not (weight >= 0):
        raise ValueError(f"weight must be >= 0, got {weight}")
    target = shares_for_value(weight * equity, price)
    return cap_shares(
        max(target - int(abs(current_shares)), 0), price, equity=equity, cash=cash, max_leverage=float("inf")
    )


# -- limits ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Exposure:
    """The book as the guard sees it before an order, at current prices.

    ``gross`` is the sum of absolute position values (pending orders included),
    ``position`` the absolute value of the symbol's position, ``sector`` the gross value of
    its sector.
    """

    equity: float
    gross: float = 0.0
    position: float = 0.0
    sector: float = 0.0


def limit_shares(
    shares: int,
    price: float,
    book: Exposure,
    *,
    max_leverage: float = 1.0,
    max_position_weight: float | None = None,
    sector_cap: float | None = None,
) -> tuple[int, str | None]:
    """Shares (that increase a position) allowed by the leverage, position and sector limits.

    Returns ``(allowed, reason)`` where ``reason`` names the binding limit when the order was
    reduced (``max_leverage``, ``max_position_weight`` or ``sector_cap``) and is ``None``
    otherwise. ``allowed`` is in ``[0, shares]``.
    """
    _check_positive("price", price)
    if shares <= 0:
        return 0, None
    if not (book.equity > 0):
        return 0, "no_equity"
    rooms = {"max_leverage": max_leverage * book.equity - book.gross}
    if max_position_weight is not None:
        rooms["max_position_weight"] = max_position_weight * book.equity - book.position
    if sector_cap is not None:
        rooms["sector_cap"] = sector_cap * book.equity - book.sector
    reason = min(rooms, key=rooms.__getitem__)
    allowed = min(int(shares), shares_for_value(rooms[reason], price))
    return (allowed, None) if allowed >= shares else (max(allowed, 0), reason)


def correlation_with_book(candidate: Sequence[float], holdings: np.ndarray, values: Sequence[float]) -> float:
    """Pearson correlation of a candidate's returns with the book's returns.

    ``holdings`` holds the held symbols' returns (rows: periods, columns: symbols) over the
    same periods as ``candidate``; ``values`` their signed position values, which weight the
    book. Returns ``nan`` when it cannot be measured (too short, constant, empty book).
    """
    x = np.asarray(candidate, dtype=float)
    h = np.asarray(holdings, dtype=float)
    v = np.asarray(values, dtype=float)
    if h.ndim == 1:
        h = h[:, None]
    if x.size < 3 or h.shape[0] != x.size or h.shape[1] != v.size or v.size == 0 or not np.any(v):
        return float("nan")
    book = h @ (v / np.abs(v).sum())
    ok = np.isfinite(x) & np.isfinite(book)
    if ok.sum() < 3 or np.std(x[ok]) == 0 or np.std(book[ok]) == 0:
        return float("nan")
    return float(np.corrcoef(x[ok], book[ok])[0, 1])


def correlation_scale(corr: float, limit: float) -> float:
    """Fraction of an order kept under the correlation limit in ``reduce`` mode.

    1 at or below the limit, falling linearly to 0 at a correlation of 1:
    ``(1 - corr) / (1 - limit)``.
    """
    _check_fraction("correlation limit", limit)
    if not math.isfinite(corr) or corr <= limit:
        return 1.0
    if limit >= 1:
        return 1.0
    return float(min(max((1 - corr) / (1 - limit), 0.0), 1.0))


def drawdown(value: float, peak: float) -> float:
    """Fractional drawdown of ``value`` from ``peak`` (0 when at or above the peak)."""
    if not (peak > 0):
        return 0.0
    return max(0.0, 1.0 - value / peak)
