"""Tests for tune_bs.train.weights: centre-versus-periphery weights and their schedule."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tune_bs.errors import UserInputError
from tune_bs.train.weights import (
    batch_weights,
    centre_weights,
    peripherality,
    schedule_exponent,
)

PROGRESS = np.linspace(0.0, 1.0, 11)


def _clusters(seed: int = 0, n: int = 60, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, n)
    distances = rng.gamma(2.0, 1.0 + labels)  # clusters with different spreads
    return distances, labels


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 2**16),
    st.integers(1, 80),
    st.integers(1, 5),
    st.floats(-0.5, 1.5),
    st.floats(0.0, 5.0),
    st.sampled_from(["uniform", "periphery"]),
)
def test_weights_are_positive_and_average_one_in_every_cluster(seed, n, k, p, strength, late):
    distances, labels = _clusters(seed, n, k)
    w = centre_weights(distances, labels, p, strength, late)
    assert np.all(w > 0)
    assert w.mean() == pytest.approx(1.0, abs=1e-12)
    for c in np.unique(labels):
        wc = w[labels == c]
        assert wc.mean() == pytest.approx(1.0, abs=1e-12)
        assert wc.max() / wc.min() <= np.exp(strength) * (1 + 1e-9)


def test_centre_heavy_early_uniform_late() -> None:
    distances, labels = _clusters()
    early = centre_weights(distances, labels, p=0.0, strength=2.0)
    for c in range(3):
        members = np.flatnonzero(labels == c)
        by_distance = members[np.argsort(distances[members])]
        assert np.all(np.diff(early[by_distance]) < 0)  # farther from the centre: lighter
        assert early[by_distance[0]] / early[by_distance[-1]] == pytest.approx(np.exp(2.0))
    np.testing.assert_allclose(centre_weights(distances, labels, p=1.0, strength=2.0), 1.0)


def test_periphery_late_mirrors_the_start() -> None:
    distances, labels = _clusters()
    start = centre_weights(distances, labels, 0.0, 1.5, "periphery")
    half = centre_weights(distances, labels, 0.5, 1.5, "periphery")
    end = centre_weights(distances, labels, 1.0, 1.5, "periphery")
    np.testing.assert_allclose(half, 1.0)
    u = peripherality(distances, labels)
    for c in range(3):
        m = labels == c
        # at p=1 the weight of peripherality u equals the weight of 1-u at p=0
        assert np.all(np.diff(end[m][np.argsort(u[m])]) > 0)
        np.testing.assert_allclose(np.sort(end[m]), np.sort(start[m]))


@pytest.mark.parametrize("late", ["uniform", "periphery"])
def test_peripheral_over_central_weight_ratio_grows_with_progress(late: str) -> None:
    distances, labels = _clusters(seed=1)
    curves = np.stack([centre_weights(distances, labels, p, 1.0, late) for p in PROGRESS])
    m = labels == 0
    members = np.flatnonzero(m)
    outer, inner = members[np.argmax(distances[m])], members[np.argmin(distances[m])]
    ratio = curves[:, outer] / curves[:, inner]
    assert np.all(np.diff(ratio) > 0)
    # every pair of the cluster: the farther member's share never falls as p grows
    i, j = members[:2]
    far, near = (i, j) if distances[i] > distances[j] else (j, i)
    assert np.all(np.diff(curves[:, far] / curves[:, near]) >= -1e-12)


def test_relabelling_clusters_does_not_change_weights() -> None:
    distances, labels = _clusters()
    renamed = np.array([10, -4, 7])[labels]
    np.testing.assert_array_equal(
        centre_weights(distances, labels, 0.3, 1.0), centre_weights(distances, renamed, 0.3, 1.0)
    )


def test_ties_share_weights_singletons_and_zero_strength_weigh_one() -> None:
    distances = np.array([1.0, 1.0, 2.0, 5.0, 3.0])
    labels = np.array([0, 0, 0, 0, 1])
    u = peripherality(distances, labels)
    np.testing.assert_allclose(u, [1 / 6, 1 / 6, 2 / 3, 1.0, 0.0])
    w = centre_weights(distances, labels, 0.0, 1.0)
    assert w[0] == w[1] and w[4] == 1.0
    np.testing.assert_allclose(centre_weights(distances, labels, 0.0, 0.0), 1.0)


def test_progress_outside_zero_one_holds_the_end_points() -> None:
    assert schedule_exponent(-0.3, 2.0) == schedule_exponent(0.0, 2.0) == 2.0
    assert schedule_exponent(1.7, 2.0, "periphery") == -2.0


def test_batch_weights_match_centre_weights_on_batch_centre_distances() -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((40, 5))
    labels = rng.integers(0, 4, 40)
    centres = np.stack([x[labels == c].mean(axis=0) for c in range(4)])
    d = np.linalg.norm(x - centres[labels], axis=1)
    for p in (0.0, 0.4, 1.0):
        expected = centre_weights(d, labels, p, 1.5, "periphery")
        got = batch_weights(torch.tensor(x), torch.tensor(labels * 5 + 1), p, 1.5, "periphery")
        assert got.dtype == torch.float64 and got.shape == (40,)
        np.testing.assert_allclose(got.numpy(), expected, atol=1e-12)


def test_batch_weights_without_labels_treat_the_batch_as_one_cluster() -> None:
    x = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 3.0], [-1.0, -3.0]], requires_grad=True)
    w = batch_weights(x.half(), None, 0.0, 1.0)
    assert w.dtype == torch.float32 and not w.requires_grad
    assert w.mean().item() == pytest.approx(1.0)
    assert w[0] > w[1] > w[2] == pytest.approx(w[2])  # nearest to the batch mean weighs most


def test_bad_inputs_raise() -> None:
    distances, labels = _clusters()
    with pytest.raises(UserInputError, match="did you mean 'periphery'"):
        centre_weights(distances, labels, 0.0, 1.0, "peripheral")
    with pytest.raises(UserInputError, match="strength"):
        centre_weights(distances, labels, 0.0, -1.0)
    with pytest.raises(ValueError, match="nan"):
        centre_weights(distances, labels, float("nan"))
    with pytest.raises(ValueError, match="shape"):
        centre_weights(distances[:-1], labels, 0.0)
    with pytest.raises(ValueError, match=r"\[B\]"):
        batch_weights(torch.zeros(4, 2), torch.zeros(3, dtype=torch.long), 0.0)
