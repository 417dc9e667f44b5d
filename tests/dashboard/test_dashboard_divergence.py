"""Live vs backtest divergence: a real paper session against the loopback Alpaca server,
replayed through the same strategy; and the pairing rules on hand-made order lists."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from autostock.cli import cli
from autostock.dashboard import divergence as dv
from autostock.live.state import StateDB
from tests.dashboard.helpers import SLIP
from tests.live.live_helpers import KEY, SECRET


def test_the_trader_publishes_its_session_and_stream_health_for_the_dashboard(live_session):
    db = StateDB(live_session["state"])
    session = json.loads(db.get_meta("session"))
    db.close()
    assert session["strategy"] == "sma_cross" and session["params"] == {"fast": 3, "slow": 8}
    assert session["symbols"] == ["AAA", "BBB"] and session["limits"]["max_orders_per_minute"] == 30
    assert KEY not in json.dumps(session) and SECRET not in json.dumps(live_session["health"])
    health = live_session["health"]
    assert set(health["last_message"]) == {"trade", "data"} and health["requests_total"] > 0


def test_divergence_command_matches_every_order_and_measures_the_fill_slippage(live_session):
    out = live_session["tmp"] / "div"
    res = CliRunner().invoke(
        cli,
        [
            "divergence",
            "--state",
            str(live_session["state"]),
            "--data",
            str(live_session["bars"]),
            "--start",
            str(live_session["first_live"].date()),
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out / "divergence.csv")
    assert len(table) >= 4, "the fixture session must trade"
    assert (table["status"] == "matched").all(), table[table["status"] != "matched"]
    filled = table.dropna(subset=["live_price", "backtest_price"])
    assert len(filled) >= 4
    np.testing.assert_allclose(filled["slippage_bps"], SLIP * 1e4, rtol=1e-6)
    assert (out / "divergence.png").stat().st_size > 5000
    assert "0 live only, 0 backtest only" in res.output


def test_divergence_flags_an_order_missing_live_and_a_different_fill(live_session, tmp_path):
    import sqlite3

    state = tmp_path / "paper.sqlite"
    src, c = sqlite3.connect(live_session["state"]), sqlite3.connect(state)
    src.backup(c)  # the file and its WAL, consistently
    src.close()
    cids = [r[0] for r in c.execute("SELECT cid FROM orders WHERE filled_qty > 0 ORDER BY created_at")]
    c.execute("DELETE FROM orders WHERE cid=?", (cids[0],))
    c.execute("UPDATE orders SET filled_avg_price = filled_avg_price * 1.01 WHERE cid=?", (cids[1],))
    c.commit()
    c.close()
    bars = {
        s: pd.read_csv(live_session["bars"] / f"{s}.csv", index_col="date", parse_dates=True) for s in ("AAA", "BBB")
    }
    div = dv.divergence(state, bars, start=live_session["first_live"])
    t = div.table
    assert (t["status"] == "backtest only").sum() == 1
    moved = t[t["live_cid"] == cids[1]].iloc[0]
    sign = 1 if moved["side"] == "buy" else -1
    assert moved["slippage_bps"] == pytest.approx(((1 + sign * SLIP) * 1.01 - 1) * sign * 1e4, rel=1e-6)
    assert div.summary()["backtest_only"] == 1 and div.summary()["live_only"] == 0


def test_pairing_counts_repeated_orders_and_flags_quantity_and_one_sided_orders():
    live = pd.DataFrame(
        {
            "cid": ["a", "b", "c", "d"],
            "symbol": ["X", "X", "X", "Y"],
            "side": ["buy"] * 4,
            "qty": [10, 10, 5, 3],
            "filled_qty": [10, 10, 5, 3],
            "filled_avg_price": [101.0, 102.0, 50.0, 20.0],
            "status": ["filled"] * 4,
            "bar_time": ["2024-01-02T00:00:00", "2024-01-02T00:00:00", "2024-01-03T00:00:00", "2024-01-04T00:00:00"],
            "parent_cid": [None] * 4,
        }
    )
    backtest = pd.DataFrame(
        {
            "ref": [1, 2, 3, 4],
            "created": ["2024-01-02", "2024-01-02", "2024-01-03", "2024-01-05"],
            "symbol": ["X", "X", "X", "Y"],
            "side": ["buy"] * 4,
            "size": [10, 10, 6, 3],
            "exec_price": [100.0, 100.0, 50.0, 20.0],
        }
    )
    t = dv.compare_orders(live, backtest)
    assert t["status"].tolist() == ["matched", "matched", "qty differs", "live only", "backtest only"]
    np.testing.assert_allclose(t["slippage_bps"].iloc[:2], [100.0, 200.0])


def test_sell_slippage_is_positive_when_live_sold_lower():
    live = pd.DataFrame(
        {
            "cid": ["a"],
            "symbol": ["X"],
            "side": ["sell"],
            "qty": [1],
            "filled_qty": [1],
            "filled_avg_price": [99.0],
            "status": ["filled"],
            "bar_time": ["2024-01-02T00:00:00"],
            "parent_cid": [None],
        }
    )
    backtest = pd.DataFrame(
        {"ref": [1], "created": ["2024-01-02"], "symbol": ["X"], "side": ["sell"], "size": [-1], "exec_price": [100.0]}
    )
    assert dv.compare_orders(live, backtest)["slippage_bps"].iloc[0] == pytest.approx(100.0)


def test_divergence_of_a_state_database_without_orders_is_one_line(tmp_path):
    StateDB(tmp_path / "s.sqlite").close()
    res = CliRunner().invoke(
        cli, ["divergence", "--state", str(tmp_path / "s.sqlite"), "--data", "synthetic", "--out", str(tmp_path / "o")]
    )
    assert res.exit_code == 2 and "holds no orders" in res.output
