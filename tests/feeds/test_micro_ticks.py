"""Trades and quotes: validation, tick-to-bar aggregation, top-of-book columns, the --data grammar."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from autostock.errors import ConfigError, DataError
from autostock.feeds import load_market
from autostock.feeds.bars import (
    parse_bar_spec,
    quote_ofi,
    quotes_to_bars,
    tick_signs,
    trades_to_bars,
)
from autostock.feeds.synthetic_micro import generate_micro
from autostock.feeds.ticks import read_quotes, read_trades, tidy_ticks


def _trades(prices, sizes, start="2024-01-02 09:30:00", step_s=1.0) -> pd.DataFrame:
    ts = pd.Timestamp(start) + pd.to_timedelta(np.arange(len(prices)) * step_s, unit="s")
    return pd.DataFrame({"timestamp": ts, "price": np.asarray(prices, float), "size": np.asarray(sizes, float)})


def _write(tmp_path, name: str, text: str):
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    "body, message",
    [
        (
            "timestamp,price,size\n2024-01-02 09:30:01,10,100\n2024-01-02 09:30:00,10,100\n",
            "row 3: timestamps not sorted",
        ),
        ("timestamp,price,size\n2024-01-02 09:30:00,10,0\n", "row 2: size must be positive"),
        ("timestamp,price,size\n2024-01-02 09:30:00,inf,5\n", "row 2: price is not a finite number"),
        ("timestamp,price,size\n2024-01-02 09:30:00,abc,5\n", "row 2: price is not a number"),
        ("timestamp,price,size\nyesterday,10,5\n", "row 2: unparseable timestamp"),
        ("timestamp,price,venue\n2024-01-02 09:30:00,10,5\n", "unknown column 'venue'"),
    ],
)
def test_bad_trades_file_is_one_line_naming_file_row_and_value(tmp_path, body, message):
    path = _write(tmp_path, "t.csv", body)
    with pytest.raises(DataError, match=message) as err:
        read_trades(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_crossed_quote_is_rejected_with_its_row(tmp_path):
    path = _write(
        tmp_path,
        "q.csv",
        "timestamp,bid,ask,bid_size,ask_size\n"
        "2024-01-02 09:30:00,10.00,10.01,100,200\n2024-01-02 09:30:01,10.02,10.01,100,200\n",
    )
    with pytest.raises(DataError, match=r"row 3: crossed quote: bid 10.02 > ask 10.01"):
        read_quotes(path)


def test_alpaca_json_keys_are_accepted_and_utc_stamps_become_new_york_time():
    raw = pd.DataFrame(
        [
            {
                "t": "2024-01-02T14:30:00Z",
                "bp": 10.0,
                "ap": 10.02,
                "bs": 3,
                "as": 4,
                "bx": "V",
                "ax": "V",
                "c": ["R"],
                "z": "C",
            }
        ]
    )
    q = tidy_ticks(raw, "quotes", "alpaca")
    assert list(q.columns) == ["timestamp", "bid", "ask", "bid_size", "ask_size"]
    assert q["timestamp"].iloc[0] == pd.Timestamp("2024-01-02 09:30:00")


def test_bad_trades_file_through_the_cli_exits_2_with_one_line(tmp_path):
    from autostock.cli import cli

    path = _write(tmp_path, "t.csv", "timestamp,price,size\n2024-01-02 09:30:00,10,-1\n")
    res = CliRunner().invoke(cli, ["backtest", "--data", f"trades:{path}", "--bars", "tick=10", "--no-tearsheet"])
    assert res.exit_code == 2
    assert "row 2: size must be positive" in res.output and "Traceback" not in res.output


def test_bars_flag_without_a_trades_source_is_a_config_error():
    from autostock.cli import cli

    res = CliRunner().invoke(cli, ["backtest", "--data", "synthetic", "--bars", "tick=10"])
    assert res.exit_code == 2 and "--bars needs --data trades:FILE" in res.output


@pytest.mark.parametrize("text", ["dollar=-1", "tick=2.5", "range=3", "time=soon", "volume"])
def test_bad_bar_spec_is_a_config_error(text):
    with pytest.raises(ConfigError, match="--bars"):
        parse_bar_spec(text)


def test_tick_rule_signs_follow_price_changes_and_keep_the_sign_on_zero_ticks():
    np.testing.assert_array_equal(tick_signs(np.array([10, 10, 11, 11, 10.5, 10.5, 12])), [0, 0, 1, 1, -1, -1, 1])


def test_tick_bars_hold_n_trades_with_hand_computed_ohlcv():
    t = _trades([10, 11, 9, 10, 12, 13, 11], [1, 2, 3, 4, 5, 6, 7])
    bars = trades_to_bars(t, "tick=3")
    assert bars["n_trades"].tolist() == [3, 3, 1]  # the incomplete last bar is kept
    first = bars.iloc[0]
    assert (first.open, first.high, first.low, first.close, first.volume) == (10, 11, 9, 9, 6)
    assert first.vwap == pytest.approx((10 + 22 + 27) / 6)
    assert (first.buy_volume, first.sell_volume) == (2, 3)  # 10 unsigned, 11 up, 9 down
    assert bars.index[0] == t["timestamp"].iloc[2]
    assert first.rv == pytest.approx(np.log(11 / 10) ** 2 + np.log(9 / 11) ** 2)


def test_volume_and_dollar_bars_close_on_the_trade_that_crosses_the_threshold():
    t = _trades([10, 10, 10, 10, 10], [4, 4, 4, 4, 4])
    assert trades_to_bars(t, "volume=10")["volume"].tolist() == [12, 8]
    assert trades_to_bars(t, "dollar=100")["dollar_volume"].tolist() == [120, 80]


def test_time_bars_are_right_closed_and_stamped_with_their_end():
    t = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(["2024-01-02 09:30:30", "2024-01-02 09:31:00", "2024-01-02 09:31:01"]),
            "price": [10.0, 11.0, 12.0],
            "size": [1.0, 1.0, 1.0],
        }
    )
    bars = trades_to_bars(t, "time=1min")
    assert list(bars.index) == [pd.Timestamp("2024-01-02 09:31"), pd.Timestamp("2024-01-02 09:32")]
    assert bars["close"].tolist() == [11.0, 12.0]


def test_bars_that_would_share_a_timestamp_are_one_bar():
    t = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(["2024-01-02 09:30:00"] * 4 + ["2024-01-02 09:30:01"]),
            "price": [10.0] * 5,
            "size": [1.0] * 5,
        }
    )
    bars = trades_to_bars(t, "tick=2")
    assert bars.index.is_unique and bars["n_trades"].tolist() == [4, 1]


def test_complete_bars_are_identical_when_built_from_the_trades_up_to_them():
    trades = generate_micro("SYN", 200, 5, with_alt=False).trades
    for spec in ("time=5min", "tick=50", "volume=4000", "dollar=5e5"):
        whole = trades_to_bars(trades, spec)
        t = 60
        part = trades_to_bars(trades[trades["timestamp"] <= whole.index[t]], spec)
        pd.testing.assert_frame_equal(part.iloc[: t + 1], whole.iloc[: t + 1])


def test_quotes_onto_bars_give_the_standing_quote_and_the_next_quote_for_fills():
    q = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(["2024-01-02 09:30:10", "2024-01-02 09:30:50", "2024-01-02 09:32:10"]),
            "bid": [10.0, 10.1, 10.3],
            "ask": [10.2, 10.3, 10.4],
            "bid_size": [1.0, 2.0, 3.0],
            "ask_size": [3.0, 2.0, 1.0],
        }
    )
    idx = pd.DatetimeIndex(["2024-01-02 09:31", "2024-01-02 09:32", "2024-01-02 09:33"])
    b = quotes_to_bars(q, idx)
    assert b["bid"].tolist() == [10.1, 10.1, 10.3]  # 09:32 has no quote: the 09:30:50 one stands
    assert b["open_ask"].tolist() == [10.2, 10.3, 10.4]  # first quote after the previous stamp, else the standing one
    assert b["n_quotes"].tolist() == [2, 0, 1]
    # OFI of the second quote: bid up (+2), ask up (+ previous ask size 3)
    assert quote_ofi(q)[1] == pytest.approx(2.0 + 3.0)
    assert b["ofi"].iloc[0] == pytest.approx(5.0)


def test_trades_source_with_quotes_attached_carries_both_column_sets(tmp_path):
    d = generate_micro("SYN", 120, 2, with_alt=False)
    d.trades.to_csv(tmp_path / "SYN.csv", index=False)
    d.quotes.to_parquet(tmp_path / "q.parquet")
    m = load_market(f"trades:{tmp_path / 'SYN.csv'}@time=5min+quotes:{tmp_path / 'q.parquet'}")
    bars = m.bars["SYN"]
    assert len(bars) == 120 and {"buy_volume", "rv", "bid", "open_ask", "ofi"} <= set(bars.columns)
    assert (bars["bid"] <= bars["ask"]).all()
