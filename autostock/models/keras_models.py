"""Keras 3 sequence predictors: ``lstm``, ``gru``, ``tcn`` and ``transformer``.

All four share the Predictor contract (scikit-learn style, see ``DESIGN.md``): ``__init__``
stores keyword params only; ``fit(X, y) -> self``; ``predict(X) -> np.ndarray``;
``save(path)`` / ``load(path)``.

``X`` is a 2-D feature matrix whose rows are bars in time order. The predictor builds the
sequence windows itself: the prediction for row ``t`` uses rows ``t-seq_len+1 .. t`` only, so
the first ``seq_len - 1`` rows (and any row whose window holds a NaN) predict NaN. Features and
(for regression) the target are standard-scaled with statistics of the fit data only. Early
stopping watches a validation slice taken from the END of the fit data (``validation_fraction``)
or the ``validation_data`` given to ``fit``.

Keras is imported lazily (inside methods), so importing this module, and the predictor
registry, stays cheap. Only the backend-neutral Keras 3 API is used, so the models also run with
``KERAS_BACKEND=jax`` or ``torch``; a GPU is used when the backend sees one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar, cast

import numpy as np

from autostock.extras import require
from autostock.models.base import Predictor, register_predictor

TASKS = ("regression", "classification")
MODEL_FILE = "model.keras"
PARAMS_FILE = "params.json"
SCALER_FILE = "scaler.npz"


def _as_matrix(X: Any, name: str = "X") -> np.ndarray:
    values = np.asarray(X.to_numpy() if hasattr(X, "to_numpy") else X, dtype="float32")
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2:
        raise ValueError(f"{name} must be a 2-D matrix (rows = bars, columns = features), got shape {values.shape}")
    return values


def _as_vector(y: Any, n: int) -> np.ndarray:
    values = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y, dtype="float64").reshape(-1)
    if values.shape[0] != n:
        raise ValueError(f"y has {values.shape[0]} rows but X has {n}")
    return values


def sequence_windows(X: np.ndarray, seq_len: int) -> np.ndarray:
    """Windows ``W[i] = X[i : i+seq_len]`` (a read-only view), ending at row ``i + seq_len - 1``."""
    if X.shape[0] < seq_len:
        return np.empty((0, seq_len, X.shape[1]), dtype=X.dtype)
    return np.lib.stride_tricks.sliding_window_view(X, seq_len, axis=0).transpose(0, 2, 1)


def split_validation(n_windows: int, fraction: float, gap: int = 0) -> tuple[int, int]:
    """(n_train, n_val): the LAST ``fraction`` of the windows validate, ``gap`` windows before
    them are dropped, the first ``n_train`` train. ``n_val`` is 0 when too few windows remain."""
    n_val = int(n_windows * fraction)
    if n_val >= 1 and n_windows - n_val - gap >= 2:
        return n_windows - n_val - gap, n_val
    return n_windows, 0


class KerasPredictor(Predictor):
    """Base of the Keras sequence predictors (not registered; use a subclass).

    Parameters
    ----------
    seq_len : int
        Bars per input window.
    units : int
        Width of the recurrent / convolutional / attention layers.
    layers : int
        Number of stacked blocks.
    dropout : float
        Dropout rate in [0, 1).
    learning_rate : float
        Adam learning rate.
    batch_size : int
        Mini-batch size.
    epochs : int
        Maximum epochs (early stopping may end sooner).
    patience : int
        Epochs without validation improvement before stopping; the best weights are restored.
    validation_fraction : float
        Fraction of the fit windows, taken from the END, used for early stopping (0 disables).
    validation_gap : int
        Windows dropped between the training and validation slices (set it to the target's
        horizon so no training label overlaps a validation bar).
    task : str
        ``"regression"`` (e.g. forward return) or ``"classification"`` (direction; ``y > 0``
        is the positive class, predictions are probabilities).
    seed : int
        Seed for ``keras.utils.set_random_seed``.
    verbose : int
        Keras ``fit`` verbosity.
    """

    defaults: ClassVar[dict[str, Any]] = {
        "seq_len": 20,
        "units": 32,
        "layers": 1,
        "dropout": 0.0,
        "learning_rate": 1e-3,
        "batch_size": 64,
        "epochs": 20,
        "patience": 3,
        "validation_fraction": 0.15,
        "validation_gap": 0,
        "task": "regression",
        "seed": 0,
        "verbose": 0,
    }
    extra_defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.model_: Any = None
        self.scaler_: dict[str, np.ndarray] | None = None
        self.history_: dict[str, list[float]] = {}

    # -- params ---------------------------------------------------------------------------
    @classmethod
    def all_defaults(cls) -> dict[str, Any]:
        return {**KerasPredictor.defaults, **cls.extra_defaults}

    def _check_params(self) -> None:
        p = self.params
        for key in ("seq_len", "units", "layers", "batch_size", "epochs"):
            if int(p[key]) < 1:
                raise ValueError(f"{key} must be >= 1, got {p[key]}")
        if not 0.0 <= float(p["dropout"]) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {p['dropout']}")
        if not 0.0 <= float(p["validation_fraction"]) < 1.0:
            raise ValueError(f"validation_fraction must be in [0, 1), got {p['validation_fraction']}")
        if float(p["learning_rate"]) <= 0:
            raise ValueError(f"learning_rate must be > 0, got {p['learning_rate']}")
        if p["task"] not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)}, got {p['task']!r}")
        if int(p["validation_gap"]) < 0 or int(p["patience"]) < 0:
            raise ValueError("validation_gap and patience must be >= 0")

    @property
    def seq_len(self) -> int:
        return int(self.params["seq_len"])

    @property
    def context_rows(self) -> int:  # type: ignore[override]  # read-only here: follows seq_len
        """Rows of ``X`` one prediction needs (the newest row and ``seq_len - 1`` before it)."""
        return self.seq_len

    @property
    def is_classifier(self) -> bool:
        return self.params["task"] == "classification"

    # -- model ------------------------------------------------------------------------------
    def build_body(self, inputs: Any) -> Any:  # pragma: no cover - abstract
        """Map the ``(batch, seq_len, n_features)`` input tensor to a ``(batch, width)`` tensor."""
        raise NotImplementedError

    def build_model(self, n_features: int) -> Any:
        """Build and compile the Keras model for ``n_features`` input columns."""
        keras = require("ml", "keras")

        from autostock.models import keras_layers  # noqa: F401  (registers the custom layers)

        p = self.params
        inputs = keras.Input(shape=(self.seq_len, n_features), name="window")
        h = self.build_body(inputs)
        if p["dropout"]:
            h = keras.layers.Dropout(p["dropout"])(h)
        activation = "sigmoid" if self.is_classifier else None
        outputs = keras.layers.Dense(1, activation=activation, name="prediction")(h)
        model = keras.Model(inputs, outputs, name=f"autostock_{self.name}")
        loss = "binary_crossentropy" if self.is_classifier else "mse"
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=float(p["learning_rate"])), loss=loss)
        return model

    # -- data -------------------------------------------------------------------------------
    def _scale(self, X: np.ndarray) -> np.ndarray:
        assert self.scaler_ is not None
        return ((X - self.scaler_["mean"]) / self.scaler_["scale"]).astype("float32")

    def _training_windows(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Windows and targets of the rows whose window and target are all finite."""
        Xs = self._scale(X)
        windows = sequence_windows(Xs, self.seq_len)
        targets = y[self.seq_len - 1 :]
        ok = np.isfinite(targets) & np.isfinite(windows).all(axis=(1, 2))
        targets = targets[ok]
        if self.is_classifier:
            targets = (targets > 0).astype("float32")
        else:
            scaler = cast(dict[str, np.ndarray], self.scaler_)  # set by fit before the windows are built
            targets = ((targets - scaler["y_mean"]) / scaler["y_scale"]).astype("float32")
        return np.ascontiguousarray(windows[ok]), targets.reshape(-1, 1)

    def fit(self, X: Any, y: Any, validation_data: tuple[Any, Any] | None = None) -> KerasPredictor:
        """Fit on ``X`` (rows = bars in time order) and targets ``y`` aligned with its rows.

        Parameters
        ----------
        X : array-like of shape (n_bars, n_features)
        y : array-like of shape (n_bars,)
            Target of each row (NaN rows are skipped).
        validation_data : (X_val, y_val), optional
            Bars that FOLLOW the fit data, used for early stopping instead of the last
            ``validation_fraction`` of the fit windows.

        Returns
        -------
        self
        """
        keras = require("ml", "keras")

        Xm = _as_matrix(X)
        yv = _as_vector(y, Xm.shape[0])
        p = self.params
        keras.utils.set_random_seed(int(p["seed"]))
        finite_rows = np.isfinite(Xm).all(axis=1)
        if finite_rows.sum() < 2:
            raise ValueError("X has fewer than 2 rows without NaN: nothing to fit")
        mean = np.nanmean(Xm[finite_rows], axis=0)
        scale = np.nanstd(Xm[finite_rows], axis=0)
        scale[~(scale > 0)] = 1.0
        y_fin = yv[np.isfinite(yv)]
        if y_fin.size == 0:
            raise ValueError("y has no finite value: nothing to fit")
        y_scale = float(np.std(y_fin)) or 1.0
        self.scaler_ = {
            "mean": mean.astype("float32"),
            "scale": scale.astype("float32"),
            "y_mean": np.array(float(np.mean(y_fin))),
            "y_scale": np.array(y_scale),
            "n_features": np.array(Xm.shape[1]),
        }
        if hasattr(X, "columns"):
            self.scaler_["columns"] = np.array([str(c) for c in X.columns])
        windows, targets = self._training_windows(Xm, yv)
        if len(windows) < 2:
            raise ValueError(
                f"only {len(windows)} complete window(s) of seq_len={self.seq_len} in {Xm.shape[0]} rows: "
                "give more rows or a smaller seq_len"
            )
        if validation_data is not None:
            Xv = _as_matrix(validation_data[0], "validation X")
            yv_val = _as_vector(validation_data[1], Xv.shape[0])
            # the validation windows may reach back into the fit rows (they precede them in time)
            ctx = Xm[-(self.seq_len - 1) :] if self.seq_len > 1 else Xm[:0]
            yctx = np.full(ctx.shape[0], np.nan)
            val: tuple[np.ndarray, np.ndarray] | None = self._training_windows(
                np.vstack([ctx, Xv]), np.concatenate([yctx, yv_val])
            )
            train = (windows, targets)
        else:
            n_train, n_val = split_validation(len(windows), float(p["validation_fraction"]), int(p["validation_gap"]))
            train = (windows[:n_train], targets[:n_train])
            val = (windows[-n_val:], targets[-n_val:]) if n_val else None
        self.model_ = self.build_model(Xm.shape[1])
        callbacks = []
        if val is not None and len(val[0]):
            callbacks.append(
                keras.callbacks.EarlyStopping(
                    monitor="val_loss", patience=int(p["patience"]), restore_best_weights=True
                )
            )
        history = self.model_.fit(
            train[0],
            train[1],
            validation_data=val if val is not None and len(val[0]) else None,
            epochs=int(p["epochs"]),
            batch_size=int(p["batch_size"]),
            shuffle=True,
            callbacks=callbacks,
            verbose=int(p["verbose"]),
        )
        self.history_ = {k: [float(v) for v in vals] for k, vals in history.history.items()}
        return self

    def _check_fitted(self) -> None:
        if self.model_ is None or self.scaler_ is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit(X, y) or load(path) first")

    def predict(self, X: Any, batch_size: int = 4096) -> np.ndarray:
        """One prediction per row of ``X``; NaN where the row's window is incomplete or holds NaN.

        Regression predictions are in the target's units; classification predictions are the
        probability of the positive class (``y > 0``).
        """
        self._check_fitted()
        Xm = _as_matrix(X)
        scaler = cast(dict[str, np.ndarray], self.scaler_)  # fitted: checked above
        n_features = int(scaler["n_features"])
        if Xm.shape[1] != n_features:
            raise ValueError(f"X has {Xm.shape[1]} feature columns but the model was fitted on {n_features}")
        out = np.full(Xm.shape[0], np.nan)
        windows = sequence_windows(self._scale(Xm), self.seq_len)
        if len(windows) == 0:
            return out
        ok = np.isfinite(windows).all(axis=(1, 2))
        idx = np.flatnonzero(ok)
        preds = np.empty(idx.size)
        for start in range(0, idx.size, batch_size):
            chunk = np.ascontiguousarray(windows[idx[start : start + batch_size]])
            preds[start : start + chunk.shape[0]] = np.asarray(self.model_.predict_on_batch(chunk)).reshape(-1)
        if not self.is_classifier:
            preds = preds * float(scaler["y_scale"]) + float(scaler["y_mean"])
        out[self.seq_len - 1 + idx] = preds
        return out

    # -- persistence ------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write ``model.keras``, ``params.json`` and ``scaler.npz`` into the directory ``path``."""
        self._check_fitted()
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        self.model_.save(folder / MODEL_FILE)
        (folder / PARAMS_FILE).write_text(json.dumps(self._meta(history=self.history_), indent=2, default=str))
        np.savez(folder / SCALER_FILE, **cast(dict[str, Any], self.scaler_))  # fitted: checked above
        return folder

    @classmethod
    def load(cls, path: str | Path) -> KerasPredictor:
        """Load a predictor saved by :meth:`save` (any Keras family when called on the base)."""
        keras = require("ml", "keras")

        from autostock.models import keras_layers  # noqa: F401  (registers the custom layers)

        folder = Path(path)
        for f in (MODEL_FILE, PARAMS_FILE, SCALER_FILE):
            if not (folder / f).is_file():
                raise FileNotFoundError(f"{folder / f} not found: not a saved Keras predictor directory")
        klass, meta = cls.saved_class(folder, KerasPredictor)
        obj = klass(**meta["params"])
        with np.load(folder / SCALER_FILE) as npz:
            obj.scaler_ = {k: npz[k] for k in npz.files}
        obj.model_ = keras.saving.load_model(folder / MODEL_FILE)
        obj.history_ = meta.get("history", {})
        return obj


