"""Shared fixtures: seeded synthetic markets and the real data beside the checkout."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")
os.environ.setdefault("MPLBACKEND", "Agg")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real daily CSVs in ../shared/data; tests using them skip where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real market data not found at {SHARED_DATA} (only present beside the project's checkout)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def small_market():
    """Five synthetic symbols over three years, seed 7."""
    from autostock.feeds.synthetic import generate_market

    return generate_market(["AAPL", "MSFT", "JPM", "XOM", "JNJ"], "2018-01-01", "2020-12-31", seed=7)


def pytest_collection_modifyitems(config, items) -> None:
    """Markers by location: tests/live/ -> ``live``; tests/models/test_keras_*.py -> ``keras``."""
    tests = Path(__file__).resolve().parent
    for item in items:
        rel = Path(str(item.fspath)).resolve().relative_to(tests)
        if rel.parts[0] == "live":
            item.add_marker(pytest.mark.live)
        if rel.parts[0] == "models" and rel.name.startswith("test_keras_"):
            item.add_marker(pytest.mark.keras)
