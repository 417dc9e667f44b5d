"""Settings: one grammar for flags, TOML and AUTOSTOCK_* variables; bad values are one line, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from autostock.cli import cli
from autostock.config import (
    Costs,
    RunSpec,
    build_spec,
    coerce_settings,
    env_settings,
    load_toml,
    parse_commission,
)
from autostock.errors import ConfigError

QUICK = ["--end", "2016-06-30", "--no-tearsheet", "--no-pyfolio"]


def _run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.output


def _one_line_error(code: int, output: str, *needles: str) -> None:
    assert code == 2, output
    assert output.startswith("error: ") and output.count("\n") == 1, output
    for needle in needles:
        assert needle in output, (needle, output)


@pytest.mark.parametrize(
    "value, expected",
    [
        (0.1, {"commission": 0.1, "commission_per_share": 0.0, "commission_min": 0.0}),
        ("0.1%", {"commission": 0.1, "commission_per_share": 0.0, "commission_min": 0.0}),
        ("0.005/share", {"commission": 0.0, "commission_per_share": 0.005, "commission_min": 0.0}),
        ("0.005/share,min=1", {"commission": 0.0, "commission_per_share": 0.005, "commission_min": 1.0}),
    ],
)
def test_commission_grammar_gives_all_three_cost_fields(value, expected) -> None:
    assert parse_commission(value) == expected


@pytest.mark.parametrize("value", ["cheap", "0.005/share,max=1", "0.005/share,min=x", True])
def test_bad_commission_is_refused_naming_the_value(value) -> None:
    with pytest.raises(ConfigError, match="expected a percent like 0.1 or per share"):
        parse_commission(value)


def test_the_same_text_means_the_same_in_toml_env_and_flags(tmp_path: Path) -> None:
    cfg = tmp_path / "run.toml"
    cfg.write_text('commission = "0.005/share,min=1"\nspread = 4\nparams = "fast=5,slow=20"\n')
    from_toml = load_toml(cfg)
    from_env = env_settings(
        {"AUTOSTOCK_COMMISSION": "0.005/share,min=1", "AUTOSTOCK_SPREAD": "4", "AUTOSTOCK_PARAMS": "fast=5,slow=20"}
    )
    from_flags = coerce_settings(
        {"commission": "0.005/share,min=1", "spread_bps": 4.0, "params": {"fast": 5, "slow": 20}}
    )
    assert from_toml == from_env == from_flags
    assert from_toml["params"] == {"fast": 5, "slow": 20} and from_toml["spread_bps"] == 4.0
    assert RunSpec(**from_toml).costs == Costs(commission=0.0, per_share=0.005, minimum=1.0, spread_bps=4.0)


def test_a_flag_commission_replaces_a_per_share_one_from_the_config(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("AUTOSTOCK_COMMISSION", raising=False)
    cfg = tmp_path / "run.toml"
    cfg.write_text('commission = "0.005/share,min=1"\n')
    spec = build_spec(str(cfg), commission="0.1")
    assert spec.costs == Costs(commission=0.1)


def test_toml_universe_key_selects_symbols_and_sector_cap_table_turns_caps_on(tmp_path: Path) -> None:
    from autostock import universe as uni

    cfg = tmp_path / "run.toml"
    cfg.write_text(
        'universe = "tier=safe,max=3"\n[risk]\nstop_loss = 0.05\n[risk.sector_caps]\nTechnology = 0.25\n'
        "[risk.strategies.mean_reversion]\nstop_loss = 0.03\n"
    )
    spec = build_spec(str(cfg))
    assert spec.symbols == uni.select("tier=safe,max=3")
    settings = spec.risk_settings()
    assert settings.sector_caps is not None and settings.sector_caps["Technology"] == 0.25
    assert settings.sector_caps["Healthcare"] == uni.DEFAULT_SECTOR_CAPS["Healthcare"]
    assert spec.replace(strategy="mean_reversion").risk_settings().stop_loss == 0.03


def test_risk_settings_are_validated_once_per_spec(monkeypatch) -> None:
    import autostock.risk.settings as rs

    calls = []
    real = rs.parse_risk
    monkeypatch.setattr(rs, "parse_risk", lambda *a, **k: calls.append(1) or real(*a, **k))
    spec = build_spec(risk={"stop_loss": 0.05})
    assert spec.risk_settings() is spec.risk_settings()
    assert len(calls) == 1
    from autostock.engine import run_backtest
    from autostock.feeds.synthetic import generate_market

    run_backtest(
        spec.replace(symbols=["AAPL"]).replace(), generate_market(["AAPL"], "2019-01-01", "2019-06-30", seed=1)
    )
    assert len(calls) == 2  # the replaced spec is a new spec: validated once more, not twice


@pytest.mark.parametrize(
    "toml, needle",
    [
        ('cash = "lots"\n', "cash='lots': expected a number"),
        ("symbols = 5\n", "symbols=5: expected a list of tickers"),
        ("seed = 1.5\n", "seed=1.5: expected a whole number"),
        ('start = "yesterday"\n', "start='yesterday' is not a date"),
        ("params = 3\n", "params=3: expected a table"),
        ("spreed = 1\n", "unknown key(s) spreed"),
        ("[risk]\nsector_caps = true\n[risk.sector_caps]\nTechnology = 0.25\n", "the table alone turns the caps on"),
    ],
)
def test_wrong_toml_values_are_one_line_exit_2_naming_file_and_key(tmp_path: Path, toml: str, needle: str) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(toml)
    code, output = _run("backtest", "--config", str(cfg), *QUICK, "--out", str(tmp_path / "o"))
    _one_line_error(code, output, str(cfg), needle)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "args, needles",
    [
        (["--cash", "inf"], ["cash must be a finite number, got inf"]),
        (["--cash", "nan"], ["cash must be a finite number"]),
        (["--start", "yesterday"], ["start='yesterday' is not a date"]),
        (["--start", "2016-05-01", "--end", "2016-01-01"], ["start 2016-05-01 is after end 2016-01-01"]),
        (["--sector-cap", "Tech=0.2"], ["sector cap 'Tech': no such sector", "Technology", "Healthcare", "other"]),
        (["--commission", "0.005/shares"], ["commission='0.005/shares'"]),
    ],
)
def test_bad_backtest_flags_are_one_line_exit_2(tmp_path: Path, args: list[str], needles: list[str]) -> None:
    code, output = _run("backtest", *QUICK, *args, "--out", str(tmp_path / "o"))
    _one_line_error(code, output, *needles)


@pytest.mark.parametrize("command", ["backtest", "montecarlo"])
def test_start_after_the_data_names_the_data_range(tmp_path: Path, command: str, shared_data: Path) -> None:
    extra = ["--no-tearsheet"] if command == "backtest" else ["--paths", "2", "--no-progress"]
    code, output = _run(command, "--start", "2030-01-01", *extra, "--out", str(tmp_path / "o"))
    _one_line_error(code, output, "start 2030-01-01 is after the synthetic data's range (2015-01-01 to 2024-12-31)")
    code, output = _run(
        command,
        "--data",
        str(shared_data / "orcl-1995-2014.csv"),
        "--start",
        "2030-01-01",
        *extra,
        "--out",
        str(tmp_path / "o"),
    )
    _one_line_error(code, output, "2030-01-01", "1995-01-03 to 2014-12-31")


def test_out_under_a_file_is_refused_before_the_run(tmp_path: Path) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    code, output = _run("backtest", *QUICK, "--out", str(blocker / "run"))
    _one_line_error(code, output, "is a file, so the folder cannot be created under it")
    for command in (
        ["montecarlo", "--paths", "2", "--no-progress"],
        ["optimize", "--grid", "fast=5,10", "--no-progress"],
    ):
        code, output = _run(*command, "--end", "2016-06-30", "--out", str(blocker / "run"))
        _one_line_error(code, output, "is a file, so the folder cannot be created under it")


def test_out_on_a_read_only_location_is_refused_before_the_run(tmp_path: Path) -> None:
    target = Path("/proc/autostock-out")  # not writable, even by root
    if not Path("/proc").is_dir():
        pytest.skip("needs /proc as a read-only location")
    code, output = _run("backtest", *QUICK, "--out", str(target))
    _one_line_error(code, output, "is not writable")


def test_env_settings_apply_below_flags(tmp_path: Path) -> None:
    env = {
        "AUTOSTOCK_COMMISSION": "0.005/share,min=1",
        "AUTOSTOCK_SPREAD": "3",
        "AUTOSTOCK_PARAMS": "fast=5,slow=20",
        "AUTOSTOCK_SYMBOLS": "AAPL,XOM",
    }
    code, output = _run("backtest", *QUICK, "--param", "slow=25", "--out", str(tmp_path / "o"), env=env)
    assert code == 0, output
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert s["symbols"] == ["AAPL", "XOM"] and s["params"]["fast"] == 5 and s["params"]["slow"] == 25
    assert s["costs"]["commission_per_share"] == 0.005 and s["costs"]["commission_min"] == 1.0
    assert s["costs"]["spread_bps"] == 3.0


def test_bad_env_value_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="AUTOSTOCK_CASH: cash='x': expected a number"):
        env_settings({"AUTOSTOCK_CASH": "x"})


@pytest.mark.parametrize(
    "flag",
    [
        ["--data", "sample"],
        ["--start", "2020-01-01"],
        ["--end", "2020-01-01"],
        ["--benchmark", "SPY"],
        ["--commission", "0.1"],
        ["--slippage", "0.1"],
        ["--spread", "2"],
        ["--quote-impact", "0.1"],
    ],
)
def test_trade_refuses_flags_it_would_ignore_in_one_line(tmp_path: Path, flag: list[str]) -> None:
    code, output = _run("trade", "--symbols", "AAPL", "--state", str(tmp_path / "s.sqlite"), *flag)
    _one_line_error(code, output, f"{flag[0]} is not used by trade")
    assert not (tmp_path / "s.sqlite").exists()


def test_train_takes_its_data_settings_from_the_config_file(tmp_path: Path) -> None:
    cfg = tmp_path / "run.toml"
    cfg.write_text('symbols = "AAPL"\nstart = "2016-01-01"\nend = "2019-12-31"\nseed = 3\n')
    code, output = _run(
        "train",
        "--model",
        "ridge",
        "--config",
        str(cfg),
        "--walk-forward",
        "train=400,test=100",
        "--features",
        "basic",
        "--index",
        "none",
        "--quiet",
        "--out",
        str(tmp_path / "m"),
    )
    assert code == 0, output
    params = json.loads((tmp_path / "m" / "params.json").read_text())
    assert params["symbols"] == ["AAPL"] and params["seed"] == 3 and params["data"] == "synthetic(seed=3)"
    code, output = _run("train", "--model", "ridge", "--config", str(cfg), "--start", "someday", "--quiet")
    _one_line_error(code, output, "start='someday' is not a date")


def test_tuned_integer_params_come_back_as_ints(tmp_path: Path) -> None:
    from autostock.models.targets import parse_target
    from autostock.models.tuning import tune
    from tests.models.ml_data import learnable

    X, y = learnable(300)
    _, best = tune(
        "random_forest",
        {"SYN": (X, y)},
        parse_target("fwd_return_5"),
        {"max_depth": "2|3", "min_samples_leaf": "5:20"},
        "optuna",
        trials=2,
        fixed_params={"n_estimators": 5},
        out=tmp_path,
        progress=False,
    )
    assert type(best["max_depth"]) is int and type(best["min_samples_leaf"]) is int
    saved = json.loads((tmp_path / "best_params.json").read_text())["params"]
    assert type(saved["max_depth"]) is int


def test_library_errors_name_parameters_and_the_cli_names_flags(tmp_path: Path) -> None:
    from autostock.robustness.executor import Executor

    with pytest.raises(ConfigError, match="^workers must be >= 1, got 0$"):
        Executor(workers=0)
    code, output = _run(
        "montecarlo",
        "--paths",
        "2",
        "--workers",
        "0",
        "--no-progress",
        "--end",
        "2016-06-30",
        "--out",
        str(tmp_path / "o"),
    )
    _one_line_error(code, output, "error: --workers must be >= 1, got 0")


def test_a_range_shorter_than_the_warm_up_is_one_line_not_an_indicator_traceback(tmp_path: Path) -> None:
    code, output = _run(
        "backtest",
        "--start",
        "2016-01-04",
        "--end",
        "2016-02-11",
        "--no-tearsheet",
        "--no-pyfolio",
        "--out",
        str(tmp_path / "o"),
    )
    _one_line_error(code, output, "AAPL: 29 bar(s) in the run, fewer than the 30 that SmaCross's indicators need")
    code, output = _run(
        "backtest",
        "--start",
        "2016-01-04",
        "--end",
        "2016-02-12",
        "--no-tearsheet",
        "--no-pyfolio",
        "--out",
        str(tmp_path / "o"),
    )
    assert code == 0, output  # exactly the warm-up: runs
