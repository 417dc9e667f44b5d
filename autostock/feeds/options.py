"""Option chain snapshots: Alpaca (alpaca-py option chain + option contracts for open interest)
or local CSV / JSON files, and the per-bar options-flow columns, point-in-time.

Canonical snapshot table, one row per contract per snapshot: ``as_of`` (when the snapshot was
taken), ``underlying``, ``type`` (call / put), ``strike``, ``expiration``, ``iv``, ``delta``,
``gamma``, ``theta``, ``vega`` (empty when not quoted), ``volume``, ``open_interest``, and
optionally ``underlying_price``. ``type``, ``strike`` and ``expiration`` may instead come from
an OCC contract ``symbol`` (``AAPL240119C00190000``).

Point in time: a snapshot counts for a bar only when ``as_of`` is strictly before the bar's
decision time (:func:`autostock.feeds.news.decision_times`); of several, the newest counts.
A bar with no new snapshot gets NaN (never a stale value carried forward).

Per-bar columns: ``opt_pc_volume`` (put / call volume), ``opt_pc_oi`` (put / call open
interest), ``opt_iv_skew`` (IV of the OTM put nearest delta -0.25 minus that of the OTM call
nearest +0.25, nearest expiry at least 7 days out; by moneyness 0.95 / 1.05 without deltas),
``opt_volume``, ``opt_oi``, ``opt_volume_oi`` (volume / open interest).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autostock.errors import DataError
from autostock.feeds.news import decision_times
from autostock.feeds.ticks import parse_times

SNAPSHOT_COLUMNS: tuple[str, ...] = (
    "as_of",
    "underlying",
    "type",
    "strike",
    "expiration",
    "iv",
    "delta",
    "gamma",
    "theta",
    "vega",
    "volume",
    "open_interest",
    "underlying_price",
)
OPTION_BAR_COLUMNS: tuple[str, ...] = (
    "opt_pc_volume",
    "opt_pc_oi",
    "opt_iv_skew",
    "opt_volume",
    "opt_oi",
    "opt_volume_oi",
)
_OCC = re.compile(r"^([A-Z.]{1,6})(\d{6})([CP])(\d{8})$")
_OPTIONAL = ("iv", "delta", "gamma", "theta", "vega", "underlying_price")


def parse_occ(symbol: str) -> tuple[str, pd.Timestamp, str, float] | None:
    """(root, expiration, 'call'/'put', strike) of an OCC option symbol, or None."""
    m = _OCC.match(str(symbol).strip().upper())
    if not m:
        return None
    return (
        m.group(1),
        pd.Timestamp("20" + m.group(2)),
        "call" if m.group(3) == "C" else "put",
        int(m.group(4)) / 1000.0,
    )


def tidy_snapshots(raw: pd.DataFrame, where: str, row_offset: int = 2) -> pd.DataFrame:
    """Canonical, validated snapshot table (see the module docstring)."""
    if raw.empty:
        raise DataError(f"{where}: no option snapshot rows")
    df = raw.rename(columns={c: str(c).strip().lower() for c in raw.columns}).copy()

    def fail(pos: int, problem: str) -> None:
        raise DataError(f"{where}: row {pos + row_offset}: {problem}")

    if "symbol" in df and not all(c in df for c in ("type", "strike", "expiration")):
        maybe = [parse_occ(s) for s in df["symbol"]]
        for pos, p in enumerate(maybe):
            if p is None:
                fail(pos, f"not an OCC option symbol: {df['symbol'].iloc[pos]!r}")
        parsed = [p for p in maybe if p is not None]
        df["underlying"] = df.get("underlying", pd.Series([p[0] for p in parsed], index=df.index))
        df["expiration"] = [p[1] for p in parsed]
        df["type"] = [p[2] for p in parsed]
        df["strike"] = [p[3] for p in parsed]
    missing = [
        c for c in ("as_of", "underlying", "type", "strike", "expiration", "volume", "open_interest") if c not in df
    ]
    if missing:
        raise DataError(f"{where}: missing column(s) {', '.join(missing)}")
    for col in ("as_of", "expiration"):
        ts = parse_times(df[col])
        if ts.isna().any():
            pos = int(np.argmax(ts.isna().to_numpy()))
            fail(pos, f"unparseable {col} {df[col].iloc[pos]!r}")
        df[col] = ts
    df["type"] = df["type"].astype(str).str.strip().str.lower().replace({"c": "call", "p": "put"})
    bad = ~df["type"].isin(["call", "put"])
    if bad.any():
        pos = int(np.argmax(bad.to_numpy()))
        fail(pos, f"type must be call or put, got {df['type'].iloc[pos]!r}")
    df["underlying"] = df["underlying"].astype(str).str.strip().str.upper()
    for col in ("strike", "volume", "open_interest") + _OPTIONAL:
        if col not in df:
            df[col] = np.nan
            continue
        if pd.api.types.is_numeric_dtype(df[col]):
            df[col] = df[col].astype(float)
            continue
        text = df[col].astype(str).str.strip()
        num = pd.to_numeric(text.replace({"": "nan", "None": "nan"}), errors="coerce")
        bad = num.isna() & ~text.str.lower().isin(["", "nan", "none"])
        if bad.any():
            pos = int(np.argmax(bad.to_numpy()))
            fail(pos, f"{col} is not a number ({text.iloc[pos]!r})")
        df[col] = num.astype(float)
    for col, lo in (("strike", 0.0), ("volume", None), ("open_interest", None)):
        arr = df[col].to_numpy()
        bad = ~np.isfinite(arr) | ((arr <= 0) if lo is not None else (arr < 0))
        if bad.any():
            pos = int(np.argmax(bad))
            fail(
                pos,
                f"{col} must be a finite {'positive' if lo is not None else 'non-negative'} number, got {arr[pos]!r}",
            )
    iv = df["iv"].to_numpy()
    bad = np.isfinite(iv) & (iv < 0) | np.isinf(iv)
    if bad.any():
        pos = int(np.argmax(bad))
        fail(pos, f"iv must be non-negative, got {iv[pos]!r}")
    return df[list(SNAPSHOT_COLUMNS)].sort_values("as_of", kind="stable").reset_index(drop=True)


def read_snapshots(path: str | Path) -> pd.DataFrame:
    """Read option snapshots from a CSV, Parquet or JSON (list of rows) file."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            raw = pd.read_csv(path, dtype=str, keep_default_na=False)
        elif suffix in (".parquet", ".pq"):
            raw = pd.read_parquet(path)
        elif suffix == ".json":
            raw = pd.DataFrame(json.loads(path.read_text(encoding="utf-8")))
        else:
            raise DataError(f"{path}: unsupported options file type {suffix!r}; use .csv, .parquet or .json")
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: file is empty") from None
    except (ValueError, OSError) as exc:
        raise DataError(f"{path}: cannot read: {str(exc).splitlines()[0]}") from None
    return tidy_snapshots(raw, str(path))


