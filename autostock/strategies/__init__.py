"""Built-in strategies, one family per module; the registry imports them on first use."""
