"""No look-ahead in the observation; the environment follows gymnasium's API; rewards pay the costs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autostock.feeds.market import Market
from autostock.rl.execution import Account, CostModel
from autostock.rl.observation import ObservationBuilder, market_frame, oos_forecasts
from autostock.rl.rewards import (
    REWARDS,
    DifferentialSharpe,
    ReturnDrawdown,
    SortinoPenalty,
    Step,
    make_reward,
)
from autostock.rl.simulator import run_weights
from tests.rl.rl_data import synthetic, train_predictor

FEATURES = "logret_1,vol_20,rsi_14,regime"


def test_observation_at_t_is_identical_whether_the_data_ends_at_t_or_runs_on(tmp_path: Path) -> None:
    market = synthetic()
    bars = market.bars["AAPL"]
    cut = bars.index[620]
    short = Market({"AAPL": bars.loc[:cut]}, "truncated", synthetic=True)
    full_dir = train_predictor(market, tmp_path / "full", train=250, test=125)
    short_dir = train_predictor(short, tmp_path / "short", train=250, test=125)
    full = market_frame(bars, oos_forecasts([str(full_dir)], "AAPL", bars.index), FEATURES)
    trunc = market_frame(
        short.bars["AAPL"], oos_forecasts([str(short_dir)], "AAPL", short.bars["AAPL"].index), FEATURES
    )
    trunc.columns = full.columns  # the forecast column is named after its directory
    assert np.isfinite(full.loc[cut]).all()
    pd.testing.assert_frame_equal(full.loc[:cut].iloc[260:], trunc.iloc[260:])
    builder = ObservationBuilder(list(full.columns)).fit(full.iloc[300:500])
    weights = pd.Series(np.sign(full[full.columns[0]]), index=bars.index).where(bars.index >= bars.index[300])
    acc_full = run_weights(bars, weights, CostModel(commission=0.1)).loc[cut]
    acc_short = run_weights(short.bars["AAPL"], weights.loc[:cut], CostModel(commission=0.1)).loc[cut]
    assert acc_full["equity"] == acc_short["equity"] and acc_full["shares"] == acc_short["shares"]
    a = Account(cash=acc_full["equity"] - acc_full["shares"] * bars.loc[cut, "close"], shares=int(acc_full["shares"]))
    np.testing.assert_array_equal(
        builder.observe(full.loc[cut].to_numpy(), a, bars.loc[cut, "close"]),
        builder.observe(trunc.loc[cut].to_numpy(), a, bars.loc[cut, "close"]),
    )


def test_normalisation_statistics_come_from_the_training_rows_only() -> None:
    frame = pd.DataFrame({"x": np.r_[np.zeros(50) + 1.0, np.arange(50.0)]})
    builder = ObservationBuilder(["x"]).fit(frame.iloc[50:])
    assert builder.mean == [pytest.approx(24.5)]
    assert builder.std == [pytest.approx(np.arange(50.0).std())]


def test_environment_passes_gymnasium_checker_for_both_action_kinds() -> None:
    pytest.importorskip("gymnasium", reason="needs the 'rl' extra: pip install 'autostock[rl]'")
    from gymnasium.utils.env_checker import check_env

    from autostock.rl.env import TradingEnv

    bars = synthetic().bars["AAPL"].iloc[:200]
    market = market_frame(bars, pd.DataFrame(index=bars.index), "logret_1,vol_20").iloc[25:]
    for kind in ("discrete", "weight"):
        env = TradingEnv(
            bars.iloc[25:],
            market,
            ObservationBuilder(list(market.columns)).fit(market),
            make_reward("dsr"),
            kind,
            CostModel(commission=0.1),
            episode_bars=50,
        )
        check_env(env, skip_render_check=True)
        obs, _ = env.reset(seed=1)
        assert obs.shape == (len(market.columns) + 3,)


def test_differential_sharpe_matches_moody_saffell_formula() -> None:
    r = [0.01, -0.02, 0.015, 0.005]
    dsr = DifferentialSharpe(eta=0.1, scale=1.0, clip=1e9)
    A = B = 0.0
    for i, x in enumerate(r):
        got = dsr(Step(100.0, 100.0 * (1 + x)))
        dA, dB = x - A, x * x - B
        want = (B * dA - 0.5 * A * dB) / (B - A * A) ** 1.5 if B - A * A > 1e-12 else 0.0
        assert got == pytest.approx(want)
        A, B = A + 0.1 * dA, B + 0.1 * dB
        if i == 0:
            assert got == 0.0  # no variance estimate yet
    assert dsr(Step(100.0, 103.0)) > 0  # a return above the running mean raises the Sharpe ratio


def test_return_drawdown_penalises_only_increases_of_the_drawdown() -> None:
    rd = ReturnDrawdown(penalty=2.0, scale=1.0)
    down = rd(Step(100.0, 90.0))
    assert down == pytest.approx(np.log(0.9) - 2.0 * 0.1)
    up = rd(Step(90.0, 95.0))
    assert up == pytest.approx(np.log(95 / 90))  # drawdown shrank: no penalty


def test_sortino_penalises_losses_not_gains() -> None:
    s = SortinoPenalty(penalty=1.0, target_var=1e-4, scale=1.0)
    assert s(Step(100.0, 101.0)) == pytest.approx(np.log(1.01))
    assert s(Step(100.0, 99.0)) == pytest.approx(np.log(0.99) - 1.0)


def test_every_reward_is_lower_when_costs_are_paid() -> None:
    bars = synthetic().bars["AAPL"].iloc[:120]
    weights = pd.Series(np.tile([1.0, -1.0], 60), index=bars.index)
    free = run_weights(bars, weights, CostModel())["equity"]
    paid = run_weights(bars, weights, CostModel(commission=0.2, spread_bps=10))["equity"]
    for name in ("dsr", "return-drawdown", "sortino"):
        totals = []
        for eq in (free, paid):
            reward = make_reward(name)
            totals.append(sum(reward(Step(a, b)) for a, b in zip(eq.iloc[:-1], eq.iloc[1:])))
        assert totals[1] < totals[0], name


def test_user_reward_from_a_file_reference(tmp_path: Path) -> None:
    path = tmp_path / "my_reward.py"
    path.write_text(
        "from autostock.rl.rewards import Reward\n\n"
        "class Doubled(Reward):\n    defaults = {'k': 2.0}\n\n"
        "    def __call__(self, step):\n        return self.params['k'] * step.net_return\n"
    )
    reward = make_reward(f"{path}:Doubled", {"k": 3})
    assert reward(Step(100.0, 101.0)) == pytest.approx(0.03)
    assert {"dsr", "return-drawdown", "sortino"} <= set(REWARDS.names())
    with pytest.raises(Exception, match="unknown reward 'nope'; valid: dsr, return-drawdown, sortino"):
        make_reward("nope")
