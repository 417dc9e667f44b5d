"""Deterministic Alpaca ``client_order_id`` values.

The same run, strategy, symbol, bar time and sequence always give the same id, so an order
re-issued after a crash or a retry is recognised by the broker instead of sent twice.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime

MAX_LEN = 48


def _slug(text: str, width: int) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", text)[:width] or "x"


def client_order_id(run_id: str, strategy: str, symbol: str, bar_time: datetime | str, seq: int) -> str:
    """``as-<run>-<sym>-<yymmddHHMM>-<seq>-<hash>``, at most 48 characters.

    A short readable prefix for humans; a hash of every component keeps ids unique even when
    the readable parts are truncated.
    """
    if seq < 0:
        raise ValueError(f"sequence must be >= 0, got {seq}")
    stamp = bar_time.strftime("%y%m%d%H%M") if isinstance(bar_time, datetime) else _slug(str(bar_time), 12)
    digest = hashlib.sha256(f"{run_id}|{strategy}|{symbol}|{bar_time}|{seq}".encode()).hexdigest()[:10]
    cid = f"as-{_slug(run_id, 8)}-{_slug(symbol, 6)}-{stamp}-{seq}-{digest}"
    return cid[:MAX_LEN]
