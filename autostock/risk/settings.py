"""Risk settings: the ``risk`` table of a RunSpec, validated into :class:`RiskSettings`.

Keys (all optional)::

    stop_loss = 0.05            # protective stop 5 % from the entry price
    take_profit = 0.10          # take-profit limit 10 % from the entry price
    trailing_stop = 0.05        # trailing stop 5 % from the best price since entry
    max_drawdown = 0.15         # kill switch: flatten and stop entering at a 15 % drawdown
    cool_off = 20               # bars after a kill before entries resume (unset: never)
    max_position_weight = 0.10  # largest position as a fraction of equity
    max_leverage = 1.0          # gross exposure / equity
    sector_caps = true          # default caps; or a table {Technology = 0.25, other = 0.1}
    correlation_limit = 0.8     # rolling correlation with the book; "off" disables
    correlation_window = 60     # bars of returns for the correlation
    correlation_action = "refuse"   # or "reduce"
    trim = true                 # sell back to the caps when prices push a position over them
    trim_band = 0.0             # ... once it is this far (weight) over a cap
    [risk.strategies.sma_cross]  # per-strategy overrides of any key above
    stop_loss = 0.03

A strategy class may also declare ``risk_defaults = {...}``: its values apply unless the run
sets the same key.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from autostock.errors import ConfigError
from autostock.universe import sector_caps as default_sector_caps


@dataclass(frozen=True)
class RiskSettings:
    """Validated risk settings (see the module docstring for meaning and defaults)."""

    stop_loss: float | None = None
    take_profit: float | None = None
    trailing_stop: float | None = None
    max_drawdown: float | None = None
    cool_off: int | None = None
    max_position_weight: float | None = None
    max_leverage: float = 1.0
    sector_caps: dict[str, float] | None = None
    correlation_limit: float | None = 0.8
    correlation_window: int = 60
    correlation_action: str = "refuse"
    trim: bool = True
    trim_band: float = 0.0

    @property
    def has_stops(self) -> bool:
        return any(v is not None for v in (self.stop_loss, self.take_profit, self.trailing_stop))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


KEYS: tuple[str, ...] = tuple(f.name for f in fields(RiskSettings))
#: the defaults, stated once (the dataclass's); CLI help and docs read them from here
DEFAULTS = RiskSettings()


def _number(key: str, value: Any, low: float, high: float, *, low_open: bool = True, high_open: bool = False) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"risk setting {key}={value!r} is not a number") from None
    below = x <= low if low_open else x < low
    above = x >= high if high_open else x > high
    if not math.isfinite(x) or below or above:
        lo, hi = ("(" if low_open else "["), (")" if high_open else "]")
        raise ConfigError(f"risk setting {key}={value!r} must be in {lo}{low}, {high}{hi}")
    return x


def _off(value: Any) -> bool:
    return (
        value is None
        or value is False
        or (isinstance(value, str) and value.strip().lower() in ("off", "none", "no", "false", ""))
    )


def _check_sectors(caps: Mapping[str, Any]) -> None:
    """A sector cap names a sector of the universe (any case) or ``other``."""
    from autostock.universe import DEFAULT_SECTOR_CAPS, OTHER, sectors

    known = [k for k in dict.fromkeys([*sectors(), *DEFAULT_SECTOR_CAPS]) if k != OTHER]
    lower = {k.lower() for k in known} | {OTHER, "others"}
    for name in caps:
        if str(name).strip().lower() not in lower:
            raise ConfigError(f"sector cap {name!r}: no such sector; valid: {', '.join(sorted(known))}, {OTHER}")


def parse_risk(
    raw: Mapping[str, Any] | None, strategy: str | None = None, strategy_defaults: Mapping[str, Any] | None = None
) -> RiskSettings:
    """Validate a risk table into :class:`RiskSettings`; a bad key or value raises ConfigError.

    Precedence: ``strategy_defaults`` (the class's ``risk_defaults``) < top-level keys <
    ``raw["strategies"][strategy]``.
    """
    raw = dict(raw or {})
    per_strategy = raw.pop("strategies", None) or {}
    if not isinstance(per_strategy, Mapping):
        raise ConfigError(f"risk setting strategies must be a table of strategy name -> settings, got {per_strategy!r}")
    merged: dict[str, Any] = {**dict(strategy_defaults or {}), **raw}
    if strategy is not None and strategy in per_strategy:
        merged.update(per_strategy[strategy])
    unknown = sorted(set(merged) - set(KEYS))
    if unknown:
        raise ConfigError(f"unknown risk setting(s) {', '.join(unknown)}; valid: {', '.join(KEYS)}, strategies")

    out: dict[str, Any] = {}
    for key in ("stop_loss", "trailing_stop", "max_drawdown"):
        if not _off(merged.get(key)):
            out[key] = _number(key, merged[key], 0.0, 1.0, high_open=True)
    if not _off(merged.get("take_profit")):
        out["take_profit"] = _number("take_profit", merged["take_profit"], 0.0, 100.0)
    if not _off(merged.get("max_leverage", DEFAULTS.max_leverage)):
        out["max_leverage"] = _number("max_leverage", merged.get("max_leverage", DEFAULTS.max_leverage), 0.0, 100.0)
    if not _off(merged.get("max_position_weight")):
        out["max_position_weight"] = _number("max_position_weight", merged["max_position_weight"], 0.0, 100.0)
    if "cool_off" in merged and not _off(merged["cool_off"]):
        value = merged["cool_off"]
        if isinstance(value, bool) or not float(_number("cool_off", value, 1, 10**9, low_open=False)).is_integer():
            raise ConfigError(f"risk setting cool_off={value!r} must be a whole number of bars >= 1")
        out["cool_off"] = int(value)
        if "max_drawdown" not in out:
            raise ConfigError("risk setting cool_off needs max_drawdown (the kill switch it cools off)")
    caps = merged.get("sector_caps")
    if not _off(caps):
        if caps is True or (
            isinstance(caps, str) and caps.strip().lower() in ("default", "defaults", "on", "true", "yes")
        ):
            out["sector_caps"] = default_sector_caps()
        elif isinstance(caps, Mapping):
            _check_sectors(caps)
            out["sector_caps"] = default_sector_caps(caps)
        else:
            raise ConfigError(f"risk setting sector_caps={caps!r}: expected true or a table of sector -> cap")
    limit = merged.get("correlation_limit", DEFAULTS.correlation_limit)
    out["correlation_limit"] = None if _off(limit) else _number("correlation_limit", limit, -1.0, 1.0, low_open=False)
    window = merged.get("correlation_window", DEFAULTS.correlation_window)
    if (
        isinstance(window, bool)
        or not float(_number("correlation_window", window, 3, 10**6, low_open=False)).is_integer()
    ):
        raise ConfigError(f"risk setting correlation_window={window!r} must be a whole number of bars >= 3")
    out["correlation_window"] = int(window)
    action = str(merged.get("correlation_action", DEFAULTS.correlation_action)).strip().lower()
    if action not in ("refuse", "reduce"):
        raise ConfigError(f"risk setting correlation_action={action!r}: expected refuse or reduce")
    out["correlation_action"] = action
    trim = merged.get("trim", DEFAULTS.trim)
    if not isinstance(trim, bool):
        raise ConfigError(f"risk setting trim={trim!r}: expected true or false")
    out["trim"] = trim
    out["trim_band"] = _number("trim_band", merged.get("trim_band", DEFAULTS.trim_band), 0.0, 1.0, low_open=False)
    settings = RiskSettings(**out)
    if settings.max_position_weight is not None and settings.max_position_weight > settings.max_leverage:
        raise ConfigError(
            f"risk setting max_position_weight={settings.max_position_weight} exceeds max_leverage={settings.max_leverage}"
        )
    return settings
