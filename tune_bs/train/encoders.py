"""Time-series encoders (one registry) and the projection head.

Every encoder maps ``[B, C, T] → [B, D]`` and exposes ``output_dim`` (= D). The built-in ones
also give per-time-step features before their pooling, ``timesteps: [B, C, T] → [B, D, T]``
(what TS2Vec's hierarchical loss reads, :mod:`tune_bs.train.hierarchical`); an encoder without
``timesteps`` (a plugin's) trains with NT-Xent only. Variants are parameters of shared blocks,
not copies:

- ``fcn``: the fully convolutional network of Wang et al. 2017 ("Time series classification from
  scratch with deep neural networks"): three Conv1d–BatchNorm–ReLU blocks with kernels 8, 5, 3
  and widths (h, 2h, h), then global average pooling over time. D = h.
- ``gru`` / ``lstm``: a recurrent encoder over time steps; the representation is the last layer's
  final hidden state (both directions concatenated when ``bidirectional``). D = h or 2h. Its time
  steps are the last layer's outputs at each step.
- ``lstm_fcn``: Karim et al. 2018 ("LSTM fully convolutional networks for time series
  classification"): the LSTM branch and the FCN branch side by side, concatenated. D = h(·2) + h.
- ``causal_cnn``: the dilated causal convolution backbone of T-Loss (Franceschi et al. 2019,
  "Unsupervised scalable representation learning for multivariate time series") and TS2Vec (Yue
  et al. 2022): a 1×1 input projection to width h, then ``depth`` residual blocks of two causal
  convolutions (kernel 3) with dilation 2^i in block i (receptive field 1 + 4·(2^depth − 1) time
  steps), the last block widening to ``repr_dim``, then max pooling over time. D = ``repr_dim``
  (h when 0). Causal: before the pooling, the output at time t depends on inputs at times ≤ t
  only (left padding, no normalisation across time). Only this encoder reads ``depth`` and
  ``repr_dim``.

The :class:`ContrastiveModel` adds a two-layer projection head (SimCLR); the loss sees the
projection, the probe sees the encoder output.

Each :data:`ENCODERS` entry names what builds the encoder and its options (trial-config keys,
declared once in :class:`EncoderOptions` / :class:`CausalCNNOptions`, :mod:`tune_bs.options`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn

from tune_bs.errors import unknown_name
from tune_bs.options import option

#: ``causal_cnn`` defaults: residual blocks and kernel size.
CAUSAL_DEPTH = 10
CAUSAL_KERNEL = 3


class FCNEncoder(nn.Module):
    """Conv1d(8)–Conv1d(5)–Conv1d(3) with BatchNorm and ReLU, then mean over time."""

    def __init__(self, in_channels: int, hidden: int = 64, **_: object) -> None:
        super().__init__()
        widths = (hidden, 2 * hidden, hidden)
        layers: list[nn.Module] = []
        prev = in_channels
        for width, kernel in zip(widths, (8, 5, 3), strict=True):
            # "same" padding written out: (k-1)//2 left, k//2 right (even k too, without a copy).
            layers += [
                nn.ConstantPad1d(((kernel - 1) // 2, kernel // 2), 0.0),
                nn.Conv1d(prev, width, kernel),
                nn.BatchNorm1d(width),
                nn.ReLU(),
            ]
            prev = width
        self.blocks = nn.Sequential(*layers)
        self.output_dim = hidden

    def timesteps(self, x: torch.Tensor) -> torch.Tensor:
        """Features of every time step before the mean: ``[B, C, T] → [B, h, T]``."""
        return self.blocks(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.timesteps(x).mean(dim=2)  # [B, h, T] -> [B, h]


class RNNEncoder(nn.Module):
    """GRU or LSTM over time; the last layer's final hidden state(s) are the representation."""

    def __init__(
        self,
        in_channels: int,
        hidden: int = 64,
        cell: str = "gru",
        bidirectional: bool = False,
        num_layers: int = 1,
        **_: object,
    ) -> None:
        super().__init__()
        rnn_cls = {"gru": nn.GRU, "lstm": nn.LSTM}[cell]
        self.rnn = rnn_cls(
            in_channels,
            hidden,
            num_layers=num_layers,
            batch_first=True,
            bidirectional=bidirectional,
        )
        self.directions = 2 if bidirectional else 1
        self.output_dim = hidden * self.directions

    def timesteps(self, x: torch.Tensor) -> torch.Tensor:
        """The last layer's output at every step: ``[B, C, T] → [B, dirs·h, T]``."""
        out, _ = self.rnn(x.transpose(1, 2))  # [B, T, dirs*h]
        return out.transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, state = self.rnn(x.transpose(1, 2))  # [B, T, C] in
        h_n = state[0] if isinstance(state, tuple) else state  # [layers*dirs, B, h]
        last = h_n[-self.directions :]  # [dirs, B, h]
        return last.transpose(0, 1).reshape(x.shape[0], -1)  # [B, dirs*h]


