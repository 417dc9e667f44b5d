"""A look-ahead and recursive-bias check for any strategy (``autostock lookahead``).

Look-ahead bias: a value or decision at bar t that depends on a bar after t. For each of
``cuts`` cut points c the strategy runs three times over the same spec:

* on the full data (the reference),
* on the data truncated after c,
* on the full data with every bar after c perturbed (mirrored around the close at c, so every
  later move reverses direction; volumes rescaled at random).

Every indicator line of the strategy (walked recursively, so the lines inside indicators are
compared too) must be identical at every bar on or before c, and every order decision
(creation bar, symbol, side, size) on or before c must be the same; in the truncated run,
decisions on the last bar are not compared (no next bar exists to report them). A run that
raises because the data ended (e.g. ``data.close[1]`` read at the last bar) is look-ahead too.

Recursive (warm-up) bias: a value that depends on how much history preceded it (an EMA, Wilder's
RSI, any recursive filter). For each cut the strategy also runs on data starting ``history``
bars before c (as a live start with that much backfill does); a line whose value at c differs
from the full run by more than ``tolerance`` (relative) is reported, with the number of bars
after that later start it needs before it stays within ``tolerance`` of the full-history value.

Lines and decisions are matched by position (indicator creation order is deterministic). An
indicator declaring ``history_dependent = True`` (the predictor indicator: a model trained
walk-forward on every earlier bar depends on that history by design), and every line reading
it, is checked for look-ahead only and listed as ``history_dependent_by_design``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from autostock.config import RunSpec
from autostock.errors import ConfigError
from autostock.feeds.market import Market


@dataclass
class Finding:
    """One line or decision that changed."""

    kind: str  # "look-ahead" | "recursive"
    check: str  # "truncated" | "perturbed" | "later start"
    cut: str
    item: str
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class LookaheadReport:
    """Everything the check found; ``bias_found`` decides the exit code."""

    strategy: str
    cuts: list[str]
    history: int
    tolerance: float
    lines_checked: list[str]
    n_decisions: int
    lookahead: list[Finding] = field(default_factory=list)
    recursive: list[dict[str, Any]] = field(default_factory=list)
    history_dependent_by_design: list[str] = field(default_factory=list)

    @property
    def bias_found(self) -> bool:
        return bool(self.lookahead or self.recursive)

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "bias_found": self.bias_found,
            "lookahead_bias": [f.to_dict() for f in self.lookahead],
            "recursive_bias": self.recursive,
            "cuts": self.cuts,
            "history": self.history,
            "tolerance": self.tolerance,
            "lines_checked": self.lines_checked,
            "n_decisions_full_run": self.n_decisions,
            "history_dependent_by_design": self.history_dependent_by_design,
            "note": "history_dependent_by_design lines (a model trained walk-forward on every earlier bar) "
            "are checked for look-ahead only",
        }


@dataclass
class _Run:
    dates: pd.DatetimeIndex
    lines: dict[str, np.ndarray]
    decisions: list[tuple[pd.Timestamp, str, str, float]]
    error: str | None = None
    by_design: set[str] = field(default_factory=set)


def _history_dependent(obj: Any, seen: dict[int, bool] | None = None) -> bool:
    """Whether ``obj`` (an indicator, line or line operation) is, or reads, an indicator declaring
    ``history_dependent = True`` (a model trained walk-forward on every bar before the current one)."""
    import backtrader as bt

    seen = {} if seen is None else seen
    key = id(obj)
    if key in seen:
        return seen[key]
    seen[key] = False
    if isinstance(obj, (bt.Strategy, bt.AbstractDataBase)):
        return False
    if getattr(type(obj), "history_dependent", False):
        seen[key] = True
        return True
    sources = [
        *(getattr(obj, "datas", None) or []),
        *(getattr(obj, "_datas", None) or []),
        getattr(obj, "a", None),
        getattr(obj, "b", None),
        getattr(obj, "_owner", None),
    ]
    seen[key] = any(_history_dependent(src, seen) for src in sources if src is not None and src is not obj)
    return seen[key]


def _walk_indicators(owner: Any, prefix: str, out: dict[str, Any]) -> None:
    import backtrader as bt

    iterators = getattr(owner, "_lineiterators", None)
    if not iterators:
        return
    for i, ind in enumerate(iterators[bt.LineIterator.IndType]):
        name = f"{prefix}{type(ind).__name__}#{i}"
        lines: Any = getattr(ind, "lines", None)
        if hasattr(lines, "getlinealiases"):
            for j, alias in enumerate(lines.getlinealiases()):
                out[f"{name}.{alias or j}"] = (lines[j], ind)
        elif hasattr(ind, "array"):  # a line operation (a - b, a > b): one line
            out[name] = (ind, ind)
        _walk_indicators(ind, name + "/", out)


def _run(spec: RunSpec, market: Market) -> _Run:
    """One run: every indicator line's values per bar and every order decision."""
    import backtrader as bt

    from autostock.engine import before_run, build_cerebro

    decisions: list[tuple[pd.Timestamp, str, str, float]] = []

    class Decisions(bt.Analyzer):
        def start(self) -> None:
            self.seen: set[int] = set()

        def notify_order(self, order: bt.Order) -> None:
            if order.ref in self.seen:
                return
            self.seen.add(order.ref)
            decisions.append(
                (
                    pd.Timestamp(bt.num2date(order.created.dt)),
                    order.data._name,
                    "buy" if order.isbuy() else "sell",
                    float(order.created.size),
                )
            )

    try:
        cerebro = build_cerebro(before_run(spec, market), market, record=False)
        cerebro.addanalyzer(Decisions, _name="lookahead_decisions")
        strat = cerebro.run()[0]
    except (IndexError, KeyError) as exc:
        return _Run(pd.DatetimeIndex([]), {}, [], f"{type(exc).__name__}: {exc}")
    lines: dict[str, Any] = {}
    _walk_indicators(strat, "", lines)
    from autostock.indicators.predictor import nums_to_datetimes

    n = len(strat.data.datetime.array)
    dates = nums_to_datetimes(strat.data.datetime.array[:n])
    values = {}
    memo: dict[int, bool] = {}
    by_design = set()
    for name, (line, ind) in lines.items():
        arr = np.asarray(line.array[:n], dtype="float64")
        if len(arr) == n:
            values[name] = arr
            if _history_dependent(ind, memo):
                by_design.add(name)
    return _Run(dates, values, decisions, None, by_design)


