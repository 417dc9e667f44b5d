"""Base classes every autostock strategy derives from.

A strategy decides; it never sizes, reads config, does I/O or talks to a broker beyond
backtrader's order API. Orders go through :meth:`BaseStrategy.buy` / :meth:`BaseStrategy.sell`,
which hand them to a risk guard when the engine installed one (the run context's ``guard``),
so risk limits apply unchanged in backtests, Monte Carlo paths, walk-forward folds and live.

The base also drives the guard's acting part: it hands the guard every bar's portfolio value
(before ``next()``, so a drawdown breach on bar t flattens at bar t+1's open) and every order
notification (to place protective stops after fills). This happens in backtrader's
notification step, after the strategy's own ``notify_order`` and the analyzers, so a subclass
that overrides ``notify_order`` without calling ``super()`` keeps its stops and kill switch.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import backtrader as bt

from autostock.context import RunContext

TERMINAL = (bt.Order.Completed, bt.Order.Canceled, bt.Order.Margin, bt.Order.Rejected, bt.Order.Expired)


class BaseStrategy(bt.Strategy):
    """Base strategy: guarded order submission, the risk guard's acting part and per-data
    pending-order bookkeeping.

    Params: ``context`` (the run's :class:`~autostock.context.RunContext`, set by the engine's
    builder; not a user setting).
    """

    params: Any = (("context", None),)

    @property
    def context(self) -> RunContext | None:
        """The run context the engine created for this run (``None`` outside a built run)."""
        ctx = self.p.context
        return ctx if isinstance(ctx, RunContext) else None

    @property
    def guard(self) -> Any:
        """The run's risk guard, or ``None`` when the run has no risk settings."""
        ctx = self.context
        return ctx.guard if ctx is not None else None

    # -- the guard's acting part (backtrader hooks) ----------------------------------------
    def _start(self) -> None:
        guard = self.guard
        if guard is not None:
            guard.reset()
        super()._start()
        self._check_warmup()

    def _check_warmup(self) -> None:
        """Refuse preloaded data shorter than the indicators' warm-up (backtrader's batch mode
        would fail inside an indicator with an IndexError)."""
        cerebro = self.cerebro
        if not (getattr(cerebro, "_dorunonce", False) and getattr(cerebro, "_dopreload", False)):
            return
        for data, needed in zip(self.datas, self._minperiods):
            have = data.buflen()
            if have < needed:
                from autostock.errors import ConfigError

                raise ConfigError(
                    f"{data._name}: {have} bar(s) in the run, fewer than the {needed} that "
                    f"{type(self).__name__}'s indicators need to warm up; give a longer date range"
                )

    def _notify(self, qorders: list = [], qtrades: list = []) -> None:  # noqa: B006 - backtrader's signature
        super()._notify(qorders, qtrades)
        guard = self.guard
        if guard is None:
            return
        for order in qorders if self.cerebro.p.quicknotify else self._orderspending:
            guard.on_order(self, order)
        if qorders:
            return  # backtrader notifies the value once per bar, without orders
        guard.on_bar(self, self.broker.getvalue())

    # -- orders ------------------------------------------------------------------------------
    def _guarded(self, submit: Any, data: Any, size: Any, is_buy: bool, kwargs: dict) -> bt.Order | None:
        data = data if data is not None else self.datas[0]
        guard = self.guard
        if guard is None:
            order = submit(data=data, size=size, **kwargs)
        else:
            order = guard.submit(self, submit, data, size, is_buy, kwargs)
        if order is not None:
            self._pending_orders()[order.data] = order
        return order

    def buy(self, data: Any = None, size: float | None = None, **kwargs: Any) -> bt.Order | None:
        return self._guarded(super().buy, data, size, True, kwargs)

    def sell(self, data: Any = None, size: float | None = None, **kwargs: Any) -> bt.Order | None:
        return self._guarded(super().sell, data, size, False, kwargs)

    def _pending_orders(self) -> dict:
        pending = self.__dict__.get("_autostock_pending")
        if pending is None:
            pending = self.__dict__["_autostock_pending"] = {}
        return pending

    def pending(self, data: Any) -> bool:
        """True while an order for ``data`` is alive (submitted, accepted or partially filled)."""
        order = self._pending_orders().get(data)
        return order is not None and order.alive()

    def notify_order(self, order: bt.Order) -> None:
        if order.status in TERMINAL:
            pending, data = self._pending_orders(), order.data
            current = pending.get(data)
            # backtrader's simulated broker notifies clones: the same order is the same ref
            if current is not None and (current is order or current.ref == order.ref):
                del pending[data]

    def state_dict(self) -> dict[str, Any]:
        """JSON-serialisable state that live trading saves after every bar (default: none).

        Indicators rebuild from the backfill on a restart; override this for what they cannot
        rebuild (a rebalance clock, a book of chosen members).
        """
        return {}

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned; called once after a restart's backfill."""

    @classmethod
    def param_namespace(cls, **overrides: Any) -> SimpleNamespace:
        """The strategy's params with defaults, overridden by ``overrides`` (for signal builders)."""
        from autostock.context import RESERVED_PARAMS

        values = {k: v for k, v in cls.params._getitems() if k not in RESERVED_PARAMS}
        unknown = set(overrides) - set(values)
        if unknown:
            from autostock.errors import ConfigError

            raise ConfigError(
                f"unknown param(s) {', '.join(sorted(unknown))} for {cls.__name__}; valid: {', '.join(sorted(values))}"
            )
        values.update(overrides)
        return SimpleNamespace(**values)


