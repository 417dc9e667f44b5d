"""Keeping autostock's view in line with the broker by REST: the catch-up after a stream
reconnect, a periodic poll of open orders and positions, and their retry schedule.

The trade-updates stream can go silent while its connection stays up, so the broker does not
trust it alone: open orders are polled every ``poll_interval`` seconds, and sooner
(``order_stale_after``) while an order of this session is open. A fill found by REST that the
stream never delivered is applied (exactly once, see :mod:`autostock.live.fills`), logged as
a stale stream, and the stream is reconnected. A failed catch-up or poll is retried with
capped exponential backoff; until one succeeds no new order is sent; a REST outage longer than
``outage_limit`` seconds stops the session with :data:`EXIT_OUTAGE`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from autostock.errors import UserError
from autostock.live.waits import Interrupted

log = logging.getLogger(__name__)

EXIT_OUTAGE = 4


class BrokerOutage(UserError):
    """The broker's REST API stayed unreachable longer than the outage limit."""

    exit_code = EXIT_OUTAGE


class Syncer:
    """When to reconcile with the broker by REST, and what to do when it fails.

    Parameters
    ----------
    sync : callable
        ``sync(full)`` does the work (``full`` after a reconnect: account and cash too);
        raises on a failed read.
    poll_interval, order_stale_after, outage_limit, retry_base, retry_cap : float
        Seconds.
    """

    def __init__(
        self,
        sync: Callable[[bool], Any],
        *,
        poll_interval: float = 30.0,
        order_stale_after: float = 10.0,
        outage_limit: float = 300.0,
        retry_base: float = 1.0,
        retry_cap: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        for name, v in (
            ("poll interval", poll_interval),
            ("order stale after", order_stale_after),
            ("outage limit", outage_limit),
            ("retry base", retry_base),
        ):
            if not v > 0:
                raise UserError(f"{name} must be > 0 seconds, got {v}")
        self._sync, self._clock = sync, clock
        self.poll_interval, self.order_stale_after = poll_interval, order_stale_after
        self.outage_limit, self.retry_base, self.retry_cap = outage_limit, retry_base, max(retry_cap, retry_base)
        self.catchup_needed = False
        self.failures = 0
        self.first_failure: float | None = None
        self.next_try = 0.0
        self.last_sync = clock()
        self.polls = 0

    def request_catchup(self) -> None:
        """After a reconnect: a full catch-up before the next order."""
        self.catchup_needed = True
        self.next_try = 0.0

    def due(self, oldest_open: float | None) -> bool:
        """Whether to sync now; ``oldest_open`` is when this session's oldest open order was sent."""
        now = self._clock()
        if now < self.next_try:
            return False
        if self.catchup_needed or now - self.last_sync >= self.poll_interval:
            return True
        return (
            oldest_open is not None
            and now - oldest_open >= self.order_stale_after
            and now - self.last_sync >= self.order_stale_after
        )

    def run(self) -> bool:
        """One attempt; True on success. Raises :class:`BrokerOutage` past the outage limit."""
        full = self.catchup_needed
        try:
            self._sync(full)
        except Interrupted:
            raise
        except Exception as exc:  # noqa: BLE001 - any failed read is an outage to wait out
            now = self._clock()
            self.failures += 1
            if self.first_failure is None:
                self.first_failure = now
            self.catchup_needed = True  # the view may be stale: no order until a sync succeeds
            down = now - self.first_failure
            brief = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
            if down >= self.outage_limit:
                raise BrokerOutage(
                    f"broker REST API unreachable for {down:.0f}s (limit {self.outage_limit:g}s, "
                    f"last error {type(exc).__name__}: {brief}): stopped, no order sent "
                    "meanwhile"
                ) from None
            wait = min(self.retry_cap, self.retry_base * 2 ** (self.failures - 1))
            self.next_try = now + wait
            log.warning(
                "REST %s failed (%s: %s); retry %d in %.1fs, no new order until it succeeds",
                "catch-up" if full else "poll",
                type(exc).__name__,
                brief,
                self.failures,
                wait,
            )
            return False
        self.polls += 1
        self.failures, self.first_failure, self.catchup_needed = 0, None, False
        self.last_sync = self._clock()
        self.next_try = 0.0
        return True

    def ready_for_order(self) -> bool:
        """True when no catch-up is outstanding; otherwise one attempt now (an order is worth
        one extra try ahead of the backoff schedule), True if it succeeded."""
        if not self.catchup_needed:
            return True
        return self.run()
