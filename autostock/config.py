"""RunSpec and settings: every setting parsed once, into a typed object, by one grammar.

Precedence, lowest to highest: defaults < config file (TOML) < environment / ``.env``
(``AUTOSTOCK_<OPTION>``) < CLI flags. All three sources go through :func:`coerce_settings`,
so a key means the same everywhere and a value is read by the same grammar:

* a value is ``true/false/yes/no/on/off``, ``none``, an int, a float or a string
  (:func:`parse_value`); TOML's own types are taken as they are;
* a table given as text is ``key=value,key=value`` (:func:`parse_mapping`), a repeatable
  flag ``KEY=VALUE`` (:func:`parse_pairs`);
* a commission is a percent (``0.1``, ``0.1%``) or per share with an optional minimum
  (``0.005/share,min=1``) (:func:`parse_commission`);
* dates are ISO (``2020-01-31``).

Keys are the option names: ``spread`` (bps), ``universe`` (a selector) and ``commission``
(the grammar above) are accepted beside the RunSpec field names.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autostock.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from autostock.risk.settings import RiskSettings

DEFAULT_SYMBOLS: tuple[str, ...] = ("AAPL", "MSFT", "JPM", "XOM", "JNJ")


# -- the one value grammar ------------------------------------------------------------------
def parse_value(text: str) -> Any:
    """Parse one text value: bool, ``None``, int, float, or the string itself."""
    low = text.strip().lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    if low in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_pair(item: str, what: str) -> tuple[str, Any]:
    """One ``key=value`` item; ``what`` names it in the error (a flag or a setting)."""
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"{what} {item!r}: expected key=value")
    return key.strip(), parse_value(value.strip())


def parse_pairs(pairs: tuple[str, ...] | list[str], flag: str = "--param") -> dict[str, Any]:
    """Repeated ``KEY=VALUE`` items (a repeatable flag) into a dict."""
    return dict(parse_pair(pair, flag) for pair in pairs)


def parse_mapping(text: str, what: str) -> dict[str, Any]:
    """``key=value,key=value`` text (an environment variable, a TOML string) into a dict."""
    return dict(parse_pair(part, what) for part in (p.strip() for p in text.split(",")) if part)


def split_symbols(text: str) -> list[str]:
    return [s.strip().upper() for s in text.split(",") if s.strip()]


_PER_SHARE = re.compile(r"([0-9.]+)/share(?:,(.*))?")


def parse_commission(value: Any, what: str = "commission") -> dict[str, float]:
    """A commission setting into the RunSpec cost fields (all three, so sources never mix).

    ``0.1`` / ``"0.1%"`` -> percent of traded value; ``"0.005/share"`` or
    ``"0.005/share,min=1"`` -> per share with a minimum per order.
    """

    def bad() -> ConfigError:
        return ConfigError(f"{what}={value!r}: expected a percent like 0.1 or per share like 0.005/share,min=1")

    if isinstance(value, bool):
        raise bad()
    if isinstance(value, (int, float)):
        return {"commission": float(value), "commission_per_share": 0.0, "commission_min": 0.0}
    if not isinstance(value, str):
        raise bad()
    raw = value.strip().lower().replace(" ", "")
    m = _PER_SHARE.fullmatch(raw)
    try:
        if m:
            extra = parse_mapping(m.group(2) or "", what)
            if set(extra) - {"min"}:
                raise bad()
            return {
                "commission": 0.0,
                "commission_per_share": float(m.group(1)),
                "commission_min": float(extra.get("min", 0.0)),
            }
        return {"commission": float(raw.removesuffix("%")), "commission_per_share": 0.0, "commission_min": 0.0}
    except (TypeError, ValueError):
        raise bad() from None


def parse_date(value: Any, what: str) -> str:
    """An ISO date (``2020-01-31``; a TOML date; an ISO date-time) as ``YYYY-MM-DD...`` text."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        text = value.strip()
        try:
            return date.fromisoformat(text).isoformat() if len(text) <= 10 else datetime.fromisoformat(text).isoformat()
        except ValueError:
            pass
    raise ConfigError(f"{what}={value!r} is not a date: expected YYYY-MM-DD, e.g. 2020-01-31")


@dataclass(frozen=True)
class Costs:
    """Trading costs of a run: percent ``commission`` of traded value, or ``per_share`` with
    ``minimum`` per order; ``slippage`` percent of price; ``spread_bps`` the full bid/ask spread."""

    commission: float = 0.0
    per_share: float = 0.0
    minimum: float = 0.0
    slippage: float = 0.0
    spread_bps: float = 0.0


