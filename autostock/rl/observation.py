"""The observation at bar t, built the same way in the environment and in live serving.

An observation is one float32 vector::

    [ (m_1 - mu_1) / sd_1, ..., (m_k - mu_k) / sd_k,      market part, clipped to +-clip
      weight, cash / equity, unrealised P&L / equity ]   account part, at the close of t

The market part holds, in this order, the out-of-sample forecast of each Type 1 predictor for
bar t (columns ``fc_<name>``) and the chosen causal features of bar t (the regime code among
them by default). ``mu`` / ``sd`` are fitted on the rows of the training fold only
(:meth:`ObservationBuilder.fit`). Nothing in it comes from after bar t: forecasts are the
predictors' walk-forward values and features are causal, so the row for t is the same whether
the data ends at t or runs on (``tests/rl/test_rl_observation.py`` truncates to prove it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autostock.errors import DataError
from autostock.rl.execution import Account

DEFAULT_FEATURES = "logret_1,logret_5,vol_20,rsi_14,regime"
ACCOUNT_COLUMNS: tuple[str, ...] = ("weight", "cash_fraction", "unrealised_pnl")


def forecast_column(predictor_dir: str | Path) -> str:
    return "fc_" + Path(predictor_dir).expanduser().resolve().name


def oos_forecasts(predictor_dirs: list[str], symbol: str, index: pd.DatetimeIndex) -> pd.DataFrame:
    """The precomputed out-of-sample forecasts of each predictor directory on ``index`` (NaN where none)."""
    from autostock.models.artifacts import load_predictions

    cols: dict[str, pd.Series] = {}
    for folder in predictor_dirs:
        name = forecast_column(folder)
        if name in cols:
            raise DataError(f"two predictor directories are both named {name[3:]!r}; rename one")
        series = load_predictions(Path(folder).expanduser(), symbol)
        cols[name] = series.reindex(index.normalize() if _daily(series.index) else index).set_axis(index)
    return pd.DataFrame(cols, index=index)


def live_forecasts(predictors: list[Any], symbol: str, bars: pd.DataFrame) -> pd.DataFrame:
    """Forecasts of each predictor directory's saved (most recent) predictor on ``bars`` (live).

    ``predictors``: directories, or the ``TrainedModel`` objects ``load_artifacts`` returned for
    them (which keep the loaded predictor between calls).
    """
    from autostock.models.artifacts import load_artifacts

    models = [p if hasattr(p, "predict_bars") else load_artifacts(p) for p in predictors]
    cols = {forecast_column(m.path): m.predict_bars(symbol, bars) for m in models}
    return pd.DataFrame(cols, index=bars.index)


def _daily(index: pd.DatetimeIndex) -> bool:
    return bool(len(index)) and bool((index == index.normalize()).all())


def market_features(bars: pd.DataFrame, features: str) -> pd.DataFrame:
    from autostock.models.features import compute_features

    return compute_features(bars, features) if features else pd.DataFrame(index=bars.index)


@dataclass
class ObservationBuilder:
    """Market columns, their training-fold statistics and the clip; see the module docstring."""

    columns: list[str]
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)
    clip: float = 10.0

    @property
    def size(self) -> int:
        return len(self.columns) + len(ACCOUNT_COLUMNS)

    def fit(self, market: pd.DataFrame) -> ObservationBuilder:
        """Fit the mean / std of each market column on ``market`` (the training fold's rows only)."""
        values = market[self.columns].to_numpy(dtype=float)
        if not np.isfinite(values).all():
            raise DataError("observation statistics: the training rows hold NaN forecasts or features")
        sd = values.std(axis=0)
        return ObservationBuilder(
            list(self.columns), values.mean(axis=0).tolist(), np.where(sd > 1e-12, sd, 1.0).tolist(), self.clip
        )

    def market_part(self, values: np.ndarray) -> np.ndarray:
        """Normalised market rows (``values``: shape (k,) or (n, k), columns in ``self.columns`` order)."""
        z = (np.asarray(values, dtype=float) - np.asarray(self.mean)) / np.asarray(self.std)
        return np.clip(z, -self.clip, self.clip).astype(np.float32)

    @staticmethod
    def account_part(account: Account, close: float) -> np.ndarray:
        eq = account.equity(close)
        cash = account.cash / eq if eq > 0 else 0.0
        return np.array([account.weight(close), cash, account.unrealised(close)], dtype=np.float32)

    def observe(self, market_row: np.ndarray, account: Account, close: float) -> np.ndarray:
        """The observation vector at a bar: its (raw) market row and the account at its close."""
        return np.concatenate([self.market_part(market_row), self.account_part(account, close)]).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": self.columns,
            "mean": self.mean,
            "std": self.std,
            "clip": self.clip,
            "account": list(ACCOUNT_COLUMNS),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ObservationBuilder:
        return cls(list(data["columns"]), list(data["mean"]), list(data["std"]), float(data.get("clip", 10.0)))


def market_frame(bars: pd.DataFrame, forecasts: pd.DataFrame, features: str) -> pd.DataFrame:
    """Forecast columns then feature columns, one row per bar (raw, not normalised)."""
    feats = market_features(bars, features)
    clash = set(feats.columns) & set(forecasts.columns)
    if clash:
        raise DataError(f"feature name(s) {', '.join(sorted(clash))} clash with forecast columns")
    return pd.concat([forecasts, feats], axis=1)
