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

This module holds the backtrader wiring (positions, value, notifications, the loop). The jobs
live in small modules: :mod:`~autostock.live.orders_out` (gates, kill switches, ids, the wait
for the open, submit), :mod:`~autostock.live.fills_in` (fill accounting, outside changes),
:mod:`~autostock.live.rest_sync` (REST poll and catch-up, equity and flatten),
:mod:`~autostock.live.sync` (their schedule), :mod:`~autostock.live.requests` (request
mapping), :mod:`~autostock.live.oco` (one-cancels-others), :mod:`~autostock.live.ids` (order
ids) and :mod:`~autostock.live.reconcile` (adoption after a restart).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import backtrader as bt

from autostock.live.data import live_bars as _live_bars
from autostock.live.fills import EPS, STATUS_MAP, fill_delta
from autostock.live.fills_in import FillAccounting
from autostock.live.killswitch import KillSwitch
from autostock.live.oco import OcoGroups
from autostock.live.orders_out import AUCTION_TIFS, OrderSubmission
from autostock.live.rest_sync import RestSync
from autostock.live.state import StateDB
from autostock.live.store import AlpacaStore
from autostock.live.sync import Syncer

__all__ = ["AUCTION_TIFS", "EPS", "STATUS_MAP", "AlpacaBroker", "fill_delta"]

log = logging.getLogger(__name__)


class AlpacaBroker(OrderSubmission, FillAccounting, RestSync, bt.BrokerBase):
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

    params = (
        ("tif", "day"),
        ("fractional", False),
        ("poll_interval", 30.0),
        ("order_stale_after", 10.0),
        ("outage_limit", 300.0),
        ("retry_base", 1.0),
        ("retry_cap", 30.0),
        ("stream_grace", 5.0),
    )

    def __init__(
        self,
        store: AlpacaStore,
        state: StateDB,
        killswitch: KillSwitch | None = None,
        run_id: str = "run",
        strategy_name: str = "strategy",
        long_only: bool = False,
        **kwargs: Any,
    ) -> None:
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
        self.sync = Syncer(
            self.sync_with_broker,
            poll_interval=self.p.poll_interval,
            order_stale_after=self.p.order_stale_after,
            outage_limit=self.p.outage_limit,
            retry_base=self.p.retry_base,
            retry_cap=self.p.retry_cap,
        )
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

    def buy(
        self,
        owner,
        data,
        size,
        price=None,
        plimit=None,
        exectype=None,
        valid=None,
        tradeid=0,
        oco=None,
        trailamount=None,
        trailpercent=None,
        parent=None,
        transmit=True,
        **kwargs,
    ) -> bt.Order:
        order = bt.BuyOrder(
            owner=owner,
            data=data,
            size=size,
            price=price,
            pricelimit=plimit,
            exectype=exectype,
            valid=valid,
            tradeid=tradeid,
            oco=oco,
            trailamount=trailamount,
            trailpercent=trailpercent,
            parent=parent,
            transmit=transmit,
        )
        return self._place(order, kwargs)

    def sell(
        self,
        owner,
        data,
        size,
        price=None,
        plimit=None,
        exectype=None,
        valid=None,
        tradeid=0,
        oco=None,
        trailamount=None,
        trailpercent=None,
        parent=None,
        transmit=True,
        **kwargs,
    ) -> bt.Order:
        order = bt.SellOrder(
            owner=owner,
            data=data,
            size=size,
            price=price,
            pricelimit=plimit,
            exectype=exectype,
            valid=valid,
            tradeid=tradeid,
            oco=oco,
            trailamount=trailamount,
            trailpercent=trailpercent,
            parent=parent,
            transmit=transmit,
        )
        return self._place(order, kwargs)

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
