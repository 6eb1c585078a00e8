"""A checkpoint knows its data (api.data_check, dataset.fingerprint): pure, no Ray.

The end-to-end path (a real run, then export and downstream on changed data) is in
tests/test_hostile_inputs.py.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import pytest
import torch

from tune_bs.api.data_check import check_same_data
from tune_bs.api.encoder import (
    DATA_FINGERPRINT,
    STATE_FILE,
    EncoderSpec,
    build_loaded,
    embed,
    encoder_from_checkpoint,
)
from tune_bs.data import load_dataset
from tune_bs.data.dataset import fingerprint, prepare
from tune_bs.errors import UserInputError
from tune_bs.search import checkpoint
from tune_bs.train.trainer import ContrastiveTrainer, TrainSettings


def _arrays(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(40, 2, 16)).astype(np.float32), np.repeat([0, 1], 20)


def _data(seed: int = 0, normalise: str = "none"):
    X, y = _arrays(seed)
    return prepare("toy", X, y, X[:12], y[:12], normalise=normalise, seed=0)


def _encoder(fingerprint_: str | None, normalise: str = "series"):
    spec = EncoderSpec("fcn", 2, hidden=8, normalise=normalise, data_fingerprint=fingerprint_)
    torch.manual_seed(0)
    return build_loaded(spec, spec.build().state_dict())


def test_the_fingerprint_is_of_the_raw_training_split():
    X, y = _arrays()
    same = [_data().fingerprint, _data(normalise="series").fingerprint]
    assert same[0] == same[1] and same[0].startswith("blake2b:")  # normalisation aside
    assert _data().normalised("dataset").fingerprint == same[0]  # travels with the data set
    changed = X.copy()
    changed[5, 1, 3] += 1e-3  # one value of one series
    assert fingerprint(changed, y) != fingerprint(X, y)
    assert fingerprint(X, y[::-1]) != fingerprint(X, y)  # labels count too
    assert fingerprint(X, None) != fingerprint(X, y)
    assert load_dataset("GunPoint").fingerprint == load_dataset("GunPoint").fingerprint


def test_other_data_is_refused_in_one_line_naming_the_way_to_go_on():
    encoder = _encoder(_data().fingerprint)
    check_same_data(encoder, _data())  # the same data: nothing to say
    with pytest.raises(UserInputError) as refused:
        check_same_data(encoder, _data(seed=1))
    message = str(refused.value)
    assert "\n" not in message and "--allow-other-data" in message
    assert "allow_other_data=True" in message and _data(seed=1).fingerprint[:20] in message


def test_allowing_other_data_warns(caplog):
    with caplog.at_level(logging.WARNING, logger="tune_bs.api.data_check"):
        check_same_data(_encoder(_data().fingerprint), _data(seed=1), allow_other_data=True)
    assert "not the data the encoder was trained on" in caplog.text


def test_an_old_checkpoint_without_a_fingerprint_warns_and_goes_on(caplog):
    with caplog.at_level(logging.WARNING, logger="tune_bs.api.data_check"):
        check_same_data(_encoder(None), _data(seed=1))
    assert "records no data fingerprint" in caplog.text and "goes on" in caplog.text


def test_embed_checks_a_data_set_and_prepares_it_as_in_training():
    data = _data()
    encoder = _encoder(data.fingerprint)
    Z_train, Z_test = embed(encoder, data)
    assert Z_train.shape == (40, encoder.output_dim) and Z_test.shape == (12, encoder.output_dim)
    assert np.allclose(Z_train, embed(encoder, data.X_probe_train))  # raw: prepared by the spec
    assert np.allclose(embed(encoder, data.normalised("series"))[0], Z_train, atol=1e-5)
    with pytest.raises(UserInputError, match="--allow-other-data"):
        embed(encoder, _data(seed=1))
    assert embed(encoder, _data(seed=1), allow_other_data=True)[0].shape == Z_train.shape
    with pytest.raises(UserInputError, match="loaded with normalise=dataset; load it with"):
        embed(encoder, data.normalised("dataset"))
    assert embed(encoder, _data(seed=1).X_test).shape == (12, encoder.output_dim)  # arrays: free


def _checkpoint_folder(tmp_path, data, drop_fingerprint: bool = False):
    settings = TrainSettings.from_config(
        {"batch_size": 8, "hidden": 8, "budget_samples": 16, "report_every": 8}
    )
    trainer = ContrastiveTrainer(data, settings, torch.device("cpu"))
    state = trainer.state_dict()
    if drop_fingerprint:  # what a tune-bs from before fingerprints wrote
        del state[DATA_FINGERPRINT]
    folder = tmp_path / ("old" if drop_fingerprint else "new")
    folder.mkdir()
    (folder / STATE_FILE).write_bytes(checkpoint.dumps(state))
    return folder


def test_a_trainer_checkpoint_records_the_fingerprint_of_its_data(tmp_path):
    data = _data(normalise="series")
    encoder = encoder_from_checkpoint(_checkpoint_folder(tmp_path, data))
    assert encoder.tune_bs_spec.data_fingerprint == data.fingerprint
    check_same_data(encoder, _data())
    old = encoder_from_checkpoint(_checkpoint_folder(tmp_path, data, drop_fingerprint=True))
    assert old.tune_bs_spec.data_fingerprint is None


def test_the_fingerprint_travels_in_an_exported_spec():
    spec = EncoderSpec("fcn", 2, data_fingerprint="blake2b:00")
    assert spec.to_dict()["data_fingerprint"] == "blake2b:00"
    assert replace(spec, data_fingerprint=None).to_dict()["data_fingerprint"] is None
