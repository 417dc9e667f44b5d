"""One live decision: the saved policy of the most recent fold, fed by the observation builder.

:class:`PolicyServer` computes, on the newest bars it is handed, each predictor directory's
forecast from its saved (most recent) predictor, the features, and the account, then asks the
policy of the last fold for an action (deterministic). This is the ``next()`` path of the
``rl_policy`` strategy in live trading; the observation is built by the same code the
environment uses (:mod:`autostock.rl.observation`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autostock.rl.artifacts import last_fold_dir, load_policy_params, seed_column
from autostock.rl.execution import Account
from autostock.rl.observation import ObservationBuilder, forecast_column
from autostock.rl.simulator import action_to_weight


class PolicyServer:
    """The last fold's policy for ``symbol`` and ``seed`` (-1: the first trained seed)."""

    def __init__(self, policy_dir: str | Path, symbol: str, seed: int = -1, device: str = "cpu") -> None:
        from autostock.rl.agents import load_agent

        self.params = load_policy_params(policy_dir)
        self.symbol = symbol
        folder = last_fold_dir(policy_dir, symbol)
        self.builder = ObservationBuilder.from_dict(json.loads((folder / "observation.json").read_text()))
        self.agent = load_agent(self.params["agent"], folder / f"{seed_column(self.params, seed)}.zip", device)
        from autostock.models.artifacts import load_artifacts

        self.predictors = [load_artifacts(p) for p in self.params["predictors"]]
        self.features: str = self.params["features"]

    def market_row(self, bars: pd.DataFrame) -> np.ndarray:
        """The raw market row of the newest bar in ``bars`` (forecasts from the saved predictors).

        One feature computation serves the policy's features and every predictor's inputs, and
        each predictor predicts only the rows its newest prediction needs (``context_rows``).
        """
        from autostock.models.features import compute_features, resolve_features
        from autostock.models.walkforward import context_rows

        own, _ = resolve_features(self.features, False, False) if self.features else ([], [])
        names = list(dict.fromkeys([*own, *(n for m in self.predictors for n in m.feature_names)]))
        feats = compute_features(bars, ",".join(names)) if names else pd.DataFrame(index=bars.index)
        row: dict[str, float] = {}
        for trained in self.predictors:
            model = trained.model(self.symbol)
            X = feats[trained.feature_names].iloc[-context_rows(model) :].to_numpy(dtype=float)
            row[forecast_column(trained.path)] = float(np.asarray(model.predict(X), dtype=float).reshape(-1)[-1])
        for name in own:
            row[name] = float(feats[name].iloc[-1])
        return np.array([row[c] for c in self.builder.columns], dtype=float)

    def decide(self, bars: pd.DataFrame, account: Account) -> float:
        """Target weight for the newest bar of ``bars`` (NaN, i.e. hold, while the row is incomplete)."""
        row = self.market_row(bars)
        if not np.isfinite(row).all():
            return float("nan")
        obs = self.builder.observe(row, account, float(bars["close"].iloc[-1]))
        action: Any
        action, _ = self.agent.predict(obs, deterministic=True)
        return action_to_weight(
            action,
            self.params["actions"],
            float(self.params["max_leverage"]),
            bool(self.params.get("allow_short", True)),
        )
