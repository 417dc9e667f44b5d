"""Fill accounting: what an Alpaca order's status means for backtrader, and the part of its
fills not yet recorded.

A fill is the increase of an order's cumulative ``filled_qty`` over what the state database
already holds, so whichever path sees it first (the trade-updates stream or a REST poll)
records it, and the other finds nothing left to apply: fills are applied exactly once.
"""

from __future__ import annotations

# Alpaca order status -> what it means for the backtrader order
STATUS_MAP: dict[str, str] = {
    "new": "accepted",
    "accepted": "accepted",
    "pending_new": "accepted",
    "accepted_for_bidding": "accepted",
    "held": "accepted",
    "calculated": "accepted",
    "done_for_day": "accepted",
    "pending_cancel": "accepted",
    "pending_replace": "accepted",
    "replaced": "accepted",
    "stopped": "accepted",
    "suspended": "accepted",
    "partially_filled": "partial",
    "filled": "completed",
    "canceled": "canceled",
    "expired": "expired",
    "rejected": "rejected",
}
TERMINAL_ALPACA = ("filled", "canceled", "expired", "rejected", "replaced")
EPS = 1e-9


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


def sign(x: float) -> int:
    return (x > EPS) - (x < -EPS)
