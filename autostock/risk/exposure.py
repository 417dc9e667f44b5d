"""The ``exposure`` analyzer: gross / net exposure, leverage and sector weights per bar."""

from __future__ import annotations

from typing import Any

import backtrader as bt

from autostock.registry import ANALYZERS


@ANALYZERS.register("exposure")
class Exposure(bt.Analyzer):
    """Per bar, at the close (after the strategy's orders of that bar are sent)::

        long  = sum of positive position values     short = sum of |negative| ones
        gross = long + short                         net   = long - short
        leverage = gross / equity                    w_sector = sector gross / equity

    ``get_analysis()``: ``max_leverage``, ``max_gross``, ``max_sector_weight`` (sector ->
    highest weight reached), ``max_position_weight``, and ``rows`` (one dict per bar, for
    ``exposure.csv``; columns date, equity, cash, long, short, gross, net, leverage,
    n_positions, max_position_weight, then ``sector_<name>`` per sector).

    Params: ``sectors`` (symbol -> sector; default: the universe's sectors, ``other`` for
    symbols outside it).
    """

    params = (("sectors", None),)

    def start(self) -> None:
        from autostock.universe import sectors_for

        names = [d._name for d in self.strategy.datas]
        mapping = self.p.sectors if self.p.sectors is not None else sectors_for(names)
        self.sector_of = {d: mapping.get(d._name, "other") for d in self.strategy.datas}
        self.sector_names = sorted(set(self.sector_of.values()))
        self.rows: list[dict[str, Any]] = []

    def next(self) -> None:
        strat = self.strategy
        broker = strat.broker
        equity = float(broker.getvalue())
        long = short = 0.0
        biggest = 0.0
        n = 0
        by_sector = dict.fromkeys(self.sector_names, 0.0)
        for d in strat.datas:
            size = broker.getposition(d).size
            if not size or not len(d):
                continue
            value = size * float(d.close[0])
            n += 1
            if value > 0:
                long += value
            else:
                short -= value
            by_sector[self.sector_of[d]] += abs(value)
            biggest = max(biggest, abs(value))
        gross = long + short
        scale = 1.0 / equity if equity > 0 else float("nan")
        row = {
            "date": strat.datetime.date(0).isoformat(),
            "equity": equity,
            "cash": float(broker.getcash()),
            "long": long,
            "short": short,
            "gross": gross,
            "net": long - short,
            "leverage": gross * scale,
            "n_positions": n,
            "max_position_weight": biggest * scale,
        }
        row.update({f"sector_{s}": v * scale for s, v in by_sector.items()})
        self.rows.append(row)

    def get_analysis(self) -> dict[str, Any]:
        rows = self.rows
        peak = lambda key: max((r[key] for r in rows if r[key] == r[key]), default=0.0)  # noqa: E731
        return {
            "max_leverage": peak("leverage"),
            "max_gross": peak("gross"),
            "max_position_weight": peak("max_position_weight"),
            "max_sector_weight": {s: peak(f"sector_{s}") for s in self.sector_names},
            "rows": rows,
        }
