"""Custom Keras layers: serialisable (config and .keras round trip) and causal within a window."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from autostock.models.keras_layers import (  # noqa: E402
    AttentionPooling,
    CausalSelfAttentionBlock,
    GRUResidualBlock,
    LastTimestep,
    PositionalEncoding,
    TCNResidualBlock,
    tcn_receptive_field,
)

SEQ, FEAT = 6, 4
LAYERS = {
    "last": lambda: LastTimestep(),
    "attention_pooling": lambda: AttentionPooling(units=3),
    "positional": lambda: PositionalEncoding(),
    "causal_attention": lambda: CausalSelfAttentionBlock(num_heads=2, key_dim=2, ff_dim=5, dropout=0.1),
    "tcn_block": lambda: TCNResidualBlock(filters=5, kernel_size=2, dilation_rate=2, dropout=0.1),
    "gru_block": lambda: GRUResidualBlock(units=5, dropout=0.1),
}


def window_batch(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(3, SEQ, FEAT)).astype("float32")


@pytest.mark.parametrize("key", list(LAYERS))
def test_layer_config_round_trip_rebuilds_the_same_layer(key):
    layer = LAYERS[key]()
    x = window_batch()
    expected = np.asarray(layer(x))
    clone = keras.layers.deserialize(keras.layers.serialize(layer))
    assert type(clone) is type(layer) and clone.get_config() == layer.get_config()
    clone(x)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(np.asarray(clone(x)), expected, rtol=1e-6, atol=1e-6)


def test_model_with_every_custom_layer_survives_a_keras_file_round_trip(tmp_path):
    keras.utils.set_random_seed(1)
    inputs = keras.Input(shape=(SEQ, FEAT))
    h = PositionalEncoding()(keras.layers.Dense(4)(inputs))
    h = CausalSelfAttentionBlock(num_heads=2, key_dim=2, ff_dim=5)(h)
    h = TCNResidualBlock(filters=4, kernel_size=2, dilation_rate=1)(h)
    h = GRUResidualBlock(units=4)(h)
    pooled = AttentionPooling(units=3)(h)
    last = LastTimestep()(h)
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Concatenate()([pooled, last])))
    x = window_batch(2)
    expected = np.asarray(model.predict_on_batch(x))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(np.asarray(loaded.predict_on_batch(x)), expected)


@pytest.mark.parametrize("key", ["positional", "causal_attention", "tcn_block", "gru_block"])
def test_sequence_layer_output_at_step_t_ignores_later_steps(key):
    layer = LAYERS[key]()
    x = window_batch(3)
    base = np.asarray(layer(x, training=False))
    t = 2
    changed = x.copy()
    changed[:, t + 1 :, :] += 10.0
    after = np.asarray(layer(changed, training=False))
    np.testing.assert_allclose(after[:, : t + 1], base[:, : t + 1], rtol=1e-5, atol=1e-5)
    assert not np.allclose(after[:, t + 1 :], base[:, t + 1 :])


def test_tcn_receptive_field_counts_both_convolutions_of_each_block():
    assert tcn_receptive_field(2, [1, 2, 4]) == 1 + 2 * 1 * 7
    assert TCNResidualBlock(filters=2, kernel_size=3, dilation_rate=2).receptive_field() == 9


def test_layers_reject_bad_sizes_naming_the_value():
    with pytest.raises(ValueError, match="units"):
        AttentionPooling(units=0)
    with pytest.raises(ValueError, match="dropout"):
        CausalSelfAttentionBlock(dropout=1.0)
    with pytest.raises(ValueError, match="dilation_rate"):
        TCNResidualBlock(dilation_rate=0)
