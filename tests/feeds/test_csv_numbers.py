"""CSV numbers are read as Python's ``float`` reads their text, whichever parser reads them."""

from __future__ import annotations

import numpy as np
import pytest

from autostock.errors import DataError
from autostock.feeds.files import read_ohlcv


def _write(path, rows):
    path.write_text("Date,Open,High,Low,Close,Volume\n" + "".join(",".join(r) + "\n" for r in rows))
    return path


def test_every_price_equals_python_float_of_its_text(tmp_path):
    rng = np.random.default_rng(7)
    rows, texts = [], []
    for i, day in enumerate(np.arange("2020-01-01", "2020-12-31", dtype="datetime64[D]")):
        base = float(rng.uniform(1, 500))
        close = [repr(base), f"{base:.17g}", f"{base:.4f}", f"{base:.3e}"][i % 4]
        low = f"{base * 0.99:.10f}"
        high = f" {base * 1.01!r} "  # padded
        rows.append([str(day), close, high, low, close, str(int(rng.integers(1, 10**9)))])
        texts.append((close, high, low))
    bars, _ = read_ohlcv(_write(tmp_path / "x.csv", rows))
    assert len(bars) == len(rows)
    for (close, high, low), (_, row) in zip(texts, bars.iterrows(), strict=True):
        assert row["close"] == float(close) and row["open"] == float(close)
        assert row["high"] == float(high) and row["low"] == float(low)


def test_a_word_among_numbers_is_still_refused_with_its_row(tmp_path):
    rows = [["2020-01-02", "1", "2", "0.5", "1.5", "100"], ["2020-01-03", "1", "2", "0.5", "n/a!", "100"]]
    with pytest.raises(DataError, match=r"x.csv: row 3: close is not a number \('n/a!'\)"):
        read_ohlcv(_write(tmp_path / "x.csv", rows))
