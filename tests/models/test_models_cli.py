"""CLI end to end on small seeded synthetic data: features, train (single, direction, ensemble), tune."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from autostock.cli import cli
from autostock.feeds import load_market
from autostock.models.artifacts import load_artifacts, load_predictions

DATA = ["--data", "synthetic", "--start", "2015-01-01", "--end", "2017-06-30", "--seed", "7", "-q"]
ORCL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "orcl-1995-2014.csv"


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_features_command_lists_the_sets_and_at_least_150_names():
    res = invoke("features")
    assert res.exit_code == 0
    assert "basic" in res.output and "technical" in res.output and "full" in res.output
    names = invoke("features", "--names-only").output.split()
    assert len(names) >= 150 and "rsi_14" in names and "idx_beta_60" in names


def test_train_writes_models_params_metrics_and_oos_predictions_that_reload(tmp_path):
    out = tmp_path / "ridge"
    res = invoke(
        "train",
        "--model",
        "ridge",
        "--symbols",
        "AAPL,MSFT",
        *DATA,
        "--walk-forward",
        "train=400,test=60",
        "-p",
        "alpha=100",
        "--out",
        str(out),
    )
    assert res.exit_code == 0, res.output
    assert "price RMSE" in res.output and "naive last price" in res.output
    params = json.loads((out / "params.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    assert params["model"] == "ridge" and params["model_params"]["alpha"] == 100
    assert params["index_symbol"] == "QQQ" and any(f.startswith("idx_") for f in params["features"])
    assert any(f.startswith("bm_") for f in params["features"]) and len(params["features"]) >= 150
    for sym in ("AAPL", "MSFT"):
        s = metrics["symbols"][sym]
        assert s["model"]["n"] > 150 and s["model"]["rmse"] > 0
        assert set(s["baselines"]) == {"zero", "last_return", "moving_average"}
        assert all(b["n"] == s["model"]["n"] for b in s["baselines"].values())
        assert s["price_level"]["naive_last_price_rmse"] > 0 and s["price_level"]["model_rmse"] > 0
    assert metrics["pooled"]["model"]["n"] == sum(metrics["symbols"][s]["model"]["n"] for s in ("AAPL", "MSFT"))

    pred = load_predictions(out, "AAPL")
    assert pred.iloc[:400].isna().all() and pred.iloc[400:].notna().all()
    # the saved model is the one fitted for the last block: it reproduces that block's OOS predictions
    trained = load_artifacts(out)
    m = load_market("synthetic", ["AAPL"], "2015-01-01", "2017-06-30", None, 7)
    qqq = load_market("synthetic", ["QQQ"], "2015-01-01", "2017-06-30", None, 7).bars["QQQ"]["close"]
    served = trained.predict_bars("AAPL", m.bars["AAPL"], qqq, m.benchmark)
    last_block = metrics["walk_forward"]["test"]
    n = len(pred)
    start = 400 + ((n - 400 - 1) // last_block) * last_block
    np.testing.assert_allclose(served.iloc[start:].to_numpy(), pred.iloc[start:].to_numpy(), rtol=1e-9)


def test_train_direction_target_reports_classification_metrics(tmp_path):
    res = invoke(
        "train",
        "--model",
        "random_forest",
        "--symbols",
        "AAPL",
        *DATA,
        "--target",
        "direction_5",
        "--features",
        "basic",
        "--walk-forward",
        "train=300,test=100",
        "-p",
        "n_estimators=5",
        "-p",
        "max_depth=3",
        "--out",
        str(tmp_path / "rf"),
    )
    assert res.exit_code == 0, res.output
    metrics = json.loads((tmp_path / "rf" / "metrics.json").read_text())
    s = metrics["symbols"]["AAPL"]
    assert s["model"]["accuracy"] is not None and s["price_level"] is None
    pred = load_predictions(tmp_path / "rf", "AAPL").dropna()
    assert ((pred >= 0) & (pred <= 1)).all()


def test_train_ensemble_reports_members_and_the_combination(tmp_path):
    res = invoke(
        "train",
        "--model",
        "ridge,random_forest",
        "--ensemble",
        "stacking",
        "--symbols",
        "AAPL",
        *DATA,
        "--features",
        "basic",
        "--walk-forward",
        "train=300,test=100",
        "-p",
        "random_forest.n_estimators=5",
        "--out",
        str(tmp_path / "ens"),
    )
    assert res.exit_code == 0, res.output
    metrics = json.loads((tmp_path / "ens" / "metrics.json").read_text())
    assert set(metrics["symbols"]["AAPL"]["members"]) == {"ridge", "random_forest"}
    assert json.loads((tmp_path / "ens" / "params.json").read_text())["ensemble"] == "stacking"


@pytest.mark.parametrize(
    "args,message",
    [
        (["--target", "price_5"], "unknown target 'price_5'"),
        (["--walk-forward", "train=300,test=60,purge=2"], "purge=2"),
        (["--features", "rsi_999"], "rsi_999"),
        (["-p", "alpah=3"], "alpah"),
    ],
)
def test_user_mistakes_exit_2_with_one_line_naming_the_value(args, message, tmp_path):
    res = CliRunner().invoke(
        cli, ["train", "--model", "ridge", "--symbols", "AAPL", *DATA, *args, "--out", str(tmp_path / "x")]
    )
    assert res.exit_code == 2, res.output
    assert message in res.output and "Traceback" not in res.output


def test_unknown_model_lists_the_registered_predictors(tmp_path):
    res = CliRunner().invoke(cli, ["train", "--model", "xgb", "--symbols", "AAPL", *DATA, "--out", str(tmp_path)])
    assert res.exit_code == 2 and "random_forest" in res.output


@pytest.mark.skipif(importlib.util.find_spec("mlflow") is not None, reason="mlflow is installed")
def test_track_without_mlflow_is_a_one_line_error(tmp_path):
    res = CliRunner().invoke(
        cli, ["train", "--model", "ridge", "--symbols", "AAPL", *DATA, "--track", "--out", str(tmp_path / "x")]
    )
    assert res.exit_code == 2 and "pip install 'autostock[tracking]'" in res.output


@pytest.mark.skipif(
    importlib.util.find_spec("mlflow") is None, reason="the optional tracking extra (mlflow) is not installed"
)
def test_track_logs_params_metrics_and_artifacts_to_a_local_mlflow_store(tmp_path, monkeypatch):
    import mlflow

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    res = invoke(
        "train",
        "--model",
        "ridge",
        "--symbols",
        "AAPL",
        *DATA,
        "--features",
        "basic",
        "--walk-forward",
        "train=300,test=100",
        "--track",
        "--out",
        "models/ridge",
    )
    assert res.exit_code == 0, res.output
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["autostock-train"])
    assert len(runs) == 1 and runs["status"][0] == "FINISHED" and runs["params.model"][0] == "ridge"
    assert runs["metrics.pooled.model.rmse"][0] > 0
    assert list((tmp_path / "mlruns" / "artifacts").rglob("metrics.json"))


def test_tune_cli_writes_results_csv_and_best_params_next_to_the_model(tmp_path):
    res = invoke(
        "tune",
        "--model",
        "ridge",
        "--symbols",
        "AAPL",
        *DATA,
        "--features",
        "basic",
        "--space",
        "alpha=1|100",
        "--splits",
        "2",
        "--out",
        str(tmp_path / "ridge"),
    )
    assert res.exit_code == 0, res.output
    table = pd.read_csv(tmp_path / "ridge" / "tune_results.csv")
    assert sorted(table["alpha"]) == [1, 100]
    best = tmp_path / "ridge" / "best_params.json"
    res = invoke(
        "train",
        "--model",
        "ridge",
        "--symbols",
        "AAPL",
        *DATA,
        "--features",
        "basic",
        "--walk-forward",
        "train=300,test=100",
        "--params-from",
        str(best),
        "--out",
        str(tmp_path / "ridge"),
    )
    assert res.exit_code == 0, res.output
    used = json.loads((tmp_path / "ridge" / "params.json").read_text())["model_params"]["alpha"]
    assert used == json.loads(best.read_text())["params"]["alpha"]


def test_tuning_period_is_recorded_and_an_overlap_is_flagged_in_train_and_backtest(tmp_path):
    tuned = [
        "--data",
        "synthetic",
        "--symbols",
        "AAPL",
        "--start",
        "2015-01-01",
        "--end",
        "2016-06-30",
        "--seed",
        "7",
        "-q",
        "--features",
        "ret_1,ret_5,ret_20",
    ]
    res = invoke(
        "tune", "--model", "ridge", *tuned, "--space", "alpha=1|100", "--splits", "2", "--out", str(tmp_path / "t")
    )
    assert res.exit_code == 0, res.output
    assert "biased upward" in res.output and "tuned on 2015-01-01..2016-06-30" in res.output
    best = json.loads((tmp_path / "t" / "best_params.json").read_text())
    period = json.loads((tmp_path / "t" / "tuning_period.json").read_text())
    assert best["tuned_on"] == period and best["score_selected_on_same_folds"] is True
    assert "biased upward" in best["score_note"]
    assert period["first_bar"][:10] == "2015-01-01" and period["last_bar"][:10] == "2016-06-30"
    folds = period["symbols"]["AAPL"]["folds"]
    assert len(folds) == 2 and all(f["train_last"] < f["validation_first"] for f in folds)

    def train_on(start: str, end: str, out: str):
        args = [
            "--data",
            "synthetic",
            "--symbols",
            "AAPL",
            "--start",
            start,
            "--end",
            end,
            "--seed",
            "7",
            "-q",
            "--features",
            "ret_1,ret_5,ret_20",
            "--walk-forward",
            "train=200,test=100",
        ]
        res = CliRunner().invoke(
            cli,
            [
                "train",
                "--model",
                "ridge",
                *args,
                "--params-from",
                str(tmp_path / "t" / "best_params.json"),
                "--out",
                str(tmp_path / out),
            ],
        )
        assert res.exit_code == 0, res.output
        return res, json.loads((tmp_path / out / "metrics.json").read_text())

    res, metrics = train_on("2016-01-01", "2017-12-31", "overlap")
    assert metrics["tuned_on_overlap"] is True
    assert metrics["tuned_overlap"][0][:10] == "2016-01-01" and metrics["tuned_overlap"][1][:10] == "2016-06-30"
    assert (
        "warning: params tuned on 2015-01-01..2016-06-30 overlap the training data on 2016-01-01..2016-06-30"
        in res.output
    )
    res, metrics = train_on("2016-07-01", "2018-06-30", "later")
    assert metrics["tuned_on_overlap"] is False and "warning" not in res.output
    # a backtest of a model whose params were tuned on its bars says so in summary.json
    for model, start, flag in (("overlap", "2016-01-01", True), ("later", "2016-07-01", False)):
        out = tmp_path / f"bt-{model}"
        res = CliRunner().invoke(
            cli,
            [
                "backtest",
                "--strategy",
                "ml_signal",
                "--param",
                f"model={tmp_path / model}",
                "--data",
                "synthetic",
                "--symbols",
                "AAPL",
                "--start",
                start,
                "--end",
                "2018-06-30",
                "--seed",
                "7",
                "--no-tearsheet",
                "--no-pyfolio",
                "--out",
                str(out),
            ],
        )
        assert res.exit_code == 0, res.output
        summary = json.loads((out / "summary.json").read_text())
        assert summary["metrics"]["tuned_on_overlap"] is flag
        warned = [n for n in summary["data"]["notes"] if n.startswith("WARNING")]
        assert bool(warned) is flag and (not flag or "overlap this backtest on 2016-01-01..2016-06-30" in warned[0])


@pytest.mark.skipif(not ORCL.is_file(), reason="real data ../shared/data/orcl-1995-2014.csv not present")
def test_train_on_real_orcl_reports_model_and_naive_price_level_rmse(tmp_path):
    res = invoke(
        "train",
        "--model",
        "ridge",
        "--data",
        str(ORCL),
        "--symbols",
        "ORCL",
        "--end",
        "2002-12-31",
        "--features",
        "basic",
        "-q",
        "--out",
        str(tmp_path / "orcl"),
    )
    assert res.exit_code == 0, res.output
    assert "idx_* features omitted" in res.output
    s = json.loads((tmp_path / "orcl" / "metrics.json").read_text())["symbols"]["ORCL"]
    assert s["price_level"]["naive_last_price_rmse"] > 0 and s["model"]["n"] > 800
