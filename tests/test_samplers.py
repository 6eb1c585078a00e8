"""Tests for tune_bs.train.samplers: the numbered constraints, as properties over random labels."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tune_bs.errors import UserInputError
from tune_bs.train.samplers import MODES, StratifiedBatchSampler

PROPERTY = settings(max_examples=60, deadline=None)


@st.composite
def labelled(draw, min_n: int = 1, max_n: int = 200) -> tuple[np.ndarray, int, int]:
    """Labels with 1..6 clusters of random (possibly very unequal) sizes, a batch size, a seed."""
    n = draw(st.integers(min_n, max_n))
    k = draw(st.integers(1, min(6, n)))
    weights = np.array(draw(st.lists(st.floats(0.05, 1.0), min_size=k, max_size=k)))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    labels = rng.choice(k, size=n, p=weights / weights.sum())
    labels[:k] = np.arange(k)  # every cluster present
    labels = rng.permutation(labels) * 3 - 5  # arbitrary label values
    batch_size = draw(st.integers(1, n))
    return labels, batch_size, draw(st.integers(0, 1000))


def _check_unique(batches: list[list[int]]) -> np.ndarray:
    flat = np.concatenate([np.asarray(b, dtype=np.int64) for b in batches]) if batches else []
    assert len(np.unique(flat)) == len(flat), "an index appears twice in one epoch"
    return np.asarray(flat)


@PROPERTY
@given(labelled(), st.booleans())
def test_proportional_batches_meet_their_quotas(case, drop_last: bool) -> None:
    labels, b, seed = case
    sampler = StratifiedBatchSampler(labels, b, "proportional", seed=seed, drop_last=drop_last)
    batches = list(sampler)
    flat = _check_unique(batches)
    n = labels.size
    assert len(batches) == len(sampler) and flat.size == sampler.num_samples
    if not drop_last:
        assert sorted(flat.tolist()) == list(range(n))  # exactly once
    values, sizes = np.unique(labels, return_counts=True)
    full = batches[: n // b]
    assert all(len(batch) == b for batch in full)
    for batch in full:
        counts = np.array([(labels[batch] == v).sum() for v in values])
        assert np.all(np.abs(counts - b * sizes / n) < 1)


@PROPERTY
@given(labelled(min_n=2))
def test_equal_batches_hold_the_same_count_of_every_cluster(case) -> None:
    labels, b, seed = case
    values, sizes = np.unique(labels, return_counts=True)
    k = values.size
    b = max(b, k)
    if k * sizes.min() < b:
        with pytest.raises(UserInputError, match="smallest cluster"):
            StratifiedBatchSampler(labels, b, "equal", seed=seed)
        return
    sampler = StratifiedBatchSampler(labels, b, "equal", seed=seed)
    batches = list(sampler)
    flat = _check_unique(batches)
    assert len(batches) == len(sampler) == k * sizes.min() // b
    assert flat.size == sampler.num_samples == len(batches) * b
    for batch in batches:
        counts = np.array([(labels[batch] == v).sum() for v in values])
        assert counts.sum() == b and counts.min() >= b // k and counts.max() <= -(-b // k)


@PROPERTY
@given(labelled(), st.booleans())
def test_homogeneous_batches_come_from_one_cluster(case, drop_last: bool) -> None:
    labels, b, seed = case
    if drop_last and np.unique(labels, return_counts=True)[1].max() < b:
        return  # raises; covered in test_impossible_requests_raise
    sampler = StratifiedBatchSampler(labels, b, "homogeneous", seed=seed, drop_last=drop_last)
    batches = list(sampler)
    flat = _check_unique(batches)
    assert len(batches) == len(sampler) and flat.size == sampler.num_samples
    if not drop_last:
        assert flat.size == labels.size
    for batch in batches:
        assert len(np.unique(labels[batch])) == 1
        assert len(batch) == b or not drop_last


@PROPERTY
@given(labelled(), st.sampled_from(MODES), st.integers(0, 5))
def test_renaming_clusters_gives_the_same_batches(case, mode: str, epoch: int) -> None:
    labels, b, seed = case
    values = np.unique(labels)
    new_values = np.random.default_rng(seed).permutation(values.size) * 7
    renamed = dict(zip(values.tolist(), new_values.tolist(), strict=True))
    relabelled = np.array([renamed[v] for v in labels.tolist()])
    b = max(b, values.size) if mode == "equal" else b
    try:
        a = StratifiedBatchSampler(labels, b, mode, seed=seed)
    except UserInputError:
        return
    c = StratifiedBatchSampler(relabelled, b, mode, seed=seed)
    a.set_epoch(epoch)
    c.set_epoch(epoch)
    assert list(a) == list(c)


@pytest.mark.parametrize("mode", MODES)
def test_same_seed_and_epoch_same_batches_other_epoch_other_order(mode: str) -> None:
    labels = np.repeat([0, 1, 2], [60, 30, 30])
    a = StratifiedBatchSampler(labels, 12, mode, seed=3)
    b = StratifiedBatchSampler(labels, 12, mode, seed=3)
    first = list(a)
    assert first == list(b) == list(a)  # iterating again repeats the epoch
    a.set_epoch(1)
    assert list(a) != first
    assert list(StratifiedBatchSampler(labels, 12, mode, seed=4)) != first


def test_proportional_small_clusters_get_their_extra_member_spread_over_the_epoch() -> None:
    labels = np.repeat([0, 1, 2], [900, 60, 40])  # quotas with b=20: 18, 1.2, 0.8
    batches = list(StratifiedBatchSampler(labels, 20, "proportional", seed=0))
    per_batch = np.array([np.bincount(labels[x], minlength=3) for x in batches])
    assert per_batch.sum(axis=0).tolist() == [900, 60, 40]
    assert set(per_batch[:, 1]) == {1, 2} and set(per_batch[:, 2]) == {0, 1}


def test_equal_mode_warns_when_an_epoch_covers_under_half_the_data(caplog) -> None:
    labels = np.repeat([0, 1], [190, 10])
    with caplog.at_level(logging.WARNING, logger="tune_bs.train.samplers"):
        sampler = StratifiedBatchSampler(labels, 4, "equal")
    assert sampler.num_samples == 20 and len(sampler) == 5
    assert "20 of 200" in caplog.text


def test_impossible_requests_raise() -> None:
    labels = np.repeat([0, 1, 2, 3, 4], 4)
    with pytest.raises(UserInputError, match=r"at least the number of clusters \(5\)"):
        StratifiedBatchSampler(labels, 3, "equal")
    with pytest.raises(UserInputError, match="between 1 and the number of training series"):
        StratifiedBatchSampler(labels, 21, "proportional")
    with pytest.raises(UserInputError, match="did you mean 'equal'"):
        StratifiedBatchSampler(labels, 5, "equl")
    with pytest.raises(UserInputError, match="largest cluster"):
        StratifiedBatchSampler(labels, 5, "homogeneous", drop_last=True)
    with pytest.raises(UserInputError, match="seed"):
        StratifiedBatchSampler(labels, 5, seed=-1)
    with pytest.raises(UserInputError, match="integers"):
        StratifiedBatchSampler(np.array([0.5, 1.0]), 1)
    with pytest.raises(ValueError, match="epoch"):
        StratifiedBatchSampler(labels, 5).set_epoch(-1)
