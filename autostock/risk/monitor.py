"""RiskMonitor: the analyzer that reports what the risk guard did (it observes only).

The acting part (kill switch, trims, protective stops) is driven by
:class:`~autostock.strategies.base.BaseStrategy`, which feeds the guard every bar's value and
every order notification.
"""

from __future__ import annotations

from typing import Any

import backtrader as bt

from autostock.context import RunContext
from autostock.risk.guard import RiskGuard


class RiskMonitor(bt.Analyzer):
    """Reports the guard's refusals, reductions, stops and kill-switch events; acts on nothing.

    ``get_analysis()``: ``refusals`` and ``reductions`` by reason, ``stops`` fired by kind,
    ``events`` (kill switch, resumes, stop fills) and ``log`` (one row per refusal/reduction).
    At the end of the run the kill-switch events are copied, labelled, to the run context's
    event log (for the equity chart).

    Params: ``guard`` (the :class:`RiskGuard`), ``context`` (the run's
    :class:`~autostock.context.RunContext`, optional).
    """

    params = (("guard", None), ("context", None))

    def start(self) -> None:
        if not isinstance(self.p.guard, RiskGuard):
            raise TypeError("RiskMonitor needs guard=<RiskGuard>")
        self.guard: RiskGuard = self.p.guard

    def stop(self) -> None:
        context = self.p.context
        if isinstance(context, RunContext):
            for ev in self.guard.events:
                if ev["type"].startswith("kill_switch"):
                    label = "kill switch" if ev["type"] == "kill_switch" else "resume"
                    if "drawdown" in ev:
                        label += f" (-{100 * ev['drawdown']:.1f}%)"
                    context.events.append({**ev, "label": label})

    def get_analysis(self) -> dict[str, Any]:
        g = self.guard
        return {
            "refusals": dict(sorted(g.refusals.items())),
            "reductions": dict(sorted(g.reductions.items())),
            "stops": dict(sorted(g.stops_fired.items())),
            "events": list(g.events),
            "log": list(g.log),
        }
