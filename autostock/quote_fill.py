"""Quote-aware fills for backtests on quote data.

When the bars carry the quote that a market order meets (``open_bid, open_ask,
open_bid_size, open_ask_size``: the first quote after the previous bar's stamp, see
:mod:`autostock.feeds.bars`), a market order fills at that quote's ask (buy) or bid (sell)
instead of the next bar's open plus a flat half spread. Optional size-based impact::

    buy  = ask * (1 + impact * size / ask_size)
    sell = bid * (1 - impact * size / bid_size)

The flat ``--spread`` is not charged on top (the quotes are the spread); ``--slippage`` and
commissions still apply. Bars without a quote fall back to backtrader's open-price fill.
"""

from __future__ import annotations

import math

import backtrader as bt

from autostock.feeds.btfeed import FrameFeed

QUOTE_LINES: tuple[str, ...] = ("open_bid", "open_ask", "open_bid_size", "open_ask_size")


def has_quotes(bars) -> bool:
    """Whether a bars table carries the quote columns a quote-aware fill needs."""
    return all(c in bars for c in QUOTE_LINES)


class QuoteFrameFeed(FrameFeed):
    """:class:`FrameFeed` plus the lines of the quote met by an order sent at the previous close."""

    lines = QUOTE_LINES

    def start(self) -> None:
        super().start()
        df = self.p.dataname
        self._quotes = list(zip(*(df[c].tolist() for c in QUOTE_LINES)))

    def _load(self) -> bool:
        pos = self._pos
        if not super()._load():
            return False
        for name, value in zip(QUOTE_LINES, self._quotes[pos]):
            getattr(self.lines, name)[0] = value
        return True


class QuoteBroker(bt.brokers.BackBroker):
    """backtrader's simulated broker; market orders on a :class:`QuoteFrameFeed` fill at the quote.

    Params: ``impact`` (0.0): price impact per multiple of the quoted size.
    """

    params = (("impact", 0.0),)

    def _try_exec_market(self, order, popen, phigh, plow):
        data = order.data
        if self.p.coc or not hasattr(data.lines, "open_ask"):
            return super()._try_exec_market(order, popen, phigh, plow)
        if not self.p.coo and data.datetime[0] <= order.created.dt:
            return None
        if order.isbuy():
            price, depth, sign = data.lines.open_ask[0], data.lines.open_ask_size[0], 1.0
        else:
            price, depth, sign = data.lines.open_bid[0], data.lines.open_bid_size[0], -1.0
        if not (math.isfinite(price) and price > 0):
            return super()._try_exec_market(order, popen, phigh, plow)
        if self.p.impact and math.isfinite(depth) and depth > 0:
            price *= 1.0 + sign * self.p.impact * abs(order.created.size) / depth
        if self.p.slip_perc:  # --slippage still applies on top of the quote
            price *= 1.0 + sign * self.p.slip_perc
        self._execute(order, ago=0, price=price)
        return None
