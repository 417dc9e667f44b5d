"""Fast simulators that reproduce backtrader runs for the strategies they cover."""
