"""RunSpec and settings.

Precedence, lowest to highest: defaults < config file (TOML) < environment / ``.env``
(``AUTOSTOCK_<FIELD>``) < CLI flags.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autostock.errors import ConfigError

DEFAULT_SYMBOLS: tuple[str, ...] = ("AAPL", "MSFT", "JPM", "XOM", "JNJ")


@dataclass
class RunSpec:
    """Everything that defines one run, independent of the mode it runs in.

    Costs: ``commission`` is percent of traded value; ``commission_per_share`` with
    ``commission_min`` per order replaces it when set; ``slippage`` is percent of price;
    ``spread_bps`` is the full bid/ask spread in basis points, half charged on each side.
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
        if not (self.cash > 0):
            raise ConfigError(f"cash must be > 0, got {self.cash}")
        for name in ("commission", "commission_per_share", "commission_min", "slippage", "spread_bps"):
            value = getattr(self, name)
            if not (value >= 0):
                raise ConfigError(f"{name} must be >= 0, got {value}")
        if self.commission and self.commission_per_share:
            raise ConfigError("give either a percent commission or a per-share commission, not both")
        if self.commission_min and not self.commission_per_share:
            raise ConfigError(
                f"commission_min={self.commission_min} applies to a per-share commission only "
                "(e.g. --commission 0.005/share,min=1)"
            )
        if self.commission >= 100 or self.slippage >= 100:
            raise ConfigError("commission and slippage are percents and must be below 100")
        if self.symbols is not None:
            if not self.symbols or any(not s for s in self.symbols):
                raise ConfigError(f"symbols must be a non-empty list of tickers, got {self.symbols}")
            if len(set(self.symbols)) != len(self.symbols):
                raise ConfigError(f"duplicate symbol in {','.join(self.symbols)}")

    def replace(self, **changes: Any) -> "RunSpec":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


FIELDS = {f.name: f for f in dataclasses.fields(RunSpec)}


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML config file; its top-level keys are RunSpec fields (tables for dicts)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = tomllib.loads(p.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    section = data.get("backtest", data)
    unknown = sorted(set(section) - set(FIELDS) - {"backtest"})
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(unknown)}; valid: {', '.join(sorted(FIELDS))}")
    section = {k: v for k, v in section.items() if k != "backtest"}
    if isinstance(section.get("symbols"), str):
        section["symbols"] = split_symbols(section["symbols"])
    return section


def env_settings(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """``AUTOSTOCK_<FIELD>`` variables (after loading ``.env`` if present) for scalar fields."""
    if environ is None:
        try:
            from dotenv import load_dotenv

            load_dotenv(override=False)
        except ImportError:  # pragma: no cover - python-dotenv is a dependency
            pass
        environ = dict(os.environ)
    out: dict[str, Any] = {}
    for name, f in FIELDS.items():
        raw = environ.get(f"AUTOSTOCK_{name.upper()}")
        if raw is None or name in ("params", "sizer_params", "risk", "extras", "analyzers"):
            continue
        out[name] = split_symbols(raw) if name == "symbols" else _coerce_field(name, raw)
    return out


def _coerce_field(name: str, raw: str) -> Any:
    default = FIELDS[name].default
    try:
        if isinstance(default, bool):
            return raw.strip().lower() in ("1", "true", "yes", "on")
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
    except ValueError:
        raise ConfigError(f"AUTOSTOCK_{name.upper()}={raw!r} is not a valid {type(default).__name__}") from None
    return raw


def split_symbols(text: str) -> list[str]:
    return [s.strip().upper() for s in text.split(",") if s.strip()]


def build_spec(config_file: str | None = None, **cli: Any) -> RunSpec:
    """Merge defaults < config file < environment < CLI flags (``None`` means 'not given')."""
    merged: dict[str, Any] = {}
    if config_file:
        merged.update(load_toml(config_file))
    merged.update(env_settings())
    for key, value in cli.items():
        if value is None:
            continue
        if key not in FIELDS:
            raise ConfigError(f"unknown setting {key!r}")
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return RunSpec(**merged)


def parse_value(text: str) -> Any:
    """Parse a CLI ``key=value`` value: bool, int, float, or string."""
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


def parse_pairs(pairs: tuple[str, ...] | list[str], flag: str = "--param") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{flag} {pair!r}: expected key=value")
        out[key.strip()] = parse_value(value)
    return out
