"""On-disk Parquet cache for downloaded bars (yahoo, alpaca)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pandas as pd


def cache_dir() -> Path:
    root = os.environ.get("AUTOSTOCK_CACHE_DIR") or Path.home() / ".cache" / "autostock"
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_path(provider: str, symbol: str, start: str | None, end: str | None, timeframe: str = "1d") -> Path:
    key = hashlib.sha1(f"{provider}|{symbol}|{start}|{end}|{timeframe}".encode()).hexdigest()[:12]
    return cache_dir() / provider / f"{symbol}-{timeframe}-{key}.parquet"


def read_cached(path: Path) -> pd.DataFrame | None:
    if path.is_file():
        return pd.read_parquet(path)
    return None


def write_cached(path: Path, df: pd.DataFrame) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    df.to_parquet(tmp)
    tmp.replace(path)
