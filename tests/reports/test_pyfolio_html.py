"""``pyfolio/returns_tear_sheet.html``: every panel of the tear sheet, plotting ``tear_sheet_data``'s
series, with pyfolio's tables, coloured as the PNG colours them, drawn in headless Chromium."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autostock.reports import pyfolio_html as ph
from autostock.reports import pyfolio_page as pp
from autostock.reports import webcharts as wc
from tests.chrome import chrome, drawn_charts, needs_chromium, specs

RTOL = {"rtol": 1e-5, "atol": 1e-12}  # 6 significant digits written


def series(n: int = 320, seed: int = 3) -> tuple[pd.Series, pd.Series]:
    rng = np.random.default_rng(seed)
    idx = pd.bdate_range("2017-11-01", periods=n, tz="UTC")
    bench = pd.Series(rng.normal(0.0004, 0.011, n), index=idx, name="SPY")
    rets = pd.Series(0.5 * bench.to_numpy() + rng.normal(0.0, 0.01, n), index=idx)
    rets.iloc[:4] = 0.0
    return rets, bench


def data_for(with_benchmark: bool) -> dict:
    rets, bench = series()
    return pp.tear_sheet_data(rets, bench if with_benchmark else None)


def close(got: list, expected) -> None:
    np.testing.assert_allclose(np.array(got, dtype=float), np.asarray(expected, dtype=float), **RTOL)


@pytest.mark.parametrize("with_benchmark", [True, False])
def test_every_panel_is_on_the_page_with_pyfolios_title_and_tear_sheet_datas_values(with_benchmark):
    data = data_for(with_benchmark)
    page = ph.returns_tear_sheet_html(data)
    charts = {s["title"]: s for s in specs(page)}
    titles = [t for t in pp.PANEL_TITLES if with_benchmark or "beta" not in t]
    titles = [t.format(benchmark="SPY") for t in titles]
    heatmap = pp.PANEL_TITLES[9]
    assert list(charts) == [t for t in titles if t != heatmap]
    assert f'<div class="pf-title">{heatmap}</div>' in page
    n = len(data["returns"])

    def values(title: str, label: str) -> list:
        spec = charts[title]
        assert len(spec["data"][0]) == n or spec["x"]["kind"] != "time"
        (k,) = [i for i, s in enumerate(spec["series"]) if s["label"] == label]
        return spec["data"][k + 1]

    for title, key in [(pp.PANEL_TITLES[0], "cum_returns"), (pp.PANEL_TITLES[1], "vol_matched_cum_returns")]:
        close(values(title, "Backtest"), data[key])
    close(values(pp.PANEL_TITLES[2], "Backtest"), data["cum_returns"])
    assert charts[pp.PANEL_TITLES[2]]["y"]["scale"] == "log"
    close(values(pp.PANEL_TITLES[3], "Returns"), data["returns"] * 100)
    close(values(pp.PANEL_TITLES[5], "Volatility"), data["rolling_volatility"])
    close(values(pp.PANEL_TITLES[5], "Average volatility"), np.full(n, data["rolling_volatility"].mean()))
    close(values(pp.PANEL_TITLES[6], "Sharpe"), data["rolling_sharpe"])
    close(values(pp.PANEL_TITLES[7], "Portfolio"), data["cum_returns"])
    close(values(pp.PANEL_TITLES[8], "Drawdown"), data["underwater"])
    if with_benchmark:
        for title in pp.PANEL_TITLES[:3]:
            close(values(title, "SPY"), data["benchmark_cum_returns"])
        beta = pp.PANEL_TITLES[4].format(benchmark="SPY")
        close(values(beta, "6-mo"), data["rolling_beta_6m"])
        close(values(beta, "12-mo"), data["rolling_beta_12m"])
        close(values(pp.PANEL_TITLES[5], "Benchmark volatility"), data["benchmark_rolling_volatility"])
    # the date panels share the cursor and one y-axis width, so their x axes line up
    dated = [s for s in charts.values() if s["x"]["kind"] == "time"]
    assert len(dated) == (9 if with_benchmark else 8)
    assert {s["sync"] for s in dated} == {"pyfolio"} and len({s["y"]["size"] for s in dated}) == 1
    # every top-5 drawdown period shaded, peak to recovery (or the last day)
    table = data["drawdowns"].dropna(how="all")
    bands = charts[pp.PANEL_TITLES[7]]["bands"]
    assert len(bands) == len(table)
    last = int(data["returns"].index[-1].timestamp())
    for band, (_, row) in zip(bands, table.iterrows(), strict=True):
        assert band[0] == int(row["Peak date"].tz_localize("UTC").timestamp())
        assert band[1] == (
            last if pd.isna(row["Recovery date"]) else int(row["Recovery date"].tz_localize("UTC").timestamp())
        )

    annual = charts[pp.PANEL_TITLES[10]]
    assert annual["x"]["labels"] == [str(y) for y in data["yearly"].index]
    close(values(pp.PANEL_TITLES[10], "Returns"), data["yearly"] * 100)
    hist = charts[pp.PANEL_TITLES[11]]
    monthly = data["monthly"].to_numpy() * 100
    edges = np.histogram_bin_edges(monthly, bins=20)
    close(hist["data"][0][1:-1], (edges[:-1] + edges[1:]) / 2)
    assert hist["data"][1][0] is None and hist["data"][1][-1] is None  # margins, no bars
    close(hist["data"][1][1:-1], np.histogram(monthly, bins=edges)[0])
    quant = charts[pp.PANEL_TITLES[12]]
    assert quant["x"]["labels"] == ["Daily", "Weekly", "Monthly"]
    from matplotlib import cbook

    for box, sample in zip(quant["boxes"], [data["returns"], data["weekly"], data["monthly"]], strict=True):
        (ref,) = cbook.boxplot_stats(sample.to_numpy())
        got = [box[k] for k in ("q1", "median", "q3", "lo", "hi")]
        close(got, [100 * ref[k] for k in ("q1", "med", "q3", "whislo", "whishi")])
    # the hidden series take the y range to the whiskers
    close(quant["data"][1], [b["lo"] for b in quant["boxes"]])
    close(quant["data"][2], [b["hi"] for b in quant["boxes"]])


def cells(page: str, table_id: str) -> list[list[str]]:
    body = re.search(rf'<table[^>]*id="{table_id}".*?<tbody>(.*?)</tbody>', page, re.S).group(1)
    return [re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row) for row in re.findall(r"<tr>(.*?)</tr>", body)]


def data_values(page: str, table_id: str) -> list[float]:
    body = re.search(rf'<table[^>]*id="{table_id}".*?</table>', page, re.S).group(0)
    return [float(v) for v in re.findall(r'data-value="([^"]*)"', body)]


@pytest.mark.parametrize("with_benchmark", [True, False])
def test_tables_are_pyfolios_perf_stats_and_worst_drawdowns(with_benchmark):
    data = data_for(with_benchmark)
    page = ph.returns_tear_sheet_html(data)
    stats = data["perf_stats"]
    rows = cells(page, "perf-stats")
    months = int(len(data["returns"]) / 21)
    assert rows[:3] == [
        ["Start date", "2017-11-01"],
        ["End date", data["returns"].index[-1].strftime("%Y-%m-%d")],
        ["Total months", str(months)],
    ]
    assert [r[0] for r in rows[3:]] == stats.index.tolist()
    assert data_values(page, "perf-stats") == stats.tolist()  # full precision
    shown = dict(rows[3:])
    assert shown["Annual return"] == f"{stats['Annual return'] * 100:.1f}%"
    assert shown["Sharpe ratio"] == f"{stats['Sharpe ratio']:.2f}"
    assert ("Beta" in shown) == with_benchmark

    table = data["drawdowns"].dropna(how="all")
    rows = cells(page, "drawdowns")
    assert len(rows) == len(table) > 0
    assert data_values(page, "drawdowns") == table["Net drawdown in %"].tolist()
    for row, (rank, ref) in zip(rows, table.iterrows(), strict=True):
        assert row[0] == str(rank)
        assert row[2:5] == [
            "-" if pd.isna(ref[c]) else ref[c].strftime("%Y-%m-%d")
            for c in ("Peak date", "Valley date", "Recovery date")
        ]
        assert row[5] == ("-" if pd.isna(ref["Duration"]) else str(int(ref["Duration"])))


def test_monthly_heatmap_table_holds_each_month_coloured_as_the_pngs_imshow():
    from matplotlib import colormaps
    from matplotlib.colors import Normalize, to_hex

    data = data_for(True)
    page = ph.returns_tear_sheet_html(data)
    table = data["monthly_table"]
    values = table.to_numpy() * 100
    present = np.isfinite(values)
    assert (~present).any()  # a partial first and last year: blank cells
    np.testing.assert_array_equal(data_values(page, "monthly-returns"), values[present])
    rows = cells(page, "monthly-returns")
    assert [r[0] for r in rows] == [str(y) for y in table.index]
    assert [r[1:] for r in rows] == [["" if not np.isfinite(v) else f"{v:.1f}" for v in row] for row in values]
    # the PNG: imshow(fillna(0) * 100, cmap="RdYlGn", vmin=-span, vmax=span)
    filled = table.fillna(0).to_numpy() * 100
    span = np.abs(filled).max()
    expected = [[to_hex(c) for c in row] for row in colormaps["RdYlGn"](Normalize(-span, span)(filled))]
    assert wc.centred_rdylgn(values) == expected
    body = re.search(r'id="monthly-returns".*?</table>', page, re.S).group(0)
    shown = re.findall(r"background:(#[0-9a-f]{6})", body)
    assert shown == [c for row, ok in zip(expected, present, strict=True) for c, p in zip(row, ok, strict=True) if p]
    assert wc.centred_rdylgn(np.zeros((1, 2))) == [[wc.rdylgn_hex(np.array([0.5]))[0]] * 2]


def test_drawdown_shades_are_the_pngs_pubu_ramp_and_text_reads_on_every_cell():
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    x = np.r_[np.linspace(-0.1, 1.1, 2001), 0.0, 1.0]
    assert ph.pubu_hex(x) == [to_hex(c) for c in colormaps["PuBu"](x)]
    for n in range(1, 6):
        assert ph.drawdown_shades(n) == [to_hex(c) for c in colormaps["PuBu"](np.linspace(0.85, 0.3, n))]
    assert ph.text_color("#a50026") == "#ffffff" and ph.text_color("#ffffbf") == "#000000"


def test_writing_the_pyfolio_folder_imports_no_matplotlib(tmp_path):
    code = (
        "import sys\n"
        "from tests.reports.test_pyfolio_html import series\n"
        "from autostock.reports.tearsheet import pyfolio_outputs\n"
        "import pandas as pd\n"
        "rets, bench = series()\n"
        "pf = {'returns': rets, 'positions': pd.DataFrame({'cash': 1.0}, index=rets.index),\n"
        "      'transactions': pd.DataFrame({'amount': [1]}, index=rets.index[:1]), 'gross_lev': rets * 0}\n"
        f"pyfolio_outputs(pf, bench, {str(tmp_path)!r})\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'seaborn', 'pyfolio', 'scipy')))\n"
    )
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=root, env=env)
    assert out.stdout.strip() == "[]"
    assert len(specs((tmp_path / "returns_tear_sheet.html").read_text())) == 12
    assert not (tmp_path / "returns_tear_sheet.png").exists()


@pytest.mark.browser
@needs_chromium
def test_the_page_draws_every_chart_in_headless_chromium(tmp_path):
    driver = chrome(tmp_path)
    try:
        for with_benchmark, expected in ((True, 12), (False, 11)):
            page = ph.returns_tear_sheet_page(data_for(with_benchmark), tmp_path / f"p{with_benchmark}.html")
            got = drawn_charts(driver, page)
            assert got["errors"] == [] and got["failed"] == []
            assert got["charts"] == got["drawn"] == expected
            assert got["titles"] == [s["title"] for s in specs(page.read_text())]
            assert all(n > 2000 for n in got["inked"]), got["inked"]
    finally:
        driver.quit()
