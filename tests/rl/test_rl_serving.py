"""A saved tiny policy: live decisions from the observation builder equal the out-of-sample actions;
the CLI trains, backtests and evaluates it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("stable_baselines3", reason="needs the 'rl' extra: pip install 'autostock[rl]'")
from click.testing import CliRunner

from autostock.cli import cli
from autostock.config import RunSpec
from autostock.engine import run_backtest
from autostock.rl.artifacts import load_actions
from autostock.rl.execution import CostModel
from tests.rl.rl_data import synthetic, train_predictor


def test_policy_directory_holds_actions_policies_params_and_metrics(policy: tuple[Path, object]) -> None:
    folder, _res = policy
    params = json.loads((folder / "params.json").read_text())
    metrics = json.loads((folder / "metrics.json").read_text())
    assert params["agent"] == "ppo" and params["seeds"] == [0]
    assert (folder / "policies" / "AAPL" / "fold_0" / "seed_0.zip").is_file()
    assert set(metrics["symbols"]["AAPL"]["baselines"]) == {"buy_and_hold", "flat", "random", "ml_signal"}
    actions = load_actions(folder, "AAPL")
    first = actions.first_valid_index()
    assert first == pd.Timestamp(params["folds"]["AAPL"][0]["test_start"])
    assert actions.loc[first:].notna().all()
    assert set(np.unique(actions.dropna())) <= {-1.0, 0.0, 1.0}


def test_live_decisions_from_saved_policy_equal_out_of_sample_actions(policy: tuple[Path, object]) -> None:
    from autostock.rl.serving import PolicyServer
    from autostock.rl.simulator import Simulator

    folder, res = policy
    market = synthetic()
    bars = market.bars["AAPL"]
    actions = load_actions(folder, "AAPL")
    sd = res.data["AAPL"]
    params = json.loads((folder / "params.json").read_text())
    last = params["folds"]["AAPL"][-1]
    server = PolicyServer(folder, "AAPL")
    # replay the OOS account and ask the server at each bar of the last fold, with bars up to t only
    sim = Simulator(sd.bars, None, CostModel(commission=0.05), 100_000.0, 0.0)
    start = sd.bars.index.get_loc(actions.first_valid_index())
    sim.reset(start)
    checked = 0
    for t in range(start, len(sd.bars) - 1):
        when = sd.bars.index[t]
        if when >= pd.Timestamp(last["test_start"]) and checked < 40:
            upto = bars.loc[:when].iloc[-300:]
            assert server.decide(upto, sim.account) == actions.loc[when]
            checked += 1
        sim.step(actions.loc[when])
    assert checked == 40


def test_rl_policy_serving_the_saved_policy_trades_like_its_precomputed_actions(policy: tuple[Path, object]) -> None:
    folder, _ = policy
    market = synthetic()
    params = json.loads((folder / "params.json").read_text())
    start = params["folds"]["AAPL"][-1]["test_start"]
    end = str(market.bars["AAPL"].index[-1].date())
    precomputed = RunSpec(
        strategy="rl_policy", params={"policy": str(folder)}, symbols=["AAPL"], commission=0.05, start=start, end=end
    )
    a = run_backtest(precomputed, market).equity["value"]
    index = market.bars["AAPL"].index
    warm = str(index[index.get_loc(pd.Timestamp(start)) - 90].date())  # history for the features, no orders
    served = RunSpec(
        strategy="rl_policy",
        params={"policy": str(folder), "serve": "policy", "act_from": start, "lookback": 80},
        symbols=["AAPL"],
        commission=0.05,
        start=warm,
        end=end,
    )
    b = run_backtest(served, market).equity["value"].loc[start:]
    # a single fold: the precomputed actions start flat at its first bar, like both runs here
    assert len(params["folds"]["AAPL"]) == 1
    assert np.allclose(a.to_numpy(), b.to_numpy(), rtol=1e-9)
    assert b.iloc[-1] != pytest.approx(100_000.0)


def test_cli_rl_train_then_backtest_rl_policy_and_evaluate(tmp_path: Path) -> None:
    market_pred = tmp_path / "pred"
    train_predictor(synthetic(), market_pred, train=300, test=300)
    csv = tmp_path / "AAPL.csv"  # a file: --start slices the same prices (synthetic data regenerates from it)
    synthetic().bars["AAPL"].rename_axis("Date").to_csv(csv)
    runner = CliRunner()
    out = tmp_path / "pol"
    res = runner.invoke(
        cli,
        [
            "rl",
            "train",
            "--agent",
            "a2c",
            "--predictors",
            str(market_pred),
            "--data",
            str(csv),
            "--symbols",
            "AAPL",
            "--start",
            "2016-01-01",
            "--end",
            "2018-12-31",
            "--seed",
            "5",
            "--actions",
            "weight",
            "--reward",
            "sortino",
            "--features",
            "logret_1",
            "--walk-forward",
            "train=200,test=300",
            "--timesteps",
            "128",
            "--seeds",
            "2",
            "--episode-bars",
            "50",
            "--commission",
            "0.1",
            "--out",
            str(out),
            "-q",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "buy_and_hold" in res.output and "deflated Sharpe" in res.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["overfitting"]["AAPL"]["n_trials"] == 2
    assert metrics["overfitting"]["AAPL"]["pbo"]["n_trials"] == 2
    start = json.loads((out / "params.json").read_text())["folds"]["AAPL"][0]["test_start"]
    bt = runner.invoke(
        cli,
        [
            "backtest",
            "--strategy",
            "rl_policy",
            "--param",
            f"policy={out}",
            "--data",
            str(csv),
            "--symbols",
            "AAPL",
            "--start",
            start,
            "--end",
            "2018-12-31",
            "--seed",
            "5",
            "--commission",
            "0.1",
            "--out",
            str(tmp_path / "bt"),
            "--no-tearsheet",
            "--no-pyfolio",
        ],
    )
    assert bt.exit_code == 0, bt.output
    early = runner.invoke(
        cli,
        [
            "backtest",
            "--strategy",
            "rl_policy",
            "--param",
            f"policy={out}",
            "--data",
            str(csv),
            "--symbols",
            "AAPL",
            "--start",
            "2016-01-01",
            "--end",
            "2018-12-31",
            "--seed",
            "5",
            "--out",
            str(tmp_path / "bt2"),
            "--no-tearsheet",
            "--no-pyfolio",
        ],
    )
    assert early.exit_code == 2
    assert "no out-of-sample action for AAPL on 2016-01-01" in early.output
    # other prices on the same dates (synthetic data regenerated from --start): the actions do not
    # belong to them, so the saved policy would decide, and its predictor learnt from these dates
    other = runner.invoke(
        cli,
        ["backtest", "--strategy", "rl_policy", "--param", f"policy={out}", "--data", "synthetic"]
        + ["--symbols", "AAPL", "--start", start, "--end", "2018-12-31", "--seed", "5", "--out", str(tmp_path / "bt3")]
        + ["--no-tearsheet", "--no-pyfolio"],
    )
    assert other.exit_code == 2, other.output
    assert "not the ones" in other.output and "out of sample" in other.output
    assert other.output.strip().count("\n") == 0
    ev = runner.invoke(
        cli,
        [
            "rl",
            "evaluate",
            "--policy",
            str(out),
            "--data",
            str(csv),
            "--symbols",
            "AAPL",
            "--start",
            "2016-01-01",
            "--end",
            "2018-12-31",
            "--seed",
            "5",
        ],
    )
    assert ev.exit_code == 0, ev.output
    assert "ml_signal" in ev.output


def test_missing_rl_extra_gives_one_line_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    from autostock.errors import UserError
    from autostock.rl.agents import require_rl

    real = builtins.__import__

    def fake(name: str, *args: object, **kwargs: object) -> object:
        if name.startswith("stable_baselines3"):
            raise ImportError("No module named 'stable_baselines3'", name="stable_baselines3")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake)
    with pytest.raises(UserError) as err:
        require_rl()
    assert "'rl' extra" in str(err.value) and "\n" not in str(err.value)
