import pytest
import torch

from tune_bs.encoders import ENCODERS, ContrastiveModel, build_encoder
from tune_bs.errors import UserInputError


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


def test_bidirectional_doubles_rnn_width():
    assert build_encoder("gru", 2, hidden=8, bidirectional=True).output_dim == 16
    assert build_encoder("lstm_fcn", 2, hidden=8, bidirectional=True).output_dim == 24


def test_unknown_encoder_lists_valid_names():
    with pytest.raises(UserInputError, match=r"encoder must be one of fcn, gru, lstm, lstm_fcn.*"
                                             r"did you mean 'gru'"):
        build_encoder("gruu", 1)
