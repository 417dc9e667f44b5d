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
        "equity.html",
        "tearsheet.html",
        "pyfolio/returns_tear_sheet.html",
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
    assert (par / "equity.html").read_bytes() == (ser / "equity.html").read_bytes()


def test_outputs_selects_which_files_are_written(result, tmp_path):
    paths = write_outputs(result, tmp_path, outputs=("summary", "chart"))
    assert files(tmp_path) == ["equity.html", "summary.json"]
    assert set(paths) == {"summary", "chart"}


def test_default_outputs_import_no_plotting_library(tmp_path):
    """The default pages carry their charts' data; no matplotlib, seaborn or report library is loaded."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from autostock.cli import main\n"
        f"sys.argv = ['autostock', 'backtest', '--symbols', 'AAPL,MSFT', '--start', '2020-01-01', '-o', {str(tmp_path)!r}]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'matplotlib', 'seaborn', 'quantstats', 'pyfolio', 'empyrical'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
    assert {"equity.html", "tearsheet.html", "pyfolio/returns_tear_sheet.html"} <= set(files(tmp_path))


def test_png_pictures_are_opt_in(result, tmp_path):
    assert not {"chart_png", "pyfolio_png"} & set(parse_outputs("all"))
    paths = write_outputs(result, tmp_path, outputs=("chart_png", "pyfolio_png"), parallel=True)
    assert set(paths) == {"chart_png", "pyfolio_png"}
    for name in ("equity.png", "pyfolio/returns_tear_sheet.png"):
        png = (tmp_path / name).read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000, name


def test_no_tearsheet_flag_still_drops_the_html(result, tmp_path):
    write_outputs(result, tmp_path, tearsheet=False, outputs=("summary", "tearsheet", "tearsheet_native"))
    assert files(tmp_path) == ["summary.json"]


def test_pyfolio_native_is_opt_in_and_writes_pyfolios_own_page(result, tmp_path):
    assert "pyfolio_native" not in parse_outputs("all")
    assert parse_outputs("pyfolio_native,summary") == ("summary", "pyfolio_native")
    assert parse_outputs("all,pyfolio_native") == (*OUTPUTS, "pyfolio_native")
    paths = write_outputs(result, tmp_path, outputs=("pyfolio_native",), parallel=False)
    assert files(tmp_path) == ["pyfolio/pyfolio_returns_tear_sheet.png"]
    png = paths["pyfolio_native"].read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000


def _tables(html: str) -> list[list[str]]:
    import re

    cells = []
    for section in ("Key Performance Metrics", '<div id="eoy">', "Worst 10 Drawdowns"):
        start = html.index(section)
        body = html[start : html.index("</table>", start)]
        cells.append(re.findall(r'<t[dh]>(.*?)</t[dh]>|<td colspan="\d+">', body))
    return cells


def test_tearsheet_native_is_opt_in_and_the_default_page_shows_its_tables(result, tmp_path):
    assert "tearsheet_native" not in parse_outputs("all")
    assert parse_outputs("all,tearsheet_native") == (*OUTPUTS, "tearsheet_native")
    paths = write_outputs(result, tmp_path, outputs=("tearsheet", "tearsheet_native"), parallel=False)
    assert files(tmp_path) == ["tearsheet.html", "tearsheet_native.html"]
    ours, native = paths["tearsheet"].read_text(), paths["tearsheet_native"].read_text()
    assert "Generated by <a href" in native and "autostock's rendering of the QuantStats report" in ours
    # the metrics, EOY and worst-drawdown tables cell for cell as QuantStats renders them
    assert _tables(ours) == _tables(native)
