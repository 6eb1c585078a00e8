"""EncoderSpec: how a trained encoder's input is prepared travels with it (pure, no Ray)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml

from tune_bs.api.encoder import EncoderSpec, build_loaded, embed, encoder_weights
from tune_bs.data.dataset import ChannelStatistics, prepare, z_normalise
from tune_bs.errors import UserInputError
from tune_bs.train.encoders import ContrastiveModel, build_encoder


def _raw(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (
        rng.normal(size=(40, 3, 24)) * [[[1.0], [5.0], [0.1]]] + [[[0.0], [10.0], [-3.0]]]
    ).astype(np.float32)


def test_dataset_rule_applies_the_training_splits_channel_statistics() -> None:
    X = _raw()
    y = np.repeat([0, 1], 20)
    data = prepare("toy", X, y, X[:10], y[:10], normalise="dataset", seed=0)
    stats = data.channel_statistics
    assert stats is not None and data.normalisation == "dataset"
    spec = EncoderSpec(
        "fcn", 3, hidden=8, normalise="dataset", channel_mean=stats.mean, channel_std=stats.std
    )
    assert np.allclose(spec.prepare(X[:10]), data.X_test, atol=1e-5)
    # the statistics are the training split's, never the test split's
    assert not np.allclose(stats.mean, ChannelStatistics.of(X[:10]).mean)


def test_series_none_and_boolean_aliases() -> None:
    X = _raw(1)
    assert np.allclose(EncoderSpec("fcn", 3, normalise="series").prepare(X), z_normalise(X))
    assert np.array_equal(EncoderSpec("fcn", 3, normalise="none").prepare(X), X)
    assert EncoderSpec("fcn", 3, normalise=True).normalise == "series"  # older exports
    assert EncoderSpec("fcn", 3, normalise=False).normalise == "none"


def test_dataset_rule_without_statistics_is_refused_in_one_line() -> None:
    with pytest.raises(UserInputError, match="channel_mean and channel_std") as caught:
        EncoderSpec("fcn", 3, normalise="dataset")
    assert "\n" not in str(caught.value)


def test_a_causal_cnn_round_trips_through_its_spec() -> None:
    model = ContrastiveModel(build_encoder("causal_cnn", 3, hidden=8, depth=3), 8)
    spec = EncoderSpec("causal_cnn", 3, hidden=8, depth=3, normalise="none")
    loaded = build_loaded(spec, encoder_weights(model.state_dict()))
    X = _raw(2)
    model.encoder.eval()
    expected = model.encoder(torch.tensor(X)).detach().numpy()
    assert np.allclose(embed(loaded, X), expected, atol=1e-5)
    described = yaml.safe_load(yaml.safe_dump(loaded.tune_bs_spec.to_dict()))  # encoder.yaml
    assert EncoderSpec(**described) == loaded.tune_bs_spec
