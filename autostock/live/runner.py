"""The trade loop: reconcile, backfill, stream, trade; stop cleanly on SIGINT/SIGTERM.

:class:`TradingSession` assembles the Cerebro with :func:`autostock.engine.build_cerebro` (the
same builder as backtests) from the Alpaca broker and live feeds, and runs it until stopped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import signal
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import backtrader as bt
import pandas as pd

from autostock.config import RunSpec
from autostock.errors import UserError
from autostock.live.broker import AlpacaBroker
from autostock.live.data import AlpacaData, BarRouter
from autostock.live.killswitch import KillSwitch, SafetyLimits
from autostock.live.lock import ProcessLock, account_lock, state_lock
from autostock.live.news import LiveNews
from autostock.live.reconcile import reconcile
from autostock.live.state import StateDB
from autostock.live.store import AlpacaStore, Credentials, parse_timeframe, utcnow
from autostock.live.sync import EXIT_OUTAGE, BrokerOutage
from autostock.live.waits import Interrupted

EXIT_HALTED = 3

log = logging.getLogger(__name__)


class HaltedError(UserError):
    """Trading is halted (kill switch, halt file or reconciliation); ``autostock resume`` clears it."""


def default_state_path(live: bool) -> Path:
    """``state/paper.sqlite`` or ``state/live.sqlite``: paper and live never share a database."""
    return Path("state") / ("live.sqlite" if live else "paper.sqlite")


def default_run_id(spec: RunSpec, live: bool) -> str:
    """Stable across restarts of the same configuration (strategy, params, symbols, sizer, mode)."""
    key = json.dumps(
        [spec.strategy, spec.params, spec.symbols, spec.sizer, spec.sizer_params, live], sort_keys=True, default=str
    )
    return hashlib.sha256(key.encode()).hexdigest()[:8]


@dataclass
class LiveSettings:
    """How a paper/live session runs (the RunSpec says what it trades)."""

    live: bool = False
    state_path: str | None = None
    run_id: str | None = None
    timeframe: str = "1Day"
    backfill: int = 250
    history_start: str | None = None
    tif: str = "day"
    fractional: bool = False
    limits: SafetyLimits = field(default_factory=SafetyLimits)
    http_timeout: float = 10.0
    qcheck: float = 0.5
    bar_grace: float = 5.0
    clock_poll: float = 60.0
    poll_interval: float = 30.0
    order_stale_after: float = 10.0
    outage_limit: float = 300.0
    retry_base: float = 1.0
    retry_cap: float = 30.0
    stream_grace: float = 5.0
    lock_dir: str | None = None
    store_options: dict[str, Any] = field(default_factory=dict)
    #: ``timeframe`` parsed once (an alpaca-py TimeFrame); every later use reads this
    tf: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.tf = parse_timeframe(self.timeframe)
        if self.backfill < 0:
            raise UserError(f"backfill must be >= 0 bars, got {self.backfill}")


class _Heartbeat(bt.Analyzer):
    """Counts strategy steps (runs after the strategy's ``next``) and persists the run state.

    The strategy's own state (``BaseStrategy.state_dict``) is saved after every live bar and
    handed back (``load_state``) once the backfill has been replayed after a restart, before
    the first live bar is decided.
    """

    params = (("session", None),)

    def start(self) -> None:
        self._restored = False
        if not any(len(getattr(d, "_history", ())) for d in self.strategy.datas):
            self._restore()

    def _restore(self) -> None:
        self._restored = True
        s, strat = self.p.session, self.strategy
        saved = s.state.load_strategy_state(s.run_id).get("strategy")
        if saved and hasattr(strat, "load_state"):
            strat.load_state(saved)
            s.state.event("restore", f"strategy state of run {s.run_id} restored")

    def next(self) -> None:
        s = self.p.session
        s.steps += 1
        strat = self.strategy
        if not self._restored and not all(len(d) >= len(getattr(d, "_history", ())) for d in strat.datas):
            return  # a replayed history bar: nothing is written
        if not self._restored:
            self._restore()  # the last backfill bar: the next bar is live
            bars = max(len(getattr(d, "_history", ())) for d in strat.datas)
            s.state.event(
                "backfill",
                f"backfill replayed {bars} bar(s) per symbol; "
                f"{s.broker.backfill_skipped if s.broker else 0} order(s) decided on "
                "history not sent",
            )
            return
        values: dict[str, Any] = {
            "last_bar": strat.datas[0].datetime.datetime(0).isoformat(),
            "positions": {k: p.size for k, p in s.broker.positions.items() if p.size},
        }
        state = strat.state_dict() if hasattr(strat, "state_dict") else {}
        if state:
            values["strategy"] = state
        s.state.save_strategy_states(s.run_id, values)  # one transaction per live bar
        if s.state.halted() is not None:
            s.stop("halted: " + s.state.halted())


def _long_only(spec: RunSpec) -> bool:
    """True when the strategy has ``allow_short`` and it is off (it can never hold a short)."""
    from autostock.engine import resolve_strategy

    cls = resolve_strategy(spec.strategy)
    defaults = dict(cls.params._getitems()) if hasattr(cls, "params") else {}
    if "allow_short" not in defaults:
        return False
    return not bool((spec.params or {}).get("allow_short", defaults["allow_short"]))


class TradingSession:
    """One paper or live trading run.

    Parameters
    ----------
    spec : RunSpec
        Strategy, params, sizer and symbols (``spec.symbols`` required).
    settings : LiveSettings
    creds : Credentials, optional
        Defaults to the ``APCA_API_*`` environment.
    store : AlpacaStore, optional
        An existing store (tests inject one with a fast rate limiter).
    """

    def __init__(
        self,
        spec: RunSpec,
        settings: LiveSettings | None = None,
        creds: Credentials | None = None,
        store: AlpacaStore | None = None,
    ) -> None:
        if not spec.symbols:
            raise UserError("trade needs --symbols")
        self.spec = spec
        self.settings = settings or LiveSettings()
        self.run_id = self.settings.run_id or default_run_id(spec, self.settings.live)
        self.state_path = str(self.settings.state_path or default_state_path(self.settings.live))
        self.state: StateDB | None = None  # opened by run(), after the credentials and account check
        self.killswitch: KillSwitch | None = None
        self._locks: list[ProcessLock] = []
        self._creds = creds
        self._store = store
        self.store: AlpacaStore | None = None
        self.broker: AlpacaBroker | None = None
        self.router: BarRouter | None = None
        self.cerebro: bt.Cerebro | None = None
        self.steps = 0
        self.stop_reason: str | None = None
        self._stopped = threading.Event()
        self.started = threading.Event()

    # -- control ---------------------------------------------------------------------------
    def stop(self, reason: str = "stop requested") -> None:
        """Stop new orders and end the loop (idempotent; safe from signal handlers and threads)."""
        if self._stopped.is_set():
            return
        self.stop_reason = reason
        self._stopped.set()
        log.info("stopping: %s", reason)
        if self.broker is not None:
            self.broker.accepting = False
        if self.store is not None:
            self.store.stopper.set()  # interrupt any wait (429 reset, backoff, rate limit)
        if self.router is not None:
            self.router.stop()
        if self.cerebro is not None:
            self.cerebro.runstop()

    def run(self) -> int:
        """Run until stopped; returns the exit code: 0 after a clean stop, 3 after a halt, 4 when
        the broker's REST API stayed unreachable past ``outage_limit``.

        Nothing is written (no state file, no lock file) before the credentials are present and
        the account has been read; a second process on the same state file or account is
        refused (:class:`autostock.live.lock.LockHeld`).
        """
        installed = self._install_signals()
        try:
            try:
                return self._locked_run()
            except Interrupted:
                self.stop_reason = self.stop_reason or "stop requested"
                return 0
        finally:
            for sig, old in installed:
                signal.signal(sig, old)
            for lock in reversed(self._locks):
                lock.release()
            self._locks.clear()

    def _locked_run(self) -> int:
        creds = self._creds or Credentials.from_env(live=self.settings.live)
        options = dict(self.settings.store_options)
        tf = self.settings.tf
        if tf.unit.value != "Day":  # intraday bars every minute or so: silence means a dead feed
            seconds = {"Min": 60, "Hour": 3600}.get(tf.unit.value, 60) * tf.amount_value
            options.setdefault("stale_after", 3 * seconds + 60)
        self.store = self._store or AlpacaStore(creds, timeout=self.settings.http_timeout, **options)
        if self._stopped.is_set():
            self.store.stopper.set()
        try:
            acct = self.store.account()
        except Interrupted:
            raise
        except Exception as exc:
            from autostock.live import secrets

            raise UserError(
                f"cannot read the Alpaca account at {creds.base_url}: "
                f"{secrets.scrub(str(exc)).splitlines()[0][:200] if str(exc) else type(exc).__name__}"
            ) from None
        self._locks.append(state_lock(self.state_path).acquire())
        self._locks.append(
            account_lock(
                creds.base_url, str(acct.get("account_number") or acct.get("id") or "?"), self.settings.lock_dir
            ).acquire()
        )
        self.state = StateDB(self.state_path)
        self.killswitch = KillSwitch(self.state, self.settings.limits)
        reason = self.killswitch.halted()
        if reason is not None:
            raise HaltedError(f"trading is halted: {reason}. Fix the cause, then run `autostock resume`")
        try:
            return self._run()
        except BrokerOutage as exc:
            self.stop_reason = str(exc)
            self.state.event("outage", str(exc), level="error")
            log.error("%s", exc)
            return EXIT_OUTAGE
        finally:
            self.store.stop()
            if self.broker is not None:
                self.broker.snapshot()
            self.state.event("stop", f"session {self.run_id} stopped: {self.stop_reason or 'feeds ended'}")

    def _install_signals(self) -> list:
        if threading.current_thread() is not threading.main_thread():
            return []
        installed = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            installed.append((sig, signal.getsignal(sig)))
            signal.signal(sig, lambda signum, frame: self.stop(f"signal {signal.Signals(signum).name}"))
        return installed

    def _live_news(self, symbols: list[str], history: dict[str, pd.DataFrame]) -> LiveNews | None:
        """A :class:`LiveNews` when the strategy serves a model (``ml_signal model=``) or an RL policy
        (``rl_policy policy=``) with news features: backfilled over the history (REST) and
        subscribed to the store's news stream; None otherwise."""
        from autostock.live.news import needs_news, served_features

        if not needs_news(served_features(self.spec.params)):
            return None
        news = LiveNews()
        store = cast(AlpacaStore, self.store)
        starts = [h.index[0] for h in history.values() if len(h)]
        if starts:
            first = pd.Timestamp(min(starts))
            first = first.tz_localize("America/New_York") if first.tzinfo is None else first
            news.backfill(store.news(symbols, first.tz_convert("UTC").to_pydatetime()))
        store.on_news(news.on_news)
        log.info("news features: %d backfilled article(s); subscribing to the news stream", len(news))
        return news

    def _run(self) -> int:
        from autostock.engine import build_cerebro
        from autostock.feeds.market import Market

        spec, st = self.spec, self.settings
        # both opened by _locked_run before it calls _run
        store, state = cast(AlpacaStore, self.store), cast(StateDB, self.state)
        symbols = list(cast(list[str], spec.symbols))
        state.event(
            "start", f"session {self.run_id} ({'LIVE' if st.live else 'paper'}) {spec.strategy} on {','.join(symbols)}"
        )
        long_only = _long_only(spec)
        rep = reconcile(store, state, long_only=long_only)
        for line in rep.lines():
            log.info("reconcile: %s", line)
        reason = state.halted()
        if reason is not None:
            raise HaltedError(f"trading is halted: {reason}")
        clock = store.clock()
        store.market_open = bool(clock.get("is_open"))
        log.info(
            "market is %s (next open %s, next close %s)",
            "open" if clock.get("is_open") else "closed",
            clock.get("next_open"),
            clock.get("next_close"),
        )

        daily = st.tf.unit.value == "Day"
        history = self._backfill(symbols, daily)
        self.router = BarRouter(symbols, daily=daily, grace=st.bar_grace)
        store.on_bar(self.router.on_bar)
        feeds = {
            s: AlpacaData(  # type: ignore[call-arg]  # qcheck, timeframe, compression: backtrader params
                router=self.router,
                symbol=s,
                history=history[s],
                daily=daily,
                qcheck=st.qcheck,
                timeframe=bt.TimeFrame.Days if daily else bt.TimeFrame.Minutes,
                compression=st.tf.amount_value,
            )
            for s in symbols
        }
        self.broker = AlpacaBroker(
            store,
            state,
            self.killswitch,
            run_id=self.run_id,
            strategy_name=spec.strategy,
            long_only=long_only,
            tif=st.tif,
            fractional=st.fractional,
            poll_interval=st.poll_interval,
            order_stale_after=st.order_stale_after,
            outage_limit=st.outage_limit,
            retry_base=st.retry_base,
            retry_cap=st.retry_cap,
            stream_grace=st.stream_grace,
        )
        self.broker.accepting = not self._stopped.is_set()
        self.broker.on_halt = lambda reason: self.stop("halted: " + reason)
        self.broker.datas.update(feeds)
        market = Market(
            bars={s: history[s] for s in symbols},
            source="alpaca-live",
            notes=["paper trading" if not st.live else "LIVE trading"],
        )
        news = self._live_news(symbols, history)
        self.cerebro = build_cerebro(
            spec,
            market,
            broker=self.broker,
            feeds=feeds,
            record=False,
            bar_columns=news.columns if news is not None else None,  # not `if news`: empty LiveNews is falsy
        )
        self.cerebro.addanalyzer(_Heartbeat, session=self, _name="autostock_heartbeat")
        if self._stopped.is_set():
            return 0
        store.start_trade_stream()
        store.start_data_stream(symbols, st.tf)
        if news is not None:
            store.start_news_stream(symbols)
        watcher = threading.Thread(target=self._watch_clock, name="autostock-clock", daemon=True)
        watcher.start()
        from autostock.live import health

        health.start(self, self._stopped)  # monitor-only meta keys (autostock dashboard)
        self.started.set()
        self.cerebro.run(runonce=False, preload=False, exactbars=False)
        halted = state.halted()
        if halted is not None:
            log.error("trading halted: %s", halted)
            return EXIT_HALTED
        return 0

    def _backfill(self, symbols: list[str], daily: bool) -> dict[str, pd.DataFrame]:
        from autostock.live.data import bar_index

        st = self.settings
        tf = st.tf
        # calendar time holding ``backfill`` bars: 252 trading days a year, 390 minutes a session
        minutes = st.backfill * tf.amount_value * (60 if tf.unit.value == "Hour" else 1)
        span = timedelta(days=int(st.backfill * 1.6) + 10) if daily else timedelta(days=int(minutes / 390 * 1.6) + 4)
        start = pd.Timestamp(st.history_start, tz="UTC").to_pydatetime() if st.history_start else utcnow() - span
        raw = cast(AlpacaStore, self.store).bars(symbols, st.tf, start=start)
        out = {}
        for s in symbols:
            df = raw.get(s, pd.DataFrame(columns=["open", "high", "low", "close", "volume"]))
            df = df.copy()
            df.index = pd.DatetimeIndex([bar_index(t, daily) for t in df.index], name="date")
            out[s] = df.iloc[-st.backfill :] if st.backfill else df.iloc[0:0]
        log.info("backfilled %s", ", ".join(f"{s}: {len(d)} bars" for s, d in out.items()))
        return out

    def _watch_clock(self) -> None:
        """Poll the market clock (and wake at the next open); orders wait while it is closed."""
        was_open = None
        wait = self.settings.clock_poll
        while not self._stopped.wait(wait):
            wait = self.settings.clock_poll
            try:
                clock = cast(AlpacaStore, self.store).clock()  # opened by _locked_run
            except Interrupted:
                return
            except Exception as exc:
                log.warning("clock read failed: %s", exc)
                continue
            is_open = bool(clock.get("is_open"))
            cast(AlpacaStore, self.store).market_open = is_open
            if not is_open and clock.get("next_open"):
                try:
                    until = (pd.Timestamp(clock["next_open"]) - pd.Timestamp.now(tz="UTC")).total_seconds()
                    wait = min(wait, max(until + 0.5, 0.05))
                except (ValueError, TypeError):
                    pass
            if is_open != was_open:
                msg = "market open" if is_open else f"market closed: orders wait until {clock.get('next_open')}"
                log.info(msg)
                cast(StateDB, self.state).event("clock", msg)
                was_open = is_open
