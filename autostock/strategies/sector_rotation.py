"""Sector rotation: hold the sectors (or their members) with the best momentum against a benchmark."""

from __future__ import annotations

import backtrader as bt

from autostock.errors import ConfigError
from autostock.registry import STRATEGIES
from autostock.strategies.base import BaseStrategy


@STRATEGIES.register("sector_rotation")
class SectorRotation(BaseStrategy):
    """Every ``rebalance`` bars, hold the ``top_n`` feeds whose sector leads the benchmark.

    Formula: ``rel = ln(close / close[-lookback]) - ln(bench / bench[-lookback])``. The
    benchmark is the feed named ``benchmark`` (never traded) or, when absent, the equal-weight
    mean of every feed's log return. With ``by_sector`` each feed scores the mean ``rel`` of
    the loaded feeds in its sector (from the universe table; sector ETFs such as XLK are
    their own sector), so the strongest sectors' members are held. Only ``rel > 0`` qualifies
    when ``absolute`` is set. Exits go first; entries follow once they have filled.

    Params: ``lookback`` (63), ``top_n`` (3), ``rebalance`` (21), ``benchmark`` ("SPY"),
    ``by_sector`` (False), ``absolute`` (True).
    """

    params = (
        ("lookback", 63),
        ("top_n", 3),
        ("rebalance", 21),
        ("benchmark", "SPY"),
        ("by_sector", False),
        ("absolute", True),
    )

    def __init__(self) -> None:
        if self.p.lookback < 1 or self.p.top_n < 1 or self.p.rebalance < 1:
            raise ConfigError(
                f"sector_rotation needs lookback, top_n, rebalance >= 1, got {self.p.lookback}, "
                f"{self.p.top_n}, {self.p.rebalance}"
            )
        from autostock.universe import sectors_for

        names = [d._name for d in self.datas]
        self.bench = next((d for d in self.datas if d._name == self.p.benchmark), None)
        self.tradable = [d for d in self.datas if d is not self.bench]
        if not self.tradable:
            raise ConfigError("sector_rotation needs at least one feed besides the benchmark")
        sec = sectors_for(names)
        self.sector = {d: (d._name if sec.get(d._name, "ETF") == "ETF" else sec[d._name]) for d in self.tradable}
        self.roc = {d: bt.indicators.ROC(d.close, period=self.p.lookback) for d in self.datas}
        self.members: set = set()
        self._bars = 0
        self._entries_due = False

    def slots(self) -> int:
        """Positions held at once: the default sizer gives each ``1 / top_n`` of equity."""
        return min(self.p.top_n, len(self.tradable))

    def relative_scores(self) -> dict:
        """The current relative momentum of every tradable feed with a full lookback."""
        import math

        ready = [d for d in self.tradable if len(d) > self.p.lookback and self.roc[d][0] == self.roc[d][0]]
        logret = {d: math.log1p(self.roc[d][0]) for d in ready}
        if self.bench is not None:
            if len(self.bench) <= self.p.lookback:
                return {}
            base = math.log1p(self.roc[self.bench][0])
        else:
            base = sum(logret.values()) / len(logret) if logret else 0.0
        rel = {d: v - base for d, v in logret.items()}
        if self.p.by_sector:
            by: dict[str, list[float]] = {}
            for d, v in rel.items():
                by.setdefault(self.sector[d], []).append(v)
            rel = {d: sum(by[self.sector[d]]) / len(by[self.sector[d]]) for d in rel}
        return rel

    def state_dict(self) -> dict:
        return {"bars": self._bars, "members": sorted(d._name for d in self.members), "entries_due": self._entries_due}

    def load_state(self, state: dict) -> None:
        by_name = {d._name: d for d in self.tradable}
        self._bars = int(state.get("bars", self._bars))
        self.members = {by_name[n] for n in state.get("members", []) if n in by_name}
        self._entries_due = bool(state.get("entries_due", False))

    def next(self) -> None:
        self._bars += 1
        if (self._bars - 1) % self.p.rebalance == 0:
            rel = self.relative_scores()
            ranked = sorted(rel, key=lambda d: (-rel[d], d._name))
            if self.p.absolute:
                ranked = [d for d in ranked if rel[d] > 0]
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