def chain_to_rows(underlying: str, chain: dict, open_interest: dict[str, float], as_of: pd.Timestamp) -> pd.DataFrame:
    """Rows of the snapshot table from Alpaca's option-chain JSON (contract -> snapshot)."""
    rows = []
    for contract, snap in chain.items():
        greeks = snap.get("greeks") or {}
        bar = snap.get("dailyBar") or {}
        rows.append(
            {
                "as_of": as_of,
                "symbol": contract,
                "underlying": underlying,
                "iv": snap.get("impliedVolatility"),
                "delta": greeks.get("delta"),
                "gamma": greeks.get("gamma"),
                "theta": greeks.get("theta"),
                "vega": greeks.get("vega"),
                "volume": bar.get("v", 0),
                "open_interest": open_interest.get(contract, 0),
            }
        )
    return pd.DataFrame(rows)


def load_alpaca_chain(underlying: str, as_of: pd.Timestamp | None = None) -> pd.DataFrame:
    """Today's chain snapshot of ``underlying`` from Alpaca (IV, greeks, daily volume) with the
    open interest of its contracts (trading API), every page. Stamp: ``as_of`` or now."""
    key, secret = os.environ.get("APCA_API_KEY_ID"), os.environ.get("APCA_API_SECRET_KEY")
    if not key or not secret:
        raise DataError("alpaca: set APCA_API_KEY_ID and APCA_API_SECRET_KEY (environment or .env)")
    try:
        from alpaca.data.historical.option import OptionHistoricalDataClient
        from alpaca.data.requests import OptionChainRequest
        from alpaca.trading.client import TradingClient
        from alpaca.trading.requests import GetOptionContractsRequest
    except ImportError:
        raise DataError("alpaca: alpaca-py is not installed (pip install 'autostock[live]')") from None
    stamp = pd.Timestamp(as_of) if as_of is not None else pd.Timestamp.now(tz="UTC")
    try:
        data = OptionHistoricalDataClient(key, secret, raw_data=True, url_override=os.environ.get("APCA_API_DATA_URL"))
        chain = data.get_option_chain(OptionChainRequest(underlying_symbol=underlying))
        trading = TradingClient(
            key, secret, paper=True, raw_data=True, url_override=os.environ.get("APCA_API_BASE_URL")
        )
        oi: dict[str, float] = {}
        token = None
        while True:
            page: Any = trading.get_option_contracts(
                GetOptionContractsRequest(underlying_symbols=[underlying], page_token=token)
            )
            for c in page.get("option_contracts") or []:
                oi[c["symbol"]] = float(c.get("open_interest") or 0)
            token = page.get("next_page_token")
            if not token:
                break
    except Exception as exc:  # noqa: BLE001 - network and API errors come in many types
        raise DataError(f"alpaca: cannot download the {underlying} option chain: {type(exc).__name__}") from None
    if not chain:
        raise DataError(f"alpaca: empty option chain for {underlying}")
    return tidy_snapshots(chain_to_rows(underlying, chain, oi, stamp), f"alpaca:options:{underlying}")


