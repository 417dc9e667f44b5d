"""Every use of alpaca-py's private attributes, in one place, checked against its version.

The live adapter needs four things alpaca-py has no public API for: its REST clients' HTTP
session (our transport: timeouts, rate limiting, bounded 429 waits) and built-in retry (off),
and its streams' event loop and websocket (the watchdog forces a reconnect; ``stop`` wakes the
reader), reconnect backoff and connect hook (``_start_ws``). They were written against
alpaca-py 0.44; on another version :func:`check_version` refuses in one line rather than
let a renamed attribute fail in the middle of a trading session.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from autostock.errors import ConfigError

SUPPORTED = (0, 44)  # major, minor; setup.cfg pins alpaca-py>=0.44,<0.45 to match


def installed_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("alpaca-py")
    except PackageNotFoundError:  # pragma: no cover - the import of alpaca would have failed first
        return "none"


def check_version(found: str | None = None) -> None:
    """Raise :class:`ConfigError` (one line) unless alpaca-py is the release this module fits."""
    found = installed_version() if found is None else found
    parts = found.split(".")
    try:
        major_minor = (int(parts[0]), int(parts[1]))
    except (IndexError, ValueError):
        major_minor = (-1, -1)
    if major_minor != SUPPORTED:
        want = ".".join(map(str, SUPPORTED))
        raise ConfigError(
            f"alpaca-py {found} is installed, but autostock's live adapter was written for "
            f"alpaca-py {want}.x: pip install 'alpaca-py>={want},<0.{SUPPORTED[1] + 1}'"
        )


def http_session(client: Any) -> Any:
    """The ``requests.Session`` a REST client sends through (to install our transport)."""
    return client._session


def disable_builtin_retry(client: Any) -> None:
    """alpaca-py retries 429/504 three times, 3 s apart, on its own: our transport decides."""
    client._retry = 0


def set_reconnect_backoff(stream: Any, minimum: float, maximum: float) -> None:
    stream._reconnect_min_backoff, stream._reconnect_max_backoff = minimum, maximum


def with_connect_hook(stream_cls: type, on_connect: Callable[[], None]) -> type:
    """A subclass of an alpaca-py stream class that calls ``on_connect()`` after each (re)connect."""

    class _Hooked(stream_cls):  # type: ignore[misc, valid-type]
        async def _start_ws(self) -> None:
            await super()._start_ws()
            on_connect()

    _Hooked.__name__ = f"Hooked{stream_cls.__name__}"
    return _Hooked


def running_loop(stream: Any) -> Any:
    """The stream's event loop when it is running, else None."""
    loop = getattr(stream, "_loop", None)
    return loop if loop is not None and loop.is_running() else None


def close_socket(stream: Any, wait: float | None = None) -> bool:
    """Close the stream's websocket from another thread (alpaca-py then reconnects, or exits
    when stopped). Returns False when there is no open socket."""
    loop, ws = running_loop(stream), getattr(stream, "_ws", None)
    if loop is None or ws is None:
        return False
    fut = asyncio.run_coroutine_threadsafe(ws.close(), loop)
    if wait is not None:
        fut.result(timeout=wait)
    return True
