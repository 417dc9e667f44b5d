"""Health and session facts a trading session publishes to its state database for monitors.

A daemon thread writes two ``meta`` keys (additive; the trader never reads them):

* ``session``: what runs (run id, mode, strategy, params, symbols, sizer, timeframe, backfill,
  armed kill-switch limits), written once at start;
* ``health``: refreshed every ``every`` seconds: wall-clock time of the last message per stream,
  REST requests sent in the last 60 s and in total, 429 responses, reconnects, and the marks
  (last prices) the broker values positions at.

No credential is ever part of either payload.
"""

from __future__ import annotations

import collections
import json
import logging
import threading
import time
from dataclasses import asdict
from typing import Any

log = logging.getLogger(__name__)

SESSION_KEY = "session"
HEALTH_KEY = "health"


def session_payload(session: Any) -> dict[str, Any]:
    """The facts of a :class:`~autostock.live.runner.TradingSession` a monitor shows."""
    spec, st = session.spec, session.settings
    return {
        "run_id": session.run_id,
        "mode": "live" if st.live else "paper",
        "strategy": spec.strategy,
        "params": dict(spec.params or {}),
        "symbols": list(spec.symbols or []),
        "sizer": spec.sizer,
        "sizer_params": dict(spec.sizer_params or {}),
        "cash": spec.cash,
        "timeframe": st.timeframe,
        "backfill": st.backfill,
        "limits": asdict(st.limits),
        "started_at": time.time(),
    }


class HealthPublisher:
    """Writes ``health`` every ``every`` seconds until ``stop_event`` is set (daemon thread)."""

    def __init__(self, session: Any, stop_event: threading.Event, every: float = 2.0) -> None:
        self.session, self.stop_event, self.every = session, stop_event, every
        self._sent: collections.deque[tuple[float, int]] = collections.deque()

    def payload(self) -> dict[str, Any]:
        store, broker = self.session.store, self.session.broker
        now_wall, now_mono = time.time(), time.monotonic()
        sent = int(getattr(store, "requests_sent", 0))
        self._sent.append((now_mono, sent))
        while len(self._sent) > 1 and now_mono - self._sent[0][0] > 60.0:
            self._sent.popleft()
        window = now_mono - self._sent[0][0]
        last = {k: now_wall - (now_mono - v) for k, v in dict(getattr(store, "last_message", {})).items()}
        limiter = getattr(store, "limiter", None)
        return {
            "ts": now_wall,
            "last_message": last,
            "reconnects": dict(getattr(store, "reconnects", {})),
            "requests_total": sent,
            "requests_last_minute": sent - self._sent[0][1],
            "requests_window_s": window,
            "rate_limited": int(getattr(store, "rate_limited", 0)),
            "client_limit_per_minute": getattr(limiter, "limit", None),
            "marks": dict(getattr(broker, "marks", {}) or {}),
        }

    def publish(self) -> None:
        try:
            self.session.state.set_meta(HEALTH_KEY, json.dumps(self.payload(), default=str))
        except Exception:  # never let monitoring disturb trading
            log.debug("health publish failed", exc_info=True)

    def run(self) -> None:
        while True:
            self.publish()
            if self.stop_event.wait(self.every):
                self.publish()
                return


def start(session: Any, stop_event: threading.Event, every: float = 2.0) -> threading.Thread:
    """Write ``session`` once and start the ``health`` thread."""
    try:
        session.state.set_meta(SESSION_KEY, json.dumps(session_payload(session), default=str))
    except Exception:
        log.debug("session publish failed", exc_info=True)
    t = threading.Thread(target=HealthPublisher(session, stop_event, every).run, name="autostock-health", daemon=True)
    t.start()
    return t
