"""Trading costs (:class:`autostock.config.Costs`) through backtrader's commission-info and slippage settings."""

from __future__ import annotations

import backtrader as bt

from autostock.config import Costs


class PerShareCommission(bt.CommInfoBase):
    """``max(minimum, per_share * |size|)`` per order execution (US stock broker style).

    Params: ``per_share`` (0.005), ``minimum`` (1.0).
    """

    params = (
        ("per_share", 0.005),
        ("minimum", 1.0),
        ("stocklike", True),
        ("commtype", bt.CommInfoBase.COMM_FIXED),
    )

    def _getcommission(self, size: float, price: float, pseudoexec: bool) -> float:
        if not size:
            return 0.0
        return max(self.p.minimum, self.p.per_share * abs(size))


def apply_costs(broker: bt.brokers.BackBroker, costs: Costs) -> None:
    """Set ``costs`` (commission and slippage) on backtrader's simulated broker.

    Slippage and half the spread are one price penalty on every fill
    (``slip_perc = slippage% / 100 + spread_bps / 2 / 10_000``), applied to market orders at
    the open too, and capped inside the bar's high/low.
    """
    if costs.per_share:
        broker.addcommissioninfo(PerShareCommission(per_share=costs.per_share, minimum=costs.minimum))
    else:
        broker.setcommission(commission=costs.commission / 100.0, stocklike=True)
    slip = costs.slippage / 100.0 + costs.spread_bps / 2.0 / 10_000.0
    if slip:
        broker.set_slippage_perc(slip, slip_open=True, slip_limit=True, slip_match=True, slip_out=False)
