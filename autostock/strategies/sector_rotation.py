"""Sector rotation: hold the sectors (or their members) with the best momentum against a benchmark."""

from __future__ import annotations

from autostock.errors import ConfigError
from autostock.registry import STRATEGIES
from autostock.strategies.momentum import Momentum


@STRATEGIES.register("sector_rotation")
class SectorRotation(Momentum):
    """Every ``rebalance`` bars, hold the ``top_n`` feeds whose sector leads the benchmark.

    Formula: ``rel = ln(close / close[-lookback]) - ln(bench / bench[-lookback])``. The
    benchmark is the feed named ``benchmark`` (never traded) or, when absent, the equal-weight
    mean of every feed's log return. With ``by_sector`` each feed scores the mean ``rel`` of
    the loaded feeds in its sector (from the universe table; sector ETFs such as XLK are
    their own sector), so the strongest sectors' members are held. Only ``rel > 0`` qualifies
    when ``absolute`` is set. Exits go first; entries follow once they have filled (the
    rebalancing of :class:`~autostock.strategies.momentum.Momentum`, ranked by ``rel``).

    Params: ``lookback`` (63), ``top_n`` (3), ``rebalance`` (21), ``benchmark`` ("SPY"),
    ``by_sector`` (False), ``absolute`` (True).
    """

    params = (
        ("lookback", 63),
        ("benchmark", "SPY"),
        ("by_sector", False),
    )
    label = "sector_rotation"

    def __init__(self) -> None:
        super().__init__()
        from autostock.universe import sectors_for

        self.bench = next((d for d in self.datas if d._name == self.p.benchmark), None)
        self.tradable = [d for d in self.datas if d is not self.bench]
        if not self.tradable:
            raise ConfigError("sector_rotation needs at least one feed besides the benchmark")
        sec = sectors_for([d._name for d in self.datas])
        self.sector = {d: (d._name if sec.get(d._name, "ETF") == "ETF" else sec[d._name]) for d in self.tradable}

    def current_scores(self) -> dict:
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
