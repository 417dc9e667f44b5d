"""Portfolio risk: the order guard, protective stops, the drawdown kill switch, exposure.

The engine calls :func:`install` when a run has risk settings; the guard (held by the run's
:class:`~autostock.context.RunContext`) then sees every order a
:class:`~autostock.strategies.base.BaseStrategy` sends, in every mode. The strategy base drives
the guard's acting part (kill switch, trims, protective stops); the ``risk_guard`` analyzer
(:class:`~autostock.risk.monitor.RiskMonitor`) only reports what it did.
"""

from __future__ import annotations

from typing import Any

from autostock.context import RunContext
from autostock.risk.guard import RiskGuard
from autostock.risk.settings import RiskSettings, parse_risk


def settings_for(spec: Any) -> RiskSettings:
    """Validated risk settings of ``spec`` (its ``risk`` table over the strategy's ``risk_defaults``).

    Validated once per spec and kept (:meth:`autostock.config.RunSpec.risk_settings`).
    """
    return spec.risk_settings()


def install(cerebro: Any, context: RunContext, market: Any, settings: RiskSettings | None = None) -> RiskGuard:
    """Create the run's risk guard in ``context`` and add the risk and exposure analyzers.

    Parameters
    ----------
    cerebro
        The Cerebro being assembled (feeds already added).
    context
        The run's :class:`~autostock.context.RunContext`; its ``spec.risk`` is validated here
        (ConfigError names a bad value) and its ``guard`` and ``sectors`` are set.
    market
        The Market; its ``sectors`` (symbol -> sector) drive sector caps, completed from the universe.
    settings
        The run's validated risk settings (default: :func:`settings_for` the context's spec).
    """
    from autostock.risk.exposure import Exposure
    from autostock.risk.monitor import RiskMonitor
    from autostock.universe import sectors_for

    spec = context.spec
    settings = settings if settings is not None else settings_for(spec)
    names = [d._name for d in cerebro.datas]
    sectors = {
        **sectors_for(names),
        **{k: v for k, v in (getattr(market, "sectors", None) or {}).items() if v != "Other"},
    }
    sectors = {n: sectors.get(n, "other") for n in names}
    guard = RiskGuard(settings, sectors)
    context.guard = guard
    context.sectors = sectors
    cerebro.addanalyzer(RiskMonitor, _name="risk_guard", guard=guard, context=context)
    if "exposure" not in (getattr(spec, "analyzers", None) or []):
        cerebro.addanalyzer(Exposure, _name="exposure", sectors=sectors)
    return guard


__all__ = ["RiskGuard", "RiskSettings", "install", "parse_risk", "settings_for"]
