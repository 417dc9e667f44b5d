"""Fixtures for the live-trading tests: a fresh Alpaca-compatible loopback server per test."""

from __future__ import annotations

import pytest

from tests.live.fake_alpaca import FakeAlpaca

FAKE_KEY_ID = "PKTESTKEY"
FAKE_SECRET = "SECRETCANARY"


@pytest.fixture
def fake_alpaca():
    """A started :class:`FakeAlpaca` (keys ``PKTESTKEY`` / ``SECRETCANARY``), stopped afterwards."""
    server = FakeAlpaca(key_id=FAKE_KEY_ID, secret_key=FAKE_SECRET).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def alpaca_env(fake_alpaca, monkeypatch):
    """Point ``APCA_API_*`` at the fake server (for code that reads its configuration from the
    environment) and return the server."""
    monkeypatch.setenv("APCA_API_KEY_ID", FAKE_KEY_ID)
    monkeypatch.setenv("APCA_API_SECRET_KEY", FAKE_SECRET)
    monkeypatch.setenv("APCA_API_BASE_URL", fake_alpaca.base_url)
    monkeypatch.setenv("APCA_API_DATA_URL", fake_alpaca.data_url)
    return fake_alpaca
