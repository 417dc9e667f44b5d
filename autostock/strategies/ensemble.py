"""Vote among registered strategies (rule-based and ML) inside one backtrader strategy."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from autostock.errors import ConfigError
from autostock.registry import STRATEGIES
from autostock.strategies.base import SignalStrategy

METHODS = ("majority", "weighted")


@dataclass
class Member:
    """One voting strategy: registered name, its params and its vote weight."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    weight: float = 1.0


def _parse_text_member(text: str) -> Member:
    name, _, rest = text.strip().partition(":")
    params: dict[str, Any] = {}
    for pair in filter(None, (s.strip() for s in rest.split(","))):
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"ensemble member {text.strip()!r}: expected name:key=value,key=value")
        params[key.strip()] = value.strip()
    return Member(name.strip(), params)


def parse_members(spec: str | list | dict, weights: str | list | None = None) -> list[Member]:
    """Members from ``"sma_cross:fast=10,slow=30;rsi;ml_signal:model=models/x"`` or from JSON.

    JSON forms: ``[{"name": "sma_cross", "params": {"fast": 10}, "weight": 2}, ...]`` or
    ``{"sma_cross": {"fast": 10}, "rsi": {}}``. ``weights`` (``"2,1,1"`` or a list) overrides
    the members' weights in order.
    """
    if isinstance(spec, str):
        text = spec.strip()
        if not text:
            raise ConfigError("ensemble needs members, e.g. members='sma_cross:fast=10,slow=30;rsi'")
        if text[0] in "[{":
            try:
                spec = json.loads(text)
            except ValueError as exc:
                raise ConfigError(f"ensemble members: invalid JSON ({exc})") from None
        else:
            members = [_parse_text_member(t) for t in text.split(";") if t.strip()]
    if isinstance(spec, dict):
        members = [Member(str(k), dict(v or {})) for k, v in spec.items()]
    elif isinstance(spec, list):
        members = []
        for item in spec:
            if isinstance(item, str):
                members.append(_parse_text_member(item))
            elif isinstance(item, dict) and "name" in item:
                members.append(
                    Member(str(item["name"]), dict(item.get("params") or {}), float(item.get("weight", 1.0)))
                )
            else:
                raise ConfigError(f"ensemble member {item!r}: expected a name or {{'name': ..., 'params': ...}}")
    if weights not in (None, ""):
        values = [float(w) for w in (weights.split(",") if isinstance(weights, str) else weights)]
        if len(values) != len(members):
            raise ConfigError(f"ensemble has {len(members)} members but {len(values)} weights ({weights})")
        for m, w in zip(members, values):
            m.weight = w
    if not members:
        raise ConfigError("ensemble needs at least one member strategy")
    for m in members:
        if not (m.weight >= 0):
            raise ConfigError(f"ensemble weight of {m.name} must be >= 0, got {m.weight}")
    if sum(m.weight for m in members) <= 0:
        raise ConfigError("ensemble weights sum to 0")
    return members


def member_signal(member: Member, data: Any) -> Any:
    """Build ``member``'s signal line on ``data`` (the member's own ``signal`` classmethod)."""
    from autostock.engine import check_params

    cls = STRATEGIES.get(member.name)
    if not (isinstance(cls, type) and issubclass(cls, SignalStrategy)):
        raise ConfigError(
            f"ensemble member {member.name!r} has no signal line: only SignalStrategy strategies can vote"
        )
    params = check_params(cls, member.params, f"ensemble member {member.name!r}")
    return cls.signal(data, cls.param_namespace(**params))


def normalised_weights(members: list[Member], method: str) -> list[float]:
    """Equal weights for ``majority``; the members' weights scaled to sum to one for ``weighted``."""
    if method not in METHODS:
        raise ConfigError(f"ensemble method must be one of {', '.join(METHODS)}, got {method!r}")
    raw = [1.0] * len(members) if method == "majority" else [m.weight for m in members]
    total = float(sum(raw))
    return [w / total for w in raw]


@STRATEGIES.register("ensemble")
class Ensemble(SignalStrategy):
    """Long / short / flat by a vote of member strategies' signals.

    Formula: with weights ``w_i`` summing to one (equal for ``majority``) and member signals
    ``s_i`` in {-1, 0, +1}: ``long_share = sum w_i [s_i > 0]``, ``short_share = sum w_i [s_i < 0]``;
    ``signal = +1 if long_share > quorum; -1 if short_share > quorum; else 0``.

    Params: ``members`` (``"sma_cross:fast=10,slow=30;rsi;ml_signal:model=models/x"`` or a JSON
    list/dict), ``method`` (``majority`` | ``weighted``), ``weights`` (``"2,1,1"``, for
    ``weighted``), ``quorum`` (0.5: a strict majority of the weight), ``allow_short`` (False).
    Members vote with their own signal lines, so their indicators all run inside this strategy;
    an ``ml_signal`` member naming a predictor is trained before the run (:meth:`before_run`).
    """

    params = (("members", ""), ("method", "majority"), ("weights", ""), ("quorum", 0.5))

    @classmethod
    def run_facts(cls, spec: Any, market: Any) -> dict[str, Any]:
        """``tuned_on_overlap`` (and a warning note) for the ml_signal members' model directories."""
        from autostock.strategies.ml_signal import tuned_facts

        members = parse_members(spec.params.get("members", ""), spec.params.get("weights") or None)
        return tuned_facts([dict(m.params) for m in members if m.name == "ml_signal"], market)

    @classmethod
    def before_run(cls, spec: Any, market: Any) -> Any:
        """``spec`` with every ``ml_signal`` member naming a predictor trained walk-forward
        before the run (its out-of-sample predictions become the member's ``predictions``)."""
        from autostock.strategies.ml_signal import trained_before_run

        members = parse_members(spec.params.get("members", ""), spec.params.get("weights") or None)
        symbols = list(spec.symbols or market.symbols)
        changed = False
        rebuilt = []
        for m in members:
            params = dict(m.params)
            if m.name == "ml_signal":
                trained = trained_before_run(params, market, symbols)
                changed = changed or trained is not params
                params = trained
            rebuilt.append({"name": m.name, "params": params, "weight": m.weight})
        if not changed:
            return spec
        return spec.replace(params={**spec.params, "members": rebuilt, "weights": ""})

    @classmethod
    def signal(cls, data: Any, p: Any) -> Any:
        if not 0.0 <= float(p.quorum) < 1.0:
            raise ConfigError(f"ensemble quorum must be in [0, 1), got {p.quorum}")
        members = parse_members(p.members, p.weights)
        weights = normalised_weights(members, p.method)
        signals = [member_signal(m, data) for m in members]
        long_share = sum(w * (s > 0) for w, s in zip(weights, signals))
        short_share = sum(w * (s < 0) for w, s in zip(weights, signals))
        return (long_share > float(p.quorum)) - (short_share > float(p.quorum))
