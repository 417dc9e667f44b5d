"""ml_signal and ensemble strategies in real backtests on seeded synthetic data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import autostock.models.keras_models  # noqa: F401  (registers lstm, ...; imports no Keras)
import autostock.models.sklearn_models  # noqa: F401  (registers ridge, ...)
import autostock.strategies.ensemble  # noqa: F401  (registers ensemble)
import autostock.strategies.ml_signal  # noqa: F401  (registers ml_signal)
from autostock.config import RunSpec
from autostock.engine import before_run, build_cerebro, run_backtest
from autostock.errors import ConfigError, UserError
from autostock.feeds.synthetic import generate_market
from autostock.models.artifacts import load_artifacts, prediction_kind, save_artifacts
from autostock.models.training import train
from autostock.models.walkforward import parse_walk_forward
from autostock.robustness.executor import Executor
from autostock.strategies.ensemble import normalised_weights, parse_members

SHORT_FEATURES = "ret_1,ret_5,ret_20,ret_1_lag_1,ret_1_lag_2"  # 20-bar warm-up


@pytest.fixture(scope="module")
def market():
    return generate_market(["AAA", "BBB"], "2019-01-01", "2020-12-31", seed=3)


def completed_orders(spec: RunSpec, market, runonce: bool = True) -> pd.DataFrame:
    strat = build_cerebro(before_run(spec, market), market).run(runonce=runonce)[0]
    frame = pd.DataFrame(
        strat.analyzers.recorder.orders,
        columns=["created", "symbol", "side", "size", "status"] if not strat.analyzers.recorder.orders else None,
    )
    frame = frame[frame.status == "Completed"]
    return frame[["created", "symbol", "side", "size"]].reset_index(drop=True)


def block_predictions(market, value_first: float, value_second: float) -> dict[str, pd.Series]:
    """value_first on the first half of the bars, value_second on the second half."""
    out = {}
    for sym, bars in market.bars.items():
        half = len(bars) // 2
        out[sym] = pd.Series(
            np.r_[np.full(half, value_first), np.full(len(bars) - half, value_second)], index=bars.index
        )
    return out


def test_ml_signal_goes_long_on_positive_and_flat_on_negative_predicted_returns(market):
    preds = block_predictions(market, 0.01, -0.01)
    orders = completed_orders(RunSpec(strategy="ml_signal", params={"predictions": preds}), market)
    for sym, bars in market.bars.items():
        mine = orders[orders.symbol == sym]
        assert list(mine.side) == ["buy", "sell"]
        assert pd.Timestamp(mine.created.iloc[0]) == bars.index[0]
        assert pd.Timestamp(mine.created.iloc[1]) == bars.index[len(bars) // 2]


def test_ml_signal_with_allow_short_reverses_into_a_short(market):
    preds = block_predictions(market, 0.01, -0.01)
    result = run_backtest(RunSpec(strategy="ml_signal", params={"predictions": preds, "allow_short": True}), market)
    assert (result.positions["size"] < 0).any() and (result.positions["size"] > 0).any()


def test_ml_signal_reads_probabilities_from_a_trained_model_directory(market, tmp_path):
    # up-probabilities: 0.7 then 0.45 -> long, then flat (threshold 0.5 from target direction_5)
    preds = block_predictions(market, 0.7, 0.45)
    save_artifacts(tmp_path / "m", {"model": "ridge", "target": "direction_5"}, {}, preds)
    orders = completed_orders(RunSpec(strategy="ml_signal", params={"model": str(tmp_path / "m")}), market)
    assert list(orders[orders.symbol == "AAA"].side) == ["buy", "sell"]
    with pytest.raises(ConfigError, match="neither a model directory"):
        run_backtest(RunSpec(strategy="ml_signal", params={"model": str(tmp_path / "missing")}), market)


def test_ml_signal_thresholds_leave_weak_predictions_flat(market):
    preds = block_predictions(market, 0.002, 0.02)
    spec = RunSpec(strategy="ml_signal", params={"predictions": preds, "long_threshold": 0.01})
    strat = build_cerebro(spec, market).run()[0]
    orders = pd.DataFrame(strat.analyzers.recorder.orders)  # every order, also those a gap made unaffordable
    for sym, bars in market.bars.items():
        mine = orders[orders.symbol == sym]
        assert (mine.side == "buy").all()
        assert pd.Timestamp(mine.created.min()) == bars.index[len(bars) // 2]


def test_ml_signal_trains_a_registered_predictor_walk_forward_without_look_ahead(market):
    spec = RunSpec(
        strategy="ml_signal",
        symbols=["AAA"],
        params={"model": "ridge", "walk_forward": "train=200,test=50", "features": SHORT_FEATURES},
    )
    orders = completed_orders(spec, market)
    assert len(orders) > 0
    first_test_bar = market.bars["AAA"].index[200]
    assert pd.to_datetime(orders.created).min() >= first_test_bar
    cut = market.dates()[350]
    part = completed_orders(spec, market.slice(None, cut))
    before = lambda f: f[pd.to_datetime(f.created) < cut].reset_index(drop=True)
    pd.testing.assert_frame_equal(before(orders), before(part))


def test_ml_signal_with_a_predictor_name_trains_before_the_run_and_the_strategy_never_trains(market):
    spec = RunSpec(
        strategy="ml_signal",
        symbols=["AAA"],
        params={"model": "ridge", "walk_forward": "train=200,test=50", "features": SHORT_FEATURES},
    )
    prepared = before_run(spec, market)
    preds = prepared.params["predictions"]["AAA"]
    assert prepared.params["model"] == "ridge"  # kept, so the summary says what was trained
    assert preds.iloc[:200].isna().all() and preds.iloc[200:].notna().all()
    assert preds.attrs["prediction_kind"] == "return"
    with pytest.raises(ConfigError, match="names a predictor, and a strategy never trains"):
        build_cerebro(spec, market).run()
    # an ensemble member naming a predictor is trained before the run too
    ens = RunSpec(
        strategy="ensemble",
        symbols=["AAA"],
        params={
            "members": json.dumps(
                [
                    {
                        "name": "ml_signal",
                        "params": {"model": "ridge", "walk_forward": "train=200,test=50", "features": SHORT_FEATURES},
                    }
                ]
            )
        },
    )
    member = before_run(ens, market).params["members"][0]["params"]
    pd.testing.assert_series_equal(member["predictions"]["AAA"], preds)
    pd.testing.assert_frame_equal(completed_orders(ens, market), completed_orders(spec, market))


def test_ml_signal_with_a_keras_lstm_trained_walk_forward_trades(market):
    pytest.importorskip("keras")
    spec = RunSpec(
        strategy="ml_signal",
        symbols=["AAA"],
        params={
            "model": "lstm",
            "walk_forward": "train=250,test=150",
            "features": SHORT_FEATURES,
            "model_params": "units=4,epochs=1,seq_len=5,batch_size=64",
        },
    )
    result = run_backtest(spec, market)
    assert result.metrics["n_trades"] > 0
    assert result.orders.created.min() >= market.bars["AAA"].index[250].isoformat()


@pytest.fixture(scope="module")
def trained_2019(market, tmp_path_factory):
    """ridge trained walk-forward on AAA's 2019 bars only; its saved predictor last saw 2019."""
    folder = tmp_path_factory.mktemp("models") / "r"
    train(
        market.select(["AAA"]).slice(None, "2019-12-31"),
        "ridge",
        "fwd_return_5",
        SHORT_FEATURES,
        parse_walk_forward("train=150,test=50"),
        out=folder,
    )
    return folder


