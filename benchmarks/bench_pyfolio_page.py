"""CPU cost of the pyfolio folder: autostock's page (the default) vs pyfolio's own page.

    python benchmarks/bench_pyfolio_page.py [--data ../shared/data/orcl-1995-2014.csv] [--repeat 3]

Runs sma_cross 10/30 (0.1 % commission) once, pickles its pyfolio items and benchmark, then
times, in fresh interleaved processes, ``pyfolio_outputs`` (the default ``pyfolio/`` folder)
and ``pyfolio_native_tear_sheet`` (pyfolio's ``create_returns_tear_sheet``), each after
importing what a backtest process holds (pandas, numpy, backtrader, matplotlib, the engine; not
scipy, QuantStats or empyrical). Prints the CPU seconds of each call (the imports each page needs
beyond those included: matplotlib's Figure for autostock's page, pyfolio, empyrical, scipy and
seaborn for pyfolio's), the medians, and which of scipy/empyrical/pyfolio/seaborn/pyplot
autostock's folder left imported (none).
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
import pandas, numpy, backtrader, matplotlib, autostock.engine  # what a backtest process holds
pf, bench = pickle.load(open(sys.argv[1], "rb"))
t = time.process_time()
if sys.argv[2] == "autostock":
    from autostock.reports.tearsheet import pyfolio_outputs
    pyfolio_outputs(pf, bench, sys.argv[3])
else:
    from autostock.reports.tearsheet import pyfolio_native_tear_sheet
    pyfolio_native_tear_sheet(pf["returns"], bench, sys.argv[3] + "/native.png")
print(time.process_time() - t)
print("imported:" + ",".join(m for m in ("scipy", "empyrical", "pyfolio", "seaborn", "matplotlib.pyplot") if m in sys.modules))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", default=str(Path(__file__).resolve().parents[1] / "../shared/data/orcl-1995-2014.csv")
    )
    parser.add_argument("--repeat", type=int, default=3)
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
        times: dict[str, list[float]] = {"autostock": [], "pyfolio": []}
        imported: dict[str, str] = {}
        for _ in range(max(1, args.repeat)):
            for kind in times:
                out = Path(tmp) / kind
                out.mkdir(exist_ok=True)
                done = subprocess.run(
                    [sys.executable, "-c", CHILD, str(items), kind, str(out)],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                lines = done.stdout.strip().splitlines()
                times[kind].append(float(lines[-2]))
                imported[kind] = lines[-1].removeprefix("imported:")
    for kind, values in times.items():
        runs = ", ".join(f"{v:.2f}" for v in values)
        print(f"{kind:9s} page: median {statistics.median(values):.2f} s CPU ({runs})")
    ratio = statistics.median(times["pyfolio"]) / statistics.median(times["autostock"])
    print(f"pyfolio's page / autostock's: {ratio:.1f}x")
    print(f"left imported by autostock's folder: {imported.get('autostock') or 'none'}")


if __name__ == "__main__":
    main()
