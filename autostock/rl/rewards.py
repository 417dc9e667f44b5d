"""Reward plugins: one small class per reward, registered by name in :data:`REWARDS`.

Every reward is computed from the account's equity after the step, and the equity is marked
after commission, slippage and spread are paid (:mod:`autostock.rl.execution`), so every
reward pays the costs. ``r_t = equity_t / equity_{t-1} - 1`` is the step's net return.

* ``dsr`` -- differential Sharpe ratio (Moody & Saffell, 1998/2001). With exponential moving
  estimates ``A_t = A_{t-1} + eta (r_t - A_{t-1})`` and ``B_t = B_{t-1} + eta (r_t^2 - B_{t-1})``::

      D_t = (B_{t-1} dA_t - 0.5 A_{t-1} dB_t) / (B_{t-1} - A_{t-1}^2)^{3/2}

  (``dA_t = r_t - A_{t-1}``, ``dB_t = r_t^2 - B_{t-1}``); 0 until the variance estimate is
  positive. Params: ``eta`` (0.01), ``scale`` (0.1), ``clip`` (10: |D_t| is capped).
* ``return-drawdown`` -- ``log(1 + r_t) - penalty * max(0, DD_t - DD_{t-1})`` with
  ``DD_t = 1 - equity_t / max(equity_0..t)``. Params: ``penalty`` (1.0), ``scale`` (100).
* ``sortino`` -- ``log(1 + r_t) - penalty * min(r_t, 0)^2 / target_var``: losses cost extra in
  proportion to their square, gains are not penalised. Params: ``penalty`` (0.5),
  ``target_var`` (1e-4, a 1 % daily move), ``scale`` (100).

Adding a reward: subclass :class:`Reward`, implement ``reset`` and ``__call__``, and either
register it (``@REWARDS.register("my-reward")``, imported before use), declare an entry point
in the group ``autostock.rewards``, or pass ``--reward path/to/file.py:MyReward``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from autostock.errors import ConfigError
from autostock.registry import Registry

REWARDS = Registry("rewards", ("autostock.rl.rewards",))


@dataclass(frozen=True)
class Step:
    """What one environment step did: equity before / after (net of costs) and the costs paid."""

    equity_prev: float
    equity: float
    costs: float = 0.0
    weight: float = 0.0
    traded: bool = False

    @property
    def net_return(self) -> float:
        return self.equity / self.equity_prev - 1.0 if self.equity_prev > 0 else -1.0


class Reward:
    """Base reward: params are keyword arguments stored by ``__init__``; ``reset`` at each episode."""

    defaults: ClassVar[dict[str, float]] = {}

    def __init__(self, **params: Any) -> None:
        unknown = set(params) - set(self.defaults)
        if unknown:
            raise ConfigError(
                f"unknown param(s) {', '.join(sorted(unknown))} for reward {type(self).__name__}; "
                f"valid: {', '.join(sorted(self.defaults)) or '(none)'}"
            )
        self.params = {**self.defaults, **{k: float(v) for k, v in params.items()}}
        for key, value in self.params.items():
            if not math.isfinite(value) or value < 0:
                raise ConfigError(f"reward param {key}={value}: must be a finite number >= 0")
        self.reset()

    def reset(self) -> None:
        """Forget the episode's state (called by the environment's ``reset``)."""

    def __call__(self, step: Step) -> float:  # pragma: no cover - abstract
        raise NotImplementedError


def _log1p(r: float) -> float:
    return math.log1p(r) if r > -1.0 else -20.0


@REWARDS.register("dsr")
class DifferentialSharpe(Reward):
    """Differential Sharpe ratio (Moody & Saffell); see the module docstring."""

    defaults: ClassVar[dict[str, float]] = {"eta": 0.01, "scale": 0.1, "clip": 10.0}

    def reset(self) -> None:
        self.A = 0.0
        self.B = 0.0

    def __call__(self, step: Step) -> float:
        r = step.net_return
        eta = self.params["eta"]
        dA, dB = r - self.A, r * r - self.B
        var = self.B - self.A * self.A
        d = (self.B * dA - 0.5 * self.A * dB) / var**1.5 if var > 1e-12 else 0.0
        self.A += eta * dA
        self.B += eta * dB
        c = self.params["clip"]
        return self.params["scale"] * max(-c, min(c, d))


@REWARDS.register("return-drawdown")
class ReturnDrawdown(Reward):
    """Log return minus a penalty on each increase of the drawdown; see the module docstring."""

    defaults: ClassVar[dict[str, float]] = {"penalty": 1.0, "scale": 100.0}

    def reset(self) -> None:
        self.peak: float | None = None
        self.dd = 0.0

    def __call__(self, step: Step) -> float:
        if self.peak is None:
            self.peak = step.equity_prev
        self.peak = max(self.peak, step.equity)
        dd = 1.0 - step.equity / self.peak if self.peak > 0 else 1.0
        out = _log1p(step.net_return) - self.params["penalty"] * max(0.0, dd - self.dd)
        self.dd = dd
        return self.params["scale"] * out


@REWARDS.register("sortino")
class SortinoPenalty(Reward):
    """Log return minus a squared downside penalty; see the module docstring."""

    defaults: ClassVar[dict[str, float]] = {"penalty": 0.5, "target_var": 1e-4, "scale": 100.0}

    def __call__(self, step: Step) -> float:
        r = step.net_return
        tv = self.params["target_var"] or 1e-4
        return self.params["scale"] * (_log1p(r) - self.params["penalty"] * min(r, 0.0) ** 2 / tv)


def make_reward(ref: str, params: dict[str, Any] | None = None) -> Reward:
    """An instance of the reward named ``ref`` (a registered name or ``file.py:Class``)."""
    cls = REWARDS.get(ref)
    if not (isinstance(cls, type) and issubclass(cls, Reward)):
        raise ConfigError(f"reward {ref!r} is not a subclass of autostock.rl.rewards.Reward")
    return cls(**(params or {}))
