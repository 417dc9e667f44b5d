"""CPU cost of the pyfolio folder: the default (browser-drawn page), with the opt-in PNG, and pyfolio's page.

    python benchmarks/bench_pyfolio_page.py [--data ../shared/data/orcl-1995-2014.csv] [--repeat 3]
        [--preload-matplotlib]

Runs sma_cross 10/30 (0.1 % commission) once, pickles its pyfolio items and benchmark, then
times, in fresh interleaved processes, each after importing what a backtest process holds
(pandas, numpy, backtrader, the engine; not matplotlib, scipy, QuantStats or empyrical):

- ``html``: ``pyfolio_outputs``, the default ``pyfolio/`` folder (CSVs, ``perf_stats.csv``,
  ``drawdowns.csv``, ``returns_tear_sheet.html``);
- ``png``: the same folder plus ``pyfolio_png_page`` (the opt-in ``returns_tear_sheet.png``,
  matplotlib's import included);
- ``pyfolio``: ``pyfolio_native_tear_sheet`` (pyfolio's ``create_returns_tear_sheet``; pyfolio,
  empyrical, scipy, seaborn and matplotlib imports included).

``--preload-matplotlib`` imports matplotlib before the clock starts, as this benchmark did
before the default page was drawn in the browser. Prints the CPU seconds of each call, the
medians, and which of scipy/empyrical/pyfolio/seaborn/matplotlib the default folder left
imported (none; matplotlib not checked when preloaded).
"""

from __future__ import annotations

import argparse
import pickle
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import pickle, sys, time
import pandas, numpy, backtrader, autostock.engine  # what a backtest process holds
if sys.argv[4] == "1":
    import matplotlib
pf, bench = pickle.load(open(sys.argv[1], "rb"))
t = time.process_time()
if sys.argv[2] in ("html", "png"):
    from autostock.reports.tearsheet import pyfolio_outputs
    pyfolio_outputs(pf, bench, sys.argv[3])
    checked = ("scipy", "empyrical", "pyfolio", "seaborn") + (("matplotlib",) if sys.argv[4] == "0" else ())
    imported = [m for m in checked if m in sys.modules]
if sys.argv[2] == "png":
    from autostock.reports.tearsheet import pyfolio_png_page
    pyfolio_png_page(pf, bench, sys.argv[3])
if sys.argv[2] == "pyfolio":
    from autostock.reports.tearsheet import pyfolio_native_tear_sheet
    pyfolio_native_tear_sheet(pf["returns"], bench, sys.argv[3] + "/native.png")
    imported = []
print(time.process_time() - t)
print("imported:" + ",".join(imported))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", default=str(Path(__file__).resolve().parents[1] / "../shared/data/orcl-1995-2014.csv")
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--preload-matplotlib", action="store_true", help="import matplotlib before timing")
    args = parser.parse_args()

    from autostock.config import RunSpec
    from autostock.engine import run_backtest
    from autostock.feeds import load_market

    market = load_market(args.data)
    spec = RunSpec(strategy="sma_cross", params={"fast": 10, "slow": 30}, commission=0.1)
    result = run_backtest(spec.replace(symbols=market.symbols), market, pyfolio=True)
    with tempfile.TemporaryDirectory() as tmp:
        items = Path(tmp) / "pf.pkl"
        items.write_bytes(pickle.dumps((result.pyfolio, result.benchmark_returns)))
        times: dict[str, list[float]] = {"html": [], "png": [], "pyfolio": []}
        imported: dict[str, str] = {}
        for _ in range(max(1, args.repeat)):
            for kind in times:
                out = Path(tmp) / kind
                out.mkdir(exist_ok=True)
                done = subprocess.run(
                    [sys.executable, "-c", CHILD, str(items), kind, str(out), "1" if args.preload_matplotlib else "0"],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                lines = done.stdout.strip().splitlines()
                times[kind].append(float(lines[-2]))
                imported[kind] = lines[-1].removeprefix("imported:")
    names = {"html": "default folder (HTML page)", "png": "folder + opt-in PNG page", "pyfolio": "pyfolio's own page"}
    for kind, values in times.items():
        runs = ", ".join(f"{v:.2f}" for v in values)
        print(f"{names[kind]:27s}: median {statistics.median(values):.2f} s CPU ({runs})")
    ratio = statistics.median(times["pyfolio"]) / statistics.median(times["html"])
    print(f"pyfolio's page / default folder: {ratio:.1f}x")
    print(f"left imported by the default folder: {imported.get('html') or 'none'}")


if __name__ == "__main__":
    main()
