"""A real headless Chromium (Debian's ``chromium`` and ``chromium-driver``) for the browser tests,
and the chart specs a report page embeds."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
HAVE_CHROMIUM = Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()
needs_chromium = pytest.mark.skipif(
    not HAVE_CHROMIUM,
    reason=f"headless Chromium needs {CHROMIUM} and {CHROMEDRIVER} (Debian chromium, chromium-driver)",
)

# how many charts of a page were drawn, and how many of their canvases have non-blank pixels
_DRAWN = """
const divs = [...document.querySelectorAll('div.as-chart')];
const inked = divs.map(d => {
  const c = d.querySelector('canvas');
  if (!c) return 0;
  const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 3; i < px.length; i += 4) if (px[i] > 0) n++;
  return n;
});
return {charts: divs.length, drawn: divs.filter(d => d.dataset.drawn === '1').length, inked: inked,
        titles: divs.map(d => (d.querySelector('.u-title') || {}).textContent || ''),
        failed: divs.filter(d => d.textContent.startsWith('chart failed')).map(d => d.textContent)};
"""


def chrome(tmp_path: Path) -> Any:
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium (the 'test' extra) is not installed")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opts = Options()
    opts.binary_location = CHROMIUM
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        "--window-size=1400,1700",
        f"--user-data-dir={tmp_path / 'chrome-profile'}",
    ):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)


def drawn_charts(driver: Any, page: Path) -> dict[str, Any]:
    """Open ``page`` (a file) and report its charts: count, drawn, inked pixels per canvas,
    titles, failures, and the browser console's errors."""
    driver.get(page.resolve().as_uri())
    report = driver.execute_script(_DRAWN)
    report["errors"] = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    return report


def specs(page: str) -> list[dict]:
    """Every chart spec of a page, parsed."""
    found = re.findall(r'<script type="application/json" class="as-chart-spec">(.*?)</script>', page, re.S)
    return [json.loads(s) for s in found]


def remote_refs(page: str) -> list[str]:
    """What a page would fetch from the network: ``src``/``href`` to http(s), CSS ``url(http..)``
    and ``@import`` (uPlot's inline banner comment names its home page, which loads nothing)."""
    return re.findall(r"""(?:src|href)\s*=\s*["']?https?:|url\(\s*["']?https?:|@import""", page)
