"""One-cancels-others, emulated as backtrader's simulated broker does it.

The first fill (partial or whole) of an order in a group cancels the group's other live
orders at Alpaca, so protective exits such as a stop-loss and a take-profit never both fill.
"""

from __future__ import annotations

import backtrader as bt


class OcoGroups:
    """backtrader OCO groups by order ref."""

    def __init__(self) -> None:
        self._groups: dict[int, list[bt.Order]] = {}

    def add(self, order: bt.Order) -> None:
        """Register ``order`` (no-op unless it names an ``oco`` order)."""
        if order.oco is None:
            return
        group = self._groups.setdefault(order.oco.ref, [order.oco])
        group.append(order)
        self._groups[order.ref] = group

    def to_cancel(self, filled: bt.Order) -> list[bt.Order]:
        """The live orders to cancel now that ``filled`` has (partly) filled; the group is closed."""
        group = self._groups.pop(filled.ref, None)
        if not group:
            return []
        for other in group:
            self._groups.pop(other.ref, None)
        return [o for o in group if o is not filled and o.alive()]
