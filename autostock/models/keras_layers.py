"""Custom Keras 3 layers of the sequence predictors, registered so that they survive save/load.

Every layer uses the backend-neutral Keras 3 API only (``keras.layers``, ``keras.ops``), so the
models run with ``KERAS_BACKEND`` set to tensorflow (the default), jax or torch. Each is
registered with ``keras.saving.register_keras_serializable(package="autostock")`` and returns
its constructor arguments from ``get_config``.

Importing this module imports Keras (and its backend); only ``autostock.models.keras_models``
imports it, lazily, when a Keras model is built or loaded.

All layers see one window of ``seq_len`` past bars ``(batch, seq_len, features)``; none of them
mixes windows, so a prediction never depends on bars after the window's last row.
"""

from __future__ import annotations

from typing import Any, cast

import keras
from keras import layers, ops

PACKAGE = "autostock"


def _check_dropout(dropout: float) -> None:
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")


@keras.saving.register_keras_serializable(package=PACKAGE)
class LastTimestep(layers.Layer):
    """Select the last step of a sequence: ``(batch, T, F) -> (batch, F)``."""

    def call(self, inputs: Any) -> Any:
        return inputs[:, -1, :]

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (input_shape[0], input_shape[-1])


@keras.saving.register_keras_serializable(package=PACKAGE)
class AttentionPooling(layers.Layer):
    """Additive attention pooling over time.

    ``score_t = v' tanh(W h_t + b)``, ``a = softmax_t(score)``, output ``sum_t a_t h_t``.

    Parameters
    ----------
    units : int
        Width of the hidden scoring layer ``W``.
    """

    def __init__(self, units: int = 16, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if units < 1:
            raise ValueError(f"AttentionPooling units must be >= 1, got {units}")
        self.units = int(units)
        self.score_hidden = layers.Dense(self.units, activation="tanh")
        self.score_out = layers.Dense(1, use_bias=False)

    def build(self, input_shape: tuple) -> None:
        self.score_hidden.build(input_shape)
        self.score_out.build((*input_shape[:-1], self.units))
        super().build(input_shape)

    def call(self, inputs: Any) -> Any:
        scores = self.score_out(self.score_hidden(inputs))  # (batch, T, 1)
        weights = ops.softmax(scores, axis=1)
        return ops.sum(weights * inputs, axis=1)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (input_shape[0], input_shape[-1])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package=PACKAGE)
class PositionalEncoding(layers.Layer):
    """Add the sinusoidal position code of Vaswani et al. (2017) to a ``(batch, T, d)`` input.

    ``PE[t, 2i] = sin(t / 10000^(2i/d))``, ``PE[t, 2i+1] = cos(t / 10000^(2i/d))``.
    The code is computed from the input's shape at call time, so it has no weights.
    """

    def call(self, inputs: Any) -> Any:
        seq_len = ops.shape(inputs)[1]
        d_model = inputs.shape[-1]
        positions = ops.cast(ops.arange(seq_len), "float32")[:, None]
        dims = ops.cast(ops.arange(d_model), "float32")[None, :]
        pair = ops.floor(dims / 2.0) * 2.0
        angles = positions / ops.power(10000.0, pair / float(d_model))
        even = ops.cast(ops.equal(ops.mod(ops.arange(d_model), 2), 0), "float32")[None, :]
        code = even * ops.sin(angles) + (1.0 - even) * ops.cos(angles)
        return inputs + ops.cast(code[None, :, :], inputs.dtype)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return input_shape


@keras.saving.register_keras_serializable(package=PACKAGE)
class CausalSelfAttentionBlock(layers.Layer):
    """Pre-norm Transformer encoder block with a causal mask.

    ``h = x + Dropout(MHA(LN(x)))`` with step t attending to steps <= t only, then
    ``y = h + Dropout(FFN(LN(h)))`` with ``FFN = Dense(ff_dim, gelu) -> Dense(d_model)``.

    Parameters
    ----------
    num_heads : int
        Attention heads.
    key_dim : int
        Size of each head.
    ff_dim : int
        Hidden width of the feed-forward part.
    dropout : float
        Dropout rate in [0, 1).
    """

    def __init__(
        self, num_heads: int = 2, key_dim: int = 16, ff_dim: int = 32, dropout: float = 0.0, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        if num_heads < 1 or key_dim < 1 or ff_dim < 1:
            raise ValueError(f"num_heads, key_dim and ff_dim must be >= 1, got {num_heads}, {key_dim}, {ff_dim}")
        _check_dropout(dropout)
        self.num_heads = int(num_heads)
        self.key_dim = int(key_dim)
        self.ff_dim = int(ff_dim)
        self.dropout = float(dropout)
        self.norm1 = layers.LayerNormalization(epsilon=1e-6)
        self.norm2 = layers.LayerNormalization(epsilon=1e-6)
        self.attention = layers.MultiHeadAttention(num_heads=self.num_heads, key_dim=self.key_dim, dropout=self.dropout)
        self.drop1 = layers.Dropout(self.dropout)
        self.drop2 = layers.Dropout(self.dropout)
        self.ff_hidden = layers.Dense(self.ff_dim, activation="gelu")
        self.ff_out: layers.Dense | None = None

    def build(self, input_shape: tuple) -> None:
        d_model = input_shape[-1]
        self.ff_out = layers.Dense(d_model)
        self.norm1.build(input_shape)
        self.norm2.build(input_shape)
        self.attention.build(input_shape, input_shape)
        self.ff_hidden.build(input_shape)
        self.ff_out.build((*input_shape[:-1], self.ff_dim))
        super().build(input_shape)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        x = self.norm1(inputs)
        attended = self.attention(x, x, use_causal_mask=True, training=training)
        h = inputs + self.drop1(attended, training=training)
        ff = cast(Any, self.ff_out)(self.ff_hidden(self.norm2(h)))  # set by build()
        return h + self.drop2(ff, training=training)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "ff_dim": self.ff_dim,
            "dropout": self.dropout,
        }