@dataclass
class RunSpec:
    """Everything that defines one run, independent of the mode it runs in.

    Costs: ``commission`` is percent of traded value; ``commission_per_share`` with
    ``commission_min`` per order replaces it when set; ``slippage`` is percent of price;
    ``spread_bps`` is the full bid/ask spread in basis points, half charged on each side
    (:attr:`costs` gives them as one :class:`Costs`). ``quote_impact`` is the size-based impact of
    the quote-aware fill on bars that carry quotes (``ask * (1 + k * size / ask_size)``). ``risk`` is the raw risk table;
    :meth:`risk_settings` validates it once into :class:`~autostock.risk.settings.RiskSettings`.
    """

    strategy: str = "sma_cross"
    params: dict[str, Any] = field(default_factory=dict)
    data: str = "synthetic"
    symbols: list[str] | None = None
    start: str | None = None
    end: str | None = None
    cash: float = 100_000.0
    commission: float = 0.0
    commission_per_share: float = 0.0
    commission_min: float = 0.0
    slippage: float = 0.0
    spread_bps: float = 0.0
    quote_impact: float = 0.0
    sizer: str = "percent"
    sizer_params: dict[str, Any] = field(default_factory=dict)
    benchmark: str | None = None
    seed: int = 42
    out: str | None = None
    analyzers: list[str] = field(default_factory=list)
    risk: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Fail fast with a message naming the bad value."""
        for name in (
            "cash",
            "commission",
            "commission_per_share",
            "commission_min",
            "slippage",
            "spread_bps",
            "quote_impact",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"{name} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ConfigError(f"{name} must be a finite number, got {value}")
        if not (self.cash > 0):
            raise ConfigError(f"cash must be > 0, got {self.cash}")
        for name in ("commission", "commission_per_share", "commission_min", "slippage", "spread_bps", "quote_impact"):
            value = getattr(self, name)
            if not (value >= 0):
                raise ConfigError(f"{name} must be >= 0, got {value}")
        if self.commission and self.commission_per_share:
            raise ConfigError("give either a percent commission or a per-share commission, not both")
        if self.commission_min and not self.commission_per_share:
            raise ConfigError(
                f"commission_min={self.commission_min} applies to a per-share commission only "
                "(e.g. commission 0.005/share,min=1)"
            )
        if self.commission >= 100 or self.slippage >= 100:
            raise ConfigError("commission and slippage are percents and must be below 100")
        if self.symbols is not None:
            if not self.symbols or any(not s for s in self.symbols):
                raise ConfigError(f"symbols must be a non-empty list of tickers, got {self.symbols}")
            if len(set(self.symbols)) != len(self.symbols):
                raise ConfigError(f"duplicate symbol in {','.join(self.symbols)}")
        for name in ("start", "end"):
            if getattr(self, name) is not None:
                setattr(self, name, parse_date(getattr(self, name), name))
        if self.start and self.end and self.start[:10] > self.end[:10]:
            raise ConfigError(f"start {self.start} is after end {self.end}")

    @property
    def costs(self) -> Costs:
        """The run's costs as one typed object."""
        return Costs(self.commission, self.commission_per_share, self.commission_min, self.slippage, self.spread_bps)

    def strategy_class(self) -> Any:
        """The strategy class ``strategy`` names, looked up once per spec (registry, file or module)."""
        cache = self.__dict__.setdefault("_cache", {})
        if cache.get("strategy", (None,))[0] != self.strategy:
            from autostock.registry import STRATEGIES

            cache["strategy"] = (self.strategy, STRATEGIES.get(self.strategy))
        return cache["strategy"][1]

    def risk_settings(self) -> RiskSettings:
        """``risk`` (over the strategy's ``risk_defaults``) validated once into typed settings."""
        from autostock.risk.settings import parse_risk

        cache = self.__dict__.setdefault("_cache", {})
        key = (self.strategy, repr(self.risk))
        if cache.get("risk", (None,))[0] != key:
            defaults = getattr(self.strategy_class(), "risk_defaults", None)
            cache["risk"] = (key, parse_risk(self.risk, strategy=self.strategy, strategy_defaults=defaults))
        return cache["risk"][1]

    def __getstate__(self) -> dict[str, Any]:  # the cache holds classes: never pickled
        return {k: v for k, v in self.__dict__.items() if k != "_cache"}

    def replace(self, **changes: Any) -> RunSpec:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


FIELDS = {f.name: f for f in dataclasses.fields(RunSpec)}
#: option names accepted beside the field names, in TOML, ``AUTOSTOCK_*`` and flags
ALIASES: dict[str, str] = {"spread": "spread_bps"}
#: keys that expand into other fields
SPECIAL_KEYS: tuple[str, ...] = ("commission", "universe")
SETTING_KEYS: tuple[str, ...] = tuple(sorted({*FIELDS, *ALIASES, *SPECIAL_KEYS}))
_NUMBERS = ("cash", "commission_per_share", "commission_min", "slippage", "spread_bps", "quote_impact")
_TEXTS = ("strategy", "data", "sizer", "benchmark", "out")
_TABLES = ("params", "sizer_params", "risk", "extras")


