"""The account, costs and fills of the RL environment: backtrader's simulated broker, restated.

The environment must trade in the same market as the backtest, so this module restates, without
backtrader, what :func:`autostock.costs.apply_costs` configures and what backtrader's
``BackBroker`` does with a market order (checked by ``tests/rl/test_rl_parity.py``):

* the decision at bar t is sized on the close of t: ``target = trunc(w * equity_t / close_t)``
  shares, ``delta = target - shares`` (see :func:`plan_order`);
* a buy is cut to what the cash pays for at ``close_t * (1 + slip + GAP_BUFFER)`` with its
  commission, so a slipped fill after a gap up of up to 2 % still finds the cash;
* it fills at the open of bar t+1 moved by ``slip = slippage% / 100 + spread_bps / 2 / 10_000``
  (up for buys, down for sells) and capped inside the bar's high / low;
* commission: ``commission% / 100 * |size| * price``, or ``max(minimum, per_share * |size|)``,
  charged separately on the part that closes a position and the part that opens one;
* cash: ``cash -= size * fill_price + commission`` (stock-like, short sales credit cash); the
  opening part is dropped when it would leave negative cash at the fill (backtrader does the
  same: a gap up at the open can void a buy sized on the close); equity ``= cash + shares * close``.

A new target weight trades only when it differs from the last traded target by more than
``band`` (holding a target never re-trades the drift); when the fill was cut for cash, the
next bar trades again.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from autostock.errors import ConfigError


@dataclass(frozen=True)
class CostModel:
    """Commission, slippage and spread, with the fields and meaning of :class:`autostock.config.RunSpec`."""

    commission: float = 0.0  # percent of traded value
    commission_per_share: float = 0.0  # replaces the percent commission when set
    commission_min: float = 0.0  # per order, with a per-share commission
    slippage: float = 0.0  # percent of price per fill
    spread_bps: float = 0.0  # full spread; half charged per fill

    def __post_init__(self) -> None:
        for name in ("commission", "commission_per_share", "commission_min", "slippage", "spread_bps"):
            value = getattr(self, name)
            if not (value >= 0):
                raise ConfigError(f"cost {name} must be >= 0, got {value}")

    @classmethod
    def from_spec(cls, spec: Any) -> CostModel:
        """The costs of a :class:`~autostock.config.RunSpec` (or anything with its cost fields)."""
        return cls(
            float(spec.commission),
            float(spec.commission_per_share),
            float(spec.commission_min),
            float(spec.slippage),
            float(spec.spread_bps),
        )

    @property
    def slip(self) -> float:
        return self.slippage / 100.0 + self.spread_bps / 2.0 / 10_000.0

    def fee(self, size: float, price: float) -> float:
        """Commission of one execution of ``size`` shares at ``price``."""
        if not size:
            return 0.0
        if self.commission_per_share:
            return max(self.commission_min, self.commission_per_share * abs(size))
        return abs(size) * price * self.commission / 100.0

    def fill_price(self, is_buy: bool, open_: float, high: float, low: float) -> float:
        """The open moved by the slippage against the order, capped inside the bar."""
        if is_buy:
            return min(open_ * (1.0 + self.slip), high) if self.slip else open_
        return max(open_ * (1.0 - self.slip), low) if self.slip else open_

    def to_dict(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass
class Account:
    """Cash, shares and the average entry price of the open position."""

    cash: float
    shares: int = 0
    entry_price: float = 0.0

    def equity(self, price: float) -> float:
        return self.cash + self.shares * price

    def weight(self, price: float) -> float:
        eq = self.equity(price)
        return self.shares * price / eq if eq > 0 else 0.0

    def unrealised(self, price: float) -> float:
        """Unrealised P&L of the open position as a fraction of equity."""
        eq = self.equity(price)
        return self.shares * (price - self.entry_price) / eq if eq > 0 and self.shares else 0.0

    def apply_fill(self, delta: int, price: float, fee: Callable[[float, float], float]) -> tuple[int, float]:
        """Execute ``delta`` shares (positive buys) at ``price`` as backtrader's broker does.

        The part that closes an open position executes first, paying ``fee(closed, price)``;
        the part that opens (or adds to) a position pays ``fee(opened, price)`` and is dropped
        when it would leave negative cash. Returns (shares executed, commission paid).
        """
        if not delta:
            return 0, 0.0
        closing = 0
        if self.shares and (self.shares > 0) != (delta > 0):
            closing = int(math.copysign(min(abs(delta), abs(self.shares)), delta))
        opening = delta - closing
        paid = 0.0
        if closing:
            c = fee(closing, price)
            self.cash -= closing * price + c
            paid += c
            self.shares += closing
            if self.shares == 0:
                self.entry_price = 0.0
        if opening:
            c = fee(opening, price)
            left = self.cash - opening * price - c
            if left >= 0:
                new = self.shares + opening
                self.entry_price = (self.entry_price * self.shares + price * opening) / new
                self.cash = left
                self.shares = new
                paid += c
            else:
                opening = 0
        return closing + opening, paid


def target_shares(weight: float, equity: float, price: float) -> int:
    """Shares that put ``weight`` of ``equity`` into the symbol at ``price`` (truncated toward 0)."""
    if not (price > 0) or not math.isfinite(weight) or not (equity > 0):
        return 0
    return int(weight * equity / price)


GAP_BUFFER = 0.02  # buys keep cash for a 2 % gap up at the next open (besides the slippage)


def plan_order(
    account: Account, weight: float, close: float, fee: Callable[[float, float], float], price_buffer: float = 0.0
) -> int:
    """Shares to trade at the next open so the position is ``weight`` of equity (0: nothing).

    ``fee(size, price)`` is the commission function (``CostModel.fee`` in the environment, the
    broker's commission info in backtrader). A buy that would leave negative cash at
    ``close * (1 + price_buffer)`` is cut to the largest size that passes (the environment and
    ``rl_policy`` pass ``slip + GAP_BUFFER``, so a fill at a slipped, gapped-up open still finds
    the cash; backtrader would void the opening part otherwise).
    """
    delta = target_shares(weight, account.equity(close), close) - account.shares
    if delta <= 0:
        return delta

    price = close * (1.0 + price_buffer)

    def cash_left(d: int) -> float:
        return account.cash - d * price - fee(d, price)

    if cash_left(delta) >= 0:
        return delta
    lo, hi = 0, delta  # cash_left is decreasing in d: bisect the largest passing size
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if cash_left(mid) >= 0:
            lo = mid
        else:
            hi = mid - 1
    return lo


class Rebalancer:
    """Turns a stream of target weights into orders: trade only when the target moves by > ``band``."""

    def __init__(self, band: float = 0.0) -> None:
        if not (band >= 0):
            raise ConfigError(f"rebalance band must be >= 0, got {band}")
        self.band = float(band)
        self.last: float | None = None

    def wants_trade(self, weight: float) -> bool:
        if not math.isfinite(weight):
            return False
        return not (self.last is not None and abs(weight - self.last) <= self.band + 1e-12)

    def traded(self, weight: float) -> None:
        self.last = float(weight)

    def retry(self) -> None:
        """Forget the last target (its order was cut at the fill): the next bar trades again."""
        self.last = None


def clip_weight(weight: float, max_leverage: float) -> float:
    """``weight`` limited to ``[-max_leverage, max_leverage]``."""
    return float(min(max(weight, -max_leverage), max_leverage))