@keras.saving.register_keras_serializable(package=PACKAGE)
class TCNResidualBlock(layers.Layer):
    """Residual block of a temporal convolutional network (Bai et al., 2018).

    Two dilated causal ``Conv1D`` (kernel ``k``, dilation ``d``, left padding only, so step t
    sees steps ``t - (k-1)d .. t``), each followed by ReLU and dropout; the input, projected by
    a 1x1 convolution when its width differs, is added to the output.

    Parameters
    ----------
    filters : int
        Output channels.
    kernel_size : int
        Convolution kernel length.
    dilation_rate : int
        Dilation of both convolutions.
    dropout : float
        Dropout rate in [0, 1).
    """

    def __init__(
        self, filters: int = 16, kernel_size: int = 3, dilation_rate: int = 1, dropout: float = 0.0, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        if filters < 1 or kernel_size < 1 or dilation_rate < 1:
            raise ValueError(
                f"filters, kernel_size and dilation_rate must be >= 1, got {filters}, {kernel_size}, {dilation_rate}"
            )
        _check_dropout(dropout)
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.dilation_rate = int(dilation_rate)
        self.dropout = float(dropout)
        conv = dict(
            filters=self.filters,
            kernel_size=self.kernel_size,
            dilation_rate=self.dilation_rate,
            padding="causal",
            activation="relu",
        )
        self.conv1 = layers.Conv1D(**conv)
        self.conv2 = layers.Conv1D(**conv)
        self.drop1 = layers.Dropout(self.dropout)
        self.drop2 = layers.Dropout(self.dropout)
        self.project: layers.Conv1D | None = None

    def build(self, input_shape: tuple) -> None:
        self.conv1.build(input_shape)
        self.conv2.build((*input_shape[:-1], self.filters))
        if input_shape[-1] != self.filters:
            self.project = layers.Conv1D(self.filters, 1)
            self.project.build(input_shape)
        super().build(input_shape)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        h = self.drop1(self.conv1(inputs), training=training)
        h = self.drop2(self.conv2(h), training=training)
        skip = self.project(inputs) if self.project is not None else inputs
        return ops.relu(h + skip)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (*input_shape[:-1], self.filters)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "dilation_rate": self.dilation_rate,
            "dropout": self.dropout,
        }

    def receptive_field(self) -> int:
        """Steps one output sees through this block's two convolutions."""
        return 2 * (self.kernel_size - 1) * self.dilation_rate + 1


@keras.saving.register_keras_serializable(package=PACKAGE)
class GRUResidualBlock(layers.Layer):
    """``y = BatchNorm(GRU(x)) + P(x)``: a GRU over the sequence with batch normalisation and a
    residual connection (``P`` is a Dense projection when the widths differ, else identity).

    Parameters
    ----------
    units : int
        GRU width.
    dropout : float
        Dropout on the GRU inputs, in [0, 1).
    """

    def __init__(self, units: int = 16, dropout: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if units < 1:
            raise ValueError(f"GRUResidualBlock units must be >= 1, got {units}")
        _check_dropout(dropout)
        self.units = int(units)
        self.dropout = float(dropout)
        self.gru = layers.GRU(self.units, return_sequences=True, dropout=self.dropout)
        self.norm = layers.BatchNormalization()
        self.project: layers.Dense | None = None

    def build(self, input_shape: tuple) -> None:
        self.gru.build(input_shape)
        self.norm.build((*input_shape[:-1], self.units))
        if input_shape[-1] != self.units:
            self.project = layers.Dense(self.units, use_bias=False)
            self.project.build(input_shape)
        super().build(input_shape)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        h = self.norm(self.gru(inputs, training=training), training=training)
        skip = self.project(inputs) if self.project is not None else inputs
        return h + skip

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (*input_shape[:-1], self.units)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units, "dropout": self.dropout}


CUSTOM_LAYERS: tuple[type, ...] = (
    LastTimestep,
    AttentionPooling,
    PositionalEncoding,
    CausalSelfAttentionBlock,
    TCNResidualBlock,
    GRUResidualBlock,
)


def tcn_receptive_field(kernel_size: int, dilations: tuple[int, ...] | list[int]) -> int:
    """Steps seen by one output of a stack of :class:`TCNResidualBlock` (``1 + 2(k-1)sum(d)``)."""
    return 1 + 2 * (kernel_size - 1) * int(sum(dilations))
