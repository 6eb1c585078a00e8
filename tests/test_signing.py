"""Signatures of the files Ray unpickles on resume (:mod:`tune_bs.search.signing`; no Ray)."""

from __future__ import annotations

import json
import os
import pickle
import stat

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tune_bs.errors import UserInputError
from tune_bs.search import signing
from tune_bs.search.signing import (
    CONFIG_DIR_ENV,
    JSON_FIELD,
    KEY_ENV,
    SigningKey,
    UnsignedStorage,
    needs_signature,
    problem,
    sign,
    sign_experiment,
    sign_session_files,
    signing_key,
    split,
    verify_experiment,
)
from tune_bs.search.storage import Location

KEY = SigningKey(b"k" * 64, "test key")
OTHER = SigningKey(b"o" * 64, "other key")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.text(max_size=6), json_values, max_size=5))
def test_a_signed_json_object_reads_as_before_plus_the_signature(obj):
    data = json.dumps(obj).encode()
    signed = sign(data, KEY)
    assert problem(signed, KEY) is None
    back = json.loads(signed)
    assert back.pop(JSON_FIELD).startswith("hmac-sha256:") and back == obj
    assert split(signed)[0] == data
    assert sign(signed, KEY) == signed  # signing again changes nothing


@settings(max_examples=150, deadline=None)
@given(json_values)
def test_a_signed_pickle_unpickles_as_before(value):
    data = pickle.dumps(value)
    signed = sign(data, KEY)
    assert problem(signed, KEY) is None and pickle.loads(signed) == value
    assert split(signed) == (data, KEY.mac(data))


def test_unsigned_tampered_and_foreign_files_are_told_apart():
    data = json.dumps({"trial_data": [1, 2]}).encode()
    signed = sign(data, KEY)
    assert "no tune-bs signature" in problem(data, KEY)
    assert "content changed" in problem(signed.replace(b"[1, 2]", b"[1, 3]"), KEY)
    other = problem(sign(data, OTHER), KEY)
    assert f"id {OTHER.key_id}" in other and KEY_ENV in other
    # a signature copied from another file does not fit this one
    forged = json.dumps({"trial_data": [9]}).encode()[:-1] + signed[signed.rindex(b", ") :]
    assert "content changed" in problem(forged, KEY)
    # a pickle trailer moved onto other bytes, or bytes appended after it, do not pass
    pickled = sign(pickle.dumps([1]), KEY)
    content, _ = split(pickled)
    assert "content changed" in problem(pickle.dumps([2]) + pickled[len(content) :], KEY)
    assert problem(pickled + b"x", KEY) == "it carries no tune-bs signature"


def test_the_key_file_is_made_once_and_private(tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.setenv(CONFIG_DIR_ENV, str(tmp_path / "cfg"))
    first = signing_key()
    path = tmp_path / "cfg" / signing.KEY_FILE
    assert first.source == str(path) and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert signing_key() == first  # read back, not made again
    path.chmod(0o666)
    with pytest.raises(UserInputError, match="others may write it") as err:
        signing_key()
    assert CONFIG_DIR_ENV in str(err.value) and "\n" not in str(err.value)


def test_the_config_folder_follows_xdg(tmp_path, monkeypatch):
    monkeypatch.delenv(CONFIG_DIR_ENV, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert signing.config_dir() == tmp_path / "tune-bs"


def test_the_environment_key_wins_and_must_be_long(tmp_path, monkeypatch):
    monkeypatch.setenv(CONFIG_DIR_ENV, str(tmp_path))
    monkeypatch.setenv(KEY_ENV, "s" * 40)
    assert signing_key().secret == b"s" * 40 and not (tmp_path / signing.KEY_FILE).exists()
    monkeypatch.setenv(KEY_ENV, "short")
    with pytest.raises(UserInputError, match=f"{KEY_ENV} must hold at least 32 characters"):
        signing_key()


def test_an_unwritable_config_folder_is_one_line(tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(CONFIG_DIR_ENV, str(blocker / "cfg"))
    with pytest.raises(UserInputError, match="cannot be created or read") as err:
        signing_key()
    assert "\n" not in str(err.value)


def test_which_files_need_a_signature():
    for name in ("tuner.pkl", "experiment_state-x.json", "search_gen_state-x.json", "a.pkl"):
        assert needs_signature(name)
    for name in ("tune_bs_run.json", ".tmp-x.pkl", "tune_bs_space.yaml", "optuna.db", "x"):
        assert not needs_signature(name)


def test_a_session_signs_only_its_own_state_files(tmp_path):
    (tmp_path / "experiment_state-S1.json").write_text('{"a": 1}')
    (tmp_path / "searcher-state-S1.pkl").write_bytes(pickle.dumps({"b": 2}))
    (tmp_path / "experiment_state-S0.json").write_text('{"old": 1}')  # downloaded, not ours
    assert sign_session_files(tmp_path, "S1", KEY) == [
        "experiment_state-S1.json",
        "searcher-state-S1.pkl",
    ]
    assert problem((tmp_path / "experiment_state-S1.json").read_bytes(), KEY) is None
    assert problem((tmp_path / "experiment_state-S0.json").read_bytes(), KEY) is not None
    assert not list(tmp_path.glob(".*"))  # no temporary file left


def test_an_experiment_folder_is_verified_file_by_file(tmp_path):
    folder = Location.open(tmp_path)
    (tmp_path / "tuner.pkl").write_bytes(pickle.dumps({"x": 1}))
    (tmp_path / "experiment_state-1.json").write_text('{"trial_data": []}')
    (tmp_path / "tune_bs_run.json").write_text("{}")  # tune-bs's own: never unpickled
    with pytest.raises(UnsignedStorage, match=r"experiment_state-1\.json was not written"):
        verify_experiment(folder, KEY)
    assert sign_experiment(folder, KEY) == ["experiment_state-1.json", "tuner.pkl"]
    assert verify_experiment(folder, KEY) == 2
    (tmp_path / "searcher-state-1.pkl").mkdir()  # a folder where Ray expects a state file
    with pytest.raises(UnsignedStorage, match="it is not a file") as err:
        verify_experiment(folder, KEY)
    assert "--trust-storage" in str(err.value) and "\n" not in str(err.value)
    os.rmdir(tmp_path / "searcher-state-1.pkl")
    with pytest.raises(UnsignedStorage, match="another key"):
        verify_experiment(folder, OTHER)
