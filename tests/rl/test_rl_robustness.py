"""rl_policy in the robustness commands: Monte Carlo paths are decided by the saved policy from
each path's own prices (never by actions keyed to the original dates), only on bars out of
sample for it; walk-forward folds trade the out-of-sample actions."""

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
from autostock.errors import ConfigError
from autostock.rl.artifacts import load_actions
from tests.rl.rl_data import synthetic


def _csv(tmp_path: Path) -> Path:
    """The market the policy was trained on, as a file (so --start slices the same prices)."""
    path = tmp_path / "AAPL.csv"
    synthetic().bars["AAPL"].rename_axis("Date").to_csv(path)
    return path


def _oos_start(folder: Path) -> str:
    return str(json.loads((folder / "params.json").read_text())["folds"]["AAPL"][-1]["test_start"])


def _bars_after(start: str, n: int) -> str:
    index = synthetic().bars["AAPL"].index
    return str(index[index.get_loc(pd.Timestamp(start)) + n].date())


COMMON = ["--symbols", "AAPL", "--commission", "0.05", "--workers", "1", "--no-progress"]


def test_montecarlo_paths_are_decided_by_the_saved_policy_on_their_own_prices(
    policy: tuple[Path, object], tmp_path: Path
) -> None:
    folder, _ = policy
    start = _oos_start(folder)
    end = _bars_after(start, 60)
    out = tmp_path / "mc"
    res = CliRunner().invoke(
        cli,
        ["montecarlo", "--strategy", "rl_policy", "--param", f"policy={folder}", "--data", str(_csv(tmp_path))]
        + ["--start", start, "--end", end, "--paths", "2", "--block", "5", "--seed", "3", "--out", str(out), *COMMON],
    )
    assert res.exit_code == 0, res.output
    paths = pd.read_csv(out / "paths.csv")
    assert len(paths) == 2 and (paths["n_trades"] > 0).all()

    # path 0 again, by hand: serve=auto on its prices is the saved policy deciding each bar ...
    from autostock.robustness.resample import resample_market

    market = synthetic().slice(start, end)
    path0 = resample_market(market, 5.0, 3, 0)
    spec = RunSpec(strategy="rl_policy", params={"policy": str(folder)}, symbols=["AAPL"], commission=0.05)
    auto = run_backtest(spec, path0).final_value
    served = run_backtest(spec.replace(params={"policy": str(folder), "serve": "policy"}), path0).final_value
    assert auto == pytest.approx(paths.loc[0, "final_value"], rel=1e-9)
    assert served == pytest.approx(auto, rel=1e-12)
    # ... not the actions computed for the original prices on those dates
    dated = run_backtest(spec.replace(params={"actions": load_actions(folder, "AAPL")}), path0).final_value
    assert dated != pytest.approx(auto, rel=1e-6)
    with pytest.raises(ConfigError, match="serve=actions: the AAPL bars differ"):
        run_backtest(spec.replace(params={"policy": str(folder), "serve": "actions"}), path0)


def test_montecarlo_refuses_a_range_starting_on_bars_the_policy_learnt_from(
    policy: tuple[Path, object], tmp_path: Path
) -> None:
    folder, _ = policy
    oos = _oos_start(folder)
    index = synthetic().bars["AAPL"].index
    early = str(index[index.get_loc(pd.Timestamp(oos)) - 30].date())
    res = CliRunner().invoke(
        cli,
        ["montecarlo", "--strategy", "rl_policy", "--param", f"policy={folder}", "--param", "serve=policy"]
        + ["--data", str(_csv(tmp_path)), "--start", early, "--end", _bars_after(oos, 20), "--paths", "1"]
        + ["--out", str(tmp_path / "mc"), *COMMON],
    )
    assert res.exit_code == 2, res.output
    assert res.output.strip().count("\n") == 0
    assert "Monte Carlo path" in res.output and f"--start {oos}" in res.output


def test_serving_on_the_recorded_history_warms_up_on_it_but_trades_only_out_of_sample(
    policy: tuple[Path, object],
) -> None:
    folder, _ = policy
    oos = _oos_start(folder)
    index = synthetic().bars["AAPL"].index
    early = str(index[index.get_loc(pd.Timestamp(oos)) - 30].date())
    spec = RunSpec(
        strategy="rl_policy",
        params={"policy": str(folder), "serve": "policy"},
        symbols=["AAPL"],
        start=early,
        end=_bars_after(oos, 40),
    )
    run = run_backtest(spec, synthetic())
    assert len(run.orders) > 0
    assert (pd.DatetimeIndex(run.orders["created"]) >= pd.Timestamp(oos)).all()
    with pytest.raises(ConfigError, match=f"act_from={early} would trade AAPL on bars"):
        run_backtest(spec.replace(params={**spec.params, "act_from": early}), synthetic())


def test_walkforward_folds_trade_the_out_of_sample_actions(policy: tuple[Path, object], tmp_path: Path) -> None:
    folder, _ = policy
    start = _oos_start(folder)
    out = tmp_path / "wf"
    res = CliRunner().invoke(
        cli,
        ["walkforward", "--strategy", "rl_policy", "--param", f"policy={folder}", "--data", str(_csv(tmp_path))]
        + ["--start", start, "--grid", "band=0,0.5", "--train", "6m", "--test", "4m", "--no-tearsheet"]
        + ["--out", str(out), *COMMON],
    )
    assert res.exit_code == 0, res.output
    folds = pd.read_csv(out / "walkforward.csv")
    assert len(folds) >= 2
    oos = pd.read_csv(out / "oos_equity.csv", index_col="date", parse_dates=True)["returns"]
    assert float(oos.abs().sum()) > 0  # it traded
    f = folds.iloc[0]
    direct = run_backtest(
        RunSpec(
            strategy="rl_policy",
            params={"policy": str(folder), "band": float(f["band"])},
            symbols=["AAPL"],
            commission=0.05,
            start=f["train_start"],
            end=f["test_end"],
        ),
        synthetic(),
    ).returns.loc[f["test_start"] : f["test_end"]]
    assert np.allclose(oos.loc[f["test_start"] : f["test_end"]].to_numpy(), direct.to_numpy(), atol=1e-12)
