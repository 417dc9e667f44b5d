"""Click commands, one module per area; ``autostock.cli`` adds them to the ``autostock`` group."""
