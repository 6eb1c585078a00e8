"""Tests for tune_bs.train.scores: the distribution-match score of a minibatch."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tune_bs.train.scores import cluster_histogram, match_score, total_variation


def test_a_batch_with_the_data_distribution_scores_one() -> None:
    reference = cluster_histogram(np.repeat([0, 1, 2, 3], [40, 20, 20, 20]), 4)
    assert reference.tolist() == [0.4, 0.2, 0.2, 0.2]
    assert match_score(np.array([0, 0, 1, 2, 3, 0, 0, 1, 2, 3]), reference) == pytest.approx(1.0)


@pytest.mark.parametrize("k", [2, 4, 10])
def test_a_one_cluster_batch_on_balanced_data_scores_one_over_k(k: int) -> None:
    reference = np.full(k, 1.0 / k)
    assert match_score(np.zeros(16, dtype=int), reference) == pytest.approx(1.0 / k)


def test_score_rises_as_the_batch_moves_towards_the_data() -> None:
    reference = np.full(4, 0.25)
    # start from a one-cluster batch of 8; replace one 0 at a time by 1, 2, 3, 1, 2, 3
    batches = [np.array([0] * (8 - j) + [1, 2, 3, 1, 2, 3][:j]) for j in range(7)]
    scores = [match_score(batch, reference) for batch in batches]
    assert scores[0] == pytest.approx(0.25) and scores[-1] == pytest.approx(1.0)
    assert np.all(np.diff(scores) > 0)


def test_score_is_linear_along_mixtures_with_the_reference() -> None:
    reference = np.array([0.5, 0.3, 0.2])
    p = np.array([1.0, 0.0, 0.0])
    for lam in np.linspace(0, 1, 6):
        mix = lam * p + (1 - lam) * reference
        assert 1 - total_variation(mix, reference) == pytest.approx(1 - lam * 0.5)


def test_a_batch_from_a_cluster_absent_in_the_reference_is_floored_at_eps() -> None:
    reference = np.array([0.5, 0.5, 0.0])
    assert match_score(np.array([2, 2, 2]), reference) == 1e-3
    assert match_score(np.array([2, 2, 2]), reference, eps=0.05) == 0.05


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 8), st.integers(1, 40), st.integers(1, 6), st.integers(0, 2**16))
def test_scores_lie_in_zero_one_and_rows_match_single_batches(k, b, n, seed) -> None:
    rng = np.random.default_rng(seed)
    reference = rng.dirichlet(np.ones(k))
    batches = rng.integers(0, k, size=(n, b))
    scores = match_score(batches, reference)
    assert scores.shape == (n,)
    assert np.all((scores > 0) & (scores <= 1))
    for row, s in zip(batches, scores, strict=True):
        assert match_score(row, reference) == pytest.approx(s)
        hist = np.bincount(row, minlength=k) / b
        assert s == pytest.approx(max(1 - 0.5 * np.abs(hist - reference).sum(), 1e-3))


def test_bad_inputs_raise() -> None:
    reference = np.array([0.5, 0.5])
    with pytest.raises(ValueError, match=r"lie in \[0, 2\)"):
        match_score(np.array([0, 2]), reference)
    with pytest.raises(ValueError, match="summing to 1"):
        match_score(np.array([0, 1]), np.array([0.5, 0.6]))
    with pytest.raises(ValueError, match="integers"):
        match_score(np.array([0.0, 1.0]), reference)
    with pytest.raises(ValueError, match="B >= 1"):
        match_score(np.zeros((3, 0), dtype=int), reference)
    with pytest.raises(ValueError, match="at least one"):
        cluster_histogram(np.array([], dtype=int), 2)
