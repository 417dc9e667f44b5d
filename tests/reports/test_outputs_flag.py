"""``autostock backtest --outputs``: only the chosen files; a bad name is one line and exit code 2."""

from __future__ import annotations

from click.testing import CliRunner

from autostock.cli import cli

ARGS = [
    "backtest",
    "--strategy",
    "sma_cross",
    "--param",
    "fast=5",
    "--param",
    "slow=20",
    "--symbols",
    "AAPL,MSFT",
    "--start",
    "2020-01-01",
    "--end",
    "2020-12-31",
]


def test_outputs_flag_writes_only_the_selected_outputs(tmp_path):
    result = CliRunner().invoke(cli, [*ARGS, "--out", str(tmp_path), "--outputs", "summary,csv"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "equity.csv",
        "orders.csv",
        "positions.csv",
        "summary.json",
        "trades.csv",
    ]


def test_unknown_output_name_exits_2_with_one_line(tmp_path):
    result = CliRunner().invoke(cli, [*ARGS, "--out", str(tmp_path), "--outputs", "summary,pdf"])
    assert result.exit_code == 2
    assert "pdf" in result.output
    assert "Traceback" not in result.output
    assert not any(tmp_path.iterdir())
