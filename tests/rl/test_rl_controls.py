"""Null and positive controls: no edge on random walks, an edge on a planted causal signal."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("stable_baselines3", reason="needs the 'rl' extra: pip install 'autostock[rl]'")

from autostock.models.walkforward import WalkForwardConfig
from autostock.rl.execution import CostModel
from autostock.rl.training import RLSettings, train_policies
from tests.rl.rl_data import planted, random_walk, train_predictor


@pytest.mark.slow
@pytest.mark.parametrize(("agent", "actions"), [("ppo", "discrete"), ("dqn", "discrete"), ("a2c", "weight")])
def test_null_control_random_walk_oos_sharpe_stays_within_noise(tmp_path: Path, agent: str, actions: str) -> None:
    market = random_walk(1900, seed=21)
    pred = train_predictor(market, tmp_path / "pred", train=300, test=400)
    settings = RLSettings(
        [str(pred)],
        agent=agent,
        actions=actions,
        features="logret_1",
        walk=WalkForwardConfig(train=300, test=1500),
        timesteps=1200,
        seeds=[0],
        episode_bars=100,
        net=(16,),
        costs=CostModel(spread_bps=2),
    )
    res = train_policies(market, settings)
    summary = res.metrics["symbols"]["RW"]
    assert summary["policy"]["seed_0"]["n_bars"] > 1000
    assert abs(summary["policy"]["seed_0"]["sharpe"]) < 1.2


@pytest.mark.slow
def test_positive_control_planted_signal_policy_beats_always_flat_out_of_sample(tmp_path: Path) -> None:
    market = planted(1000, seed=4)
    pred = train_predictor(market, tmp_path / "pred", train=200, test=200)
    settings = RLSettings(
        [str(pred)],
        agent="ppo",
        actions="discrete",
        reward="return-drawdown",
        features="",
        walk=WalkForwardConfig(train=300, test=500),
        timesteps=3000,
        seeds=[0],
        episode_bars=100,
        net=(16,),
    )
    res = train_policies(market, settings)
    summary = res.metrics["symbols"]["PL"]
    flat = summary["baselines"]["flat"]
    policy = summary["policy"]["seed_0"]
    assert flat["total_return"] == 0.0
    assert policy["total_return"] > 0.05
    assert policy["sharpe"] > 1.0