def _coerce(name: str, value: Any, where: str) -> Any:
    """One setting's value, typed; ``where`` names the source in errors (a file, a variable)."""
    label = f"{where}: {name}" if where else name
    if isinstance(value, str) and name in _NUMBERS + ("seed",):
        value = parse_value(value)
    if name in _NUMBERS:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{label}={value!r}: expected a number")
        return float(value)
    if name == "seed":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{label}={value!r}: expected a whole number")
        return value
    if name in ("start", "end"):
        return parse_date(value, label)
    if name in _TEXTS:
        if not isinstance(value, str):
            raise ConfigError(f"{label}={value!r}: expected text")
        return value
    if name in _TABLES:
        if isinstance(value, str):
            return parse_mapping(value, label)
        if not isinstance(value, Mapping):
            raise ConfigError(f"{label}={value!r}: expected a table of key = value")
        return dict(value)
    if name == "symbols":
        if isinstance(value, str):
            from autostock.universe import parse_symbols

            return parse_symbols(value)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{label}={value!r}: expected a list of tickers or comma-separated text")
        return [v.strip().upper() for v in value]
    if name == "analyzers":
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{label}={value!r}: expected a list of analyzer names")
        return list(value)
    return value


def coerce_settings(raw: Mapping[str, Any], where: str = "") -> dict[str, Any]:
    """Settings from any source (TOML table, environment, flags) into typed RunSpec fields.

    Keys are field names or option names (:data:`ALIASES`, ``commission`` in the commission
    grammar, ``universe`` a selector); an unknown key raises ConfigError listing the valid ones.
    """
    unknown = sorted(set(raw) - set(SETTING_KEYS))
    if unknown:
        prefix = f"{where}: " if where else ""
        raise ConfigError(f"{prefix}unknown key(s) {', '.join(unknown)}; valid: {', '.join(SETTING_KEYS)}")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        label = f"{where}: {key}" if where else key
        if key == "commission":
            out.update(
                parse_commission(parse_value(value) if isinstance(value, str) and "/" not in value else value, label)
            )
        elif key == "universe":
            if "symbols" in raw:
                raise ConfigError(f"{where + ': ' if where else ''}give either symbols or universe, not both")
            from autostock.universe import select

            if not isinstance(value, str):
                raise ConfigError(f"{label}={value!r}: expected a selector like tier=safe,max=20")
            out["symbols"] = select(value)
        else:
            name = ALIASES.get(key, key)
            out[name] = _coerce(name, value, where)
    return out


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML config file into typed RunSpec fields (keys: the option names; tables for dicts)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = tomllib.loads(p.read_text())
    except tomllib.TOMLDecodeError as exc:
        hint = ""
        if "overwrite" in str(exc).lower():
            hint = (
                " (a key set twice, e.g. `sector_caps = true` beside a [risk.sector_caps] table: "
                "the table alone turns the caps on)"
            )
        raise ConfigError(f"{path}: invalid TOML: {exc}{hint}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file") from None
    section = dict(data.get("backtest", data))
    section.pop("backtest", None)
    return coerce_settings(section, str(path))


#: ``AUTOSTOCK_*`` names read from the environment (the option names, upper case)
ENV_KEYS: tuple[str, ...] = SETTING_KEYS


def env_settings(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``AUTOSTOCK_<OPTION>`` variables (after loading ``.env`` if present), typed like the TOML keys.

    Tables (``AUTOSTOCK_PARAMS``, ``AUTOSTOCK_RISK``) are ``key=value,key=value``.
    """
    if environ is None:
        try:
            from dotenv import load_dotenv

            load_dotenv(override=False)
        except ImportError:  # pragma: no cover - python-dotenv is a dependency
            pass
        environ = dict(os.environ)
    out: dict[str, Any] = {}
    for key in ENV_KEYS:
        var = f"AUTOSTOCK_{key.upper()}"
        raw = environ.get(var)
        if raw is not None:
            out.update(coerce_settings({key: raw}, var))
    return out


def build_spec(config_file: str | None = None, **cli: Any) -> RunSpec:
    """Merge defaults < config file < environment < CLI flags (``None`` means 'not given').

    Every source goes through :func:`coerce_settings`; tables merge key by key. The risk
    settings are validated once here (:meth:`RunSpec.risk_settings`), and kept.
    """
    merged: dict[str, Any] = {}
    layers = [
        load_toml(config_file) if config_file else {},
        env_settings(),
        coerce_settings({k: v for k, v in cli.items() if v is not None}),
    ]
    for layer in layers:
        for key, value in layer.items():
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = _merge_tables(merged[key], value)
            else:
                merged[key] = value
    spec = RunSpec(**merged)
    if spec.risk:
        spec.risk_settings()
    return spec


def _merge_tables(low: dict[str, Any], high: dict[str, Any]) -> dict[str, Any]:
    out = dict(low)
    for key, value in high.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge_tables(out[key], value)
        else:
            out[key] = value
    return out
