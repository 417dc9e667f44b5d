"""Reports: metrics (QuantStats / empyrical), tearsheets, charts, output files."""
