import pytest
import torch

from tune_bs.errors import UserInputError
from tune_bs.train.encoders import (
    ENCODERS,
    CausalCNNEncoder,
    ContrastiveModel,
    build_encoder,
    has_timesteps,
)


@pytest.mark.parametrize("name", sorted(ENCODERS))
@pytest.mark.parametrize("bidirectional", [False, True])
def test_every_encoder_maps_bct_to_bd(name, bidirectional):
    encoder = build_encoder(name, in_channels=3, hidden=8, bidirectional=bidirectional)
    x = torch.randn(5, 3, 20)
    out = encoder(x)
    assert out.shape == (5, encoder.output_dim)
    model = ContrastiveModel(encoder, projection_dim=6)
    assert model(x).shape == (5, 6)
    assert model.represent(x).shape == (5, encoder.output_dim)
    model(x).sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_encoders_accept_odd_and_short_lengths(name):
    encoder = build_encoder(name, in_channels=1, hidden=4)
    for length in (1, 7, 24):
        assert encoder(torch.randn(2, 1, length)).shape == (2, encoder.output_dim)


@pytest.mark.parametrize("name", sorted(ENCODERS))
@pytest.mark.parametrize("bidirectional", [False, True])
def test_every_built_in_encoder_gives_time_steps_that_its_pooling_reads(name, bidirectional):
    encoder = build_encoder(name, in_channels=2, hidden=6, bidirectional=bidirectional).eval()
    x = torch.randn(3, 2, 11)
    steps = encoder.timesteps(x)
    assert has_timesteps(encoder) and steps.shape == (3, encoder.output_dim, 11)
    pooled = {"fcn": steps.mean(dim=2), "causal_cnn": steps.amax(dim=2)}.get(name)
    if pooled is not None:
        assert torch.allclose(encoder(x), pooled)
    if name in ("gru", "lstm") and not bidirectional:  # the final state is the last step's output
        assert torch.allclose(encoder(x), steps[:, :, -1], atol=1e-6)
    assert torch.equal(ContrastiveModel(encoder).timesteps(x), steps)


def test_bidirectional_doubles_rnn_width():
    assert build_encoder("gru", 2, hidden=8, bidirectional=True).output_dim == 16
    assert build_encoder("lstm_fcn", 2, hidden=8, bidirectional=True).output_dim == 24


def test_unknown_encoder_lists_valid_names():
    with pytest.raises(
        UserInputError,
        match=r"encoder must be one of causal_cnn, fcn, gru, lstm, "
        r"lstm_fcn.*did you mean 'gru'",
    ):
        build_encoder("gruu", 1)


def test_causal_cnn_output_size_depth_and_receptive_field():
    encoder = build_encoder("causal_cnn", 2, hidden=8, depth=3, repr_dim=20)
    assert encoder.output_dim == 20 and encoder(torch.randn(4, 2, 30)).shape == (4, 20)
    assert encoder.receptive_field == 1 + 4 * (2**3 - 1)
    assert build_encoder("causal_cnn", 2, hidden=8, depth=3).output_dim == 8  # repr_dim 0: h
    blocks = [b for b in encoder.blocks if b.__class__.__name__ == "CausalBlock"]
    assert len(blocks) == 3
    assert [b.convs[1].conv.dilation[0] for b in blocks] == [1, 2, 4]


@pytest.mark.parametrize("t", [0, 5, 17, 29])
def test_causal_cnn_output_at_t_ignores_inputs_after_t(t):
    """Before pooling, changing the input after time t changes no output at times <= t; the
    output after t does change (so the test can fail)."""
    torch.manual_seed(0)
    encoder = CausalCNNEncoder(3, hidden=8, depth=4, repr_dim=12).eval()
    x = torch.randn(2, 3, 30)
    changed = x.clone()
    changed[:, :, t + 1 :] = torch.randn(2, 3, 30 - t - 1) * 10
    with torch.no_grad():
        a, b = encoder.timesteps(x), encoder.timesteps(changed)
    assert a.shape == (2, 12, 30)
    assert torch.equal(a[:, :, : t + 1], b[:, :, : t + 1])
    if t < 29:
        assert not torch.allclose(a[:, :, t + 1 :], b[:, :, t + 1 :])


def test_causal_cnn_gradient_reaches_every_input_step_in_its_receptive_field():
    encoder = CausalCNNEncoder(1, hidden=4, depth=3)  # receptive field 29
    x = torch.randn(1, 1, 29, requires_grad=True)
    encoder.timesteps(x)[:, :, -1].sum().backward()
    assert (x.grad[0, 0] != 0).all()  # the last output sees all 29 steps, the first included


@pytest.mark.parametrize("length", [1, 2, 5, 9, 40])
@pytest.mark.parametrize("dilation", [1, 2, 4, 16])
def test_causal_conv_leaves_out_taps_that_only_see_padding(length, dilation):
    """The same output and gradients as the full kernel over the full left padding."""
    from tune_bs.train.encoders import CausalConv1d

    torch.manual_seed(length * 100 + dilation)
    conv = CausalConv1d(3, 4, kernel=3, dilation=dilation)
    x = torch.randn(2, 3, length, requires_grad=True)
    full = conv.conv(torch.nn.functional.pad(x, (2 * dilation, 0)))  # every tap, all padding
    (grad_full,) = torch.autograd.grad(full.square().sum(), x)
    out = conv(x)
    (grad,) = torch.autograd.grad(out.square().sum(), x)
    assert out.shape == (2, 4, length)
    torch.testing.assert_close(out, full)
    torch.testing.assert_close(grad, grad_full)
    assert conv.state_dict()["conv.weight"].shape == (4, 3, 3)  # every tap is kept
