"""The fill path of :class:`~autostock.live.broker.AlpacaBroker`: trade updates and REST order
JSON applied exactly once to the state database and the backtrader orders, and position
changes made outside autostock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import backtrader as bt

from autostock.live.fills import EPS, STATUS_MAP, TERMINAL_ALPACA, fill_delta, sign

if TYPE_CHECKING:
    from autostock.live.state import StateDB

log = logging.getLogger(__name__)


class FillAccounting:
    """Mixin: fills in, outside changes, halts."""

    # Attributes and methods that live on the broker (AlpacaBroker); declared for type checking only.
    state: StateDB
    cash: float
    long_only: bool
    positions: dict[str, bt.Position]
    marks: dict[str, float]
    datas: dict[str, Any]
    by_cid: dict[str, bt.Order]
    _external_seen: set[str]
    _open_since: dict[str, float]
    on_halt: Callable[[str], None] | None
    halted_reason: str | None
    notify: Callable[[bt.Order], None]
    getcommissioninfo: Callable[[Any], Any]
    _cancel_oco_siblings: Callable[[bt.Order], None]

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
        if (
            status
            and status != row["status"]
            and not (row["status"] in TERMINAL_ALPACA and status not in TERMINAL_ALPACA)
        ):
            self.state.update_order(
                cid,
                status=status,
                filled_avg_price=float(o["filled_avg_price"]) if o.get("filled_avg_price") else row["filled_avg_price"],
            )
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
            self.state.event(
                "external",
                f"order {aid} ({sym} {o.get('side')} {o.get('qty')}) was not placed by "
                "autostock: reported, not managed",
                level="warning",
            )
        if not event or event.get("event") not in ("fill", "partial_fill") or event.get("position_qty") is None:
            return
        if sym in self.datas or sym in self.state.positions():
            self.outside_change(
                sym,
                float(event["position_qty"]),
                float(event.get("price") or 0.0),
                f"outside order {aid} {o.get('side')} {event.get('qty')}",
            )

    def outside_change(self, sym: str, qty: float, price: float, why: str) -> None:
        """The broker holds ``qty`` of ``sym`` because of something autostock did not do."""
        rec = self.state.positions().get(sym)
        old = float(rec["qty"]) if rec else 0.0
        if abs(qty - old) <= EPS:
            return
        avg = float(rec["avg_price"]) if rec and sign(old) == sign(qty) else (price or self.marks.get(sym, 0.0))
        self.state.set_position(sym, qty, avg)
        self.positions[sym].set(qty, avg)
        self.state.event(
            "external",
            f"{sym}: position {old:g} -> {qty:g} changed outside autostock ({why}): autostock's view updated",
            level="warning",
        )
        log.warning("%s: position %g -> %g changed outside autostock (%s)", sym, old, qty, why)
        flipped = sign(old) != 0 and sign(qty) != 0 and sign(old) != sign(qty)
        if flipped or (self.long_only and qty < -EPS):
            what = (
                "flipped from long to short"
                if old > 0
                else "flipped from short to long"
                if flipped
                else "is short, which this long-only strategy cannot produce"
            )
            self.halt(
                f"{sym}: the position {what} outside autostock ({old:g} -> {qty:g}, {why}); check the "
                "account, then `autostock resume`"
            )

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
        bto.execute(
            dt,
            size,
            price,
            closed,
            closedvalue,
            closedcomm,
            opened,
            openedvalue,
            openedcomm,
            margin,
            pnl,
            psize,
            pprice,
        )
        if abs(bto.executed.remsize) > EPS:
            bto.partial()
        else:
            bto.completed()
        self.notify(bto)
        self._cancel_oco_siblings(bto)

    def halt(self, reason: str) -> None:
        """Persisted halt without closing anything; the session stops."""
        self.state.halt(reason)
        self.halted_reason = reason
        log.error("HALT: %s", reason)
        if self.on_halt is not None:
            self.on_halt(reason)
