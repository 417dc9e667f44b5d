"""A backtrader broker on Alpaca (alpaca-py): orders out, fills in, nothing sent twice.

Order path (in the Cerebro thread): gates (stopping, backfill bar, outstanding catch-up) ->
kill switches on the projected position -> deterministic ``client_order_id`` -> wait for the
market open (unless the time in force is ``opg``/``cls``) -> row in the state database ->
submit (ambiguous outcomes resolved by id lookup) -> Accepted.

Fill path: the trade-updates stream thread only queues events; :meth:`AlpacaBroker.next`
(called by Cerebro every loop) applies them, and polls open orders and positions by REST on a
schedule (:mod:`autostock.live.sync`). Fills are applied as the increase of an order's
cumulative ``filled_qty`` (:mod:`autostock.live.fills`), so the stream and the poll never
count one twice. A position changed outside autostock updates its view at once; one whose
sign the strategy could not have produced halts trading.

Helpers hold the other jobs: :mod:`~autostock.live.requests` (request mapping),
:mod:`~autostock.live.oco` (one-cancels-others), :mod:`~autostock.live.ids` (order ids),
:mod:`~autostock.live.reconcile` (adoption after a restart).
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import backtrader as bt
import pandas as pd

from autostock.live.fills import EPS, STATUS_MAP, TERMINAL_ALPACA, fill_delta, sign
from autostock.live.ids import client_order_id
from autostock.live.killswitch import KillSwitch, OrderBlocked
from autostock.live.oco import OcoGroups
from autostock.live.requests import build_request
from autostock.live.retry import AmbiguousSubmit, OrderRejected
from autostock.live.state import StateDB
from autostock.live.store import AlpacaStore
from autostock.live.sync import Syncer
from autostock.live.waits import Interrupted

__all__ = ["EPS", "STATUS_MAP", "AlpacaBroker", "fill_delta"]

log = logging.getLogger(__name__)

AUCTION_TIFS = ("opg", "cls")  # orders that Alpaca may take while the market is closed


def _live_bars(data: Any) -> int:
    """Live (streamed) bars a feed has delivered; a feed without the notion counts every bar."""
    n = getattr(data, "bars_live", None)
    return int(n) if n is not None else len(data)


class AlpacaBroker(bt.BrokerBase):
    """backtrader broker for an Alpaca account (paper by default).

    Parameters
    ----------
    store : AlpacaStore
    state : StateDB
    killswitch : KillSwitch, optional
    run_id : str
        Stable across restarts of the same run; part of every ``client_order_id``.
    strategy_name : str
    long_only : bool
        The strategy never sells short: a short position at the broker halts trading.
    tif : str
        Time in force: ``day`` (default), ``gtc``, ``opg``, ``cls``, ``ioc``, ``fok``. While the
        market clock says closed, orders wait for the open unless it is ``opg`` or ``cls``.
    fractional : bool
        Send fractional quantities (market/limit day orders); otherwise whole shares.
    poll_interval, order_stale_after, outage_limit, retry_base, retry_cap : float
        REST poll and catch-up schedule, see :class:`autostock.live.sync.Syncer`.
    stream_grace : float
        Seconds a fill may take to arrive by stream before a REST poll calls the stream stale.
    """

    params = (("tif", "day"), ("fractional", False), ("poll_interval", 30.0), ("order_stale_after", 10.0),
              ("outage_limit", 300.0), ("retry_base", 1.0), ("retry_cap", 30.0), ("stream_grace", 5.0))

    def __init__(self, store: AlpacaStore, state: StateDB, killswitch: KillSwitch | None = None,
                 run_id: str = "run", strategy_name: str = "strategy", long_only: bool = False,
                 **kwargs: Any) -> None:
        super().__init__()
        for k, v in kwargs.items():
            setattr(self.p, k, v)
        if self.p.tif not in ("day", "gtc", "opg", "cls", "ioc", "fok"):
            from autostock.errors import ConfigError

            raise ConfigError(f"time in force must be day, gtc, opg, cls, ioc or fok, got {self.p.tif!r}")
        self.store, self.state = store, state
        self.killswitch = killswitch or KillSwitch(state)
        self.run_id, self.strategy_name, self.long_only = run_id, strategy_name, long_only
        self.cash = self.startingcash = 0.0
        self.positions: dict[str, bt.Position] = defaultdict(bt.Position)
        self.marks: dict[str, float] = {}
        self.datas: dict[str, Any] = {}
        self.notifs: queue.Queue = queue.Queue()
        self.inbox: queue.Queue = queue.Queue()
        self.by_cid: dict[str, bt.Order] = {}
        self.by_alpaca_id: dict[str, bt.Order] = {}
        self.cid_of: dict[int, str] = {}
        self._seq: dict[tuple[str, str], int] = defaultdict(int)
        self._bracket: list[bt.Order] = []
        self.oco = OcoGroups()
        self._external_seen: set[str] = set()
        self._reconnected = threading.Event()
        self._last_bar_key: tuple | None = None
        self._waiting: list[tuple[list[bt.Order], float, str, str]] = []  # (orders, qty, cid, bar time)
        self._open_since: dict[str, float] = {}  # cid -> monotonic time sent (this session)
        self.sync = Syncer(self.sync_with_broker, poll_interval=self.p.poll_interval,
                           order_stale_after=self.p.order_stale_after, outage_limit=self.p.outage_limit,
                           retry_base=self.p.retry_base, retry_cap=self.p.retry_cap)
        self.halted_reason: str | None = None
        self.on_halt: Callable[[str], None] | None = None
        self.accepting = True
        self.orders_sent = 0
        self.backfill_skipped = 0
        store.on_trade_update(lambda data: self.inbox.put(data))
        store.on_connect(self._on_connect)

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        super().start()
        self.sync_account()
        self._update_marks(self.store.positions())
        for sym, row in self.state.positions().items():
            self.positions[sym].set(row["qty"], row["avg_price"])

    def stop(self) -> None:
        super().stop()
        self.snapshot()

    def sync_account(self) -> None:
        """Cash and starting value from the account (REST)."""
        acct = self.store.account()
        self.cash = float(acct["cash"])
        if not self.startingcash:
            self.startingcash = float(acct.get("equity") or acct.get("portfolio_value") or self.cash)

    def _on_connect(self, which: str) -> None:
        if which == "trade" and self.store.reconnects["trade"] > 1:
            self._reconnected.set()

    def _update_marks(self, positions: dict[str, dict]) -> None:
        for sym, p in positions.items():
            self.marks[sym] = float(p.get("current_price") or p.get("avg_entry_price") or 0.0)

    def backfilling(self) -> bool:
        """True until a live bar has arrived: replayed history never acts on the account."""
        return not any(_live_bars(d) for d in self.datas.values())

    # -- backtrader API --------------------------------------------------------------------
    def getcash(self) -> float:
        return self.cash

    def getvalue(self, datas: Any = None) -> float:
        value = self.cash
        names = None if datas is None else {d._name for d in datas}
        for sym, pos in self.positions.items():
            if pos.size and (names is None or sym in names):
                value += pos.size * self._mark(sym)
        return value if datas is None else value - self.cash

    def _mark(self, sym: str) -> float:
        """The last live close; while a feed replays history, the broker's current price (a
        backfill close would value today's holdings at an old price)."""
        data = self.datas.get(sym)
        if data is not None and len(data) and _live_bars(data):
            return float(data.close[0])
        return self.marks.get(sym) or self.positions[sym].price

    def getposition(self, data: Any, clone: bool = True) -> bt.Position:
        self.datas.setdefault(data._name, data)
        pos = self.positions[data._name]
        return pos.clone() if clone else pos

    def get_orders_open(self, safe: bool = False) -> list[bt.Order]:
        """Live orders of this session: sent, in flight, or waiting for the market open."""
        out = {id(o): o for o in self.by_cid.values() if o.alive()}
        for orders, *_ in self._waiting:
            out.update({id(o): o for o in orders if o.alive()})
        return list(out.values())

    def get_notification(self) -> bt.Order | None:
        try:
            return self.notifs.get(False)
        except queue.Empty:
            return None

    def notify(self, order: bt.Order) -> None:
        self.notifs.put(order.clone())

    def setcash(self, cash: float) -> None:
        log.info("live broker: cash comes from the account; ignoring setcash(%s)", cash)

    set_cash = setcash

    def buy(self, owner, data, size, price=None, plimit=None, exectype=None, valid=None, tradeid=0, oco=None,
            trailamount=None, trailpercent=None, parent=None, transmit=True, **kwargs) -> bt.Order:
        order = bt.BuyOrder(owner=owner, data=data, size=size, price=price, pricelimit=plimit, exectype=exectype,
                            valid=valid, tradeid=tradeid, oco=oco, trailamount=trailamount,
                            trailpercent=trailpercent, parent=parent, transmit=transmit)
        return self._place(order, kwargs)

    def sell(self, owner, data, size, price=None, plimit=None, exectype=None, valid=None, tradeid=0, oco=None,
             trailamount=None, trailpercent=None, parent=None, transmit=True, **kwargs) -> bt.Order:
        order = bt.SellOrder(owner=owner, data=data, size=size, price=price, pricelimit=plimit, exectype=exectype,
                             valid=valid, tradeid=tradeid, oco=oco, trailamount=trailamount,
                             trailpercent=trailpercent, parent=parent, transmit=transmit)
        return self._place(order, kwargs)

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

    def next(self) -> None:
        """Apply queued trade updates; poll/catch up by REST; release orders at the open; check equity."""
        if self._reconnected.is_set():
            self._reconnected.clear()
            self.sync.request_catchup()
        self._drain()
        oldest = min(self._open_since.values()) if self._open_since else None
        if self.sync.due(oldest):
            self.sync.run()
            self._drain()
        if self._waiting and self.store.market_open:
            self._release_waiting()
        self._check_equity()

    def _drain(self) -> None:
        while True:
            try:
                data = self.inbox.get(False)
            except queue.Empty:
                break
            self.apply_update(data)

    # -- orders out ------------------------------------------------------------------------
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
            self.killswitch.check_order(sym, math.copysign(qty, size), price, self.positions[sym].size,
                                        pending_buy=buys, pending_sell=sells)
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
            self.state.event("wait", f"{cid}: market closed, order held until the open (time in force "
                                     f"{self.p.tif}; use --tif opg to queue it at Alpaca for the opening auction)")
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
            cid, run_id=self.run_id, strategy=self.strategy_name, symbol=sym, side="buy" if main.isbuy() else "sell",
            qty=qty, type=kind, limit_price=getattr(request, "limit_price", None),
            stop_price=getattr(request, "stop_price", None), tif=self.p.tif, bar_time=bar_time,
            order_class=order_class)
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
                self.state.event("ambiguous", f"{cid}: {exc or 'interrupted'}; left pending for reconciliation",
                                 level="error")
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
        row = self.state.get_order(cid)
        done = float(row["filled_qty"] or 0.0) - abs(bto.executed.size)
        if done <= EPS or not bto.alive():
            return
        signed = done if bto.isbuy() else -done
        pos = self.positions[row["symbol"]]
        price = float(row["filled_avg_price"] or 0.0)
        if bto.status == bt.Order.Submitted:
            bto.accept(self)
        bto.execute(bto.data.datetime[0], signed, price, 0, 0.0, 0.0, signed, abs(signed) * price, 0.0, 0.0, 0.0,
                    pos.size, pos.price)
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
                    self.state.record_order(lcid, symbol=leg.get("symbol", orders[0].data._name), side=leg["side"],
                                            qty=float(leg.get("qty") or 0), type=leg.get("type", kind),
                                            run_id=self.run_id, strategy=self.strategy_name, parent_cid=cid,
                                            leg=kind, status=leg.get("status", "held"), alpaca_id=str(leg["id"]))
                    self.by_cid[lcid] = o
                    self.cid_of[o.ref] = lcid
                    self.by_alpaca_id[str(leg["id"])] = o

    # -- fills in --------------------------------------------------------------------------
    def apply_update(self, data: dict) -> None:
        """One trade-updates event (``{"event", "order", "execution_id", "qty", "price", ...}``)."""
        order = data.get("order") or {}
        if not order:
            return
        self.apply_order(order, data, source="stream")

    def apply_order(self, o: dict, event: dict | None, source: str) -> bool:
        """Bring the state and the backtrader order in line with broker order JSON ``o``;
        returns True when it recorded a new fill."""
        aid = str(o.get("id", ""))
        row = self.state.order_by_alpaca_id(aid) if aid else None
        if row is None and o.get("client_order_id"):
            row = self.state.get_order(o["client_order_id"])
            if row is not None and not row["alpaca_id"] and aid:
                self.state.update_order(row["cid"], alpaca_id=aid)
        if row is None:
            self._outside_order(o, event)
            return False
        cid, sym = row["cid"], row["symbol"]
        bto = self.by_cid.get(cid)
        fill = fill_delta(row, o, event)
        applied = False
        if fill is not None:
            exec_id, signed, price = fill
            if self.state.record_fill(exec_id, cid, sym, signed, price, source=source):
                log.info("fill %s %s %+g @ %.4f (%s)", cid, sym, signed, price, source)
                self._execute(bto, sym, signed, price)
                applied = True
        elif event and event.get("execution_id") and event.get("event") in ("fill", "partial_fill"):
            log.debug("fill event %s for %s already applied (replay or out of order)", event.get("execution_id"), cid)
        status = str(o.get("status") or "")
        if status and status != row["status"] and not (row["status"] in TERMINAL_ALPACA and status not in
                                                        TERMINAL_ALPACA):
            self.state.update_order(cid, status=status, filled_avg_price=float(o["filled_avg_price"])
                                    if o.get("filled_avg_price") else row["filled_avg_price"])
        if status in TERMINAL_ALPACA:
            self._open_since.pop(cid, None)
        if bto is not None:
            self._set_status(bto, STATUS_MAP.get(status, ""))
        return applied

    def _outside_order(self, o: dict, event: dict | None) -> None:
        """An order autostock did not place: reported once; its fills on a symbol autostock
        manages move autostock's view of the position at once (the event's ``position_qty``)."""
        aid, sym = str(o.get("id", "")), str(o.get("symbol") or "")
        if aid and aid not in self._external_seen:
            self._external_seen.add(aid)
            self.state.event("external", f"order {aid} ({sym} {o.get('side')} {o.get('qty')}) was not placed by "
                                         "autostock: reported, not managed", level="warning")
        if not event or event.get("event") not in ("fill", "partial_fill") or event.get("position_qty") is None:
            return
        if sym in self.datas or sym in self.state.positions():
            self.outside_change(sym, float(event["position_qty"]), float(event.get("price") or 0.0),
                                f"outside order {aid} {o.get('side')} {event.get('qty')}")

    def outside_change(self, sym: str, qty: float, price: float, why: str) -> None:
        """The broker holds ``qty`` of ``sym`` because of something autostock did not do."""
        rec = self.state.positions().get(sym)
        old = float(rec["qty"]) if rec else 0.0
        if abs(qty - old) <= EPS:
            return
        avg = float(rec["avg_price"]) if rec and sign(old) == sign(qty) else (price or self.marks.get(sym, 0.0))
        self.state.set_position(sym, qty, avg)
        self.positions[sym].set(qty, avg)
        self.state.event("external", f"{sym}: position {old:g} -> {qty:g} changed outside autostock ({why}): "
                                     "autostock's view updated", level="warning")
        log.warning("%s: position %g -> %g changed outside autostock (%s)", sym, old, qty, why)
        flipped = sign(old) != 0 and sign(qty) != 0 and sign(old) != sign(qty)
        if flipped or (self.long_only and qty < -EPS):
            what = "flipped from long to short" if old > 0 else "flipped from short to long" if flipped else \
                "is short, which this long-only strategy cannot produce"
            self.halt(f"{sym}: the position {what} outside autostock ({old:g} -> {qty:g}, {why}); check the "
                      "account, then `autostock resume`")

    def halt(self, reason: str) -> None:
        """Persisted halt without closing anything; the session stops."""
        self.state.halt(reason)
        self.halted_reason = reason
        log.error("HALT: %s", reason)
        if self.on_halt is not None:
            self.on_halt(reason)

    def _set_status(self, bto: bt.Order, status: str) -> None:
        if not bto.alive():
            return
        if status == "accepted" and bto.status == bt.Order.Submitted:
            bto.accept(self)
            self.notify(bto)
        elif status == "canceled":
            bto.cancel()
            self.notify(bto)
        elif status == "expired":
            bto.expire()
            self.notify(bto)
        elif status == "rejected":
            bto.reject(self)
            self.notify(bto)

    def _execute(self, bto: bt.Order | None, sym: str, size: float, price: float) -> None:
        pos = self.positions[sym]
        self.cash -= size * price
        if bto is None:  # a fill for an order of a previous session: position and cash only
            pos.update(size, price)
            return
        if bto.status == bt.Order.Submitted:
            bto.accept(self)
        data = bto.data
        comminfo = bto.comminfo or self.getcommissioninfo(data)
        pprice_orig = pos.price
        psize, pprice, opened, closed = pos.update(size, price)
        closedvalue = comminfo.getoperationcost(closed, pprice_orig) if closed else 0.0
        closedcomm = comminfo.getcommission(closed, price) if closed else 0.0
        openedvalue = comminfo.getoperationcost(opened, price) if opened else 0.0
        openedcomm = comminfo.getcommission(opened, price) if opened else 0.0
        pnl = comminfo.profitandloss(-closed, pprice_orig, price) if closed else 0.0
        margin = comminfo.getvaluesize(size, price)
        dt = data.datetime[0] if len(data) else bt.date2num(bt.datetime.datetime.utcnow())
        bto.execute(dt, size, price, closed, closedvalue, closedcomm, opened, openedvalue, openedcomm,
                    margin, pnl, psize, pprice)
        if abs(bto.executed.remsize) > EPS:
            bto.partial()
        else:
            bto.completed()
        self.notify(bto)
        self._cancel_oco_siblings(bto)

    # -- REST sync, equity, flatten ----------------------------------------------------------
    def sync_with_broker(self, full: bool) -> None:
        """Open orders and positions by REST (``full``: after a reconnect, the account too).

        Raises on a failed read (the :class:`Syncer` retries). A fill found here that the
        stream never delivered marks the trade-updates stream stale.
        """
        rows = self.state.open_orders()
        busy = {r["symbol"] for r in rows}
        positions = self.store.positions()
        listed = {str(o["id"]): o for o in self.store.open_orders(sorted(busy))} if rows else {}
        missed: list[str] = []
        for row in rows:
            o = listed.get(row["alpaca_id"] or "")
            if o is None:
                o = self.store.order(row["alpaca_id"]) if row["alpaca_id"] else \
                    self.store.order_by_client_id(row["cid"])
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
            self.outside_change(sym, have, float(positions.get(sym, {}).get("avg_entry_price") or 0.0),
                                "broker position read by REST")
        if missed:
            msg = (f"trade-updates stream connected but silent: REST found fill(s) of {', '.join(missed)} it never "
                   "delivered; applied from REST")
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
