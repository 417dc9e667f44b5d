"""RiskMonitor: the analyzer that drives the guard's kill switch and protective stops."""

from __future__ import annotations

from typing import Any

import backtrader as bt

from autostock.risk.guard import RiskGuard


class RiskMonitor(bt.Analyzer):
    """Feeds the guard every bar's portfolio value (before the strategy's ``next()``, so a
    drawdown breach on bar t flattens at bar t+1's open and no entry is sent on bar t) and
    every order notification (to place stops on fills). Observes nothing else.

    ``get_analysis()``: ``refusals`` and ``reductions`` by reason, ``stops`` fired by kind,
    ``events`` (kill switch, resumes, stop fills) and ``log`` (one row per refusal/reduction).

    Params: ``guard`` (the :class:`RiskGuard`).
    """

    params = (("guard", None),)

    def start(self) -> None:
        if not isinstance(self.p.guard, RiskGuard):
            raise TypeError("RiskMonitor needs guard=<RiskGuard>")
        self.guard: RiskGuard = self.p.guard
        self.guard.reset()

    def notify_cashvalue(self, cash: float, value: float) -> None:
        self.guard.on_bar(self.strategy, value)

    def notify_order(self, order: bt.Order) -> None:
        self.guard.on_order(self.strategy, order)

    def stop(self) -> None:
        events = getattr(self.strategy.env, "autostock_events", None)
        if isinstance(events, list):
            for ev in self.guard.events:
                if ev["type"].startswith("kill_switch"):
                    label = ("kill switch" if ev["type"] == "kill_switch" else "resume")
                    if "drawdown" in ev:
                        label += f" (-{100 * ev['drawdown']:.1f}%)"
                    events.append({**ev, "label": label})

    def get_analysis(self) -> dict[str, Any]:
        g = self.guard
        return {
            "refusals": dict(sorted(g.refusals.items())),
            "reductions": dict(sorted(g.reductions.items())),
            "stops": dict(sorted(g.stops_fired.items())),
            "events": list(g.events),
            "log": list(g.log),
        }
