"""autostock: a backtest-first trading framework for US equities, built on backtrader."""

__version__ = "0.1.0"