def _pick_iv(usable: pd.DataFrame, typ: str, delta: float, moneyness: float) -> pd.Series:
    """IV per snapshot of the contract of ``typ`` nearest ``delta`` (or ``moneyness`` x spot)."""
    side = usable[usable["type"] == typ]
    dist = (
        (side["delta"] - delta)
        .abs()
        .where(side["delta"].notna(), (side["strike"] / side["underlying_price"] - moneyness).abs())
    )
    side = side.assign(_dist=dist).dropna(subset=["_dist"])
    if side.empty:
        return pd.Series(dtype=float)
    best = side.loc[side.groupby("as_of")["_dist"].idxmin()]
    return best.set_index("as_of")["iv"]


def snapshot_metrics(snaps: pd.DataFrame, symbol: str) -> pd.DataFrame:
    """One row per snapshot time of ``symbol``: the options-flow measures (vectorised)."""
    mine = snaps[snaps["underlying"] == symbol.upper()]
    if mine.empty:
        return pd.DataFrame(columns=["as_of", *OPTION_BAR_COLUMNS])
    sums = mine.groupby(["as_of", "type"])[["volume", "open_interest"]].sum().unstack("type", fill_value=0.0)
    sums = sums.reindex(
        columns=pd.MultiIndex.from_product([["volume", "open_interest"], ["call", "put"]]), fill_value=0.0
    )
    life = (mine["expiration"] - mine["as_of"]).dt.days
    usable = mine[(life >= 7) & np.isfinite(mine["iv"])]
    usable = usable[usable["expiration"] == usable.groupby("as_of")["expiration"].transform("min")]
    skew = _pick_iv(usable, "put", -0.25, 0.95) - _pick_iv(usable, "call", 0.25, 1.05)
    with np.errstate(invalid="ignore", divide="ignore"):
        vol = sums["volume"]["put"] + sums["volume"]["call"]
        oi = sums["open_interest"]["put"] + sums["open_interest"]["call"]
        out = pd.DataFrame(
            {
                "opt_pc_volume": sums["volume"]["put"] / sums["volume"]["call"],
                "opt_pc_oi": sums["open_interest"]["put"] / sums["open_interest"]["call"],
                "opt_iv_skew": skew.reindex(sums.index),
                "opt_volume": vol,
                "opt_oi": oi,
                "opt_volume_oi": vol / oi,
            },
            index=sums.index,
        )
    return out.rename_axis("as_of").reset_index()[["as_of", *OPTION_BAR_COLUMNS]]


def options_to_bars(snaps: pd.DataFrame, symbol: str, index: pd.DatetimeIndex) -> pd.DataFrame:
    """Per-bar options-flow columns: the newest snapshot taken strictly before each decision time
    and after the previous one; NaN where none."""
    metrics = snapshot_metrics(snaps, symbol)
    out = pd.DataFrame(np.nan, index=index, columns=list(OPTION_BAR_COLUMNS))
    if metrics.empty:
        return out
    k = np.searchsorted(decision_times(index).to_numpy(), metrics["as_of"].to_numpy(), side="right")
    keep = k < len(index)
    metrics, k = metrics[keep], k[keep]
    if len(k):
        last = np.r_[k[1:] != k[:-1], True]  # of several snapshots in one bar, the newest
        out.iloc[k[last]] = metrics[list(OPTION_BAR_COLUMNS)].to_numpy(dtype=float)[last]
    return out.replace([np.inf, -np.inf], np.nan)
