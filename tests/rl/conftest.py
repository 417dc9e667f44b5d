"""RL tests: the ``slow`` marker (heavier tests that still run in CI) and one tiny trained policy."""

from __future__ import annotations

from pathlib import Path

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: heavier test (seconds of training); still runs in CI")


@pytest.fixture(scope="session")
def policy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    """A PPO policy directory (one fold, one seed, 256 steps) over the synthetic AAPL market, and its TrainResult."""
    pytest.importorskip("stable_baselines3", reason="needs the 'rl' extra: pip install 'autostock[rl]'")
    from autostock.models.walkforward import WalkForwardConfig
    from autostock.rl.execution import CostModel
    from autostock.rl.training import RLSettings, train_policies
    from tests.rl.rl_data import synthetic, train_predictor

    base = tmp_path_factory.mktemp("rl")
    market = synthetic()
    # one predictor fold covering the whole test range: its saved model made every OOS forecast
    pred = train_predictor(market, base / "pred", train=300, test=600)
    settings = RLSettings(
        [str(pred)],
        agent="ppo",
        actions="discrete",
        features="logret_1,vol_20",
        walk=WalkForwardConfig(train=150, test=400),
        timesteps=256,
        seeds=[0],
        episode_bars=60,
        net=(8,),
        costs=CostModel(commission=0.05),
    )
    res = train_policies(market, settings, out=base / "pol")
    return base / "pol", res
