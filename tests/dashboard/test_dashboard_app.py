"""Every dashboard page with Streamlit's AppTest on fixture state databases and report folders."""

from __future__ import annotations

import json
import shutil

import pytest

pytest.importorskip("streamlit")
pytest.importorskip("plotly")

from streamlit.testing.v1 import AppTest

from autostock.live.state import StateDB
from tests.dashboard.helpers import APP, KEY_ID, SECRET, all_text, make_state


def _app(monkeypatch, state, reports) -> AppTest:
    monkeypatch.setenv("AUTOSTOCK_DASHBOARD_STATE", str(state))
    monkeypatch.setenv("AUTOSTOCK_DASHBOARD_REPORTS", str(reports))
    return AppTest.from_file(str(APP), default_timeout=60)


def _page(at: AppTest, name: str) -> AppTest:
    at.sidebar.radio(key="page").set_value(name).run()
    assert not at.exception, at.exception
    return at


def _frame(at: AppTest, column: str):
    """The first table rendered with ``column`` (AppTest does not expose a dataframe's key)."""
    for d in [*at.dataframe, *at.table]:
        frame = d.value.reset_index() if d.value.index.name else d.value
        if column in frame.columns:
            return type("Frame", (), {"value": frame})()
    raise AssertionError(f"no table with column {column!r}")


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


# -- live --------------------------------------------------------------------------------------------


def test_live_page_shows_equity_positions_orders_killswitch_streams_and_request_rate(monkeypatch, tmp_path):
    at = _app(monkeypatch, make_state(tmp_path / "s.sqlite"), tmp_path).run()
    assert not at.exception, at.exception
    assert _metric(at, "Equity") == "101,234.56" and _metric(at, "Cash") == "50,000.00"
    assert [s.value for s in at.success] == ["Trading allowed"]
    positions = _frame(at, "unrealized_pnl").value
    assert positions["symbol"].tolist() == ["AAPL"] and positions["unrealized_pnl"].tolist() == [55.0]
    assert _frame(at, "limit_price").value["cid"].tolist() == ["run1-msft-1"]
    assert "max drawdown" in _frame(at, "armed").value["limit"].tolist()
    assert sorted(_frame(at, "age_s").value["stream"]) == ["data", "trade"]
    assert "42 of 200 requests/minute" in str(at.get("progress")[0].proto)
    assert len(at.get("plotly_chart")) == 1
    assert any("order notional" in w.value for w in at.warning)


def test_live_page_of_a_halted_account_shows_the_reason_and_disables_halt(monkeypatch, tmp_path):
    path = make_state(tmp_path / "s.sqlite", halted="max drawdown: equity 80,000.00 is 20.0% below its peak")
    at = _app(monkeypatch, path, tmp_path).run()
    errors = [e.value for e in at.error]
    assert any(
        e.startswith("Trading HALTED: max drawdown: equity 80,000.00") and "autostock resume" in e for e in errors
    )
    assert at.button(key="halt").disabled
    assert not at.success


def test_pressing_halt_sets_the_persistent_halt_in_the_state_database(monkeypatch, tmp_path):
    path = make_state(tmp_path / "s.sqlite")
    at = _app(monkeypatch, path, tmp_path).run()
    assert StateDB(path).halted() is None
    at.button(key="halt").click().run()
    reason = StateDB(path).halted()
    assert reason is not None and reason.startswith("halted from the dashboard at ")
    assert any(e.value.startswith("Trading HALTED: halted from the dashboard") for e in at.error)
    assert at.button(key="halt").disabled


def test_live_page_with_no_state_database_shows_a_notice_not_a_crash(monkeypatch, tmp_path):
    at = _app(monkeypatch, tmp_path / "missing.sqlite", tmp_path).run()
    assert not at.exception
    assert any("no state database" in w.value for w in at.warning)
    assert not (tmp_path / "missing.sqlite").exists()


def test_live_page_of_an_empty_state_database_says_there_is_nothing_yet(monkeypatch, tmp_path):
    StateDB(tmp_path / "empty.sqlite").close()
    at = _app(monkeypatch, tmp_path / "empty.sqlite", tmp_path).run()
    assert not at.exception
    assert _metric(at, "Equity") == "n/a"
    assert any(i.value == "No equity snapshots yet." for i in at.info)
    assert "limits unknown" in all_text(at)