def cut_points(dates: pd.DatetimeIndex, cuts: int, history: int) -> list[int]:
    """``cuts`` bar positions evenly spread over the second half of the data (at least
    ``history`` bars in, and at least 2 bars before the end)."""
    n = len(dates)
    if cuts < 1:
        raise ConfigError(f"cuts must be >= 1, got {cuts}")
    lo, hi = max(n // 2, history), n - 3
    if hi <= lo:
        raise ConfigError(
            f"{n} bars are too few for a look-ahead check with history={history}; need more than {history + 3}"
        )
    return sorted({int(x) for x in np.linspace(lo, hi, cuts)})


def _mirror(x: np.ndarray, pivot: float) -> np.ndarray:
    return pivot * pivot / x


def perturbed(market: Market, after: pd.Timestamp, seed: int) -> Market:
    """``market`` with every bar after ``after`` mirrored around the cut's close (each later move
    reverses direction: ``p -> c_cut^2 / p``, high and low swapped) and volumes rescaled at random;
    the bars on or before the cut are untouched."""
    rng = np.random.default_rng(seed)
    bars = {}
    for symbol, df in market.bars.items():
        df = df.copy()
        later = df.index > after
        before = df.index[df.index <= after]
        if not later.any() or not len(before):
            bars[symbol] = df
            continue
        pivot = float(df.loc[before[-1], "close"])
        sub = df.loc[later]
        df.loc[later, "open"] = _mirror(sub["open"].to_numpy(), pivot)
        df.loc[later, "close"] = _mirror(sub["close"].to_numpy(), pivot)
        df.loc[later, "high"] = _mirror(sub["low"].to_numpy(), pivot)
        df.loc[later, "low"] = _mirror(sub["high"].to_numpy(), pivot)
        df.loc[later, "volume"] = sub["volume"].to_numpy() * rng.uniform(0.5, 1.5, int(later.sum()))
        bars[symbol] = df
    bench = market.benchmark
    if bench is not None:
        bench = bench.copy()
        later = bench.index > after
        known = bench[~later].dropna()
        if later.any() and len(known):
            bench[later] = _mirror(bench[later].to_numpy(dtype=float), float(known.iloc[-1]))
    return Market(
        bars,
        market.source,
        bench,
        market.benchmark_symbol,
        market.synthetic,
        list(market.notes),
        list(market.gaps),
        dict(market.sectors),
    )


def _same(a: np.ndarray, b: np.ndarray, tol: float) -> np.ndarray:
    both_nan = np.isnan(a) & np.isnan(b)
    close = np.abs(a - b) <= tol * np.maximum(np.maximum(np.abs(a), np.abs(b)), 1e-12) + 1e-12
    return both_nan | close


def _compare_lines(ref: _Run, other: _Run, upto: pd.Timestamp, check: str, cut: str, tol: float) -> list[Finding]:
    out = []
    ref_pos = ref.dates.get_indexer(other.dates)
    keep = (ref_pos >= 0) & (other.dates <= upto)
    for name, values in other.lines.items():
        if name not in ref.lines:
            out.append(Finding("look-ahead", check, cut, name, "line exists only in this run"))
            continue
        a, b = ref.lines[name][ref_pos[keep]], values[keep]
        ok = _same(a, b, tol)
        if not ok.all():
            first = other.dates[keep][~ok][0]
            out.append(
                Finding(
                    "look-ahead",
                    check,
                    cut,
                    name,
                    f"{int((~ok).sum())} value(s) on or before the cut changed, first on {first} "
                    f"({a[~ok][0]:.6g} -> {b[~ok][0]:.6g})",
                )
            )
    return out


def _compare_decisions(
    ref: _Run, other: _Run, upto: pd.Timestamp, inclusive: bool, check: str, cut: str
) -> list[Finding]:
    def pick(run: _Run) -> list[tuple]:
        return sorted(d for d in run.decisions if (d[0] <= upto if inclusive else d[0] < upto))

    a, b = pick(ref), pick(other)
    if a == b:
        return []
    first = next((x, y) for x, y in zip(a + [None] * len(b), b + [None] * len(a)) if x != y)
    return [
        Finding(
            "look-ahead",
            check,
            cut,
            "orders",
            f"order decisions on or before the cut changed ({len(a)} in the full run, {len(b)} here); "
            f"first difference: {first[0]} vs {first[1]}",
        )
    ]


def check_lookahead(
    spec: RunSpec, market: Market, cuts: int = 3, history: int = 300, tolerance: float = 1e-6, seed: int = 0
) -> LookaheadReport:
    """Run the look-ahead and recursive-bias checks of the module docstring for ``spec``."""
    from autostock.engine import market_for

    if history < 1:
        raise ConfigError(f"history must be >= 1 bars, got {history}")
    if not tolerance >= 0:
        raise ConfigError(f"tolerance must be >= 0, got {tolerance}")
    market = market_for(spec, market)
    spec = spec.replace(start=None, end=None)
    ref = _run(spec, market)
    if ref.error:
        raise ConfigError(f"strategy {spec.strategy!r} fails on the full data: {ref.error}")
    dates = ref.dates
    positions = cut_points(dates, cuts, history)
    report = LookaheadReport(
        spec.strategy, [str(dates[c]) for c in positions], history, tolerance, sorted(ref.lines), len(ref.decisions)
    )
    report.history_dependent_by_design = sorted(ref.by_design)
    stabilise: dict[str, dict[str, Any]] = {}
    for c in positions:
        cut, at = str(dates[c]), dates[c]
        truncated = _run(spec, market.slice(None, at))
        if truncated.error:
            report.lookahead.append(
                Finding(
                    "look-ahead",
                    "truncated",
                    cut,
                    "run",
                    f"the run fails when the data ends at the cut ({truncated.error}): "
                    "it reads a bar after the current one",
                )
            )
        else:
            report.lookahead += _compare_lines(ref, truncated, at, "truncated", cut, 1e-12)
            report.lookahead += _compare_decisions(ref, truncated, at, False, "truncated", cut)
        moved = _run(spec, perturbed(market, at, seed + c))
        if moved.error:
            report.lookahead.append(
                Finding(
                    "look-ahead",
                    "perturbed",
                    cut,
                    "run",
                    f"the run fails when bars after the cut change ({moved.error})",
                )
            )
        else:
            report.lookahead += _compare_lines(ref, moved, at, "perturbed", cut, 1e-12)
            report.lookahead += _compare_decisions(ref, moved, at, True, "perturbed", cut)
        later = _run(spec, market.slice(dates[c - history], at))
        if later.error:
            continue
        pos = ref.dates.get_indexer(later.dates)
        for name, values in later.lines.items():
            if name not in ref.lines or name in ref.by_design:
                continue
            full = ref.lines[name][pos]
            ok = _same(full, values, tolerance)
            if ok[-1]:
                continue
            entry = stabilise.setdefault(name, {"line": name, "cuts": [], "history_given": history})
            entry["cuts"].append(cut)
            diff = abs(full[-1] - values[-1]) if np.isfinite(full[-1]) and np.isfinite(values[-1]) else None
            entry["difference_at_cut"] = None if diff is None else float(diff)
    if stabilise:
        start = max(0, positions[0] - history)
        late = _run(spec, market.slice(dates[start], None))
        pos = ref.dates.get_indexer(late.dates)
        for name, entry in stabilise.items():
            late_values = late.lines.get(name)
            ok = _same(ref.lines[name][pos], late_values, tolerance) if late_values is not None else np.zeros(1, bool)
            bad = np.flatnonzero(~ok)
            if len(bad) and bad[-1] == len(ok) - 1:
                entry["bars_to_stabilise"] = None
                entry["detail"] = (
                    f"its value depends on how much history preceded it: {history} bars of "
                    f"history are not enough, and it did not come within {tolerance:g} (relative) "
                    f"of the full-history value in the {len(ok)} bars after a later start"
                )
            else:
                entry["bars_to_stabilise"] = int(bad[-1]) + 1 if len(bad) else 0
                entry["detail"] = (
                    f"its value depends on how much history preceded it: it needs "
                    f"{entry['bars_to_stabilise']} bars to come within {tolerance:g} (relative) of "
                    f"the full-history value, more than the {history} bars of history given"
                )
    report.recursive = sorted(stabilise.values(), key=lambda e: e["line"])
    return report
