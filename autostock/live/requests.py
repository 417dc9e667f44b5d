"""backtrader orders -> alpaca-py order requests (market, limit, stop, stop-limit, trailing,
bracket and OTO)."""

from __future__ import annotations

from typing import Any, overload

import backtrader as bt

from autostock.live.retry import OrderRejected


@overload
def tick_price(value: float) -> float: ...
@overload
def tick_price(value: None) -> None: ...
def tick_price(value: float | None) -> float | None:
    """Round a limit/stop price to Alpaca's ticks: 2 decimals at or above $1, 4 below."""
    if value is None:
        return None
    return round(float(value), 2 if value >= 1 else 4)


def build_request(orders: list[bt.Order], cid: str, qty: float, tif: str) -> tuple[Any, str, str | None, list]:
    """``(request, type name, order class, [(leg kind, child order)])`` for a simple order or a
    backtrader bracket (parent, stop child, limit child)."""
    from alpaca.trading import requests as rq
    from alpaca.trading.enums import OrderClass, OrderSide, TimeInForce

    main = orders[0]
    side = OrderSide.BUY if main.isbuy() else OrderSide.SELL
    common: dict[str, Any] = {
        "symbol": main.data._name,
        "qty": qty,
        "side": side,
        "time_in_force": TimeInForce(tif),
        "client_order_id": cid,
    }
    legs: list[tuple[str, bt.Order]] = []
    if len(orders) > 1:
        stop = next((o for o in orders[1:] if o.exectype in (bt.Order.Stop, bt.Order.StopLimit)), None)
        take = next((o for o in orders[1:] if o.exectype == bt.Order.Limit), None)
        extra: dict[str, Any] = {"order_class": OrderClass.BRACKET}
        if take is not None:
            extra["take_profit"] = rq.TakeProfitRequest(limit_price=tick_price(take.created.price))
            legs.append(("limit", take))
        if stop is not None:
            extra["stop_loss"] = rq.StopLossRequest(
                stop_price=tick_price(stop.created.price),
                limit_price=tick_price(stop.created.pricelimit) if stop.exectype == bt.Order.StopLimit else None,
            )
            legs.append(("stop", stop))
        if take is None or stop is None:
            extra["order_class"] = OrderClass.OTO
        common.update(extra)
    oc = common.get("order_class")
    et = main.exectype
    if et in (None, bt.Order.Market, bt.Order.Close):
        return rq.MarketOrderRequest(**common), "market", oc, legs
    if et == bt.Order.Limit:
        return rq.LimitOrderRequest(limit_price=tick_price(main.created.price), **common), "limit", oc, legs
    if et == bt.Order.Stop:
        return rq.StopOrderRequest(stop_price=tick_price(main.created.price), **common), "stop", oc, legs
    if et == bt.Order.StopLimit:
        return (
            rq.StopLimitOrderRequest(
                stop_price=tick_price(main.created.price), limit_price=tick_price(main.created.pricelimit), **common
            ),
            "stop_limit",
            oc,
            legs,
        )
    if et == bt.Order.StopTrail:
        trail = (
            {"trail_price": tick_price(main.trailamount)}
            if main.trailamount
            else {"trail_percent": round(main.trailpercent * 100, 4)}
        )
        return rq.TrailingStopOrderRequest(**trail, **common), "trailing_stop", None, legs
    raise OrderRejected(f"order type {main.getordername()} is not supported on Alpaca")
