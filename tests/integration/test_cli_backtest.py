"""`autostock backtest` end to end through click: every output file, metrics, determinism, config."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from autostock.cli import cli
from tests.chrome import remote_refs, specs

ARGS = ["--start", "2019-01-01", "--end", "2020-12-31", "--seed", "3"]


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run") / "out"
    result = CliRunner().invoke(
        cli,
        [
            "backtest",
            "--strategy",
            "sma_cross",
            "--param",
            "fast=5",
            "--param",
            "slow=20",
            "--commission",
            "0.05",
            "--slippage",
            "0.02",
            "--spread",
            "4",
            *ARGS,
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "sharpe" in result.output and f"tearsheet: {out / 'tearsheet.html'}" in result.output.replace("\n", "")
    return out


def test_backtest_writes_every_output_file(full_run: Path) -> None:
    for name in (
        "summary.json",
        "equity.csv",
        "trades.csv",
        "orders.csv",
        "positions.csv",
        "tearsheet.html",
        "equity.html",
        "pyfolio/returns.csv",
        "pyfolio/positions.csv",
        "pyfolio/transactions.csv",
        "pyfolio/returns_tear_sheet.html",
    ):
        assert (full_run / name).is_file() and (full_run / name).stat().st_size > 0, name
    assert [c["title"] for c in specs((full_run / "equity.html").read_text())][1:] == ["drawdown"]
    equity = pd.read_csv(full_run / "equity.csv")
    assert list(equity.columns) == ["date", "value", "cash", "returns"]
    trades = pd.read_csv(full_run / "trades.csv")
    for col in (
        "symbol",
        "entry_date",
        "entry_price",
        "exit_date",
        "exit_price",
        "size",
        "pnl",
        "commission",
        "slippage_cost",
        "pnl_after_costs",
    ):
        assert col in trades.columns
    assert (trades["commission"] > 0).all() and (trades["slippage_cost"] > 0).any()
    positions = pd.read_csv(full_run / "positions.csv")
    assert list(positions.columns) == ["date", "symbol", "size", "value"]
    assert not positions.duplicated(["date", "symbol"]).any()
    assert set(positions["date"]) <= set(equity["date"])


def test_summary_has_required_fields_and_labels_synthetic_data(full_run: Path) -> None:
    s = json.loads((full_run / "summary.json").read_text())
    for key in ("strategy", "params", "symbols", "start", "end", "initial_cash", "final_value", "metrics"):
        assert key in s
    assert s["params"]["fast"] == 5 and s["params"]["slow"] == 20
    assert s["data"]["synthetic"] is True and "SYNTHETIC" in s["data"]["label"]
    for key in (
        "total_return",
        "cagr",
        "volatility",
        "sharpe",
        "sortino",
        "max_drawdown",
        "calmar",
        "win_rate",
        "profit_factor",
        "n_trades",
        "exposure",
        "alpha",
        "beta",
    ):
        assert key in s["metrics"], key
    html = (full_run / "tearsheet.html").read_text()
    assert "SYNTHETIC" in html
    assert remote_refs(html) == []  # nothing fetched from the network (the charts' script is inline)


def test_summary_metrics_equal_quantstats_on_equity_csv(full_run: Path) -> None:
    import quantstats as qs

    s = json.loads((full_run / "summary.json").read_text())["metrics"]
    eq = pd.read_csv(full_run / "equity.csv", parse_dates=["date"], index_col="date")
    r = eq["returns"]
    assert s["total_return"] == pytest.approx(qs.stats.comp(r), rel=1e-9)
    assert s["total_return"] == pytest.approx(eq["value"].iloc[-1] / 100_000 - 1, rel=1e-9)
    assert s["cagr"] == pytest.approx(qs.stats.cagr(r, periods=252), rel=1e-9)
    assert s["volatility"] == pytest.approx(qs.stats.volatility(r, periods=252), rel=1e-9)
    assert s["sharpe"] == pytest.approx(qs.stats.sharpe(r, periods=252), rel=1e-9)
    assert s["sortino"] == pytest.approx(qs.stats.sortino(r, periods=252), rel=1e-9)
    assert s["max_drawdown"] == pytest.approx(qs.stats.max_drawdown(r), rel=1e-9)
    assert s["calmar"] == pytest.approx(qs.stats.calmar(r, periods=252), rel=1e-9)
    assert s["daily_win_rate"] == pytest.approx(qs.stats.win_rate(r), rel=1e-9)
    assert s["daily_profit_factor"] == pytest.approx(qs.stats.profit_factor(r), rel=1e-9)
    assert s["exposure"] == pytest.approx((r != 0).mean(), rel=1e-9)  # QuantStats' exposure, not rounded up
    assert s["periods_per_year"] == 252
    trades = pd.read_csv(full_run / "trades.csv")
    pnl = trades["pnl_after_costs"]
    assert s["win_rate"] == pytest.approx((pnl > 0).mean(), rel=1e-9)  # per closed trade
    assert s["profit_factor"] == pytest.approx(pnl[pnl > 0].sum() / -pnl[pnl < 0].sum(), rel=1e-9)
    assert s["n_trades"] == len(trades)
    # alpha and beta against the synthetic benchmark (SPY), with empyrical as a second opinion
    import empyrical

    from autostock.feeds.synthetic import generate_market

    summary = json.loads((full_run / "summary.json").read_text())
    bench = generate_market(summary["symbols"], "2019-01-01", "2020-12-31", seed=3).benchmark
    b = bench.reindex(r.index).pct_change().fillna(0.0)
    alpha, beta = empyrical.alpha_beta(r, b)
    assert s["beta"] == pytest.approx(beta, rel=1e-6)
    assert s["alpha"] == pytest.approx(qs.stats.greeks(r, b, periods=252)["alpha"], rel=1e-6)


def _quick(out: Path, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["backtest", *ARGS, "--out", str(out), "--no-tearsheet", "--no-pyfolio", *extra])
    return result.exit_code, result.output


def test_same_seed_gives_byte_identical_summary(tmp_path: Path) -> None:
    assert _quick(tmp_path / "a", "--strategy", "rsi")[0] == 0
    assert _quick(tmp_path / "b", "--strategy", "rsi")[0] == 0
    assert (tmp_path / "a" / "summary.json").read_bytes() == (tmp_path / "b" / "summary.json").read_bytes()
    assert _quick(tmp_path / "c", "--strategy", "rsi", "--seed", "4")[0] == 0
    assert (tmp_path / "a" / "summary.json").read_bytes() != (tmp_path / "c" / "summary.json").read_bytes()


def test_flags_override_config_file_which_overrides_defaults(tmp_path: Path) -> None:
    cfg = tmp_path / "run.toml"
    cfg.write_text('strategy = "mean_reversion"\ncash = 50000.0\nsymbols = "AAPL,XOM"\n[params]\nperiod = 15\n')
    code, output = _quick(tmp_path / "o", "--config", str(cfg), "--param", "entry=1.8")
    assert code == 0, output
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert s["strategy"] == "mean_reversion" and s["initial_cash"] == 50000.0 and s["symbols"] == ["AAPL", "XOM"]
    assert s["params"]["period"] == 15 and s["params"]["entry"] == 1.8
    code, _ = _quick(tmp_path / "p", "--config", str(cfg), "--cash", "70000")
    assert json.loads((tmp_path / "p" / "summary.json").read_text())["initial_cash"] == 70000.0


def test_unknown_config_key_is_one_line_exit_2(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("stratgy = 'rsi'\n")
    code, output = _quick(tmp_path / "o", "--config", str(cfg))
    assert code == 2 and "unknown key(s) stratgy" in output and output.count("\n") == 1


def test_sample_source_runs_on_real_goog_bars(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "backtest",
            "--data",
            "sample",
            "--strategy",
            "buy_hold",
            "--out",
            str(tmp_path / "g"),
            "--no-tearsheet",
            "--no-pyfolio",
        ],
    )
    assert result.exit_code == 0, result.output
    s = json.loads((tmp_path / "g" / "summary.json").read_text())
    assert s["symbols"] == ["GOOG"] and s["start"] == "2004-08-19" and s["data"]["synthetic"] is False


def test_offline_remote_source_fails_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("APCA_API_KEY_ID", raising=False)
    monkeypatch.delenv("APCA_API_SECRET_KEY", raising=False)
    monkeypatch.setenv("AUTOSTOCK_CACHE_DIR", str(tmp_path / "cache"))
    code, output = _quick(tmp_path / "o", "--data", "alpaca", "--symbols", "AAPL")
    assert code == 2 and "APCA_API_KEY_ID" in output and output.count("\n") == 1