def test_a_trained_model_records_the_window_of_its_saved_predictor(market, trained_2019):
    trained = load_artifacts(trained_2019)
    window = trained.training_window("AAA")
    bars = market.bars["AAA"].loc[:"2019-12-31"]
    assert window.horizon == 5
    assert window.first_bar >= bars.index[0]
    # the last fit of a 150/50 walk-forward ends purge=5 bars before its test block
    last_test_start = 150 + 50 * ((len(bars) - 151) // 50)
    assert window.last_bar == bars.index[last_test_start - 5 - 1]
    assert window.label_end == bars.index[last_test_start - 1]
    assert trained.model("AAA").training_window_ == window
    assert trained.params["training_window"]["AAA"]["label_end"] == window.label_end.isoformat()


def test_ml_signal_serving_the_saved_model_after_its_training_window_equals_its_batch_predictions(market, trained_2019):
    trained = load_artifacts(trained_2019)
    later = market.slice("2020-01-01", None)
    served = completed_orders(
        RunSpec(strategy="ml_signal", symbols=["AAA"], params={"model": str(trained_2019), "serve": "model"}), later
    )
    batch = trained.predict_bars("AAA", later.bars["AAA"])
    precomputed = completed_orders(
        RunSpec(strategy="ml_signal", symbols=["AAA"], params={"predictions": {"AAA": batch}}), later
    )
    assert len(served) > 0
    pd.testing.assert_frame_equal(served, precomputed)


def test_serving_the_saved_model_on_its_training_bars_is_refused_in_backtest_ensemble_montecarlo_and_folds(
    market, trained_2019
):
    from autostock.robustness.montecarlo import run_montecarlo
    from autostock.robustness.walkforward import walk_forward

    label_end = load_artifacts(trained_2019).training_window("AAA").label_end
    serve = {"model": str(trained_2019), "serve": "model"}
    spec = RunSpec(strategy="ml_signal", symbols=["AAA"], params=serve)
    message = rf"AAA: refusing to serve the saved predictor on bars from .*in-sample.*labels.*{label_end}"
    with pytest.raises(ConfigError, match=message):
        run_backtest(spec, market)
    with pytest.raises(ConfigError, match=message):  # any bar on or before label_end is refused
        run_backtest(spec, market.slice(label_end, None))
    member = RunSpec(
        strategy="ensemble",
        symbols=["AAA"],
        params={"members": f"sma_cross:fast=5,slow=20;ml_signal:model={trained_2019},serve=model"},
    )
    with pytest.raises(ConfigError, match=message):
        run_backtest(member, market)
    with pytest.raises(ConfigError, match=message):
        run_montecarlo(spec, market.select(["AAA"]), paths=2, executor=Executor(workers=1, progress=False))
    # walk-forward folds: each in-sample window holding a bar the predictor learnt from is refused
    wf = walk_forward(
        spec,
        market.select(["AAA"]),
        {"lookback": [300]},
        train="6m",
        test="3m",
        executor=Executor(workers=1, progress=False),
    )
    starts = pd.to_datetime(wf.folds["train_start"])
    refused = wf.trials.set_index("fold")["status"]
    early = wf.folds["fold"][starts <= label_end]
    assert len(early) > 0
    assert all("refusing to serve the saved predictor" in refused[f] for f in early)
    assert all(refused[f] == "ok" for f in wf.folds["fold"][starts > label_end])


@pytest.mark.parametrize("sizer", ["fixed", "fixed_fraction", "kelly", "percent", "vol_target", "equal_weight"])
def test_ml_signal_trades_with_any_sizer(market, sizer):
    preds = {s: np.log(b["close"]).diff(5) for s, b in market.bars.items()}  # a causal momentum "model"
    result = run_backtest(RunSpec(strategy="ml_signal", params={"predictions": preds}, sizer=sizer), market)
    assert result.metrics["n_trades"] > 0


def test_ml_signal_rejects_bad_settings_naming_the_value(market):
    preds = block_predictions(market, 0.01, -0.01)
    for params, message in [
        ({"predictions": preds, "long_threshold": -0.1, "short_threshold": 0.1}, "short_threshold"),
        ({"predictions": preds, "kind": "odds"}, "kind"),
        ({}, "needs model"),
        ({"predictions": {"AAA": preds["AAA"]}}, "no series for BBB"),
    ]:
        with pytest.raises(ConfigError, match=message):
            run_backtest(RunSpec(strategy="ml_signal", params=params), market)


def test_prediction_kind_is_metadata_recorded_by_training_and_read_by_one_function(market, trained_2019, tmp_path):
    assert load_artifacts(trained_2019).params["prediction_kind"] == "return"
    assert prediction_kind({"prediction_kind": "probability"}) == "probability"
    assert prediction_kind({"target": "direction_3"}) == "probability"  # a directory written before the record
    assert prediction_kind({"target": "fwd_logreturn_5"}) == "log_return"
    with pytest.raises(UserError, match="neither prediction_kind nor target"):
        prediction_kind({"model": "ridge"})
    # values that look like probabilities are not guessed to be probabilities: the record decides
    preds = block_predictions(market, 0.7, 0.45)
    save_artifacts(
        tmp_path / "ret", {"model": "ridge", "target": "fwd_return_5", "prediction_kind": "return"}, {}, preds
    )
    assert list(
        completed_orders(RunSpec(strategy="ml_signal", params={"model": str(tmp_path / "ret")}), market).side
    ) == ["buy", "buy"]  # 0.45 > 0: still long


def test_ensemble_of_one_member_trades_exactly_like_that_member(market):
    alone = completed_orders(RunSpec(strategy="sma_cross", params={"fast": 5, "slow": 20}), market)
    voted = completed_orders(RunSpec(strategy="ensemble", params={"members": "sma_cross:fast=5,slow=20"}), market)
    assert len(alone) > 0
    pd.testing.assert_frame_equal(voted, alone)


def test_weighted_vote_follows_the_member_holding_most_of_the_weight(market):
    members = json.dumps(
        [
            {"name": "sma_cross", "params": {"fast": 5, "slow": 20}, "weight": 3},
            {"name": "sma_cross", "params": {"fast": 3, "slow": 15}, "weight": 1},
        ]
    )
    voted = completed_orders(RunSpec(strategy="ensemble", params={"members": members, "method": "weighted"}), market)
    heavy = completed_orders(RunSpec(strategy="sma_cross", params={"fast": 5, "slow": 20}), market)
    pd.testing.assert_frame_equal(voted, heavy)


def test_majority_vote_needs_more_than_half_of_the_members(market, tmp_path):
    # with an always-bullish ML member, a 2-member majority is long exactly when sma_cross is;
    # with an always-bearish one it is never long
    for name, value in (("up", 0.01), ("down", -0.01)):
        constant = {s: pd.Series(value, index=b.index) for s, b in market.bars.items()}
        save_artifacts(tmp_path / name, {"model": "ridge", "target": "fwd_return_5"}, {}, constant)
    sma = completed_orders(RunSpec(strategy="sma_cross", params={"fast": 5, "slow": 20}), market)
    with_up = RunSpec(
        strategy="ensemble", params={"members": f"sma_cross:fast=5,slow=20;ml_signal:model={tmp_path / 'up'}"}
    )
    voted = completed_orders(with_up, market)
    pd.testing.assert_frame_equal(voted, sma)
    pd.testing.assert_frame_equal(completed_orders(with_up, market, runonce=False), voted)
    with_down = with_up.replace(params={"members": f"sma_cross:fast=5,slow=20;ml_signal:model={tmp_path / 'down'}"})
    assert completed_orders(with_down, market).empty


def test_ensemble_parses_text_and_json_members_and_normalises_weights():
    text = parse_members("sma_cross:fast=10,slow=30;rsi", weights="3,1")
    assert [(m.name, m.params, m.weight) for m in text] == [
        ("sma_cross", {"fast": "10", "slow": "30"}, 3.0),
        ("rsi", {}, 1.0),
    ]
    as_dict = parse_members('{"sma_cross": {"fast": 10}, "rsi": {}}')
    assert [m.name for m in as_dict] == ["sma_cross", "rsi"]
    assert normalised_weights(text, "weighted") == [0.75, 0.25]
    assert sum(normalised_weights(text, "majority")) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"members": ""}, "needs members"),
        ({"members": "sma_cross;rsi", "weights": "1"}, "2 members but 1 weights"),
        ({"members": "sma_cross:fast"}, "expected name:key=value"),
        ({"members": "sma_cross:speed=3"}, "unknown ensemble member 'sma_cross' param"),
        ({"members": "nope"}, "unknown strategy 'nope'"),
        ({"members": "sma_cross", "method": "loudest"}, "method"),
        ({"members": "[{bad json"}, "invalid JSON"),
    ],
)
def test_ensemble_rejects_bad_members_naming_the_value(params, message, market):
    from autostock.errors import UserError

    with pytest.raises(UserError, match=message):
        run_backtest(RunSpec(strategy="ensemble", params=params), market)


