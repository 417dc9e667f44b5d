"""Market data sources behind ``--data``: synthetic, sample, files, yahoo, alpaca, tick and alt data."""

from __future__ import annotations

from autostock.config import DEFAULT_SYMBOLS
from autostock.feeds.market import Market

SOURCES = ("synthetic", "sample", "yahoo", "alpaca")


def load_market(
    source: str = "synthetic",
    symbols: list[str] | None = None,
    start: str | None = None,
    end: str | None = None,
    benchmark: str | None = None,
    seed: int = 42,
) -> Market:
    """Load and validate bars for ``symbols`` from ``source``, sliced to ``start``..``end``.

    ``benchmark`` names a symbol of the source, or ``equal-weight``: the equal-weight basket of
    the loaded symbols, rebalanced every bar (for data without an index series)."""
    from autostock.feeds.market import is_equal_weight, with_equal_weight_benchmark
    from autostock.feeds.micro_source import is_micro_source

    basket = is_equal_weight(benchmark)
    if basket and not is_micro_source(source):  # --benchmark equal-weight: the basket of the loaded symbols
        market = with_equal_weight_benchmark(load_market(source, symbols, start, end, None, seed))
    elif is_micro_source(source):  # trades:/quotes: files, micro-synthetic, +news:/+options:/+quotes:/+sectors
        from autostock.feeds.micro_source import load_micro

        market = load_micro(source, symbols, start, end, benchmark, seed)
    elif source == "synthetic":
        from autostock.feeds.synthetic import generate_market

        market = generate_market(
            list(symbols or DEFAULT_SYMBOLS), start, end, seed=seed, benchmark_symbol=benchmark or "SPY"
        )
    elif source == "sample":
        from autostock.feeds.sample import load_sample

        market = load_sample()
        if symbols:
            market = market.select(symbols)
    elif source in ("yahoo", "alpaca"):
        from autostock.feeds import remote

        loader = remote.load_yahoo if source == "yahoo" else remote.load_alpaca
        market = loader(list(symbols or DEFAULT_SYMBOLS), start, end, benchmark or "SPY")
    elif source in _plugin_sources():
        from autostock.registry import FEEDS

        market = FEEDS.get(source)(symbols, start, end, benchmark, seed)
    else:
        from autostock.feeds.files import load_path

        market = load_path(source, symbols, benchmark)
    return market.slice(start, end) if (start or end) else market


def _plugin_sources() -> list[str]:
    from autostock.registry import FEEDS

    return FEEDS.names()


__all__ = ["Market", "load_market", "SOURCES"]