def test_live_page_never_renders_an_api_key_or_secret(monkeypatch, tmp_path):
    monkeypatch.setenv("APCA_API_KEY_ID", KEY_ID)
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    at = _app(monkeypatch, make_state(tmp_path / "s.sqlite", secret_event=True), tmp_path).run()
    text = all_text(at)
    assert "401 for key *** secret ***" in text  # the event row itself is shown
    assert SECRET not in text and KEY_ID not in text
    assert SECRET not in str([el.proto for el in at.main]) + str([el.proto for el in at.sidebar])


def test_live_page_shows_a_notice_when_the_database_is_locked(monkeypatch, tmp_path):
    import sqlite3

    path = make_state(tmp_path / "s.sqlite")
    at = _app(monkeypatch, path, tmp_path)
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("PRAGMA locking_mode=EXCLUSIVE")
    locker.execute("BEGIN EXCLUSIVE")
    locker.execute("INSERT INTO meta (key, value) VALUES ('x', 'y')")
    try:
        at.run()
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert not at.exception
    assert any("locked" in w.value for w in at.warning)
    at.run()
    assert _metric(at, "Equity") == "101,234.56"


# -- reports -----------------------------------------------------------------------------------------


def test_backtests_page_lists_every_run_and_shows_one_in_detail(monkeypatch, tmp_path, reports_root):
    at = _page(_app(monkeypatch, tmp_path / "s.sqlite", reports_root).run(), "Backtests")
    runs = _frame(at, "problem").value
    assert sorted(runs["kind"]) == ["backtest", "backtest", "montecarlo", "optimize", "train", "walkforward"]
    fast = runs[runs["run"] == "bt-fast"].iloc[0]
    assert fast["strategy"] == "sma_cross" and "fast=5" in fast["params"] and fast["start"] == "2020-01-01"
    summary = json.loads((reports_root / "bt-fast" / "summary.json").read_text())
    assert fast["sharpe"] == pytest.approx(summary["metrics"]["sharpe"])
    at.selectbox(key="bt_run").set_value(str(reports_root / "bt-slow")).run()
    metrics = _frame(at, "metric").value.set_index("metric")["value"]
    slow = json.loads((reports_root / "bt-slow" / "summary.json").read_text())["metrics"]
    assert metrics["cagr"] == pytest.approx(slow["cagr"])
    charts = {el.proto.id: el for el in at.get("plotly_chart")}
    spec = " ".join(json.dumps(json.loads(el.proto.spec)["data"]) for el in charts.values())
    assert '"name": "buy"' in spec and '"name": "sell"' in spec and "triangle-up" in spec
    assert len(at.get("plotly_chart")) == 2  # equity + drawdown with markers, monthly heatmap
    assert at.get("download_button")[0].proto.label == "Download tearsheet.html"


def test_trades_table_filters_by_outcome(monkeypatch, tmp_path, reports_root):
    import pandas as pd

    at = _page(_app(monkeypatch, tmp_path / "s.sqlite", reports_root).run(), "Backtests")
    at.selectbox(key="bt_run").set_value(str(reports_root / "bt-fast")).run()
    trades = pd.read_csv(reports_root / "bt-fast" / "trades.csv")
    assert len(_frame(at, "pnl_after_costs").value) == len(trades)
    at.selectbox(key="tr_outcome").set_value("win").run()
    shown = _frame(at, "pnl_after_costs").value
    assert len(shown) == int((trades["pnl_after_costs"] > 0).sum()) and (shown["pnl_after_costs"] > 0).all()


def test_two_backtests_are_compared_on_one_chart_and_one_table(monkeypatch, tmp_path, reports_root):
    at = _page(_app(monkeypatch, tmp_path / "s.sqlite", reports_root).run(), "Backtests")
    at.multiselect(key="bt_compare").set_value([str(reports_root / "bt-fast"), str(reports_root / "bt-slow")]).run()
    table = _frame(at, "bt-fast").value
    assert list(table.columns) == ["bt-fast", "bt-slow"]
    assert table.loc["params", "bt-fast"] != table.loc["params", "bt-slow"]
    figures = [json.loads(el.proto.spec) for el in at.get("plotly_chart")]
    compare = next(f for f in figures if f["layout"].get("title", {}).get("text") == "equity, growth of 1")
    assert sorted(t["name"] for t in compare["data"]) == ["bt-fast", "bt-slow"]


def test_backtests_page_of_an_empty_reports_folder_says_so(monkeypatch, tmp_path):
    (tmp_path / "reports").mkdir()
    at = _page(_app(monkeypatch, tmp_path / "s.sqlite", tmp_path / "reports").run(), "Backtests")
    assert any("No report folders" in i.value for i in at.info)


