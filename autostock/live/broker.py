"""A backtrader broker on Alpaca (alpaca-py): orders out, fills in, nothing sent twice.

Order path (in the Cerebro thread): kill switches -> deterministic ``client_order_id`` ->
row in the state database -> submit (ambiguous outcomes resolved by id lookup) -> Accepted.

Fill path: the trade-updates stream thread only queues events; :meth:`AlpacaBroker.next`
(called by Cerebro every loop) applies them. A fill is applied as the increase of the order's
cumulative ``filled_qty`` over what the state database already has, recorded under the event's
execution id: replayed events, out-of-order events and fills already caught up by REST after a
reconnect change nothing, and a partial fill is never counted twice.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections import defaultdict
from typing import Any

import backtrader as bt

from autostock.live.ids import client_order_id
from autostock.live.killswitch import KillSwitch, OrderBlocked
from autostock.live.retry import AmbiguousSubmit, OrderRejected
from autostock.live.state import StateDB
from autostock.live.store import AlpacaStore

log = logging.getLogger(__name__)

# Alpaca order status -> what it means for the backtrader order
STATUS_MAP: dict[str, str] = {
    "new": "accepted", "accepted": "accepted", "pending_new": "accepted", "accepted_for_bidding": "accepted",
    "held": "accepted", "calculated": "accepted", "done_for_day": "accepted", "pending_cancel": "accepted",
    "pending_replace": "accepted", "replaced": "accepted", "stopped": "accepted", "suspended": "accepted",
    "partially_filled": "partial", "filled": "completed",
    "canceled": "canceled", "expired": "expired", "rejected": "rejected",
}
TERMINAL_ALPACA = ("filled", "canceled", "expired", "rejected", "replaced")
EPS = 1e-9


def _price(value: float | None) -> float | None:
    """Round a limit/stop price to Alpaca's ticks: 2 decimals at or above $1, 4 below."""
    if value is None:
        return None
    return round(float(value), 2 if value >= 1 else 4)


