"""The risk guard in real backtests: sector caps and leverage, kill switch, stops, correlation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import autostock.risk.exposure  # noqa: F401  (registers the exposure analyzer)
import autostock.sizers.risk_sizers  # noqa: F401  (registers the risk sizers)
from autostock import universe as uni
from autostock.config import RunSpec
from autostock.engine import run_backtest
from autostock.feeds.market import Market
from autostock.feeds.synthetic import generate_market
from autostock.risk.report import summary_sections, write_risk_files


def crafted_market(paths: dict[str, np.ndarray], start: str = "2021-01-04") -> Market:
    """Bars from close paths: open = previous close, a 0.2 % range around open/close."""
    dates = pd.bdate_range(start, periods=len(next(iter(paths.values()))), name="date")
    bars = {}
    for sym, close in paths.items():
        close = np.asarray(close, dtype=float)
        open_ = np.concatenate([[close[0]], close[:-1]])
        bars[sym] = pd.DataFrame(
            {
                "open": open_,
                "high": np.maximum(open_, close) * 1.002,
                "low": np.minimum(open_, close) * 0.998,
                "close": close,
                "volume": np.full(len(close), 1e6),
            },
            index=dates,
        )
    return Market(bars=bars, source="crafted", synthetic=True, sectors=uni.sectors_for(paths))


@pytest.fixture(scope="module")
def universe_market():
    symbols = [a.symbol for a in uni.load_universe()]
    return generate_market(symbols, "2019-01-01", "2020-06-30", seed=5, sectors=uni.sectors_for(symbols))


def momentum_spec(symbols, risk):
    return RunSpec(
        strategy="momentum",
        params={"lookback": 40, "top_n": 20, "rebalance": 10, "absolute": False},
        symbols=symbols,
        sizer="equal_weight",
        risk=risk,
    )


def test_momentum_over_the_universe_keeps_sectors_under_caps_and_leverage_under_limit(universe_market, tmp_path):
    symbols = universe_market.symbols
    assert len(symbols) >= 65
    result = run_backtest(momentum_spec(symbols, {"sector_caps": True, "max_leverage": 1.0}), universe_market)
    paths = write_risk_files(result.analyses, tmp_path)
    exposure = pd.read_csv(paths["exposure"], parse_dates=["date"]).set_index("date")
    caps = uni.sector_caps()
    sectors = uni.sectors_for(symbols)
    closes = pd.DataFrame({s: universe_market.bars[s]["close"] for s in symbols}).loc[exposure.index]
    moves = closes / closes.shift(1)
    equity_move = exposure["equity"] / exposure["equity"].shift(1)
    checked = 0
    for sector in set(sectors.values()):
        cap = uni.cap_for(sector, caps)
        members = [s for s in symbols if sectors[s] == sector]
        # one bar's price move: the sector's biggest one-bar rise relative to the portfolio
        move = (moves[members].max(axis=1) / equity_move).fillna(1.0).clip(lower=1.0)
        weight = exposure[f"sector_{sector}"]
        assert (weight <= cap * move + 1e-9).all(), (sector, (weight - cap * move).max())
        checked += int((weight > 0).sum())
    assert checked > 1000  # sectors were actually held
    assert (exposure["leverage"] <= 1.0 + 1e-9).all()
    summary = summary_sections(result.analyses)
    assert summary["exposure"]["max_leverage"] <= 1.0 + 1e-9
    assert summary["risk_reductions"].get("sector_cap", 0) + summary["risk_refusals"].get("sector_cap", 0) > 0

    # the same run without caps crowds a sector past its cap: the caps did the work
    loose = run_backtest(momentum_spec(symbols, {"max_leverage": 1.0}), universe_market)
    peaks = loose.analyses["exposure"]["max_sector_weight"]
    assert any(w > uni.cap_for(s, caps) * 1.1 for s, w in peaks.items())


def test_kill_switch_flattens_from_the_bar_after_the_breach_and_sends_nothing_afterwards():
    up = np.linspace(100, 110, 60)
    crash = 110 * 0.95 ** np.arange(1, 9)  # eight 5 % down days
    after = np.linspace(crash[-1], 120, 60)  # a recovery the switch must sit out
    paths = {s: np.concatenate([up * k, crash * k, after * k]) for s, k in (("AAPL", 1.0), ("XOM", 0.5), ("JNJ", 2.0))}
    market = crafted_market(paths)
    # far-away stops: live protective orders the kill switch has to cancel
    spec = RunSpec(
        strategy="buy_hold",
        symbols=list(paths),
        risk={"max_drawdown": 0.15, "correlation_limit": "off", "stop_loss": 0.5, "take_profit": 1.0},
    )
    result = run_backtest(spec, market)

    kills = [e for e in result.events if e["type"] == "kill_switch"]
    assert len(kills) == 1
    breach = pd.Timestamp(kills[0]["date"])
    assert kills[0]["drawdown"] >= 0.15
    value = result.equity["value"]
    assert (1 - value.loc[:breach] / value.loc[:breach].cummax()).iloc[:-1].max() < 0.15  # first breach
    # positions are flat from the bar after the breach
    held_after = result.positions[pd.to_datetime(result.positions["date"]) > breach]
    assert held_after.empty
    assert len(result.positions[pd.to_datetime(result.positions["date"]) == breach]) == 3
    # the only orders created on or after the breach are the flattening sells, sent on the breach bar
    created = pd.to_datetime(result.orders["created"])
    late = result.orders[created >= breach]
    assert len(late) == 3 and (late["side"] == "sell").all() and (pd.to_datetime(late["created"]) == breach).all()
    assert (late["type"] == "Market").all() and (late["status"] == "Completed").all()
    assert not (created > breach).any()
    protective = result.orders[result.orders["type"].isin(["Stop", "Limit"])]
    assert len(protective) == 6 and (protective["status"] == "Canceled").all()
    # cash sits still for the rest of the run, and the refusals are counted
    assert result.equity["value"].loc[breach + pd.Timedelta(days=3) :].nunique() == 1
    assert result.analyses["risk_guard"]["refusals"]["kill_switch"] > 0
    assert summary_sections(result.analyses)["kill_switch"][0]["date"] == kills[0]["date"]


def test_kill_switch_cool_off_lets_entries_resume():
    up = np.linspace(100, 110, 60)
    crash = 110 * 0.95 ** np.arange(1, 9)
    after = np.linspace(crash[-1], 120, 60)
    paths = {"AAPL": np.concatenate([up, crash, after])}
    spec = RunSpec(strategy="buy_hold", symbols=["AAPL"], risk={"max_drawdown": 0.15, "cool_off": 10})
    result = run_backtest(spec, crafted_market(paths))
    kinds = [e["type"] for e in result.events]
    assert kinds == ["kill_switch", "kill_switch_resume"]
    resume = pd.Timestamp(result.events[1]["date"])
    assert (pd.to_datetime(result.orders["created"]) >= resume).any()  # re-entered after the cool-off
    assert pd.to_datetime(result.positions["date"]).max() == result.equity.index[-1]


def test_stop_loss_and_take_profit_fire_at_their_prices(universe_market):
    symbols = ["AAPL", "MSFT", "JPM", "XOM", "JNJ", "PG"]
    market = universe_market.select(symbols)
    spec = RunSpec(
        strategy="sma_cross",
        params={"fast": 5, "slow": 20},
        symbols=symbols,
        risk={"stop_loss": 0.03, "take_profit": 0.04, "correlation_limit": "off"},
    )
    result = run_backtest(spec, market)
    fired = result.analyses["risk_guard"]["stops"]
    assert fired.get("stop_loss", 0) > 0 and fired.get("take_profit", 0) > 0
    trades = result.trades
    orders = result.orders[result.orders.status == "Completed"]
    stops = orders[orders["type"] == "Stop"]
    limits = orders[orders["type"] == "Limit"]
    assert len(stops) == fired["stop_loss"] and len(limits) == fired["take_profit"]
    for kind, rows, check in (
        ("stop", stops, lambda exit_, entry: exit_ <= entry * 0.97 + 1e-6),
        ("limit", limits, lambda exit_, entry: exit_ >= entry * 1.04 - 1e-6),
    ):
        for _, o in rows.iterrows():
            t = trades[(trades.symbol == o.symbol) & (pd.to_datetime(trades.exit_date) == pd.Timestamp(o.executed))]
            assert len(t) == 1, (kind, o.symbol, o.executed)
            assert check(o.exec_price, float(t.entry_price.iloc[0])), (kind, o.exec_price, float(t.entry_price.iloc[0]))
    # never more than one exit per position: no position ever flips short
    assert (result.positions["size"] > 0).all()


def test_trailing_stop_fires_and_never_leaves_a_short(universe_market):
    symbols = ["AAPL", "XOM", "JNJ"]
    spec = RunSpec(strategy="buy_hold", symbols=symbols, risk={"trailing_stop": 0.05, "correlation_limit": "off"})
    result = run_backtest(spec, universe_market.select(symbols))
    assert result.analyses["risk_guard"]["stops"].get("trailing_stop", 0) > 0
    assert (result.positions["size"] > 0).all()
    trailing = result.orders[result.orders["type"] == "StopTrail"]
    assert len(trailing) > 0
    assert (trailing["status"] != "Margin").all(), trailing["status"].value_counts().to_dict()


def test_correlation_limit_refuses_a_clone_of_a_held_position_and_counts_it():
    rng = np.random.default_rng(0)
    n = 200
    base = rng.normal(0.0005, 0.015, n)
    paths = {
        "AAPL": 100 * np.exp(np.cumsum(base)),
        "MSFT": 80 * np.exp(np.cumsum(base + rng.normal(0, 0.002, n))),  # a near clone of AAPL
        "XOM": 60 * np.exp(np.cumsum(rng.normal(0.0005, 0.015, n))),  # independent
    }
    market = crafted_market(paths)
    params = {"lookback": 30, "top_n": 3, "rebalance": 500, "absolute": False}
    risk = {"correlation_limit": 0.8, "correlation_window": 30}
    result = run_backtest(RunSpec(strategy="momentum", params=params, symbols=list(paths), risk=risk), market)
    refusals = result.analyses["risk_guard"]["refusals"]
    assert refusals == {"correlation": 1}
    log = result.analyses["risk_guard"]["log"]
    assert [(r["symbol"], r["reason"], r["action"]) for r in log] == [("MSFT", "correlation", "refused")]
    held = set(result.positions["symbol"])
    assert held == {"AAPL", "XOM"}

    reduced = run_backtest(
        RunSpec(strategy="momentum", params=params, symbols=list(paths), risk={**risk, "correlation_action": "reduce"}),
        market,
    )
    assert (
        reduced.analyses["risk_guard"]["reductions"].get("correlation", 0)
        + reduced.analyses["risk_guard"]["refusals"].get("correlation", 0)
        == 1
    )
    sizes = reduced.positions.groupby("symbol")["value"].first()
    assert sizes.get("MSFT", 0.0) < 0.5 * sizes["XOM"]


def test_max_position_weight_reduces_orders():
    paths = {"AAPL": np.linspace(100, 120, 80), "XOM": np.linspace(50, 55, 80)}
    spec = RunSpec(
        strategy="buy_hold",
        symbols=list(paths),
        sizer="percent",
        sizer_params={"percent": 50},
        risk={"max_position_weight": 0.2, "correlation_limit": "off"},
    )
    result = run_backtest(spec, crafted_market(paths))
    assert result.analyses["risk_guard"]["reductions"]["max_position_weight"] == 2
    assert result.analyses["exposure"]["max_position_weight"] <= 0.2 * 1.01


def test_guard_stops_and_kill_switch_agree_in_runonce_and_next_modes(universe_market):
    from autostock.engine import build_cerebro, collect

    symbols = ["AAPL", "MSFT", "NVDA", "JPM", "XOM", "JNJ"]
    market = universe_market.select(symbols)
    spec = RunSpec(
        strategy="sma_cross",
        params={"fast": 5, "slow": 20},
        symbols=symbols,
        risk={
            "stop_loss": 0.04,
            "trailing_stop": 0.06,
            "sector_caps": {"Technology": 0.2},
            "max_drawdown": 0.08,
            "cool_off": 15,
        },
    )
    results = []
    for runonce in (True, False):
        cerebro = build_cerebro(spec, market)
        results.append(collect(spec, market, cerebro.run(runonce=runonce)[0]))
    batch, step = results
    assert batch.final_value == pytest.approx(step.final_value, rel=1e-12)
    pd.testing.assert_frame_equal(batch.orders.drop(columns="ref"), step.orders.drop(columns="ref"))
    assert batch.analyses["risk_guard"]["refusals"] == step.analyses["risk_guard"]["refusals"]
    assert batch.events == step.events and any(e["type"] == "kill_switch" for e in batch.events)
