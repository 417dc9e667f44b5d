"""Client-side rate limiting: a token bucket under Alpaca's 200 requests/minute, 429 handling.

The bucket holds ``burst`` tokens and refills at ``(limit - burst) / period`` per second, so
any window of ``period`` seconds holds at most ``limit`` requests (``burst`` plus the refill).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping


class TokenBucket:
    """Blocking token bucket. ``clock`` and ``sleep`` are injectable for tests.

    Parameters
    ----------
    limit : int
        Most requests allowed in any window of ``period`` seconds (default 190 < 200).
    period : float
        Window length in seconds (60 for Alpaca; tests scale it down).
    burst : int
        Tokens available at once.
    """

    def __init__(
        self,
        limit: int = 190,
        period: float = 60.0,
        burst: int = 10,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if limit < 1:
            raise ValueError(f"rate limit must be >= 1 request per period, got {limit}")
        if period <= 0:
            raise ValueError(f"rate period must be > 0 seconds, got {period}")
        if not 1 <= burst < limit:
            raise ValueError(f"burst must be between 1 and limit-1 ({limit - 1}), got {burst}")
        self.limit, self.period, self.burst = limit, period, burst
        self.rate = (limit - burst) / period
        self._clock, self._sleep = clock, sleep
        self._tokens = float(burst)
        self._last = clock()
        self._blocked_until = 0.0
        self._lock = threading.Lock()
        self.waited = 0.0

    def _refill(self, now: float) -> None:
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now

    def acquire(self) -> None:
        """Take one token, sleeping until one is available (and until a 429 reset has passed)."""
        while True:
            with self._lock:
                now = self._clock()
                self._refill(now)
                wait = max(0.0, self._blocked_until - now)
                if wait == 0.0:
                    if self._tokens >= 1.0 - 1e-9:
                        self._tokens = max(0.0, self._tokens - 1.0)
                        return
                    wait = max((1.0 - self._tokens) / self.rate, 1e-4)
            self.waited += wait
            self._sleep(wait)

    def block_until(self, when: float) -> None:
        """After a 429: no request before monotonic time ``when``; the bucket is emptied."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, when)
            self._tokens = 0.0


def reset_wait(
    headers: Mapping[str, str], now_epoch: float | None = None, default: float = 1.0, cap: float = 60.0
) -> float:
    """Seconds to wait after a 429, from ``X-Ratelimit-Reset`` (epoch seconds) or ``Retry-After``."""
    now_epoch = time.time() if now_epoch is None else now_epoch
    for name, absolute in (("X-Ratelimit-Reset", True), ("Retry-After", False)):
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            value = float(raw)
        except ValueError:
            continue
        wait = value - now_epoch if absolute else value
        return min(cap, max(0.0, wait))
    return default
