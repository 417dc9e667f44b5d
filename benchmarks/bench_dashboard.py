"""Live-page render time for a state database holding one year of minute-bar equity snapshots.

Builds two state databases with the trader's schema (``StateDB``): one trading year of minute
bars (252 sessions x 390 minutes = 98,280 snapshots) and one session (390 snapshots), then times
a full server-side run of the live page (Streamlit ``AppTest``: read-only load, drawdown,
downsampling, plotly figure, every table) and the read layer alone, interleaving the two
databases, and prints medians and the ratio. Target: the one-year page under 2 s.

    python benchmarks/bench_dashboard.py [--repeats 5] [--minutes 98280]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from autostock.dashboard import data
from autostock.live.state import StateDB
from tests.dashboard.helpers import APP, make_state


def build(path: Path, minutes: int) -> Path:
    """A fixture state database (positions, orders, events, session, health) plus ``minutes``
    equity snapshots one minute apart, bulk-inserted in one transaction."""
    make_state(path, n_equity=1)
    db = StateDB(path)
    rng = np.random.default_rng(0)
    eq = 100_000.0 * np.cumprod(1 + rng.normal(0.0, 0.0004, minutes))
    ts = time.time() - 60.0 * minutes + 60.0 * np.arange(minutes)
    with db._tx() as c:  # bulk fixture rows (the trader writes one per bar)
        c.execute("DELETE FROM equity")
        c.executemany(
            "INSERT INTO equity (ts, equity, cash) VALUES (?,?,?)", zip(ts.tolist(), eq.tolist(), [50_000.0] * minutes)
        )
    db.close()
    return path


def _drawn(at) -> float:
    text = next(c.value for c in at.caption if c.value.startswith("live page drawn in"))
    return float(text.split()[4]) / 1000.0


def render(path: Path) -> tuple[float, float, float]:
    """(first draw inside the app, a refresh's draw, seconds of the whole first AppTest run)."""
    from streamlit.testing.v1 import AppTest

    os.environ["AUTOSTOCK_DASHBOARD_STATE"] = str(path)
    at = AppTest.from_file(str(APP), default_timeout=120)
    t0 = time.perf_counter()
    at.run()
    elapsed = time.perf_counter() - t0
    assert not at.exception, at.exception
    first = _drawn(at)
    at.run()  # the next refresh: only new equity rows are read
    return first, _drawn(at), elapsed


def load(path: Path) -> float:
    t0 = time.perf_counter()
    view = data.load_live(path)
    data.downsample(view.equity)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--minutes", type=int, default=252 * 390)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    year = build(tmp / "year.sqlite", args.minutes)
    day = build(tmp / "day.sqlite", 390)
    render(day)  # warm imports (streamlit, plotly)
    times: dict[str, dict[str, list[float]]] = {
        n: {"page": [], "refresh": [], "apptest": [], "load": []} for n in ("year", "day")
    }
    for _ in range(args.repeats):
        for name, path in (("year", year), ("day", day)):
            page, refresh, whole = render(path)
            times[name]["page"].append(page)
            times[name]["refresh"].append(refresh)
            times[name]["apptest"].append(whole)
            times[name]["load"].append(load(path))
    med = {n: {k: statistics.median(v) for k, v in d.items()} for n, d in times.items()}
    shown = len(data.downsample(data.load_live(year).equity))
    print(
        f"state DB: {args.minutes:,} minute equity snapshots ({year.stat().st_size / 1e6:.1f} MB); "
        f"chart draws {shown:,} points"
    )
    y, d = med["year"], med["day"]
    print(
        f"live page draw, in the app (median of {args.repeats}): 1 year {y['page']:.3f} s, 1 session "
        f"{d['page']:.3f} s, ratio {y['page'] / d['page']:.2f}x (target < 2 s: {'met' if y['page'] < 2 else 'MISSED'})"
    )
    print(f"live page refresh (cached equity, median): 1 year {y['refresh']:.3f} s, 1 session {d['refresh']:.3f} s")
    print(
        f"whole AppTest run incl. its own overhead (median): 1 year {y['apptest']:.3f} s, 1 session "
        f"{d['apptest']:.3f} s"
    )
    print(
        f"read layer (load_live + downsample, median): 1 year {med['year']['load'] * 1000:.0f} ms, "
        f"1 session {med['day']['load'] * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