def test_cli_trains_a_keras_lstm_then_backtests_ml_signal_and_an_ensemble_on_it(tmp_path):
    pytest.importorskip("keras")
    from click.testing import CliRunner

    from autostock.cli import cli

    data = ["--data", "synthetic", "--symbols", "AAPL", "--start", "2018-01-01", "--end", "2020-12-31", "--seed", "5"]
    model = tmp_path / "lstm"
    res = CliRunner().invoke(
        cli,
        [
            "train",
            "--model",
            "lstm",
            *data,
            "--features",
            SHORT_FEATURES,
            "-q",
            "--param",
            "units=4",
            "--param",
            "epochs=1",
            "--param",
            "seq_len=5",
            "--walk-forward",
            "train=300,test=250",
            "--out",
            str(model),
        ],
    )
    assert res.exit_code == 0, res.output
    assert (model / "models" / "AAPL" / "model.keras").is_file()
    oos = pd.read_parquet(model / "predictions" / "AAPL.parquet")["prediction"]
    for strategy, param in (
        ("ml_signal", f"model={model}"),
        ("ensemble", f"members=sma_cross:fast=5,slow=20;ml_signal:model={model}"),
    ):
        out = tmp_path / strategy
        res = CliRunner().invoke(
            cli,
            [
                "backtest",
                "--strategy",
                strategy,
                "--param",
                param,
                *data,
                "--no-tearsheet",
                "--no-pyfolio",
                "--out",
                str(out),
            ],
        )
        assert res.exit_code == 0, res.output
        summary = json.loads((out / "summary.json").read_text())
        assert summary["metrics"]["n_trades"] > 0
        first_order = pd.read_csv(out / "orders.csv")["created"].min()
        assert pd.Timestamp(first_order) >= oos.first_valid_index()
