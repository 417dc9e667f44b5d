"""``webcharts``: the chart specs a page embeds, and the statistics it draws, against matplotlib's."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from autostock.reports import webcharts as wc
from tests.chrome import chrome, drawn_charts, needs_chromium, specs


def test_numbers_keep_six_significant_digits_and_write_gaps_as_null():
    values = np.array([1.23456789, -0.000123456789, 12345678.9, np.nan, np.inf, -np.inf, 0.0])
    got = json.loads(wc.numbers(values))
    assert got[3:6] == [None, None, None]
    finite = np.array([v for v in got if v is not None])
    np.testing.assert_allclose(finite, values[np.isfinite(values)], rtol=5e-6)
    assert got[0] != values[0]  # rounded, not the full repr


def test_spec_has_time_axis_in_utc_seconds_and_rejects_misaligned_series():
    idx = pd.date_range("2020-01-01", periods=3, tz="America/New_York")
    chart = wc.Chart("t", idx, [wc.Series("a", [1.0, np.nan, 3.0])], bands=[(idx[0], idx[1], "#ff0000", 0.1)])
    (spec,) = specs(wc.chart_html(chart))
    assert spec["x"] == {"kind": "time", "tz": "America/New_York"}
    assert spec["data"][0] == [int(t.timestamp()) for t in idx]
    assert spec["data"][1] == [1.0, None, 3.0]
    assert spec["bands"][0][:2] == spec["data"][0][:2]
    with pytest.raises(ValueError, match="series 'b' has 2 values for 3"):
        wc.spec_json(wc.Chart("t", idx, [wc.Series("b", [1.0, 2.0])]))


def test_categories_become_indexes_with_labels():
    (spec,) = specs(wc.chart_html(wc.Chart("y", ["2019", "2020"], [wc.Series("r", [0.1, -0.2], kind="bars")])))
    assert spec["x"]["labels"] == ["2019", "2020"] and spec["data"][0] == [0, 1]


def test_markup_in_a_title_cannot_end_or_alter_the_spec_script():
    title = "<!-- <script></script><b>x"
    html = wc.chart_html(wc.Chart(title, [1.0], [wc.Series("s", [1.0])]))
    spec_text = html[html.index('class="as-chart-spec">') + len('class="as-chart-spec">') : html.rindex("</script>")]
    assert "<" not in spec_text
    assert specs(html)[0]["title"] == title


def test_rdylgn_matches_matplotlibs_colormap():
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    x = np.r_[np.linspace(-0.2, 1.2, 4001), 0.0, 0.5, 1.0]
    assert wc.rdylgn_hex(x) == [to_hex(c) for c in colormaps["RdYlGn"](x)]
    assert wc.rdylgn_hex(np.array([np.nan])) == ["#ffffff"]


@pytest.mark.parametrize("seed", range(6))
def test_box_stats_match_matplotlibs_boxplot(seed):
    from matplotlib import cbook

    rng = np.random.default_rng(seed)
    x = rng.standard_t(3, size=rng.integers(5, 400))
    if seed == 5:
        x = np.r_[np.ones(20), 5.0]  # zero interquartile range
    (ref,) = cbook.boxplot_stats(x)
    got = wc.box_stats(np.r_[x, np.nan])
    assert got == pytest.approx(
        {"q1": ref["q1"], "median": ref["med"], "q3": ref["q3"], "lo": ref["whislo"], "hi": ref["whishi"]}, rel=1e-12
    )


def test_histogram_uses_common_bins_and_counts_every_value():
    a, b = np.r_[np.linspace(-1, 1, 50), np.nan], np.linspace(0, 3, 30)
    centres, (ca, cb) = wc.histogram([a, b], bins=10)
    edges = np.histogram_bin_edges(np.r_[a[:-1], b], bins=10)
    np.testing.assert_allclose(centres, (edges[:-1] + edges[1:]) / 2)
    assert ca.sum() == 50 and cb.sum() == 30
    np.testing.assert_array_equal(ca, np.histogram(a[:-1], bins=edges)[0])


def test_writing_a_chart_page_imports_no_plotting_library(tmp_path):
    code = (
        "import sys, pandas as pd\n"
        "from autostock.reports.equity_page import equity_page\n"
        "eq = pd.DataFrame({'value': [100.0, 101.0, 99.0]}, index=pd.date_range('2020-01-01', periods=3))\n"
        f"equity_page(eq, pd.DataFrame(), {str(tmp_path / 'e.html')!r}, 't')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'seaborn', 'quantstats')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[]"
    assert len(specs((tmp_path / "e.html").read_text())) == 2


@pytest.mark.browser
@needs_chromium
def test_every_kind_of_chart_draws_in_headless_chromium(tmp_path):
    idx = pd.date_range("2021-01-01", periods=300, freq="B")
    walk = 100 * np.exp(np.cumsum(np.random.default_rng(1).normal(0, 0.01, len(idx))))
    centres, (counts,) = wc.histogram([np.diff(np.log(walk))])
    charts = [
        wc.Chart(
            "lines",
            idx,
            [
                wc.Series("walk", walk),
                wc.Series("marks", np.where(np.arange(300) % 50 == 0, walk, np.nan), kind="points"),
            ],
            bands=[(idx[10], idx[40], "#af4b64", 0.1)],
            hlines=[(100.0, "#af4b64", True)],
            vlines=[(idx[100], "#d35400", "event")],
        ),
        wc.Chart("area", idx, [wc.Series("dd", walk / np.maximum.accumulate(walk) - 1, kind="area")], legend=False),
        wc.Chart("symlog", idx, [wc.Series("cum", walk / 100 - 1)], y_scale="symlog"),
        wc.Chart("bars", ["a", "b", "c"], [wc.Series("x", [1.0, -2.0, 3.0], kind="bars", align=-1)]),
        wc.Chart("hist", centres, [wc.Series("n", counts, kind="bars", bar_size=1.0)]),
        wc.Chart(
            "boxes",
            ["d", "w"],
            [wc.Series("lo", [-2.0, -3.0], kind="hidden"), wc.Series("hi", [2.0, 3.0], kind="hidden")],
            boxes=[wc.box_stats(np.linspace(-2, 2, 9)), wc.box_stats(np.linspace(-3, 3, 9))],
        ),
    ]
    page = tmp_path / "p.html"
    page.write_text(wc.page("all kinds", "\n".join(wc.chart_html(c) for c in charts)))
    driver = chrome(tmp_path)
    try:
        got = drawn_charts(driver, page)
    finally:
        driver.quit()
    assert got["errors"] == [] and got["failed"] == []
    assert got["charts"] == got["drawn"] == 6
    assert got["titles"] == ["lines", "area", "symlog", "bars", "hist", "boxes"]
    assert all(n > 2000 for n in got["inked"]), got["inked"]
