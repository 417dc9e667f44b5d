"""Backtrader sizers; each is a thin wrapper over a pure sizing function."""
