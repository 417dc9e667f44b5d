"""REST reconciliation during a session (the work a :class:`~autostock.live.sync.Syncer` schedules)
and the equity kill switch of :class:`~autostock.live.broker.AlpacaBroker`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pandas as pd

from autostock.live.data import live_bars as _live_bars

if TYPE_CHECKING:
    from autostock.live.killswitch import KillSwitch
    from autostock.live.state import StateDB
    from autostock.live.store import AlpacaStore
    from autostock.live.sync import Syncer

log = logging.getLogger(__name__)


class RestSync:
    """Mixin: REST poll and catch-up, equity snapshots, the drawdown flatten."""

    # Attributes and methods that live on the broker (AlpacaBroker); declared for type checking only.
    p: Any
    state: StateDB
    store: AlpacaStore
    sync: Syncer
    killswitch: KillSwitch
    cash: float
    datas: dict[str, Any]
    _last_bar_key: tuple | None
    backfilling: Callable[[], bool]
    getvalue: Callable[..., float]
    sync_account: Callable[[], None]
    _update_marks: Callable[[dict[str, dict]], None]
    outside_change: Callable[[str, float, float, str], None]
    halted_reason: str | None

    if TYPE_CHECKING:

        def apply_order(self, o: dict, event: dict | None, source: str) -> bool: ...

    def sync_with_broker(self, full: bool) -> None:
        """Open orders and positions by REST (``full``: after a reconnect, the account too).

        Raises on a failed read (the :class:`Syncer` retries). A fill found here that the
        stream never delivered marks the trade-updates stream stale.
        """
        rows = self.state.open_orders()
        # own orders in flight, or filled moments ago: a position read may not show them yet
        busy = {r["symbol"] for r in rows} | self.state.symbols_filled_since(time.time() - self.p.stream_grace)
        positions = self.store.positions()
        listed = {str(o["id"]): o for o in self.store.open_orders(sorted({r["symbol"] for r in rows}))} if rows else {}
        missed: list[str] = []
        for row in rows:
            o = listed.get(row["alpaca_id"] or "")
            if o is None:
                o = (
                    self.store.order(row["alpaca_id"])
                    if row["alpaca_id"]
                    else self.store.order_by_client_id(row["cid"])
                )
            if o is None:
                continue
            if self.apply_order(o, None, source="rest"):
                busy.add(row["symbol"])
                if not full and self._late(o):
                    missed.append(row["cid"])
        self._update_marks(positions)
        recorded = self.state.positions()
        for sym in sorted(set(recorded) | (set(self.datas) & set(positions))):
            if sym in busy:
                continue  # own orders in flight: their fills may not have reached one side yet
            have = float(positions.get(sym, {}).get("qty") or 0.0)
            self.outside_change(
                sym, have, float(positions.get(sym, {}).get("avg_entry_price") or 0.0), "broker position read by REST"
            )
        if missed:
            msg = (
                f"trade-updates stream connected but silent: REST found fill(s) of {', '.join(missed)} it never "
                "delivered; applied from REST"
            )
            self.state.event("stale-stream", msg, level="warning")
            self.store.report_stale("trade", msg)
        if full:
            self.sync_account()
            self.state.event("catchup", f"REST catch-up after reconnect: {len(positions)} position(s)")

    def _late(self, o: dict) -> bool:
        stamp = o.get("filled_at") or o.get("updated_at")
        if not stamp:
            return True
        try:
            age = (pd.Timestamp.now(tz="UTC") - pd.Timestamp(stamp).tz_convert("UTC")).total_seconds()
        except (ValueError, TypeError):
            return True
        return age >= self.p.stream_grace

    def catch_up(self) -> bool:
        """A full REST catch-up now (see :meth:`sync_with_broker`); False when it failed."""
        self.sync.request_catchup()
        return self.sync.run()

    def snapshot(self) -> None:
        if self.backfilling():
            return
        try:
            self.state.snapshot_equity(self.getvalue(), self.cash)
        except Exception:  # never let bookkeeping stop the loop
            log.exception("equity snapshot failed")

    def _check_equity(self) -> None:
        if self.backfilling():
            return  # replayed bars never drive a kill switch, a snapshot or the equity peak
        key = tuple((s, _live_bars(d)) for s, d in sorted(self.datas.items()))
        if key == self._last_bar_key:
            return
        self._last_bar_key = key
        value = self.getvalue()
        reason = self.killswitch.check_equity(value)
        self.state.snapshot_equity(value, self.cash)
        if reason and self.state.halted() is None:
            self.flatten(reason)

    def flatten(self, reason: str) -> None:
        """Halt, cancel every order and close every position (the drawdown kill switch)."""
        self.state.halt(reason)
        self.halted_reason = reason
        log.error("KILL SWITCH: %s -> cancelling orders, closing positions, halting", reason)
        try:
            self.store.close_all()
        except Exception as exc:
            self.state.event("flatten", f"closing positions failed: {exc}", level="error")
            return
        self.state.event("flatten", "all orders cancelled and all positions closed", level="error")
