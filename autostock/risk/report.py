"""Risk outputs of a finished run: the summary.json sections and exposure.csv / risk_log.csv."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd


def summary_sections(analyses: dict[str, Any]) -> dict[str, Any]:
    """Compact summary.json sections from a run's analyses (``risk_guard`` and ``exposure``).

    ``risk_refusals`` (reason -> count), ``risk_reductions``, ``stops_fired``,
    ``kill_switch`` (events), ``exposure`` (max leverage, max gross, max position weight,
    max weight per sector) -- the per-bar rows and the refusal log go to CSV files instead.
    """
    out: dict[str, Any] = {}
    risk = analyses.get("risk_guard")
    if risk:
        out["risk_refusals"] = risk["refusals"]
        out["risk_reductions"] = risk["reductions"]
        out["stops_fired"] = risk["stops"]
        out["kill_switch"] = [e for e in risk["events"] if e["type"].startswith("kill_switch")]
    exposure = analyses.get("exposure")
    if exposure:
        out["exposure"] = {k: v for k, v in exposure.items() if k != "rows"}
    return out


def write_risk_files(analyses: dict[str, Any], out_dir: str | Path) -> dict[str, Path]:
    """Write ``exposure.csv`` (one row per bar) and ``risk_log.csv`` (one row per refusal or
    reduction) when the analyses hold them; return name -> path."""
    out = Path(out_dir)
    paths: dict[str, Path] = {}
    exposure = analyses.get("exposure")
    if exposure and exposure.get("rows"):
        paths["exposure"] = out / "exposure.csv"
        pd.DataFrame(exposure["rows"]).to_csv(paths["exposure"], index=False, float_format="%.6g")
    risk = analyses.get("risk_guard")
    if risk is not None:
        paths["risk_log"] = out / "risk_log.csv"
        cols = ["date", "symbol", "action", "reason", "asked", "allowed", "detail"]
        pd.DataFrame(risk["log"], columns=cols).to_csv(paths["risk_log"], index=False)
    return paths
