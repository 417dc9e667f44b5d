"""The order path of :class:`~autostock.live.broker.AlpacaBroker`: gates, kill switches on the
projected position, deterministic ids, the wait for the market open, the duplicate-safe submit,
brackets and cancels.
"""

from __future__ import annotations

import logging
import math
import queue
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import backtrader as bt

from autostock.live.fills import EPS, STATUS_MAP
from autostock.live.ids import client_order_id
from autostock.live.killswitch import OrderBlocked
from autostock.live.requests import build_request
from autostock.live.retry import AmbiguousSubmit, OrderRejected
from autostock.live.waits import Interrupted

AUCTION_TIFS = ("opg", "cls")  # orders that Alpaca may take while the market is closed

if TYPE_CHECKING:
    from autostock.live.killswitch import KillSwitch
    from autostock.live.oco import OcoGroups
    from autostock.live.state import StateDB
    from autostock.live.store import AlpacaStore
    from autostock.live.sync import Syncer

log = logging.getLogger(__name__)


class OrderSubmission:
    """Mixin: orders out (state, store, kill switch and bookkeeping live on the broker)."""

    # Attributes and methods that live on the broker (AlpacaBroker); declared for type checking only.
    p: Any
    state: StateDB
    store: AlpacaStore
    sync: Syncer
    killswitch: KillSwitch
    oco: OcoGroups
    run_id: str
    strategy_name: str
    positions: dict[str, bt.Position]
    datas: dict[str, Any]
    inbox: queue.Queue
    by_cid: dict[str, bt.Order]
    by_alpaca_id: dict[str, bt.Order]
    cid_of: dict[int, str]
    _seq: dict[tuple[str, str], int]
    _bracket: list[bt.Order]
    _waiting: list[tuple[list[bt.Order], float, str, str]]
    _open_since: dict[str, float]
    accepting: bool
    orders_sent: int
    backfill_skipped: int
    notify: Callable[[bt.Order], None]
    getcommissioninfo: Callable[[Any], Any]
    _set_status: Callable[[bt.Order, str], None]

    def cancel(self, order: bt.Order) -> bt.Order | None:
        for i, (orders, *_rest) in enumerate(self._waiting):
            if order in orders:  # never sent: cancel locally
                del self._waiting[i]
                for o in orders:
                    o.cancel()
                    self.notify(o)
                return order
        cid = self.cid_of.get(order.ref)
        row = self.state.get_order(cid) if cid else None
        if row is None or not row["alpaca_id"]:
            return None
        try:
            self.store.cancel(row["alpaca_id"])  # the stream (or the next poll) confirms it
        except Interrupted:
            raise
        except Exception as exc:  # noqa: BLE001 - a failed cancel is retried by the next catch-up
            self.state.event("cancel", f"cancel of {cid} failed: {exc}", level="error")
            self.sync.request_catchup()
            return None
        return order

    def _place(self, order: bt.Order, info: dict) -> bt.Order:
        data = order.data
        self.datas.setdefault(data._name, data)
        order.addcomminfo(self.getcommissioninfo(data))
        order.addinfo(**info)
        self.oco.add(order)
        if not order.transmit or (order.parent is not None and self._bracket):
            self._bracket.append(order)
            if not order.transmit:
                return order
            orders, self._bracket = self._bracket, []
            self._submit(orders)
        else:
            self._submit([order])
        return order

    def _reject(self, orders: list[bt.Order], reason: str, kind: str | None = "blocked") -> None:
        if kind is not None:
            self.state.event(kind, reason, level="warning")
            log.warning("order not sent: %s", reason)
        else:
            log.debug("order not sent: %s", reason)
        for o in orders:
            o.reject(self)
            self.notify(o)

    def pending(self, sym: str) -> tuple[float, float]:
        """Unfilled shares of ``sym``'s open, in-flight and waiting orders: ``(buys, sells)``
        (bracket legs are exits and not counted)."""
        buys, sells = self.state.open_quantity(sym)
        for orders, qty, _cid, _bt in self._waiting:
            if orders[0].data._name == sym:
                if orders[0].isbuy():
                    buys += qty
                else:
                    sells += qty
        return buys, sells

    def _submit(self, orders: list[bt.Order]) -> None:
        main = orders[0]
        data = main.data
        sym = data._name
        if not self.accepting:
            self._reject(orders, f"{sym}: stopping, no new orders", kind="skipped")
            return
        if getattr(data, "backfilling", lambda: False)():
            self.backfill_skipped += 1  # counted for the one backfill summary; nothing written
            self._reject(orders, f"{sym}: order on a historical (backfill) bar not sent", kind=None)
            return
        if not self.sync.ready_for_order():
            self._reject(orders, f"{sym}: REST catch-up with the broker not finished: order not sent")
            return
        price = float(main.created.price if main.created.price else data.close[0])
        size = main.created.size
        qty = abs(size) if self.p.fractional else math.floor(abs(size) + EPS)
        if qty <= 0:
            self._reject(orders, f"{sym}: order size {size} rounds to 0 whole shares")
            return
        buys, sells = self.pending(sym)
        try:
            self.killswitch.check_order(
                sym, math.copysign(qty, size), price, self.positions[sym].size, pending_buy=buys, pending_sell=sells
            )
        except OrderBlocked as exc:
            self._reject(orders, str(exc))
            return
        bar_dt = data.datetime.datetime(0)
        key = (sym, bar_dt.isoformat())
        seq = self._seq[key]
        self._seq[key] += 1
        cid = client_order_id(self.run_id, self.strategy_name, sym, bar_dt, seq)
        if not self.store.market_open and self.p.tif not in AUCTION_TIFS:
            for o in orders:
                o.submit(self)
                self.notify(o)
            self._waiting.append((orders, qty, cid, bar_dt.isoformat()))
            self.state.event(
                "wait",
                f"{cid}: market closed, order held until the open (time in force "
                f"{self.p.tif}; use --tif opg to queue it at Alpaca for the opening auction)",
            )
            log.info("market closed: %s waits for the open", cid)
            return
        self._send(orders, qty, cid, bar_dt.isoformat())

    def _release_waiting(self) -> None:
        waiting, self._waiting = self._waiting, []
        for orders, qty, cid, bar_time in waiting:
            reason = self.killswitch.halted()
            if reason is not None or not self.accepting:
                for o in orders:
                    o.reject(self)
                    self.notify(o)
                self.state.event("blocked", f"{cid}: not sent at the open: {reason or 'stopping'}", level="warning")
                continue
            log.info("market open: sending %s", cid)
            self._send(orders, qty, cid, bar_time, notified=True)

    def _send(self, orders: list[bt.Order], qty: float, cid: str, bar_time: str, notified: bool = False) -> None:
        main = orders[0]
        sym = main.data._name
        request, kind, order_class, legs = build_request(orders, cid, qty, self.p.tif)
        row, created = self.state.record_order(
            cid,
            run_id=self.run_id,
            strategy=self.strategy_name,
            symbol=sym,
            side="buy" if main.isbuy() else "sell",
            qty=qty,
            type=kind,
            limit_price=getattr(request, "limit_price", None),
            stop_price=getattr(request, "stop_price", None),
            tif=self.p.tif,
            bar_time=bar_time,
            order_class=order_class,
        )
        self.by_cid[cid] = main
        self.cid_of[main.ref] = cid
        if not notified:
            for o in orders:
                o.submit(self)
                self.notify(o)
        if not created and row["alpaca_id"]:
            log.info("order %s already at the broker (restart): not sent again", cid)
            self.state.event("adopt", f"{cid} already submitted before a restart: adopted, not re-sent")
            result = self.store.order(row["alpaca_id"])
        else:
            try:
                result = self.store.submit(request, cid)
                self.orders_sent += 1
            except OrderRejected as exc:
                self.state.update_order(cid, status="rejected")
                self._reject(orders, str(exc), kind="rejected")
                return
            except (AmbiguousSubmit, Interrupted) as exc:
                self.state.event(
                    "ambiguous", f"{cid}: {exc or 'interrupted'}; left pending for reconciliation", level="error"
                )
                log.error("%s: %s", cid, exc)
                self.sync.request_catchup()
                if isinstance(exc, Interrupted):
                    raise
                return
        self._open_since[cid] = time.monotonic()
        self._bind(result, orders, cid, legs)
        if STATUS_MAP.get(str(result.get("status"))) != "rejected":
            self._set_status(main, "accepted")
        # fills, even immediate ones, reach backtrader in next(), as with the simulated broker
        self.inbox.put({"order": result})
        for leg in result.get("legs") or []:
            self.inbox.put({"order": leg})
        if not created:
            self._replay_recorded_fills(main, cid)

    def _replay_recorded_fills(self, bto: bt.Order, cid: str) -> None:
        """An adopted order filled in an earlier session: show the strategy its fills; the
        position already holds them (it was loaded from the state database), so it is not moved."""
        row = cast(dict, self.state.get_order(cid))  # adopted orders have a row
        done = float(row["filled_qty"] or 0.0) - abs(bto.executed.size)
        if done <= EPS or not bto.alive():
            return
        signed = done if bto.isbuy() else -done
        pos = self.positions[row["symbol"]]
        price = float(row["filled_avg_price"] or 0.0)
        if bto.status == bt.Order.Submitted:
            bto.accept(self)
        bto.execute(
            bto.data.datetime[0],
            signed,
            price,
            0,
            0.0,
            0.0,
            signed,
            abs(signed) * price,
            0.0,
            0.0,
            0.0,
            pos.size,
            pos.price,
        )
        if abs(bto.executed.remsize) > EPS:
            bto.partial()
        else:
            bto.completed()
        self.notify(bto)
        self._cancel_oco_siblings(bto)

    def _cancel_oco_siblings(self, bto: bt.Order) -> None:
        for other in self.oco.to_cancel(bto):
            log.info("oco: %s filled, cancelling %s", self.cid_of.get(bto.ref), self.cid_of.get(other.ref))
            self.cancel(other)

    def _bind(self, result: dict, orders: list[bt.Order], cid: str, legs: list) -> None:
        self.state.update_order(cid, alpaca_id=str(result["id"]))
        self.by_alpaca_id[str(result["id"])] = orders[0]
        for leg in result.get("legs") or []:
            ltype = "limit" if leg.get("type") == "limit" else "stop"
            for kind, o in legs:
                if kind == ltype:
                    lcid = f"{cid[:44]}-{'tp' if kind == 'limit' else 'sl'}"
                    self.state.record_order(
                        lcid,
                        symbol=leg.get("symbol", orders[0].data._name),
                        side=leg["side"],
                        qty=float(leg.get("qty") or 0),
                        type=leg.get("type", kind),
                        run_id=self.run_id,
                        strategy=self.strategy_name,
                        parent_cid=cid,
                        leg=kind,
                        status=leg.get("status", "held"),
                        alpaca_id=str(leg["id"]),
                    )
                    self.by_cid[lcid] = o
                    self.cid_of[o.ref] = lcid
                    self.by_alpaca_id[str(leg["id"])] = o
