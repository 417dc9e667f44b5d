"""Training targets: forward k-bar return (regression) and direction (classification).

A target at bar t uses the closes of bars t+1..t+k: it is a training label only, never a
feature. Walk-forward training purges every training row whose label window reaches into
the test window (see :mod:`autostock.models.walkforward`). The raw price level is never a
target.

Names: ``fwd_return_K`` (close[t+K] / close[t] - 1), ``fwd_logreturn_K`` and
``direction_K`` (1.0 if the forward return is > 0, else 0.0; NaN where unknown).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from autostock.errors import ConfigError

_PATTERN = re.compile(r"^(fwd_return|fwd_logreturn|direction)_(\d+)$")
KINDS: tuple[str, ...] = ("fwd_return", "fwd_logreturn", "direction")
# what a model's prediction is: its sign or its distance from 0.5 is the signal
PREDICTION_KINDS: tuple[str, ...] = ("return", "log_return", "probability")


@dataclass(frozen=True)
class Target:
    """A parsed target name."""

    name: str
    kind: str
    horizon: int

    @property
    def is_classification(self) -> bool:
        return self.kind == "direction"

    @property
    def prediction_kind(self) -> str:
        """``probability`` (of an up move), ``return`` or ``log_return``: what a model predicts."""
        return {"fwd_return": "return", "fwd_logreturn": "log_return", "direction": "probability"}[self.kind]


def parse_target(name: str | Target) -> Target:
    """Parse ``fwd_return_5``, ``fwd_logreturn_5`` or ``direction_5`` (a Target is returned as is)."""
    if isinstance(name, Target):
        return name
    m = _PATTERN.match(str(name).strip())
    if not m or int(m.group(2)) < 1:
        raise ConfigError(f"unknown target {name!r}; use fwd_return_K, fwd_logreturn_K or direction_K with K >= 1 bars")
    return Target(m.group(0), m.group(1), int(m.group(2)))


def forward_return(close: pd.Series, horizon: int) -> pd.Series:
    """close[t + horizon] / close[t] - 1 (NaN for the last ``horizon`` bars)."""
    c = close.astype(float)
    return c.shift(-horizon) / c - 1.0


def make_target(close: pd.Series, target: str | Target) -> pd.Series:
    """The label series for ``target`` on ``close`` (NaN where the future is unknown)."""
    t = parse_target(target)
    fwd = forward_return(close, t.horizon)
    if t.kind == "fwd_return":
        out = fwd
    elif t.kind == "fwd_logreturn":
        out = np.log1p(fwd)
    else:
        out = (fwd > 0).astype(float).where(fwd.notna())
    return out.rename(t.name)
