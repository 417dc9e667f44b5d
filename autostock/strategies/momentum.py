"""Cross-sectional momentum rotation."""

from __future__ import annotations

from typing import Any

import backtrader as bt

from autostock.errors import ConfigError
from autostock.registry import STRATEGIES
from autostock.strategies.base import BaseStrategy


@STRATEGIES.register("momentum")
class Momentum(BaseStrategy):
    """Every ``rebalance`` bars, hold the ``top_n`` symbols with the best trailing return.

    Formula: ``score = close / close[-lookback] - 1``; symbols ranked by score (ties by
    name); only positive scores qualify when ``absolute`` is set. Exits are sent first;
    entries for new members follow on the next bar once exits have filled.

    Params: ``lookback`` (126), ``top_n`` (3), ``rebalance`` (21), ``absolute`` (True).
    """

    params: Any = (("lookback", 126), ("top_n", 3), ("rebalance", 21), ("absolute", True))

    label = "momentum"  # for messages; subclasses (sector_rotation) rank by other scores

    def __init__(self) -> None:
        if self.p.lookback < 1 or self.p.top_n < 1 or self.p.rebalance < 1:
            raise ConfigError(
                f"{self.label} needs lookback, top_n, rebalance >= 1, got {self.p.lookback}, {self.p.top_n}, "
                f"{self.p.rebalance}"
            )
        self.roc = {d: bt.indicators.ROC(d.close, period=self.p.lookback) for d in self.datas}
        self.tradable: list = list(self.datas)
        self.members: set = set()
        self._bars = 0
        self._entries_due = False

    def slots(self) -> int:
        """Positions held at once: the default sizer gives each ``1 / top_n`` of equity."""
        return min(self.p.top_n, len(self.tradable))

    def current_scores(self) -> dict:
        """The score of every tradable feed with a full lookback (the trailing return)."""
        return {
            d: self.roc[d][0] for d in self.tradable if len(d) > self.p.lookback and self.roc[d][0] == self.roc[d][0]
        }

    def state_dict(self) -> dict:
        """The rebalance clock and the chosen members survive a live restart."""
        return {"bars": self._bars, "members": sorted(d._name for d in self.members), "entries_due": self._entries_due}

    def load_state(self, state: dict) -> None:
        by_name = {d._name: d for d in self.tradable}
        self._bars = int(state.get("bars", self._bars))
        self.members = {by_name[n] for n in state.get("members", []) if n in by_name}
        self._entries_due = bool(state.get("entries_due", False))

    def next(self) -> None:
        self._bars += 1
        if (self._bars - 1) % self.p.rebalance == 0:
            scores = self.current_scores()
            ranked = sorted(scores, key=lambda d: (-scores[d], d._name))
            if self.p.absolute:
                ranked = [d for d in ranked if scores[d] > 0]
            self.members = set(ranked[: self.p.top_n])
            for d in self.tradable:
                if d not in self.members and self.getposition(d).size and not self.pending(d):
                    self.close(data=d)
            self._entries_due = True
        if self._entries_due and not any(self.pending(d) for d in self.tradable):
            for d in sorted(self.members, key=lambda d: d._name):
                if not self.getposition(d).size:
                    self.buy(data=d)
            self._entries_due = False
