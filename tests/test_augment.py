import torch

from tune_bs.train.augment import Augmenter, crop, jitter, scaling, time_mask


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_shapes_preserved_and_same_seed_same_views():
    x = torch.randn(4, 2, 30)
    aug = Augmenter()
    a1, a2 = aug.views(x, _gen(3))
    b1, b2 = aug.views(x, _gen(3))
    assert a1.shape == x.shape and a2.shape == x.shape
    assert torch.equal(a1, b1) and torch.equal(a2, b2)
    assert not torch.equal(a1, a2)


def test_time_mask_zeroes_exactly_one_window_per_series():
    x = torch.ones(6, 1, 20)
    out = time_mask(x, 0.25, _gen())
    zeros = (out == 0).sum(dim=2).squeeze(1)
    assert torch.all(zeros == 5)


def test_crop_of_full_length_is_identity_and_crop_keeps_values_in_window():
    x = torch.arange(10.0).repeat(3, 1, 1)
    assert torch.equal(crop(x, 1.0, _gen()), x)
    out = crop(x, 0.5, _gen())
    assert out.shape == x.shape
    span = out.amax(dim=2) - out.amin(dim=2)
    assert torch.allclose(span, torch.full_like(span, 4.0), atol=1e-4)  # 5 points -> range 4


def test_jitter_and_scaling_strengths():
    x = torch.zeros(200, 1, 100)
    assert jitter(x, 0.1, _gen()).std().item() == __import__("pytest").approx(0.1, rel=0.05)
    ones = torch.ones(500, 2, 10)
    factors = scaling(ones, 0.2, _gen())[:, :, 0]
    assert factors.std().item() == __import__("pytest").approx(0.2, rel=0.1)
    assert torch.all(scaling(ones, 0.2, _gen()).std(dim=2) < 1e-6)  # one factor per channel
