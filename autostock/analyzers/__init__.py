"""Analyzers: observe only; ``get_analysis()`` returns JSON-serialisable data."""
