"""RL tests: the ``slow`` marker (heavier tests that still run in CI)."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: heavier test (seconds of training); still runs in CI")
