"""Optional dependencies: which extra provides which library, and one line when one is missing.

The core (``pip install autostock``) runs a backtest with its default reports. Everything else
lives in an extra (see ``setup.cfg``); code imports an optional library inside the function that
needs it, through :func:`require`::

    keras = require("ml", "keras")

A missing library raises :class:`MissingExtraError` (a :class:`~autostock.errors.UserError`),
which the CLI prints as one line naming the extra, with exit code 2. The CLI also maps a stray
``ModuleNotFoundError`` for a known optional library to the same line (:func:`extra_for_missing`).
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import sys
import tempfile
from types import ModuleType

from autostock.errors import UserError

# top-level import name -> the extra that installs it
MODULE_EXTRAS: dict[str, str] = {
    "tensorflow": "ml",
    "keras": "ml",
    "optuna": "ml",
    "alpaca": "live",
    "dask": "scale",
    "distributed": "scale",
    "mlflow": "tracking",
    "yfinance": "yahoo",
    "stable_baselines3": "rl",
    "gymnasium": "rl",
    "torch": "rl",
    "streamlit": "dashboard",
    "vaderSentiment": "altdata",
}

# import name -> the package pip installs, where they differ (for the message)
PACKAGE_NAMES: dict[str, str] = {
    "alpaca": "alpaca-py",
    "distributed": "dask[distributed]",
    "stable_baselines3": "stable-baselines3",
}

# set by the CLI (quiet_ml_libraries): hide TensorFlow's C++ start-up lines when it is imported
_QUIET = False

# lines TensorFlow's C++ runtime writes to file descriptor 2 at import and first device probe
# (before absl logging is initialised, so TF_CPP_MIN_LOG_LEVEL does not reach them)
_TF_NOISE = re.compile(
    r"absl::InitializeLog|oneDNN custom operations|cuda|cuInit|cuDNN|cuFFT|cuBLAS|TensorRT|"
    r"computation_placer|This TensorFlow binary is optimized|rebuild TensorFlow|cpu_feature_guard",
    re.IGNORECASE,
)


class MissingExtraError(UserError):
    """An optional library is not installed; the message names the extra that installs it."""

    def __init__(self, extra: str, module: str, command: str = "this command") -> None:
        self.extra = extra
        self.module = module
        super().__init__(
            f"{command} needs the {extra!r} extra ({PACKAGE_NAMES.get(module, module)} is not installed): pip install 'autostock[{extra}]'"
        )


def require(extra: str, module: str, command: str = "this command") -> ModuleType:
    """Import ``module`` (a dotted name is fine) or raise :class:`MissingExtraError` naming ``extra``.

    Parameters
    ----------
    extra : str
        The extra in ``setup.cfg`` that installs the library (``"ml"``, ``"live"``, ...).
    module : str
        The module to import, e.g. ``"keras"`` or ``"alpaca.trading.client"``.
    command : str
        What needs it, for the message (``"train --model lstm"``); default ``"this command"``.

    Returns
    -------
    ModuleType
        The imported module.
    """
    try:
        if _QUIET and module.split(".")[0] in ("keras", "tensorflow") and "tensorflow" not in sys.modules:
            return _import_tensorflow_quietly(module)
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        missing = (exc.name or module).split(".")[0]
        if missing != module.split(".")[0] and missing not in MODULE_EXTRAS:
            raise  # the library is there but one of its own dependencies is broken: show that
        raise MissingExtraError(extra, missing) from None


def extra_for_missing(exc: BaseException) -> MissingExtraError | None:
    """The one-line error for a ``ModuleNotFoundError`` of a known optional library, else None."""
    if not isinstance(exc, ModuleNotFoundError) or not exc.name:
        return None
    top = exc.name.split(".")[0]
    extra = MODULE_EXTRAS.get(top)
    return MissingExtraError(extra, top) if extra else None


def quiet_ml_libraries(debug: bool = False) -> None:
    """Hide TensorFlow / Keras start-up noise (CUDA probing, oneDNN notice, retracing warnings).

    Environment variables only act before TensorFlow is imported, so the CLI calls this first
    thing; values the user has set are kept. With ``debug=True`` nothing is hidden.
    """
    global _QUIET
    _QUIET = not debug
    if debug:
        return
    # 3 = fatal only: hides the C++ INFO/WARNING/ERROR lines (oneDNN notice, "could not find cuda
    # drivers", "failed call to cuInit") that TensorFlow prints at import on a machine without a GPU
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")
    for name in ("tensorflow", "keras", "absl", "h5py"):
        logging.getLogger(name).setLevel(logging.ERROR)
    if "absl.logging" in sys.modules:  # already imported: set its verbosity directly
        sys.modules["absl.logging"].set_verbosity("error")


def _import_tensorflow_quietly(module: str) -> ModuleType:
    """Import ``module`` (keras or tensorflow) with file descriptor 2 captured; replay what is not noise."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            imported = importlib.import_module(module)
            tf = sys.modules.get("tensorflow")
            if tf is not None and hasattr(tf, "config"):
                tf.config.list_physical_devices()  # the CUDA probe prints here, once
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [
                line
                for line in captured.read().decode(errors="replace").splitlines(keepends=True)
                if not _TF_NOISE.search(line)
            ]
            if kept:
                sys.stderr.write("".join(kept))
    return imported
