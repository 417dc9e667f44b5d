"""A trained policy directory: what ``autostock rl train`` writes and ``rl_policy`` reads.

Layout::

    models/NAME/
        params.json                     agent, actions, reward, predictor directories, features,
                                        walk-forward, seeds, costs, cash, max_leverage, band,
                                        and per symbol the folds (dates of each test block)
        metrics.json                    out-of-sample metrics per seed against the baselines,
                                        mean / spread across seeds, deflated Sharpe and PBO
        actions/<SYMBOL>.parquet        the out-of-sample target weight per bar, one column per
                                        seed (``seed_<s>``), NaN before the first test bar
        bars/<SYMBOL>.parquet           the close of every bar training was handed: the prices the
                                        actions belong to (``rl_policy`` serves the saved policy
                                        on any other prices, e.g. a Monte Carlo path)
        policies/<SYMBOL>/fold_<k>/observation.json
                                        the observation builder fitted on that fold's training rows
        policies/<SYMBOL>/fold_<k>/seed_<s>.zip
                                        the stable-baselines3 policy of that fold and seed

Live serving uses the last fold (the most recent training window).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from autostock.errors import ConfigError, DataError, UserError

PARAMS_FILE = "params.json"
METRICS_FILE = "metrics.json"
ACTIONS_DIR = "actions"
BARS_DIR = "bars"
POLICIES_DIR = "policies"


def load_policy_params(path: str | Path) -> dict[str, Any]:
    """params.json of a policy directory (one-line error when it is not one)."""
    folder = Path(path).expanduser()
    file = folder / PARAMS_FILE
    if not file.is_file() or not (folder / ACTIONS_DIR).is_dir():
        raise UserError(
            f"{path}: not a policy directory (no {PARAMS_FILE} and {ACTIONS_DIR}/); "
            f"run `autostock rl train --out {path}`"
        )
    return json.loads(file.read_text())


def seed_column(params: dict[str, Any], seed: int) -> str:
    seeds = [int(s) for s in params.get("seeds", [])]
    if not seeds:
        raise DataError("policy params.json lists no seeds")
    if seed < 0:
        return f"seed_{seeds[0]}"
    if seed not in seeds:
        raise ConfigError(f"policy has no seed {seed}; trained seeds: {', '.join(map(str, seeds))}")
    return f"seed_{seed}"


def save_actions(folder: Path, symbol: str, actions: pd.DataFrame) -> Path:
    (folder / ACTIONS_DIR).mkdir(parents=True, exist_ok=True)
    frame = actions.astype(float)
    frame.index.name = "date"
    path = folder / ACTIONS_DIR / f"{symbol}.parquet"
    frame.to_parquet(path)
    return path


def load_action_frame(path: str | Path, symbol: str) -> pd.DataFrame:
    folder = Path(path).expanduser()
    file = folder / ACTIONS_DIR / f"{symbol}.parquet"
    if not file.is_file():
        have = sorted(p.stem for p in (folder / ACTIONS_DIR).glob("*.parquet"))
        raise DataError(f"{folder}: no out-of-sample actions for {symbol}; have: {', '.join(have) or 'none'}")
    frame = pd.read_parquet(file)
    frame.index = pd.DatetimeIndex(frame.index, name="date")
    return frame


def load_actions(path: str | Path, symbol: str, seed: int = -1) -> pd.Series:
    """The out-of-sample target weights of one seed (-1: the first) for ``symbol``."""
    column = seed_column(load_policy_params(path), seed)
    frame = load_action_frame(path, symbol)
    if column not in frame:
        raise DataError(f"{path}: actions for {symbol} lack column {column}")
    return frame[column].rename("weight")


def save_closes(folder: Path, symbol: str, close: pd.Series) -> Path:
    """The closes the actions of ``symbol`` were computed on (``bars/<SYMBOL>.parquet``)."""
    (folder / BARS_DIR).mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame({"close": close.astype(float)})
    frame.index.name = "date"
    path = folder / BARS_DIR / f"{symbol}.parquet"
    frame.to_parquet(path)
    return path


def load_closes(path: str | Path, symbol: str) -> pd.Series | None:
    """The recorded closes of ``symbol`` (None for a directory written before they were recorded)."""
    file = Path(path).expanduser() / BARS_DIR / f"{symbol}.parquet"
    if not file.is_file():
        return None
    frame = pd.read_parquet(file)
    return pd.Series(frame["close"].to_numpy(dtype=float), index=pd.DatetimeIndex(frame.index, name="date"))


def fold_dir(folder: Path, symbol: str, fold: int) -> Path:
    return Path(folder) / POLICIES_DIR / symbol / f"fold_{fold}"


def last_fold_dir(path: str | Path, symbol: str) -> Path:
    base = Path(path).expanduser() / POLICIES_DIR / symbol
    folds = sorted(base.glob("fold_*"), key=lambda p: int(p.name.split("_")[1]))
    if not folds:
        raise DataError(f"{path}: no saved policies for {symbol}")
    return folds[-1]
