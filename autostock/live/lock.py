"""One trading process per state database and per account: an OS file lock (``fcntl.flock``).

The lock file sits beside the state database (``paper.sqlite.lock``) and holds the PID of the
process that has it. The kernel releases a ``flock`` when its process ends in any way,
``kill -9`` included, so a stale lock file never blocks the next start.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Self

from autostock.errors import UserError


class LockHeld(UserError):
    """Another process trades on this state database or account."""


class ProcessLock:
    """An exclusive, non-blocking lock on ``path`` (created if missing), naming its holder.

    Parameters
    ----------
    path : str or Path
        The lock file.
    what : str
        What the lock protects, for the refusal message.
    """

    def __init__(self, path: str | Path, what: str) -> None:
        self.path, self.what = Path(path), what
        self._fd: int | None = None

    def acquire(self) -> Self:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise LockHeld(
                f"{self.what} is in use by autostock process {holder} (lock {self.path}): "
                "one trading process per account and state file"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        import fcntl

        try:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> Self:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def state_lock(state_path: str | Path) -> ProcessLock:
    """The lock beside a state database: ``<file>.lock``."""
    p = Path(state_path)
    return ProcessLock(p.with_name(p.name + ".lock"), f"state database {p}")


def account_lock(base_url: str, account: str, folder: str | Path | None = None) -> ProcessLock:
    """The lock for one Alpaca account (endpoint and account number), in the temp folder."""
    key = hashlib.sha256(f"{base_url.rstrip('/')}|{account}".encode()).hexdigest()[:16]
    folder = Path(folder or os.environ.get("AUTOSTOCK_LOCK_DIR") or tempfile.gettempdir())
    return ProcessLock(folder / f"autostock-account-{key}.lock", f"Alpaca account {account} at {base_url}")