class LSTMFCNEncoder(nn.Module):
    """LSTM branch and FCN branch in parallel, concatenated."""

    def __init__(
        self, in_channels: int, hidden: int = 64, bidirectional: bool = False, **_: object
    ) -> None:
        super().__init__()
        self.lstm = RNNEncoder(in_channels, hidden, cell="lstm", bidirectional=bidirectional)
        self.fcn = FCNEncoder(in_channels, hidden)
        self.output_dim = self.lstm.output_dim + self.fcn.output_dim

    def timesteps(self, x: torch.Tensor) -> torch.Tensor:
        """Both branches' time steps, concatenated: ``[B, C, T] → [B, D_lstm + D_fcn, T]``."""
        return torch.cat([self.lstm.timesteps(x), self.fcn.timesteps(x)], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.lstm(x), self.fcn(x)], dim=1)  # [B, D_lstm + D_fcn]


class CausalConv1d(nn.Module):
    """A dilated Conv1d padded on the left only: output step t sees input steps ≤ t.

    NOTE [taps in the padding]: tap j of kernel k reaches ``(k - 1 - j) · dilation`` steps back;
    when that is T or more, it reads the zero padding at every output step and adds nothing
    (its weight gets no gradient from the loss). :meth:`forward` leaves such taps out, with
    the padding they would need: the same output (up to float rounding) at a fraction of the
    cost in the deepest blocks (at T = 150, blocks with dilation 128, 256 and 512 keep 2, 1
    and 1 of 3 taps; a training step of the default encoder costs ~25 % less). The weights
    and ``state_dict`` keep every tap, for inputs of any length.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: int, dilation: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel, dilation=dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kernel, dilation = self.conv.kernel_size[0], self.conv.dilation[0]
        first = max(0, kernel - 1 - (x.shape[-1] - 1) // dilation)  # first tap that sees data
        padded = nn.functional.pad(x, ((kernel - 1 - first) * dilation, 0))
        weight = self.conv.weight[..., first:]  # [C_out, C_in, taps that see data]
        return nn.functional.conv1d(padded, weight, self.conv.bias, dilation=dilation)


class CausalBlock(nn.Module):
    """GELU → causal conv → GELU → causal conv, plus the input (1×1-projected when the width
    changes), as TS2Vec's ``ConvBlock`` with causal padding."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, dilation: int) -> None:
        super().__init__()
        self.convs = nn.Sequential(
            nn.GELU(),
            CausalConv1d(in_channels, out_channels, kernel, dilation),
            nn.GELU(),
            CausalConv1d(out_channels, out_channels, kernel, dilation),
        )
        self.residual = (
            nn.Identity()
            if in_channels == out_channels
            else nn.Conv1d(in_channels, out_channels, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.convs(x) + self.residual(x)  # [B, C_in, T] -> [B, C_out, T]


class CausalCNNEncoder(nn.Module):
    """Dilated causal residual blocks (module docstring), max-pooled over time."""

    def __init__(
        self,
        in_channels: int,
        hidden: int = 64,
        depth: int = CAUSAL_DEPTH,
        repr_dim: int = 0,
        kernel: int = CAUSAL_KERNEL,
        **_: object,
    ) -> None:
        super().__init__()
        out = repr_dim or hidden
        widths = [hidden] * (depth - 1) + [out]
        blocks: list[nn.Module] = [nn.Conv1d(in_channels, hidden, 1)]
        prev = hidden
        for i, width in enumerate(widths):
            blocks.append(CausalBlock(prev, width, kernel, dilation=2**i))
            prev = width
        self.blocks = nn.Sequential(*blocks)
        self.output_dim = out
        self.receptive_field = 1 + 2 * (kernel - 1) * (2**depth - 1)

    def timesteps(self, x: torch.Tensor) -> torch.Tensor:
        """Per-time-step features before pooling: ``[B, C, T] → [B, D, T]`` (causal)."""
        return self.blocks(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.timesteps(x).amax(dim=2)  # [B, D, T] -> [B, D]


@dataclass(frozen=True)
class EncoderOptions:
    """The options every encoder reads (trial-config keys)."""

    hidden: int = option(64, minimum=1, doc="encoder width h")
    bidirectional: bool = option(False, doc="gru, lstm, lstm_fcn: both directions (D doubles)")


@dataclass(frozen=True)
class CausalCNNOptions(EncoderOptions):
    """``causal_cnn``'s options: the shared ones and its depth and output width."""

    depth: int = option(
        CAUSAL_DEPTH, minimum=1, doc="residual blocks (dilations 1, 2, ..., 2^(depth-1))"
    )
    repr_dim: int = option(0, minimum=0, doc="representation size D (0: D = hidden)")


class Encoder(NamedTuple):
    """A registry entry: what builds the encoder, and its options."""

    build: Callable[..., nn.Module]
    Options: type = EncoderOptions


ENCODERS: dict[str, Encoder] = {
    "fcn": Encoder(FCNEncoder),
    "gru": Encoder(lambda in_channels, **kw: RNNEncoder(in_channels, cell="gru", **kw)),
    "lstm": Encoder(lambda in_channels, **kw: RNNEncoder(in_channels, cell="lstm", **kw)),
    "lstm_fcn": Encoder(LSTMFCNEncoder),
    "causal_cnn": Encoder(CausalCNNEncoder, CausalCNNOptions),
}


def build_encoder(
    name: str,
    in_channels: int,
    hidden: int = 64,
    bidirectional: bool = False,
    depth: int = CAUSAL_DEPTH,
    repr_dim: int = 0,
) -> nn.Module:
    """Build a registered encoder; unknown names list the valid ones. ``depth`` and ``repr_dim``
    shape ``causal_cnn`` only."""
    if name not in ENCODERS:
        raise unknown_name("encoder", name, ENCODERS)
    return ENCODERS[name].build(
        in_channels, hidden=hidden, bidirectional=bidirectional, depth=depth, repr_dim=repr_dim
    )


class ProjectionHead(nn.Module):
    """Linear → ReLU → Linear, ``[B, D] → [B, out_dim]`` (SimCLR's projection head)."""

    def __init__(self, in_dim: int, out_dim: int = 64) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, in_dim), nn.ReLU(), nn.Linear(in_dim, out_dim))
        self.output_dim = out_dim

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(h)


class ContrastiveModel(nn.Module):
    """Encoder + projection head: ``forward`` gives projections, ``represent`` representations."""

    def __init__(self, encoder: nn.Module, projection_dim: int = 64) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = ProjectionHead(encoder.output_dim, projection_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))  # [B, C, T] -> [B, projection_dim]

    def represent(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)  # [B, C, T] -> [B, D]

    def timesteps(self, x: torch.Tensor) -> torch.Tensor:
        """The encoder's per-time-step features, without the head: ``[B, C, T] → [B, D, T]``
        (:func:`has_timesteps` says whether the encoder gives them)."""
        return self.encoder.timesteps(x)


def has_timesteps(encoder: nn.Module) -> bool:
    """Whether ``encoder`` gives per-time-step features (``timesteps``, module docstring)."""
    return callable(getattr(encoder, "timesteps", None))
