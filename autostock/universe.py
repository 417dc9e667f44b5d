"""The symbol universe: US tickers with sector, volatility tier and risk tier.

The table lives in ``autostock/data/universe.csv`` (symbol, name, sector, volatility,
risk_tier). Selections are written as a selector string, the value of ``--universe``::

    tier=safe,max=20             # risk tier safe, at most 20 symbols
    sector=Technology            # one sector
    sector=Technology+Healthcare,vol=Low
    all                          # the whole table

``max`` picks symbols round-robin across sectors (in table order within a sector), so a
short list stays diversified. Per-sector allocation caps (fractions of equity) default to
:data:`DEFAULT_SECTOR_CAPS`; a config's ``[risk.sector_caps]`` table overrides single sectors.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from autostock.errors import ConfigError

VOLATILITY_TIERS: tuple[str, ...] = ("Low", "Medium", "High")
RISK_TIERS: tuple[str, ...] = ("safe", "growth", "aggressive", "ETF")
OTHER = "other"
#: default per-sector caps as fractions of equity; ``other`` covers every sector not named
DEFAULT_SECTOR_CAPS: dict[str, float] = {
    "Technology": 0.30,
    "Healthcare": 0.20,
    "Financials": 0.20,
    "ETF": 0.15,
    OTHER: 0.15,
}
SELECTOR_KEYS: tuple[str, ...] = ("sector", "tier", "vol", "max")


@dataclass(frozen=True)
class Asset:
    """One row of the universe table."""

    symbol: str
    name: str
    sector: str
    volatility: str
    risk_tier: str


@lru_cache(maxsize=1)
def load_universe() -> tuple[Asset, ...]:
    """Read and validate the packaged universe table (cached)."""
    text = resources.files("autostock").joinpath("data/universe.csv").read_text(encoding="utf-8")
    assets: list[Asset] = []
    seen: set[str] = set()
    for row_no, row in enumerate(csv.DictReader(text.splitlines()), start=2):
        asset = Asset(
            row["symbol"].strip().upper(),
            row["name"].strip(),
            row["sector"].strip(),
            row["volatility"].strip(),
            row["risk_tier"].strip(),
        )
        if asset.volatility not in VOLATILITY_TIERS or asset.risk_tier not in RISK_TIERS:
            raise ConfigError(f"universe.csv row {row_no}: bad tier in {row}")
        if asset.symbol in seen:
            raise ConfigError(f"universe.csv row {row_no}: duplicate symbol {asset.symbol}")
        seen.add(asset.symbol)
        assets.append(asset)
    return tuple(assets)


def by_symbol() -> dict[str, Asset]:
    """The universe keyed by symbol."""
    return {a.symbol: a for a in load_universe()}


def sectors() -> list[str]:
    """Sector names in table order."""
    return list(dict.fromkeys(a.sector for a in load_universe()))


def _match(value: str, choices: Iterable[str], what: str) -> str:
    """Case-insensitive lookup of ``value`` in ``choices``; a miss lists the valid ones."""
    choices = list(choices)
    for choice in choices:
        if choice.lower() == value.strip().lower():
            return choice
    raise ConfigError(f"unknown {what} {value!r}; valid: {', '.join(choices)}")


def filter_universe(
    sector: str | Iterable[str] | None = None,
    tier: str | Iterable[str] | None = None,
    vol: str | Iterable[str] | None = None,
    max_count: int | None = None,
) -> list[Asset]:
    """Assets matching every given filter (each filter may list several values).

    Parameters
    ----------
    sector, tier, vol
        Sector name(s), risk tier(s) (safe/growth/aggressive/ETF), volatility tier(s)
        (Low/Medium/High); case-insensitive. ``None`` means no filter.
    max_count
        At most this many assets, taken round-robin across sectors so the list stays diversified.
    """

    def wanted(values: str | Iterable[str] | None, choices: Iterable[str], what: str) -> set[str] | None:
        if values is None:
            return None
        values = [values] if isinstance(values, str) else list(values)
        return {_match(v, choices, what) for v in values}

    sec = wanted(sector, sectors(), "sector")
    tie = wanted(tier, RISK_TIERS, "risk tier")
    vo = wanted(vol, VOLATILITY_TIERS, "volatility tier")
    picked = [
        a
        for a in load_universe()
        if (sec is None or a.sector in sec)
        and (tie is None or a.risk_tier in tie)
        and (vo is None or a.volatility in vo)
    ]
    if max_count is None or max_count >= len(picked):
        return picked
    if max_count < 1:
        raise ConfigError(f"max must be >= 1, got {max_count}")
    queues: dict[str, list[Asset]] = {}
    for a in picked:
        queues.setdefault(a.sector, []).append(a)
    out: list[Asset] = []
    while len(out) < max_count:
        for queue in queues.values():
            if queue and len(out) < max_count:
                out.append(queue.pop(0))
    order = {a.symbol: i for i, a in enumerate(picked)}
    return sorted(out, key=lambda a: order[a.symbol])


def parse_selector(text: str) -> dict[str, list[str] | int | None]:
    """Parse ``key=value[,key=value]`` (values joined by ``+`` or ``|``) into filter kwargs.

    Keys: ``sector``, ``tier`` (risk tier), ``vol`` (volatility tier), ``max``; the single
    word ``all`` selects everything.
    """
    out: dict[str, list[str] | int | None] = {"sector": None, "tier": None, "vol": None, "max_count": None}
    text = text.strip()
    if not text:
        raise ConfigError("empty universe selector; e.g. tier=safe,max=20 or sector=Technology")
    if text.lower() == "all":
        return out
    for part in text.split(","):
        key, sep, value = part.partition("=")
        key = key.strip().lower()
        aliases = {"volatility": "vol", "risk": "tier", "risk_tier": "tier", "n": "max", "count": "max"}
        key = aliases.get(key, key)
        if not sep or not value.strip() or key not in SELECTOR_KEYS:
            raise ConfigError(
                f"bad universe selector part {part!r} in {text!r}: expected key=value with key one of "
                f"{', '.join(SELECTOR_KEYS)}"
            )
        if key == "max":
            try:
                out["max_count"] = count = int(value)
            except ValueError:
                raise ConfigError(f"universe selector max={value!r} is not an integer") from None
            if count < 1:
                raise ConfigError(f"universe selector max must be >= 1, got {value}")
        else:
            out[key] = [v for v in value.replace("|", "+").split("+") if v.strip()]
    return out


def select(text: str) -> list[str]:
    """Symbols chosen by a selector string such as ``tier=safe,max=20``."""
    kwargs = parse_selector(text)
    symbols = [a.symbol for a in filter_universe(**kwargs)]  # type: ignore[arg-type]
    if not symbols:
        raise ConfigError(f"universe selector {text!r} matches no symbol")
    return symbols


def parse_symbols(text: str) -> list[str]:
    """``--symbols`` text: tickers (``AAPL,MSFT``), a selector (``tier=safe,max=20``) or ``universe``.

    A selector is recognised by its ``=``; the word ``universe`` (or ``universe:SELECTOR``)
    selects from the universe explicitly (``ALL`` stays a ticker).
    """
    raw = text.strip()
    if raw.lower() == "universe":
        return select("all")
    if raw.lower().startswith("universe:"):
        return select(raw.split(":", 1)[1])
    if "=" in raw:
        return select(raw)
    symbols = [s.strip().upper() for s in raw.split(",") if s.strip()]
    if not symbols:
        raise ConfigError(f"no symbols in {text!r}")
    return symbols


def sectors_for(symbols: Iterable[str]) -> dict[str, str]:
    """Sector of each symbol that is in the universe (symbols outside it are left out)."""
    table = by_symbol()
    return {s: table[s.upper()].sector for s in symbols if s.upper() in table}


def sector_caps(overrides: Mapping[str, float] | None = None) -> dict[str, float]:
    """Default sector caps updated with ``overrides`` (sector name, any case, or ``other``).

    Each cap is a fraction of equity in (0, 1]; a bad name or value raises ConfigError.
    """
    caps = dict(DEFAULT_SECTOR_CAPS)
    known = list(dict.fromkeys([*sectors(), *DEFAULT_SECTOR_CAPS]))
    for name, value in (overrides or {}).items():
        key = OTHER if name.strip().lower() in (OTHER, "others") else None
        if key is None:
            key = next((s for s in known if s.lower() == name.strip().lower()), name.strip())
        try:
            cap = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"sector cap for {name!r} must be a number, got {value!r}") from None
        if not 0 < cap <= 1:
            raise ConfigError(f"sector cap for {name!r} must be in (0, 1], got {value}")
        caps[key] = cap
    return caps


def cap_for(sector: str | None, caps: Mapping[str, float]) -> float:
    """The cap that applies to ``sector`` (the ``other`` cap for sectors not named)."""
    if sector in caps:
        return float(caps[sector])  # type: ignore[index]
    return float(caps.get(OTHER, 1.0))
