"""``write_outputs``: the selected outputs only, the same files whether drawn in parallel or not."""

from __future__ import annotations

import pytest

from autostock.config import RunSpec
from autostock.engine import run_backtest
from autostock.errors import ConfigError
from autostock.reports.writer import OUTPUTS, parse_outputs, write_outputs


@pytest.fixture(scope="module")
def result(small_market):
    spec = RunSpec(strategy="sma_cross", params={"fast": 10, "slow": 30}, symbols=small_market.symbols[:2])
    return run_backtest(spec, small_market.select(small_market.symbols[:2]), pyfolio=True)


def files(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_parse_outputs_keeps_the_canonical_order_and_rejects_unknown_names():
    assert parse_outputs("chart,summary") == ("summary", "chart")
    assert parse_outputs(None) == OUTPUTS
    assert parse_outputs("all") == OUTPUTS
    with pytest.raises(ConfigError, match="unknown html"):
        parse_outputs("summary,html")


def test_parallel_and_serial_writers_write_the_same_files_with_the_same_tables(result, tmp_path):
    par, ser = tmp_path / "par", tmp_path / "ser"
    write_outputs(result, par, parallel=True)
    write_outputs(result, ser, parallel=False)
    assert files(par) == files(ser)
    assert {
        "summary.json",
        "equity.csv",
        "trades.csv",
        "orders.csv",
        "positions.csv",
        "equity.png",
        "tearsheet.html",
        "pyfolio/returns_tear_sheet.png",
        "pyfolio/returns.csv",
        "pyfolio/perf_stats.csv",
        "pyfolio/drawdowns.csv",
    } <= set(files(par))
    for name in (
        "summary.json",
        "equity.csv",
        "trades.csv",
        "orders.csv",
        "pyfolio/returns.csv",
        "pyfolio/perf_stats.csv",
        "pyfolio/drawdowns.csv",
    ):
        assert (par / name).read_bytes() == (ser / name).read_bytes()
    assert (par / "equity.png").stat().st_size > 10_000


def test_outputs_selects_which_files_are_written(result, tmp_path):
    paths = write_outputs(result, tmp_path, outputs=("summary", "chart"))
    assert files(tmp_path) == ["equity.png", "summary.json"]
    assert set(paths) == {"summary", "chart"}


def test_no_tearsheet_flag_still_drops_the_html(result, tmp_path):
    write_outputs(result, tmp_path, tearsheet=False, outputs=("summary", "tearsheet"))
    assert files(tmp_path) == ["summary.json"]


def test_pyfolio_native_is_opt_in_and_writes_pyfolios_own_page(result, tmp_path):
    assert "pyfolio_native" not in parse_outputs("all")
    assert parse_outputs("pyfolio_native,summary") == ("summary", "pyfolio_native")
    assert parse_outputs("all,pyfolio_native") == (*OUTPUTS, "pyfolio_native")
    paths = write_outputs(result, tmp_path, outputs=("pyfolio_native",), parallel=False)
    assert files(tmp_path) == ["pyfolio/pyfolio_returns_tear_sheet.png"]
    png = paths["pyfolio_native"].read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