@register_predictor("lstm")
class LSTMPredictor(KerasPredictor):
    """LSTM over the window.

    ``variant``: ``basic`` (one LSTM, last state), ``stacked`` (``layers`` LSTMs, each but the
    last returning sequences), ``bidirectional`` (Bidirectional LSTM; both directions read only
    the window's past bars, so it stays causal across bars), ``attention`` (LSTM sequence ->
    additive attention pooling).
    """

    extra_defaults = {"variant": "basic", "attention_units": 16}
    VARIANTS = ("basic", "stacked", "bidirectional", "attention")

    def _check_params(self) -> None:
        super()._check_params()
        if self.params["variant"] not in self.VARIANTS:
            raise ValueError(f"lstm variant must be one of {', '.join(self.VARIANTS)}, got {self.params['variant']!r}")

    def build_body(self, inputs: Any) -> Any:
        keras = require("ml", "keras")

        from autostock.models.keras_layers import AttentionPooling

        p = self.params
        units, variant = int(p["units"]), p["variant"]
        n_layers = int(p["layers"]) if variant != "basic" else 1
        h = inputs
        for i in range(n_layers - 1):
            h = keras.layers.LSTM(units, return_sequences=True, name=f"lstm_{i}")(h)
        if variant == "attention":
            h = keras.layers.LSTM(units, return_sequences=True, name="lstm_seq")(h)
            return AttentionPooling(int(p["attention_units"]), name="attention")(h)
        if variant == "bidirectional":
            return keras.layers.Bidirectional(keras.layers.LSTM(units), name="bilstm")(h)
        return keras.layers.LSTM(units, name="lstm_last")(h)


