"""CPU cost of ``tearsheet.html``: autostock's page (the default) vs QuantStats' own report.

    python benchmarks/bench_qs_page.py [--data ../shared/data/orcl-1995-2014.csv] [--repeat 3]

Runs sma_cross 10/30 (0.1 % commission) once, pickles its returns and benchmark, then times, in
fresh interleaved processes holding what a backtest process holds (the engine and the metrics
module), the tearsheet writer task: ``qs_page.tearsheet_page`` (the default ``tearsheet``) and
``tearsheet.quantstats_html`` (``qs.reports.html``, the opt-in ``tearsheet_native``), the latter
with quantstats not yet imported and already imported. Then times the whole command
``autostock backtest --outputs summary,tearsheet`` against ``--outputs summary,tearsheet_native``
(the same command before this page), CPU of the process and its children. Prints each run and
the medians.
"""

from __future__ import annotations

import argparse
import os
import pickle
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import pickle, sys, time
import autostock.engine, autostock.reports.metrics  # what a backtest process holds
if sys.argv[2] == "native_qs_loaded":
    import quantstats
returns, bench, title = pickle.load(open(sys.argv[1], "rb"))
t = time.process_time()
if sys.argv[2] == "page":
    from autostock.reports.qs_page import tearsheet_page
    tearsheet_page(returns, bench, sys.argv[3], title)
else:
    from autostock.reports.tearsheet import quantstats_html
    quantstats_html(returns, bench, sys.argv[3], title)
print(time.process_time() - t)
"""


def _cpu_of(cmd: list[str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, capture_output=True, text=True, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = Path(__file__).resolve().parents[1]
    parser.add_argument("--data", default=str(root / "../shared/data/orcl-1995-2014.csv"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from autostock.config import RunSpec
    from autostock.engine import run_backtest
    from autostock.feeds import load_market

    market = load_market(args.data)
    spec = RunSpec(strategy="sma_cross", params={"fast": 10, "slow": 30}, commission=0.1)
    result = run_backtest(spec.replace(symbols=market.symbols), market)
    env = {**os.environ, "PYTHONPATH": str(root)}
    with tempfile.TemporaryDirectory() as tmp:
        items = Path(tmp) / "r.pkl"
        title = f"sma_cross on {market.label}"
        items.write_bytes(pickle.dumps((result.returns, result.benchmark_returns, title)))
        times: dict[str, list[float]] = {"page": [], "native": [], "native_qs_loaded": []}
        command = [sys.executable, "-m", "autostock.cli", "backtest", "--data", args.data, "--commission", "0.1"]
        whole: dict[str, list[float]] = {"tearsheet": [], "tearsheet_native": []}
        for _ in range(max(1, args.repeat)):
            for kind in times:
                out = str(Path(tmp) / f"{kind}.html")
                done = subprocess.run(
                    [sys.executable, "-c", CHILD, str(items), kind, out],
                    capture_output=True,
                    text=True,
                    check=True,
                    env=env,
                )
                times[kind].append(float(done.stdout.strip().splitlines()[-1]))
            for output in whole:
                out_dir = str(Path(tmp) / f"run_{output}")
                whole[output].append(_cpu_of([*command, "--out", out_dir, "--outputs", f"summary,{output}"]))
    labels = {
        "page": "tearsheet_page (default)",
        "native": "quantstats_html (quantstats imported in the task)",
        "native_qs_loaded": "quantstats_html (quantstats already imported)",
    }
    for kind, values in times.items():
        runs = ", ".join(f"{v:.2f}" for v in values)
        print(f"task {labels[kind]:52s} median {statistics.median(values):.2f} s CPU ({runs})")
    for output, values in whole.items():
        runs = ", ".join(f"{v:.2f}" for v in values)
        print(f"command --outputs summary,{output:17s} median {statistics.median(values):.2f} s CPU ({runs})")
    ratio = statistics.median(times["native"]) / statistics.median(times["page"])
    print(f"QuantStats' page / autostock's (task): {ratio:.1f}x")


if __name__ == "__main__":
    main()