def fill_delta(row: dict, o: dict, event: dict | None) -> tuple[str, float, float] | None:
    """The not-yet-recorded part of an order's fills: ``(execution_id, signed_qty, price)`` or None.

    ``row`` is the state database's order row, ``o`` the broker's order JSON (cumulative
    ``filled_qty`` / ``filled_avg_price``), ``event`` the trade update carrying it, if any.
    A fill is the increase of the cumulative quantity: replayed and stale (out-of-order)
    events give None. When the increase is exactly the event's ``qty`` the event's price and
    execution id are used; otherwise (events missed) the price follows from the averages.
    """
    aid = str(o.get("id", ""))
    new_cum = float(o.get("filled_qty") or 0.0)
    known = float(row["filled_qty"] or 0.0)
    delta = new_cum - known
    if delta <= EPS:
        return None
    ev_qty = float(event.get("qty") or 0.0) if event else 0.0
    if event and event.get("price") is not None and abs(ev_qty - delta) < EPS:
        price = float(event["price"])
        exec_id = str(event.get("execution_id") or f"{aid}:{new_cum:g}")
    else:
        avg_new = float(o.get("filled_avg_price") or 0.0)
        avg_old = float(row["filled_avg_price"] or 0.0)
        price = (avg_new * new_cum - avg_old * known) / delta
        exec_id = f"{aid}:{new_cum:g}"
    return exec_id, (delta if row["side"] == "buy" else -delta), price


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
    tif : str
        Time in force for orders: ``day`` (default), ``gtc``, ``opg``, ``cls``, ``ioc``, ``fok``.
    fractional : bool
        Send fractional quantities (market/limit day orders); otherwise whole shares.
    """

    params = (("tif", "day"), ("fractional", False))

    def __init__(self, store: AlpacaStore, state: StateDB, killswitch: KillSwitch | None = None,
                 run_id: str = "run", strategy_name: str = "strategy", **kwargs: Any) -> None:
        super().__init__()
        for k, v in kwargs.items():
            setattr(self.p, k, v)
        if self.p.tif not in ("day", "gtc", "opg", "cls", "ioc", "fok"):
            from autostock.errors import ConfigError

            raise ConfigError(f"time in force must be day, gtc, opg, cls, ioc or fok, got {self.p.tif!r}")
        self.store, self.state = store, state
        self.killswitch = killswitch or KillSwitch(state)
        self.run_id, self.strategy_name = run_id, strategy_name
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
        self._oco: dict[int, list[bt.Order]] = {}  # order ref -> its one-cancels-others group
        self._external_seen: set[str] = set()
        self._catchup = threading.Event()
        self._last_bar_key: tuple | None = None
        self.halted_reason: str | None = None
        self.accepting = True
        self.orders_sent = 0
        store.on_trade_update(lambda data: self.inbox.put(data))
        store.on_connect(self._on_connect)

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        super().start()
        self.sync_account()
        for sym, p in self.store.positions().items():  # marks for symbols without a feed
            self.marks[sym] = float(p.get("current_price") or p.get("avg_entry_price") or 0.0)
        for sym, row in self.state.positions().items():
            pos = self.positions[sym]
            pos.set(row["qty"], row["avg_price"])

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
            self._catchup.set()

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
        data = self.datas.get(sym)
        if data is not None and len(data):
            return float(data.close[0])
        return self.marks.get(sym, self.positions[sym].price)

    def getposition(self, data: Any, clone: bool = True) -> bt.Position:
        self.datas.setdefault(data._name, data)
        pos = self.positions[data._name]
        return pos.clone() if clone else pos

    def get_notification(self) -> bt.Order | None:
        try:
            return self.notifs.get(False)
        except queue.Empty:
            return None

    def notify(self, order: bt.Order) -> None:
        self.notifs.put(order.clone())

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
        cid = self.cid_of.get(order.ref)
        row = self.state.get_order(cid) if cid else None
        if row is None or not row["alpaca_id"]:
            return None
        self.store.cancel(row["alpaca_id"])  # the stream confirms with a 'canceled' event
        return order

    def next(self) -> None:
        """Apply queued trade updates; catch up by REST after a reconnect; check the equity."""
        if self._catchup.is_set():
            self.catch_up()
        while True:
            try:
                data = self.inbox.get(False)
            except queue.Empty:
                break
            self.apply_update(data)
        self._check_equity()

    # -- orders out ------------------------------------------------------------------------
    def _place(self, order: bt.Order, info: dict) -> bt.Order:
        data = order.data
        self.datas.setdefault(data._name, data)
        order.addcomminfo(self.getcommissioninfo(data))
        order.addinfo(**info)
        if order.oco is not None:
            group = self._oco.setdefault(order.oco.ref, [order.oco])
            group.append(order)
            self._oco[order.ref] = group
        if not order.transmit or (order.parent is not None and self._bracket):
            self._bracket.append(order)
            if not order.transmit:
                return order
            orders, self._bracket = self._bracket, []
            self._submit(orders)
        else:
            self._submit([order])
        return order

    def _reject(self, orders: list[bt.Order], reason: str, kind: str = "blocked") -> None:
        self.state.event(kind, reason, level="warning")
        log.warning("order not sent: %s", reason)
        for o in orders:
            o.reject(self)
            self.notify(o)

    def _submit(self, orders: list[bt.Order]) -> None:
        main = orders[0]
        data = main.data
        sym = data._name
        if not self.accepting:
            self._reject(orders, f"{sym}: stopping, no new orders", kind="skipped")
            return
        if getattr(data, "backfilling", lambda: False)():
            self._reject(orders, f"{sym}: order on a historical (backfill) bar not sent", kind="skipped")
            return
        if self._catchup.is_set():
            self.catch_up()
        price = float(main.created.price if main.created.price else data.close[0])
        size = main.created.size
        qty = abs(size) if self.p.fractional else math.floor(abs(size) + EPS)
        if qty <= 0:
            self._reject(orders, f"{sym}: order size {size} rounds to 0 whole shares")
            return
        try:
            self.killswitch.check_order(sym, math.copysign(qty, size), price, self.positions[sym].size)
        except OrderBlocked as exc:
            self._reject(orders, str(exc))
            return
        bar_dt = data.datetime.datetime(0)
        key = (sym, bar_dt.isoformat())
        seq = self._seq[key]
        self._seq[key] += 1
        cid = client_order_id(self.run_id, self.strategy_name, sym, bar_dt, seq)
        request, kind, order_class, legs = self._request(orders, cid, qty)
        row, created = self.state.record_order(
            cid, run_id=self.run_id, strategy=self.strategy_name, symbol=sym, side="buy" if main.isbuy() else "sell",
            qty=qty, type=kind, limit_price=getattr(request, "limit_price", None),
            stop_price=getattr(request, "stop_price", None), tif=self.p.tif, bar_time=bar_dt.isoformat(),
            order_class=order_class)
        self.by_cid[cid] = main
        self.cid_of[main.ref] = cid
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
            except AmbiguousSubmit as exc:
                self.state.event("ambiguous", f"{exc}; left pending for reconciliation", level="error")
                log.error("%s", exc)
                return
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
        """One-cancels-others, emulated as backtrader's simulated broker does: the first fill
        (partial or whole) of an order in a group cancels the group's other live orders at
        Alpaca, so protective exits such as a stop-loss and a take-profit never both fill."""
        group = self._oco.pop(bto.ref, None)
        if not group:
            return
        for other in group:
            self._oco.pop(other.ref, None)
            if other is not bto and other.alive():
                log.info("oco: %s filled, cancelling %s", self.cid_of.get(bto.ref), self.cid_of.get(other.ref))
                self.cancel(other)

    def _request(self, orders: list[bt.Order], cid: str, qty: float) -> tuple[Any, str, str | None, list]:
        from alpaca.trading.enums import OrderClass, OrderSide, TimeInForce
        from alpaca.trading import requests as rq

        main = orders[0]
        side = OrderSide.BUY if main.isbuy() else OrderSide.SELL
        common = dict(symbol=main.data._name, qty=qty, side=side, time_in_force=TimeInForce(self.p.tif),
                      client_order_id=cid)
        legs: list[tuple[str, bt.Order]] = []
        if len(orders) > 1:  # backtrader bracket: parent, stop child, limit child
            stop = next((o for o in orders[1:] if o.exectype in (bt.Order.Stop, bt.Order.StopLimit)), None)
            take = next((o for o in orders[1:] if o.exectype == bt.Order.Limit), None)
            extra: dict[str, Any] = {"order_class": OrderClass.BRACKET}
            if take is not None:
                extra["take_profit"] = rq.TakeProfitRequest(limit_price=_price(take.created.price))
                legs.append(("limit", take))
            if stop is not None:
                extra["stop_loss"] = rq.StopLossRequest(
                    stop_price=_price(stop.created.price),
                    limit_price=_price(stop.created.pricelimit) if stop.exectype == bt.Order.StopLimit else None)
                legs.append(("stop", stop))
            if take is None or stop is None:
                extra["order_class"] = OrderClass.OTO
            common.update(extra)
        et = main.exectype
        if et in (None, bt.Order.Market, bt.Order.Close):
            return rq.MarketOrderRequest(**common), "market", common.get("order_class"), legs
        if et == bt.Order.Limit:
            return rq.LimitOrderRequest(limit_price=_price(main.created.price), **common), "limit", \
                common.get("order_class"), legs
        if et == bt.Order.Stop:
            return rq.StopOrderRequest(stop_price=_price(main.created.price), **common), "stop", \
                common.get("order_class"), legs
        if et == bt.Order.StopLimit:
            return rq.StopLimitOrderRequest(stop_price=_price(main.created.price),
                                            limit_price=_price(main.created.pricelimit), **common), "stop_limit", \
                common.get("order_class"), legs
        if et == bt.Order.StopTrail:
            trail = ({"trail_price": _price(main.trailamount)} if main.trailamount
                     else {"trail_percent": round(main.trailpercent * 100, 4)})
            return rq.TrailingStopOrderRequest(**trail, **common), "trailing_stop", None, legs
        raise OrderRejected(f"order type {main.getordername()} is not supported on Alpaca")

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

    def apply_order(self, o: dict, event: dict | None, source: str) -> None:
        """Bring the state and the backtrader order in line with broker order JSON ``o``."""
        aid = str(o.get("id", ""))
        row = self.state.order_by_alpaca_id(aid) if aid else None
        if row is None and o.get("client_order_id"):
            row = self.state.get_order(o["client_order_id"])
            if row is not None and not row["alpaca_id"] and aid:
                self.state.update_order(row["cid"], alpaca_id=aid)
        if row is None:
            if aid and aid not in self._external_seen:
                self._external_seen.add(aid)
                self.state.event("external", f"order {aid} ({o.get('symbol')} {o.get('side')} {o.get('qty')}) "
                                             "was not placed by autostock: reported, not managed", level="warning")
            return
        cid, sym = row["cid"], row["symbol"]
        bto = self.by_cid.get(cid)
        fill = fill_delta(row, o, event)
        if fill is not None:
            exec_id, signed, price = fill
            if self.state.record_fill(exec_id, cid, sym, signed, price, source=source):
                log.info("fill %s %s %+g @ %.4f (%s)", cid, sym, signed, price, source)
                self._execute(bto, sym, signed, price)
        elif event and event.get("execution_id") and event.get("event") in ("fill", "partial_fill"):
            log.debug("fill event %s for %s already applied (replay or out of order)", event.get("execution_id"), cid)
        status = str(o.get("status") or "")
        if status and status != row["status"] and not (row["status"] in TERMINAL_ALPACA and status not in
                                                        TERMINAL_ALPACA):
            self.state.update_order(cid, status=status, filled_avg_price=float(o["filled_avg_price"])
                                    if o.get("filled_avg_price") else row["filled_avg_price"])
        if bto is not None:
            self._set_status(bto, STATUS_MAP.get(status, ""))

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

    # -- catch-up, equity, flatten ---------------------------------------------------------
    def catch_up(self) -> None:
        """After a stream reconnect: orders and positions by REST before any new order."""
        self._catchup.clear()
        for row in self.state.open_orders():
            try:
                if row["alpaca_id"]:
                    o = self.store.order(row["alpaca_id"])
                else:
                    o = self.store.order_by_client_id(row["cid"])
            except Exception as exc:
                self._catchup.set()
                log.warning("catch-up of %s failed: %s", row["cid"], exc)
                return
            if o is not None:
                self.apply_order(o, None, source="rest")
        # events queued before the catch-up are now harmless: deltas are zero
        positions = self.store.positions()
        for sym, p in positions.items():
            self.marks[sym] = float(p.get("current_price") or p.get("avg_entry_price") or 0.0)
        mine = self.state.positions()
        for sym, row in mine.items():
            broker_qty = float(positions.get(sym, {}).get("qty") or 0.0)
            if abs(broker_qty - row["qty"]) > EPS:
                self.state.event("mismatch", f"{sym}: broker position {broker_qty:g} != recorded {row['qty']:g} "
                                             "after catch-up", level="warning")
        self.sync_account()
        self.state.event("catchup", f"REST catch-up after reconnect: {len(positions)} position(s)")

    def snapshot(self) -> None:
        try:
            self.state.snapshot_equity(self.getvalue(), self.cash)
        except Exception:  # never let bookkeeping stop the loop
            log.exception("equity snapshot failed")

    def _check_equity(self) -> None:
        key = tuple((s, len(d)) for s, d in sorted(self.datas.items()))
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
