"""Optional MLflow tracking (``--track``): params, metrics and artifacts in a local file store.

MLflow is the optional ``tracking`` extra (``pip install 'autostock[tracking]'``); it is
imported only when tracking is asked for, and its absence is a one-line user error. Runs go
to a local store in ``./mlruns`` (SQLite ``mlruns/mlflow.db`` for params and metrics, artifacts
under ``mlruns/artifacts``; MLflow 3 no longer accepts a plain file store by default) unless
``MLFLOW_TRACKING_URI`` says otherwise. Browse them with
``mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from autostock.errors import UserError

MISSING = "--track needs MLflow, which is not installed: pip install 'autostock[tracking]'"


def require_mlflow() -> Any:
    """Import and return mlflow, or raise a one-line :class:`UserError`."""
    try:
        import mlflow
    except ImportError:
        raise UserError(MISSING) from None
    return mlflow


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{'a': {'b': 1}}`` -> ``{'a.b': 1}``; lists are joined as text."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        elif isinstance(value, (list, tuple)):
            out[name] = ",".join(map(str, value))
        else:
            out[name] = value
    return out


class Tracker:
    """Context manager around one MLflow run; does nothing when ``enabled`` is false.

    Parameters
    ----------
    enabled : bool
        Track or not (the ``--track`` flag).
    experiment : str
        MLflow experiment name (``autostock-train``, ``autostock-tune``, ...).
    run_name : str, optional
        Name of the run.
    uri : str, optional
        Tracking URI; default ``MLFLOW_TRACKING_URI`` or ``sqlite:///mlruns/mlflow.db``.
    """

    def __init__(self, enabled: bool, experiment: str, run_name: str | None = None, uri: str | None = None) -> None:
        self.enabled = enabled
        self.experiment = experiment
        self.run_name = run_name
        self.uri = uri
        self._mlflow: Any = require_mlflow() if enabled else None

    def __enter__(self) -> Tracker:
        if self.enabled:
            uri = self.uri or os.environ.get("MLFLOW_TRACKING_URI")
            artifacts = None
            if not uri:
                root = Path("mlruns").resolve()
                root.mkdir(parents=True, exist_ok=True)
                uri, artifacts = f"sqlite:///{root / 'mlflow.db'}", (root / "artifacts").as_uri()
            try:
                self._mlflow.set_tracking_uri(uri)
                if artifacts and self._mlflow.get_experiment_by_name(self.experiment) is None:
                    self._mlflow.create_experiment(self.experiment, artifact_location=artifacts)
                self._mlflow.set_experiment(self.experiment)
                self._mlflow.start_run(run_name=self.run_name)
            except Exception as exc:  # an unusable store is the user's to fix
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise UserError(f"MLflow tracking at {uri}: {first}") from None
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.enabled:
            self._mlflow.end_run(status="FAILED" if exc[0] else "FINISHED")

    def log_params(self, params: dict[str, Any]) -> None:
        if self.enabled:
            flat = {k: str(v)[:500] for k, v in flatten(params).items()}
            self._mlflow.log_params(flat)

    def log_metrics(self, metrics: dict[str, Any]) -> None:
        if self.enabled:
            numeric = {
                k: float(v)
                for k, v in flatten(metrics).items()
                if isinstance(v, (int, float)) and not isinstance(v, bool)
            }
            self._mlflow.log_metrics(numeric)

    def log_artifacts(self, folder: str | Path) -> None:
        if self.enabled:
            self._mlflow.log_artifacts(str(folder))
