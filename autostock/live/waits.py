"""Waits that a stop request interrupts at once (SIGTERM during a 429 storm or a backoff).

Every sleep of the live adapter (token bucket, 429 reset, retry backoff) goes through a
:class:`Stopper`; after :meth:`Stopper.set` a sleeping call raises :class:`Interrupted`, a
``BaseException`` like ``KeyboardInterrupt`` so that no ``except Exception`` swallows it on the
way out.
"""

from __future__ import annotations

import threading


class Interrupted(BaseException):
    """A wait cut short by a stop request."""


class Stopper:
    """An event whose :meth:`sleep` ends early, raising :class:`Interrupted`, once it is set."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def sleep(self, seconds: float) -> None:
        if self._event.is_set() or self._event.wait(max(0.0, seconds)):
            raise Interrupted("stop requested")