@register_predictor("gru")
class GRUPredictor(KerasPredictor):
    """Stack of ``layers`` GRU residual blocks (GRU -> batch norm, plus a skip connection),
    then the last step."""

    def build_body(self, inputs: Any) -> Any:
        from autostock.models.keras_layers import GRUResidualBlock, LastTimestep

        p = self.params
        h = inputs
        for i in range(int(p["layers"])):
            h = GRUResidualBlock(int(p["units"]), dropout=float(p["dropout"]), name=f"gru_block_{i}")(h)
        return LastTimestep(name="last")(h)


@register_predictor("tcn")
class TCNPredictor(KerasPredictor):
    """Temporal convolutional network: for each kernel size in ``kernel_sizes`` (multi-scale), a
    stack of residual blocks of dilated causal convolutions with dilations ``dilations``; the
    branches' last steps are concatenated."""

    extra_defaults = {"kernel_sizes": [2, 3], "dilations": [1, 2, 4]}

    def _check_params(self) -> None:
        super()._check_params()
        ks, ds = self.params["kernel_sizes"], self.params["dilations"]
        if not ks or any(int(k) < 1 for k in ks):
            raise ValueError(f"tcn kernel_sizes must be positive integers, got {ks}")
        if not ds or any(int(d) < 1 for d in ds):
            raise ValueError(f"tcn dilations must be positive integers, got {ds}")

    def build_body(self, inputs: Any) -> Any:
        keras = require("ml", "keras")

        from autostock.models.keras_layers import LastTimestep, TCNResidualBlock

        p = self.params
        branches = []
        for k in p["kernel_sizes"]:
            h = inputs
            for d in p["dilations"]:
                h = TCNResidualBlock(
                    int(p["units"]),
                    kernel_size=int(k),
                    dilation_rate=int(d),
                    dropout=float(p["dropout"]),
                    name=f"tcn_k{k}_d{d}",
                )(h)
            branches.append(LastTimestep(name=f"last_k{k}")(h))
        return branches[0] if len(branches) == 1 else keras.layers.Concatenate(name="scales")(branches)


