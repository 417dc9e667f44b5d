"""``autostock dashboard``: the missing extra, a busy port, loopback by default, a clean stop;
and the live page in a real headless Chromium (marked ``browser``)."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from autostock.cli import cli
from autostock.live.state import StateDB
from tests.chrome import chrome, needs_chromium
from tests.dashboard.helpers import EQUITY_LAST, KEY_ID, SECRET, make_state

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_missing_dashboard_extra_is_one_line_naming_it(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "streamlit" else real(name, *a))
    res = CliRunner().invoke(cli, ["dashboard"])
    assert res.exit_code == 2
    assert res.output.strip().splitlines() == [
        "error: the dashboard needs the 'dashboard' extra (streamlit missing): pip install 'autostock[dashboard]'"
    ]


def test_a_busy_port_is_one_line_naming_it():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        res = CliRunner().invoke(cli, ["dashboard", "--port", str(port)])
    assert res.exit_code == 2 and f"port {port} on 127.0.0.1 is in use" in res.output


def test_the_dashboard_listens_on_loopback_unless_told_otherwise():
    from autostock.commands.dashboard import dashboard, streamlit_command

    host = next(p for p in dashboard.params if p.name == "host")
    assert host.default == "127.0.0.1"
    cmd = streamlit_command("127.0.0.1", 8600)
    assert cmd[cmd.index("--server.address") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--browser.gatherUsageStats") + 1] == "false"


class Dashboard:
    """``autostock dashboard`` as a subprocess; its stdout lines arrive on a queue."""

    def __init__(self, state: Path, reports: Path, env: dict[str, str] | None = None) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1", **(env or {}))
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "autostock.cli",
                "dashboard",
                "--state",
                str(state),
                "--reports",
                str(reports),
                "--port",
                str(self.port),
                "--refresh",
                "1",
            ],
            cwd=REPO,
            env=full,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self.output.append(line)
            self.lines.put(line)

    def wait_for(self, text: str, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if text in self.lines.get(timeout=0.5):
                    return
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
        raise AssertionError(f"no {text!r} from the dashboard: {''.join(self.output)}")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=20)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_the_dashboard_serves_on_loopback_and_stops_cleanly_on_a_signal(tmp_path, sig):
    app = Dashboard(make_state(tmp_path / "s.sqlite"), tmp_path)
    try:
        app.wait_for("ready")
        assert app.output[0].startswith(f"dashboard: {app.url} ")
        with urllib.request.urlopen(app.url + "/_stcore/health", timeout=5) as r:
            assert r.status == 200
    finally:
        code = app.stop(sig)
    assert code == 0
    assert f"dashboard stopped ({signal.Signals(sig).name})" in "".join(app.output)
    with pytest.raises(OSError):
        urllib.request.urlopen(app.url + "/_stcore/health", timeout=2)


@pytest.mark.browser
@needs_chromium
def test_live_page_in_headless_chromium_shows_equity_and_position_and_halt_halts_the_account(tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    state = make_state(tmp_path / "s.sqlite", secret_event=True)
    app = Dashboard(state, tmp_path, env={"APCA_API_KEY_ID": KEY_ID, "APCA_API_SECRET_KEY": SECRET})
    driver = None
    try:
        app.wait_for("ready")
        driver = chrome(tmp_path)
        driver.get(app.url)
        wait = WebDriverWait(driver, 90, poll_frequency=0.5)
        body = lambda: driver.find_element(By.TAG_NAME, "body").text
        wait.until(lambda d: f"{EQUITY_LAST:,.2f}" in body() and "AAPL" in body() and "Trading allowed" in body())
        text = body()
        assert "Positions" in text and "155.5" in text  # the AAPL mark
        html = driver.page_source
        assert SECRET not in html and KEY_ID not in html and SECRET not in text
        shot = tmp_path / "dashboard.png"
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".js-plotly-plot"))
        time.sleep(1.0)  # let the chart finish drawing
        driver.save_screenshot(str(shot))
        assert shot.stat().st_size > 20_000
        if os.environ.get("AUTOSTOCK_DASHBOARD_SCREENSHOT"):
            shutil.copy(shot, os.environ["AUTOSTOCK_DASHBOARD_SCREENSHOT"])
        assert StateDB(state).halted() is None
        button = next(b for b in driver.find_elements(By.TAG_NAME, "button") if b.text.strip() == "Halt trading")
        button.click()
        wait.until(lambda d: StateDB(state).halted() is not None)
        assert StateDB(state).halted().startswith("halted from the dashboard at ")
        wait.until(lambda d: "Trading HALTED: halted from the dashboard" in body())
    finally:
        if driver is not None:
            driver.quit()
        code = app.stop()
    assert code == 0
