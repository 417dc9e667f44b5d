"""The run context: what the plugins of one run share, created by :func:`autostock.engine.build_cerebro`.

One :class:`RunContext` per assembled Cerebro holds the run's :class:`~autostock.config.RunSpec`,
its risk guard (``None`` without risk settings), the symbol -> sector map and the event log
(kill-switch events and the like, shown on the equity chart). It travels explicitly:

* strategies derived from :class:`~autostock.strategies.base.BaseStrategy` receive it as their
  ``context`` param (set by the builder; never a user setting) and read it as ``self.context``;
* sizers and analyzers read it from their strategy with :func:`context_of`;
* the risk analyzers get the guard and the context as params.

Nothing is ever stored on the Cerebro.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - types only; keeps this module free of backtrader
    from autostock.config import RunSpec
    from autostock.risk.guard import RiskGuard

#: strategy params the builder sets; a user cannot (``--param context=...`` is refused)
RESERVED_PARAMS: tuple[str, ...] = ("context",)


@dataclass
class RunContext:
    """What the plugins of one run share.

    Parameters
    ----------
    spec
        The run's settings.
    guard
        The risk guard orders pass through, or ``None`` when the run has no risk settings.
    sectors
        Symbol -> sector for the run's symbols (sector caps, exposure report).
    events
        Notable events in run order (dicts with at least ``type`` and ``date``).
    bar_columns
        ``bar_columns(symbol, index) -> DataFrame``: extra per-bar columns that served predictors
        (``ml_signal``'s model, ``rl_policy``'s observation builder) join onto the OHLCV bars of
        their feed before computing features: live, the news a session knows
        (:class:`autostock.live.news.LiveNews`); in a backtest, the columns already on the
        loaded bars beyond OHLCV (news, options, sectors, quotes: :func:`market_columns`);
        ``None`` when the bars carry nothing else.
    """

    spec: RunSpec
    guard: RiskGuard | None = None
    sectors: dict[str, str] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    bar_columns: Callable[[str, Any], Any] | None = None


def context_of(strategy: Any) -> RunContext | None:
    """The :class:`RunContext` of the run ``strategy`` belongs to (``None`` outside a built run).

    Sizers call ``context_of(self.strategy)``; analyzers the same.
    """
    params = getattr(strategy, "p", None)
    ctx = getattr(params, "context", None)
    return ctx if isinstance(ctx, RunContext) else None


OHLCV_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "volume")


def market_columns(bars: dict[str, Any]) -> Callable[[str, Any], Any] | None:
    """A ``bar_columns`` provider over the loaded bars' columns beyond OHLCV (None when there are none).

    The provider returns those columns of ``symbol`` on ``index`` (a bar absent from the loaded
    bars gets NaN): the same values a model was trained on, for the bars a feed replays.
    """
    extra = {s: [c for c in df.columns if c not in OHLCV_COLUMNS] for s, df in bars.items()}
    if not any(extra.values()):
        return None

    def columns(symbol: str, index: Any) -> Any:
        import pandas as pd

        cols = extra.get(symbol)
        return bars[symbol].reindex(index=index, columns=cols) if cols else pd.DataFrame(index=index)

    return columns


def join_bar_columns(frame: Any, provider: Callable[[str, Any], Any] | None, symbol: str) -> Any:
    """``frame`` (OHLCV bars of ``symbol``) joined with ``provider``'s columns on its index; the
    frame's own columns win a clash. ``frame`` itself when there is no provider."""
    if provider is None:
        return frame
    extra = provider(symbol, frame.index)
    return frame.join(extra.drop(columns=[c for c in extra.columns if c in frame.columns]))