def test_robustness_page_shows_monte_carlo_optimisation_and_walk_forward(monkeypatch, tmp_path, reports_root):
    at = _page(_app(monkeypatch, tmp_path / "s.sqlite", reports_root).run(), "Robustness")
    mc = json.loads((reports_root / "mc" / "montecarlo.json").read_text())
    assert _metric(at, "Paths") == str(mc["completed_paths"])
    titles = [json.loads(el.proto.spec)["layout"].get("title", {}).get("text") for el in at.get("plotly_chart")]
    assert "Sharpe across paths" in titles and "Max drawdown across paths" in titles
    opt = json.loads((reports_root / "opt" / "optimize.json").read_text())
    assert _metric(at, "Deflated Sharpe (DSR)") == f"{opt['deflated_sharpe']['dsr']:.3f}"
    assert _metric(at, "PBO") == f"{opt['pbo']['pbo']:.3f}"
    assert _metric(at, "Verdict") == opt["verdict"]["text"].split(":")[0]
    assert any(opt["verdict"]["text"] == c.value for c in at.caption)
    heat = next(
        json.loads(el.proto.spec)
        for el in at.get("plotly_chart")
        if json.loads(el.proto.spec)["data"][0]["type"] == "heatmap"
        and json.loads(el.proto.spec)["layout"]["xaxis"]["title"]["text"] == "fast"
    )
    assert len(heat["data"][0]["x"]) == 2 and len(heat["data"][0]["y"]) == 2
    folds = _frame(at, "wfe").value
    wf = json.loads((reports_root / "wf" / "walkforward.json").read_text())
    assert len(folds) == len(wf["folds"])


def test_optimisation_verdict_headline_is_shown_with_its_reasons(monkeypatch, tmp_path, reports_root):
    root = tmp_path / "r"
    shutil.copytree(reports_root / "opt", root / "opt")
    summary = json.loads((root / "opt" / "optimize.json").read_text())
    summary["verdict"] = {"skill": False, "text": "likely overfit: PBO 0.57 > 0.5", "dsr": 0.97, "pbo": 0.57}
    (root / "opt" / "optimize.json").write_text(json.dumps(summary))
    at = _page(_app(monkeypatch, tmp_path / "s.sqlite", root).run(), "Robustness")
    assert _metric(at, "Verdict") == "likely overfit"


def test_models_page_shows_oos_metrics_beside_the_naive_baselines(monkeypatch, tmp_path, reports_root):
    at = _page(_app(monkeypatch, tmp_path / "s.sqlite", reports_root).run(), "Models")
    table = _frame(at, "forecaster").value
    m = json.loads((reports_root / "model" / "metrics.json").read_text())["symbols"]["AAA"]
    aaa = table[table["symbol"] == "AAA"].set_index("forecaster")
    assert aaa.loc["model", "rmse"] == pytest.approx(m["model"]["rmse"])
    assert aaa.loc["baseline: zero", "rmse"] == pytest.approx(m["baselines"]["zero"]["rmse"])


def test_report_pages_of_an_empty_folder_say_so(monkeypatch, tmp_path):
    at = _app(monkeypatch, tmp_path / "s.sqlite", tmp_path / "none").run()
    for page, words in (("Robustness", "No Monte Carlo"), ("Models", "No `autostock train`")):
        _page(at, page)
        assert any(words in i.value for i in at.info)


def test_divergence_page_pairs_the_live_session_with_its_replay(monkeypatch, live_session):
    at = _page(_app(monkeypatch, live_session["state"], live_session["tmp"]).run(), "Live vs backtest")
    at.text_input(key="div_data").input(str(live_session["bars"]))
    at.text_input(key="div_start").input(str(live_session["first_live"].date()))
    at.button(key="div_run").click().run()
    assert not at.exception, at.exception
    table = _frame(at, "slippage_bps").value
    assert len(table) >= 4 and (table["status"] == "matched").all()
    assert _metric(at, "live only") == "0" and _metric(at, "backtest only") == "0"
    assert float(_metric(at, "mean slippage bps")) == pytest.approx(10.0, abs=0.05)


def test_divergence_page_without_bars_asks_for_them(monkeypatch, tmp_path):
    at = _page(_app(monkeypatch, make_state(tmp_path / "s.sqlite"), tmp_path).run(), "Live vs backtest")
    at.button(key="div_run").click().run()
    assert any("give the bars" in w.value for w in at.warning)
