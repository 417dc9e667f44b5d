"""The robustness commands end to end through the CLI on small inputs."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from autostock.cli import cli

BASE = ["--symbols", "AAPL,MSFT", "--start", "2018-01-01", "--end", "2019-06-30", "--seed", "3", "--no-progress"]


@pytest.fixture()
def runner():
    return CliRunner()


def test_montecarlo_command_writes_its_outputs(runner, tmp_path):
    res = runner.invoke(
        cli,
        [
            "montecarlo",
            "-s",
            "sma_cross",
            "-p",
            "fast=5",
            "-p",
            "slow=20",
            *BASE,
            "--paths",
            "3",
            "--block",
            "10",
            "--workers",
            "1",
            "--out",
            str(tmp_path),
        ],
    )
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "montecarlo.json").read_text())
    assert summary["settings"]["params"]["fast"] == 5 and summary["completed_paths"] == 3
    assert summary["settings"]["seed"] == 3
    assert len(pd.read_csv(tmp_path / "paths.csv")) == 3
    assert {"montecarlo.html", "montecarlo_fan.png", "montecarlo_histograms.png"} <= {
        p.name for p in tmp_path.iterdir()
    }
    assert "probability of loss" in res.output


def test_optimize_and_walkforward_commands_write_their_outputs(runner, tmp_path):
    res = runner.invoke(
        cli,
        [
            "optimize",
            *BASE,
            "--grid",
            "fast=5,10",
            "--grid",
            "slow=20,30",
            "--objective",
            "calmar",
            "--workers",
            "1",
            "--out",
            str(tmp_path / "opt"),
        ],
    )
    assert res.exit_code == 0, res.output
    saved = json.loads((tmp_path / "opt" / "optimize.json").read_text())
    assert saved["objective"] == "calmar" and set(saved["best"]["params"]) == {"fast", "slow"}
    assert (tmp_path / "opt" / "heatmap.png").exists() and "deflated Sharpe" in res.output
    assert f"verdict: {saved['verdict']['text']}" in res.output
    assert (tmp_path / "opt" / "trial_returns.csv").exists()
    res = runner.invoke(
        cli,
        [
            "walkforward",
            *BASE,
            "--grid",
            "fast=5,10",
            "--grid",
            "slow=20",
            "--train",
            "6m",
            "--test",
            "6m",
            "--anchored",
            "--no-tearsheet",
            "--workers",
            "1",
            "--out",
            str(tmp_path / "wf"),
        ],
    )
    assert res.exit_code == 0, res.output
    folds = pd.read_csv(tmp_path / "wf" / "walkforward.csv")
    assert len(folds) == 2 and (folds["train_start"] == "2018-01-01").all()
    assert "walk-forward efficiency" in res.output
    wf = json.loads((tmp_path / "wf" / "walkforward.json").read_text())
    assert f"verdict: {wf['verdict']['text']}" in res.output and (tmp_path / "wf" / "trial_returns.csv").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["optimize", "--grid", "fast=x:y"], "--grid 'fast=x:y'"),
        (["montecarlo", "--paths", "0"], "--paths must be >= 1"),
        (["walkforward", "--grid", "fast=5", "--train", "3q"], "--train '3q'"),
        (["optimize", "--grid", "fast=5", "--dask", "nohost"], "--dask must be"),
    ],
)
def test_user_mistakes_exit_2_with_one_line(runner, args, message):
    res = runner.invoke(cli, args)
    assert res.exit_code == 2
    assert message in res.output and "Traceback" not in res.output
