"""The multi-task head without Ray: loss, heads, splits, the two-stage fit and its selection on
validation only."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from tune_bs.data import load_dataset
from tune_bs.downstream import DownstreamSettings, downstream_data, fit_multitask
from tune_bs.downstream.data import DownstreamData, Split
from tune_bs.downstream.model import MultiTaskModel, make_head, multitask_loss
from tune_bs.errors import UserInputError
from tune_bs.train.encoders import build_encoder

SYNTHETIC = {"name": "synthetic", "n_series": 160, "n_modes": 3, "n_channels": 2, "length": 32}
QUICK = {"pretrain_epochs": 5, "finetune_epochs": 3}


@pytest.fixture(scope="module")
def data() -> DownstreamData:
    return downstream_data(load_dataset(**SYNTHETIC))


@pytest.fixture(scope="module")
def backbone() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_encoder("fcn", 2, hidden=8).eval()


def test_loss_is_the_alpha_weighted_sum():
    torch.manual_seed(0)
    logits, prediction = torch.randn(6, 3), torch.randn(6)
    y_class, y_reg = torch.tensor([0, 1, 2, 0, 1, 2]), torch.randn(6)
    ce, mse = F.cross_entropy(logits, y_class), F.mse_loss(prediction, y_reg)
    for alpha in (0.0, 0.25, 1.0):
        got = multitask_loss(logits, prediction, y_class, y_reg, alpha)
        assert float(got) == pytest.approx(alpha * float(ce) + (1 - alpha) * float(mse))


def test_heads_and_model_shapes(backbone):
    assert isinstance(make_head("linear", 8, 3), torch.nn.Linear)
    assert len(make_head("mlp", 8, 3)) == 3
    with pytest.raises(UserInputError, match="--head must be one of linear, mlp"):
        make_head("deep", 8, 3)
    logits, prediction = MultiTaskModel(backbone, 3, "mlp")(torch.randn(4, 2, 32))
    assert logits.shape == (4, 3) and prediction.shape == (4,)


def test_splits_use_the_train_split_only(data):
    prepared = load_dataset(**SYNTHETIC)
    assert len(data.fit) + len(data.val) == len(prepared.X_probe_train)
    assert len(data.test) == len(prepared.X_test)
    assert torch.equal(data.test.X, torch.tensor(prepared.X_test))
    assert abs(float(data.standardised(data.fit.y_reg).mean())) < 1e-6
    assert data.n_classes == 3 and set(data.val.y_class.tolist()) == {0, 1, 2}


def test_needs_both_targets():
    with pytest.raises(UserInputError, match="needs a classification and a continuous target"):
        downstream_data(load_dataset("GunPoint"))


def test_fit_is_seeded_and_leaves_the_backbone_alone(data, backbone):
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    _, first = fit_multitask(backbone, data, DownstreamSettings(alpha=0.5, **QUICK))
    _, again = fit_multitask(backbone, data, DownstreamSettings(alpha=0.5, **QUICK))
    assert first == again
    assert all(torch.equal(before[k], v) for k, v in backbone.state_dict().items())
    assert 0 <= first.accuracy <= 1 and first.rmse > 0


def test_freeze_trains_the_heads_only(data, backbone):
    model, _ = fit_multitask(backbone, data, DownstreamSettings(alpha=0.5, freeze=True, **QUICK))
    assert all(
        torch.equal(a, b)
        for a, b in zip(
            backbone.state_dict().values(), model.backbone.state_dict().values(), strict=True
        )
    )
    trained, _ = fit_multitask(backbone, data, DownstreamSettings(alpha=0.5, **QUICK))
    assert any(
        not torch.equal(a, b)
        for a, b in zip(
            backbone.state_dict().values(), trained.backbone.state_dict().values(), strict=True
        )
    )


def test_alpha_one_keeps_the_pretrained_regression_head(data, backbone):
    settings = DownstreamSettings(alpha=1.0, freeze=True, **QUICK)
    model, _ = fit_multitask(backbone, data, settings)
    pretrained, _ = fit_multitask(
        backbone,
        data,
        DownstreamSettings(alpha=1.0, freeze=True, pretrain_epochs=5, finetune_epochs=0),
    )
    for a, b in zip(
        model.regressor.state_dict().values(),
        pretrained.regressor.state_dict().values(),
        strict=True,
    ):
        assert torch.equal(a, b)  # no gradient reaches it in fine-tuning


def test_test_labels_decide_nothing(data, backbone):
    """Shuffling the test targets changes the test scores, not the kept epoch or val loss."""
    generator = np.random.default_rng(0)
    order = generator.permutation(len(data.test))
    shuffled = Split(data.test.X, data.test.y_class[order], data.test.y_reg[order])
    other = DownstreamData(
        data.name, data.fit, data.val, shuffled, data.classes, data.reg_mean, data.reg_std
    )
    settings = DownstreamSettings(alpha=0.5, **QUICK)
    _, honest = fit_multitask(backbone, data, settings)
    _, moved = fit_multitask(backbone, other, settings)
    assert (moved.finetune_epoch, moved.val_loss) == (honest.finetune_epoch, honest.val_loss)
    assert (moved.accuracy, moved.r2) != (honest.accuracy, honest.r2)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"alpha": 1.5}, "--alpha must be in [0, 1]"),
        ({"head": "deep"}, "--head must be one of"),
        ({"batch_size": 1}, "batch_size must be at least 2"),
    ],
)
def test_bad_settings_are_one_line(data, backbone, settings, message):
    with pytest.raises(UserInputError, match=message.replace("[", r"\[").replace("]", r"\]")):
        fit_multitask(backbone, data, DownstreamSettings(**settings))
