"""Portfolio risk: the order guard, protective stops, the drawdown kill switch, exposure.

The engine calls :func:`install` when a run has risk settings; the guard then sees every
order a :class:`~autostock.strategies.base.BaseStrategy` sends, in every mode.
"""

from __future__ import annotations

from typing import Any

from autostock.risk.guard import RiskGuard
from autostock.risk.settings import RiskSettings, parse_risk


def settings_for(spec: Any) -> RiskSettings:
    """Validated risk settings of ``spec`` (its ``risk`` table plus the strategy's ``risk_defaults``)."""
    from autostock.registry import STRATEGIES

    defaults = None
    try:
        defaults = getattr(STRATEGIES.get(spec.strategy), "risk_defaults", None)
    except Exception:  # an unknown strategy is reported by the engine, not here
        defaults = None
    return parse_risk(spec.risk, strategy=spec.strategy, strategy_defaults=defaults)


def install(cerebro: Any, spec: Any, market: Any) -> RiskGuard:
    """Add the risk monitor and exposure analyzers to ``cerebro`` and set ``cerebro.autostock_guard``.

    Parameters
    ----------
    cerebro
        The Cerebro being assembled (feeds already added).
    spec
        The RunSpec; its ``risk`` dict is validated here (ConfigError names a bad value).
    market
        The Market; its ``sectors`` (symbol -> sector) drive sector caps, completed from the universe.
    """
    from autostock.risk.exposure import Exposure
    from autostock.risk.monitor import RiskMonitor
    from autostock.universe import sectors_for

    settings = settings_for(spec)
    names = [d._name for d in cerebro.datas]
    sectors = {**sectors_for(names), **{k: v for k, v in (getattr(market, "sectors", None) or {}).items() if v != "Other"}}
    sectors = {n: sectors.get(n, "other") for n in names}
    guard = RiskGuard(settings, sectors)
    cerebro.autostock_guard = guard
    if not isinstance(getattr(cerebro, "autostock_events", None), list):
        cerebro.autostock_events = []
    cerebro.addanalyzer(RiskMonitor, _name="risk_guard", guard=guard)
    if "exposure" not in (getattr(spec, "analyzers", None) or []):
        cerebro.addanalyzer(Exposure, _name="exposure", sectors=sectors)
    return guard


__all__ = ["RiskGuard", "RiskSettings", "install", "parse_risk", "settings_for"]
