"""Retries that never double an order.

Reads retry with capped exponential backoff and full jitter. A submit is different: a timeout,
a dropped connection or a 5xx leaves it *ambiguous* (the broker may have the order), so it is
resolved by looking the order up by its ``client_order_id``; only an order confirmed absent is
sent again, under the same id, which the broker refuses to accept twice (a duplicate-id 422
means the order exists and is looked up).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import requests

log = logging.getLogger(__name__)
T = TypeVar("T")


class AmbiguousSubmit(Exception):
    """A submit whose outcome could not be established; the order id stays recorded as pending."""


class OrderRejected(Exception):
    """The broker definitely refused the order (a 4xx other than a duplicate id)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Backoff:
    """Capped exponential backoff with full jitter: ``uniform(0, min(cap, base * 2**n))``."""

    base: float = 0.25
    cap: float = 8.0
    attempts: int = 5
    rng: random.Random = field(default_factory=random.Random)
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be >= 1, got {self.attempts}")
        if self.base <= 0 or self.cap < self.base:
            raise ValueError(f"need 0 < base <= cap, got base={self.base} cap={self.cap}")

    def delay(self, attempt: int) -> float:
        return self.rng.uniform(0, min(self.cap, self.base * (2**attempt)))


def status_of(exc: BaseException) -> int | None:
    """HTTP status of an alpaca-py ``APIError`` or a requests ``HTTPError``, else None."""
    code = getattr(exc, "status_code", None)
    if code is None:
        resp = getattr(exc, "response", None)
        code = getattr(resp, "status_code", None)
    return code if isinstance(code, int) else None


def is_transient(exc: BaseException) -> bool:
    """Timeouts, connection errors and 5xx: the request may be retried (if it is a read)."""
    if isinstance(exc, (requests.Timeout, requests.ConnectionError)):
        return True
    code = status_of(exc)
    return code is not None and code >= 500


def is_duplicate_id(exc: BaseException) -> bool:
    """Alpaca's 422 for a ``client_order_id`` it already has."""
    if status_of(exc) != 422:
        return False
    text = str(exc).lower()
    return "client_order_id" in text or "duplicate" in text or "unique" in text


def call_read(fn: Callable[..., T], *args: Any, backoff: Backoff | None = None, what: str = "read", **kwargs: Any) -> T:
    """Call a read, retrying transient failures; the last failure is raised."""
    backoff = backoff or Backoff()
    for attempt in range(backoff.attempts):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if not is_transient(exc) or attempt == backoff.attempts - 1:
                raise
            wait = backoff.delay(attempt)
            log.warning(
                "%s failed (%s), retry %d/%d in %.2fs", what, _brief(exc), attempt + 1, backoff.attempts - 1, wait
            )
            backoff.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


def submit_resolving(
    submit: Callable[[], dict],
    lookup: Callable[[str], dict | None],
    cid: str,
    backoff: Backoff | None = None,
    attempts: int = 3,
) -> dict:
    """Submit an order with id ``cid`` and return the broker's order, never creating two.

    Parameters
    ----------
    submit : callable
        Sends the order (always with ``cid``); returns the order JSON.
    lookup : callable
        ``lookup(cid)`` returns the broker's order or None when it has none (a read).
    """
    backoff = backoff or Backoff()
    for attempt in range(attempts):
        try:
            return submit()
        except Exception as exc:
            if is_duplicate_id(exc):
                log.info("order %s already exists at the broker (422 duplicate id): looking it up", cid)
                found = call_read(lookup, cid, backoff=backoff, what=f"lookup {cid}")
                if found is None:
                    raise AmbiguousSubmit(f"broker says {cid} exists but cannot find it") from None
                return found
            if not is_transient(exc):
                raise OrderRejected(f"order {cid} rejected: {_brief(exc)}", status_of(exc)) from None
            log.warning("submit %s ambiguous (%s): looking it up by client_order_id", cid, _brief(exc))
        try:
            found = call_read(lookup, cid, backoff=backoff, what=f"lookup {cid}")
        except Exception as exc:
            raise AmbiguousSubmit(f"submit {cid} ambiguous and the lookup failed: {_brief(exc)}") from None
        if found is not None:
            return found
        backoff.sleep(backoff.delay(attempt))
    raise AmbiguousSubmit(f"submit {cid} still unresolved after {attempts} attempts")


def _brief(exc: BaseException) -> str:
    code = status_of(exc)
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"{type(exc).__name__}{f' {code}' if code else ''}: {text}"
