"""Dates with UTC offsets, one-row files and folders with two files for one symbol."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from autostock.cli import cli
from autostock.feeds.files import read_ohlcv

HEADER = "Date,Open,High,Low,Close,Volume\n"
PRICES = ["10,11,9,10.5,1000", "10.5,11.5,10,11,1200", "11,12,10.5,11.5,900", "11.5,12,11,11.8,1100"]


def _csv(path: Path, dates: list[str]) -> Path:
    path.write_text(HEADER + "".join(f"{d},{p}\n" for d, p in zip(dates, PRICES)))
    return path


def _backtest(tmp_path: Path, data: Path, *extra: str):
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli,
        [
            "backtest",
            "--data",
            str(data),
            "--strategy",
            "buy_hold",
            "--out",
            str(out),
            "--no-tearsheet",
            "--no-pyfolio",
            *extra,
        ],
    )
    return result, out


def _one_error_line(result) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.mark.parametrize("suffix", ["T00:00:00Z", "T00:00:00+00:00", " 00:00:00-05:00", "T05:00:00Z"])
def test_daily_dates_with_an_offset_keep_their_calendar_date(tmp_path: Path, suffix: str) -> None:
    dates = ["2020-01-02", "2020-01-03", "2020-01-06", "2020-01-07"]
    bars, notes = read_ohlcv(_csv(tmp_path / "abc.csv", [d + suffix for d in dates]))
    assert list(bars.index.strftime("%Y-%m-%d %H:%M")) == [d + " 00:00" for d in dates]
    assert bars["close"].tolist() == [10.5, 11.0, 11.5, 11.8]
    assert len(notes) == 1 and "calendar date" in notes[0]


def test_tz_aware_parquet_daily_column_keeps_its_calendar_date(tmp_path: Path) -> None:
    dates = pd.to_datetime(["2020-01-02", "2020-01-03", "2020-01-06"]).tz_localize("UTC")
    frame = pd.DataFrame(
        {
            "date": dates,
            "open": [10, 10.5, 11],
            "high": [11, 11.5, 12],
            "low": [9, 10, 10.5],
            "close": [10.5, 11, 11.5],
            "volume": [1000, 1200, 900],
        }
    )
    path = tmp_path / "abc.parquet"
    frame.to_parquet(path)
    bars, notes = read_ohlcv(path)
    assert list(bars.index) == list(pd.to_datetime(["2020-01-02", "2020-01-03", "2020-01-06"]))
    assert "UTC" in notes[0]


def test_intraday_timestamps_with_offsets_are_converted_to_exchange_time(tmp_path: Path) -> None:
    # summer (EDT, -04:00) and winter (EST, -05:00) bars, written in UTC and with local offsets
    dates = ["2020-07-02T13:30:00Z", "2020-07-02T09:35:00-04:00", "2020-12-02T14:30:00Z", "2020-12-02T14:35:00Z"]
    bars, notes = read_ohlcv(_csv(tmp_path / "abc.csv", dates))
    assert list(bars.index.strftime("%Y-%m-%d %H:%M")) == [
        "2020-07-02 09:30",
        "2020-07-02 09:35",
        "2020-12-02 09:30",
        "2020-12-02 09:35",
    ]
    assert "America/New_York" in notes[0]


def test_summary_says_how_dates_with_offsets_were_read(tmp_path: Path) -> None:
    data = _csv(
        tmp_path / "abc.csv", [d + "T00:00:00Z" for d in ("2020-01-02", "2020-01-03", "2020-01-06", "2020-01-07")]
    )
    result, out = _backtest(tmp_path, data)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert "abc.csv: daily bars with time zone (their UTC offsets): each bar keeps the calendar date" in json.dumps(
        summary
    )
    equity = pd.read_csv(out / "equity.csv")
    assert equity["date"].astype(str).str[:10].tolist() == ["2020-01-02", "2020-01-03", "2020-01-06", "2020-01-07"]


def test_partly_missing_offsets_are_one_line_naming_the_rows(tmp_path: Path) -> None:
    data = _csv(tmp_path / "abc.csv", ["2020-01-02T00:00:00Z", "2020-01-03T00:00:00Z", "2020-01-06", "2020-01-07"])
    line = _one_error_line(_backtest(tmp_path, data)[0])
    assert str(data) in line and "row 4" in line and "'2020-01-06'" in line and "no UTC offset" in line


def test_one_row_file_is_one_line(tmp_path: Path) -> None:
    data = _csv(tmp_path / "abc.csv", ["2020-01-02"])
    line = _one_error_line(_backtest(tmp_path, data)[0])
    assert str(data) in line and "only 1 data row" in line


@pytest.mark.parametrize(("first", "second"), [("AAA.csv", "AAA.parquet"), ("AAA.csv", "aaa.csv")])
def test_folder_with_two_files_for_one_symbol_is_refused_naming_both(tmp_path: Path, first: str, second: str) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    good = _csv(folder / first, ["2020-01-02", "2020-01-03", "2020-01-06", "2020-01-07"])
    if second.endswith(".parquet"):
        pd.read_csv(good).to_parquet(folder / second)
    else:
        _csv(folder / second, ["2020-01-02", "2020-01-03", "2020-01-06", "2020-01-07"])
    if len({p.name for p in folder.iterdir()}) < 2:
        pytest.skip("case-insensitive file system: aaa.csv and AAA.csv are one file")
    line = _one_error_line(_backtest(tmp_path, folder)[0])
    assert first in line and second in line and "AAA" in line