@register_predictor("transformer")
class TransformerPredictor(KerasPredictor):
    """Transformer encoder: Dense projection to ``units`` -> sinusoidal positional encoding ->
    ``layers`` causal self-attention blocks -> last step."""

    extra_defaults = {"num_heads": 2, "ff_dim": 64}

    def build_body(self, inputs: Any) -> Any:
        keras = require("ml", "keras")

        from autostock.models.keras_layers import CausalSelfAttentionBlock, LastTimestep, PositionalEncoding

        p = self.params
        units, heads = int(p["units"]), int(p["num_heads"])
        if heads < 1:
            raise ValueError(f"num_heads must be >= 1, got {heads}")
        h = keras.layers.Dense(units, name="embed")(inputs)
        h = PositionalEncoding(name="positions")(h)
        for i in range(int(p["layers"])):
            h = CausalSelfAttentionBlock(
                num_heads=heads,
                key_dim=max(1, units // heads),
                ff_dim=int(p["ff_dim"]),
                dropout=float(p["dropout"]),
                name=f"attention_block_{i}",
            )(h)
        return LastTimestep(name="last")(h)


def load_keras_predictor(path: str | Path) -> KerasPredictor:
    """Load any Keras predictor directory written by ``save`` (the family is read from it)."""
    return KerasPredictor.load(path)
