"""One live decision: the saved policy of the most recent fold, fed by the observation builder.

:class:`PolicyServer` computes, on the newest bars it is handed, each predictor directory's
forecast from its saved (most recent) predictor, the features, and the account, then asks the
policy of the last fold for an action (deterministic). This is the ``next()`` path of the
``rl_policy`` strategy in live trading; the observation is built by the same code the
environment uses (:mod:`autostock.rl.observation`).

:class:`LearntFrom` says which bars that policy and its predictors learnt from, so a caller
serves it only on bars out of sample for both (``rl_policy`` on a Monte Carlo path, a
walk-forward fold or a live feed).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autostock.rl.artifacts import last_fold_dir, load_policy_params, seed_column
from autostock.rl.execution import Account
from autostock.rl.observation import ObservationBuilder, forecast_column
from autostock.rl.simulator import action_to_weight


@dataclass(frozen=True)
class LearntFrom:
    """The bars the served policy of one symbol and its predictors learnt from.

    ``fit_end``: the last bar of the last fold's training rows; ``test_start``: the first bar of
    that fold's test block (the policy has never acted on a bar from it on in training);
    ``label_end``: the last bar any predictor's training labels reached (None: a predictor
    records no training window). A bar is out of sample when it is on or after ``test_start``
    and after ``label_end``.
    """

    fit_end: pd.Timestamp
    test_start: pd.Timestamp
    label_end: pd.Timestamp | None

    def out_of_sample(self, when: pd.Timestamp) -> bool:
        when = pd.Timestamp(when)
        return when >= self.test_start and (self.label_end is None or when > self.label_end)

    def describe(self) -> str:
        labels = (
            "a predictor records no training window"
            if self.label_end is None
            else f"its predictors' training labels reach {self.label_end.date()}"
        )
        return (
            f"the saved policy trained on bars to {self.fit_end.date()} (its test block starts "
            f"{self.test_start.date()}) and {labels}"
        )


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
        self.learnt = self._learnt(symbol)

    def _learnt(self, symbol: str) -> LearntFrom:
        folds = (self.params.get("folds") or {}).get(symbol) or []
        if not folds:
            from autostock.errors import DataError

            raise DataError(f"policy params.json records no folds for {symbol}")
        windows = [m.training_window(symbol) for m in self.predictors]
        label_end = None if any(w is None for w in windows) else max(w.label_end for w in windows if w is not None)
        last = folds[-1]
        return LearntFrom(pd.Timestamp(last["fit_end"]), pd.Timestamp(last["test_start"]), label_end)

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