class SignalStrategy(BaseStrategy):
    """A strategy whose desired position per data is a signal line.

    ``signal(data, p)`` builds an indicator whose value is the desired position: ``+1`` long,
    ``-1`` short, ``0`` flat (``-1`` becomes flat unless ``allow_short``). ``next()`` moves each
    data toward its desired position through the sizer: close first, enter on a later bar.
    Other strategies (e.g. an ensemble) can build the same signals with ``cls.signal``.
    """

    params: Any = (("allow_short", False),)

    def __init__(self) -> None:
        self.signals = {d: self.signal(d, self.p) for d in self.datas}

    @classmethod
    def signal(cls, data: Any, p: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError(f"{cls.__name__} must implement signal(data, p)")

    def desired(self, data: Any) -> int:
        value = self.signals[data][0]
        if value != value:  # NaN during warm-up
            return 0
        if value > 0:
            return 1
        if value < 0 and self.p.allow_short:
            return -1
        return 0

    def _signal_rows(self) -> list[tuple[Any, Any]]:
        """``(data, signal line)`` per data in ``self.datas`` order, built on the first bar: the
        line is the signal's first line (what ``signal[0]`` reads), so that a bar reads it
        without going through the indicator."""
        rows = self.__dict__.get("_autostock_rows")
        if rows is None:
            rows = []
            for d in self.datas:
                sig = self.signals[d]
                rows.append((d, sig.lines[0] if isinstance(sig, bt.LineMultiple) else sig))
            self.__dict__["_autostock_rows"] = rows
            self.__dict__["_autostock_direct"] = all(type(line).__getitem__ is _LB_GETITEM for _, line in rows)
            self.__dict__["_autostock_waiting"] = True
        return rows

    def next(self) -> None:
        # Per bar and data, the same decisions as ``desired`` and ``broker.getposition`` give,
        # with the lookups hoisted: the signal line read in place, the simulated broker's
        # positions read from its dict, the data-started test only until every data started.
        rows = self._signal_rows()
        state = self.__dict__
        direct = state["_autostock_direct"]
        waiting = state["_autostock_waiting"]
        pending = self._pending_orders()
        broker = self.broker
        positions = broker.positions if type(broker).getposition is _BACK_GETPOSITION else None  # type: ignore[attr-defined]
        position = broker.getposition  # any broker (simulated or live)
        custom = type(self).desired is not SignalStrategy.desired
        short = self.p.allow_short
        for d, line in rows:
            if pending:
                order = pending.get(d)
                if order is not None and order.alive():
                    continue
            if waiting and len(d) == 0:
                continue
            if custom:
                want = self.desired(d)
            else:
                value = line.array[line._idx] if direct else line[0]
                if value > 0:
                    want = 1
                elif value < 0 and short:
                    want = -1
                else:
                    want = 0  # also NaN during warm-up
            size = positions[d].size if positions is not None else position(d).size
            have = (size > 0) - (size < 0)
            if want == have:
                continue
            if have != 0:
                self.close(data=d)
            elif want > 0:
                self.buy(data=d)
            else:
                self.sell(data=d)
        if waiting:
            state["_autostock_waiting"] = any(len(d) == 0 for d, _ in rows)


_LB_GETITEM = bt.LineBuffer.__getitem__
_BACK_GETPOSITION = bt.brokers.BackBroker.getposition
