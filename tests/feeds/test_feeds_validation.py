"""Every bad input stops the run with exit code 2 and one line naming the file, row and problem."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from autostock.cli import cli
from autostock.errors import DataError
from autostock.feeds.files import read_ohlcv

GOOD = """Date,Open,High,Low,Close,Volume
2020-01-02,10,11,9,10.5,1000
2020-01-03,10.5,11.5,10,11,1200
2020-01-06,11,12,10.5,11.5,900
2020-01-07,11.5,12,11,11.8,1100
"""

BAD_CASES = {
    "nan_close": (GOOD.replace("10.5,11.5,10,11,", "10.5,11.5,10,nan,"), "row 3: close is not a finite number"),
    "duplicate_date": (GOOD.replace("2020-01-06", "2020-01-03"), "row 4: duplicate timestamp"),
    "unsorted": (GOOD.replace("2020-01-03", "2020-01-09"), "row 4: timestamps not sorted"),
    "high_below_low": (GOOD.replace("11,12,10.5,11.5", "11,10,10.5,10.2"), "row 4: high 10 < low 10.5"),
    "zero_price": (GOOD.replace("11.5,12,11,11.8", "0,12,11,11.8"), "row 5: open must be positive, got 0"),
    "negative_volume": (GOOD.replace("11.8,1100", "11.8,-5"), "row 5: negative volume -5"),
    "unknown_column": (GOOD.replace("Volume", "Volumen"), "unknown column 'Volumen'"),
    "empty_file": ("", "file is empty"),
    "header_only": ("Date,Open,High,Low,Close,Volume\n", "no data rows"),
    "text_in_price": (GOOD.replace("10,11,9,10.5", "10,eleven,9,10.5"), "row 2: high is not a number ('eleven')"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_input_exits_2_with_one_line_naming_file_and_row(tmp_path: Path, case: str) -> None:
    text, expected = BAD_CASES[case]
    path = tmp_path / f"{case}.csv"
    path.write_text(text)
    result = CliRunner().invoke(
        cli,
        [
            "backtest",
            "--data",
            str(path),
            "--out",
            str(tmp_path / "out"),
            "--strategy",
            "buy_hold",
            "--no-tearsheet",
            "--no-pyfolio",
        ],
    )
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1, result.output
    assert str(path) in lines[0]
    assert expected in lines[0]
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_valid_file_is_loaded_unaltered(tmp_path: Path) -> None:
    path = tmp_path / "abc.csv"
    path.write_text(GOOD)
    bars, notes = read_ohlcv(path)
    raw = pd.read_csv(path)
    assert list(bars.index.strftime("%Y-%m-%d")) == list(raw["Date"])
    assert bars["close"].tolist() == raw["Close"].tolist()
    assert bars["volume"].tolist() == raw["Volume"].astype(float).tolist()
    assert notes == []


def test_adj_close_back_adjusts_ohlc_and_says_so(tmp_path: Path) -> None:
    text = "date,OPEN,high,Low,close,Adj Close,volume\n2020-01-02,10,12,9,11,5.5,100\n2020-01-03,11,12,10,12,6,100\n"
    path = tmp_path / "x.csv"
    path.write_text(text)
    bars, notes = read_ohlcv(path)
    assert bars["open"].tolist() == [5.0, 5.5]
    assert bars["high"].tolist() == [6.0, 6.0]
    assert bars["close"].tolist() == [5.5, 6.0]
    assert bars["volume"].tolist() == [100.0, 100.0]
    assert any("back-adjusted" in n for n in notes)


def test_missing_required_column_names_it(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("Date,Open,High,Low,Volume\n2020-01-02,1,2,0.5,10\n")
    with pytest.raises(DataError, match="missing column.*close"):
        read_ohlcv(path)


def test_gaps_are_reported_in_summary_not_filled(tmp_path: Path) -> None:
    dates = list(pd.bdate_range("2020-01-01", periods=60))
    kept = dates[:20] + dates[30:]
    df = pd.DataFrame(
        {"Date": [d.date() for d in kept], "Open": 10.0, "High": 11.0, "Low": 9.0, "Close": 10.0, "Volume": 5}
    )
    df["Close"] = [10.0 + 0.01 * i for i in range(len(df))]
    df.to_csv(tmp_path / "gap.csv", index=False)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli,
        [
            "backtest",
            "--data",
            str(tmp_path / "gap.csv"),
            "--strategy",
            "buy_hold",
            "--out",
            str(out),
            "--no-tearsheet",
            "--no-pyfolio",
        ],
    )
    assert result.exit_code == 0, result.output
    import json

    summary = json.loads((out / "summary.json").read_text())
    assert summary["data"]["gaps"] == [
        {
            "symbol": "GAP",
            "from": str(kept[19].date()),
            "to": str(kept[20].date()),
            "calendar_days": (kept[20] - kept[19]).days,
        }
    ]
    assert summary["n_bars"] == len(kept)


def test_folder_of_files_loads_one_symbol_per_file(tmp_path: Path) -> None:
    from autostock.feeds import load_market

    (tmp_path / "aaa.csv").write_text(GOOD)
    pd.read_csv(tmp_path / "aaa.csv").to_parquet(tmp_path / "bbb.parquet")
    market = load_market(str(tmp_path))
    assert market.symbols == ["AAA", "BBB"]
    assert market.bars["AAA"].equals(market.bars["BBB"])
