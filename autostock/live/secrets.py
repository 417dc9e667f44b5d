"""Keep API keys out of every log record, traceback and printed message.

``mask`` shows the first four characters only. ``install_scrubber`` wraps the logging record
factory, so every record from every logger (websockets and urllib3 debug logs included) has its
message, arguments and exception text scrubbed before any handler sees it.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Iterable

REDACTED = "***"

_lock = threading.Lock()
_secrets: set[str] = set()
_installed = False


def mask(value: str | None) -> str:
    """``PKAB****`` style: the first four characters, the rest hidden (never the length)."""
    if not value:
        return "(unset)"
    return value[:4] + "****" if len(value) > 8 else "****"


def register(*values: str | None) -> None:
    """Add secrets to scrub; empty values and values shorter than 4 characters are ignored."""
    with _lock:
        for v in values:
            if v and len(v) >= 4:
                _secrets.add(v)


def scrub(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    if not text or not _secrets:
        return text
    for s in sorted(_secrets, key=len, reverse=True):
        if s in text:
            text = text.replace(s, REDACTED)
    return text


def scrub_exception(exc: BaseException) -> str:
    """The full traceback of ``exc`` as text, scrubbed."""
    return scrub("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))


class ScrubFilter(logging.Filter):
    """A logging filter that scrubs message, args and exception text of a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        _scrub_record(record)
        return True


def _scrub_record(record: logging.LogRecord) -> None:
    if not _secrets:
        return
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: keep the raw text
        message = str(record.msg)
    if record.name.startswith("websockets") and message[:8] in ("> TEXT '", "> BINARY", "> CONT '", "> CONT b"):
        # sent frames carry the authentication message; a truncated payload could hold part of a key
        message = message.split(" ", 2)[0] + " " + message.split(" ", 2)[1] + " [payload not logged]"
    record.msg, record.args = scrub(message), ()
    if record.exc_info and record.exc_info[1] is not None:
        record.exc_text = scrub("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
        record.exc_info = None
    elif record.exc_text:
        record.exc_text = scrub(record.exc_text)
    if record.stack_info:
        record.stack_info = scrub(record.stack_info)


def install_scrubber(secrets: Iterable[str | None] = ()) -> None:
    """Register ``secrets`` and scrub every log record created from now on (idempotent)."""
    global _installed
    register(*secrets)
    with _lock:
        if _installed:
            return
        _installed = True
        previous = logging.getLogRecordFactory()

        def factory(*args, **kwargs) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            _scrub_record(record)
            return record

        logging.setLogRecordFactory(factory)
        _install_excepthooks()
    flt = ScrubFilter()
    for handler in logging.getLogger().handlers:
        handler.addFilter(flt)


def _install_excepthooks() -> None:
    """Uncaught exceptions (main thread and other threads) print scrubbed tracebacks."""
    import sys

    def hook(exc_type, exc, tb) -> None:
        sys.stderr.write(scrub("".join(traceback.format_exception(exc_type, exc, tb))))

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread is not None else "?"
        sys.stderr.write(f"Exception in thread {name}:\n")
        hook(args.exc_type, args.exc_value, args.exc_traceback)

    sys.excepthook = hook
    threading.excepthook = thread_hook
