"""Start-up reconciliation of the state database with the broker.

Before the first order of a run: every order the database holds as open (including ids
recorded but perhaps never sent) is looked up, fills that happened while autostock was down
are recorded, orders placed outside autostock are reported (not managed), and positions are
compared. A failed positions read refuses to start (never assumes flat); a position mismatch
that outside orders do not explain halts trading with a message naming the symbol.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import cast

from autostock.errors import UserError
from autostock.live.fills import EPS, fill_delta, sign
from autostock.live.state import StateDB
from autostock.live.store import AlpacaStore

log = logging.getLogger(__name__)


class ReconcileError(UserError):
    """Reconciliation could not read what it needs; trading does not start."""


@dataclass
class ReconcileReport:
    positions: dict[str, float] = field(default_factory=dict)
    adopted_orders: list[str] = field(default_factory=list)
    never_sent: list[str] = field(default_factory=list)
    fills_while_down: list[str] = field(default_factory=list)
    external_orders: list[str] = field(default_factory=list)
    adopted_positions: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"positions at the broker: {self.positions or 'none'}"]
        for name in (
            "adopted_orders",
            "never_sent",
            "fills_while_down",
            "external_orders",
            "adopted_positions",
            "mismatches",
        ):
            items = getattr(self, name)
            if items:
                out.append(f"{name.replace('_', ' ')}: {', '.join(items)}")
        return out


def reconcile(store: AlpacaStore, state: StateDB, long_only: bool = False) -> ReconcileReport:
    """Reconcile ``state`` with the broker; see the module docstring. Halts on a mismatch, and
    on a position whose sign the strategy could not have produced (``long_only`` and short, or
    flipped by outside orders), even when outside orders explain it."""
    rep = ReconcileReport()
    try:
        positions = store.positions()
    except Exception as exc:
        raise ReconcileError(
            f"cannot read positions from the broker ({type(exc).__name__}): refusing to start rather than assuming flat"
        ) from None
    try:
        open_orders = store.open_orders()
    except Exception as exc:
        raise ReconcileError(
            f"cannot read open orders from the broker ({type(exc).__name__}): refusing to start"
        ) from None
    rep.positions = {s: float(p["qty"]) for s, p in positions.items()}
    fresh = not state.orders(limit=1) and not state.positions()

    # orders we recorded as open: look each one up
    for row in state.open_orders():
        cid = row["cid"]
        try:
            o = store.order(row["alpaca_id"]) if row["alpaca_id"] else store.order_by_client_id(cid)
        except Exception as exc:
            raise ReconcileError(f"cannot look up order {cid} ({type(exc).__name__}): refusing to start") from None
        if o is None:
            state.update_order(cid, status="not_sent")
            state.event("reconcile", f"{cid} was recorded but never reached the broker: marked not_sent")
            rep.never_sent.append(cid)
            continue
        if not row["alpaca_id"]:
            state.update_order(cid, alpaca_id=str(o["id"]))
            rep.adopted_orders.append(cid)
        fill = fill_delta(cast(dict, state.get_order(cid)), o, None)  # the row exists: recorded above
        if fill is not None:
            exec_id, signed, price = fill
            if state.record_fill(exec_id, cid, row["symbol"], signed, price, source="reconcile"):
                rep.fills_while_down.append(f"{cid} {signed:+g}@{price:.2f}")
        state.update_order(cid, status=str(o.get("status") or row["status"]))

    # orders at the broker that autostock did not place
    mine = {r["alpaca_id"] for r in state.orders() if r["alpaca_id"]}
    external_qty: dict[str, float] = {}
    for o in open_orders:
        if str(o["id"]) in mine or state.get_order(str(o.get("client_order_id") or "")):
            continue
        rep.external_orders.append(f"{o.get('symbol')} {o.get('side')} {o.get('qty')} ({o['id']})")
        state.event(
            "external",
            f"open order {o['id']} ({o.get('symbol')} {o.get('side')} {o.get('qty')}) was not "
            "placed by autostock: reported, not managed",
            level="warning",
        )

    # positions
    recorded = {s: r["qty"] for s, r in state.positions().items()}
    for sym in sorted(set(recorded) | set(rep.positions)):
        have, want = rep.positions.get(sym, 0.0), recorded.get(sym, 0.0)
        if abs(have - want) <= EPS:
            continue
        avg = float(positions.get(sym, {}).get("avg_entry_price") or 0.0)
        if fresh:
            state.set_position(sym, have, avg)
            state.event("reconcile", f"{sym}: adopted the broker position {have:g} (first run on this database)")
            rep.adopted_positions.append(f"{sym} {have:g}")
            continue
        if sym not in external_qty:
            external_qty[sym] = _external_filled(store, state, sym)
        flipped = sign(want) != 0 and sign(have) != 0 and sign(want) != sign(have)
        if flipped or (long_only and have < -EPS):
            msg = (
                f"position {sym}: broker holds {have:g}, autostock recorded {want:g}: a "
                f"{'short' if have < 0 else 'long'} position this strategy could not have produced (changed "
                "outside autostock); check the account, then `autostock resume`"
            )
            rep.mismatches.append(msg)
            state.halt(msg)
            continue
        if abs(want + external_qty[sym] - have) <= EPS:
            state.set_position(sym, have, avg)
            state.event(
                "reconcile",
                f"{sym}: position {want:g} -> {have:g} explained by orders placed outside autostock",
                level="warning",
            )
            rep.adopted_positions.append(f"{sym} {have:g} (outside orders)")
            continue
        msg = (
            f"position mismatch for {sym}: broker holds {have:g}, autostock recorded {want:g}, and no order "
            "explains the difference; check the account, then `autostock resume`"
        )
        rep.mismatches.append(msg)
        state.halt(msg)
    state.event("reconcile", "; ".join(rep.lines()))
    return rep


def _external_filled(store: AlpacaStore, state: StateDB, symbol: str) -> float:
    """Net filled quantity of ``symbol`` orders at the broker that autostock did not place."""
    try:
        orders = store.recent_orders()
    except Exception:
        return 0.0
    net = 0.0
    for o in orders:
        if o.get("symbol") != symbol or state.order_by_alpaca_id(str(o["id"])) is not None:
            continue
        if state.get_order(str(o.get("client_order_id") or "")) is not None:
            continue
        q = float(o.get("filled_qty") or 0.0)
        net += q if o.get("side") == "buy" else -q
    return net
