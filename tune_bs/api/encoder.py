"""A trained encoder out of a results folder, and its representations.

:func:`load_encoder` rebuilds the encoder of a trial (the selected one by default) from its
checkpoint's ``trainer_state.pt`` or from an exported folder (``encoder.yaml`` + ``encoder.pt``,
:mod:`tune_bs.export`); :func:`embed` maps series ``[N, C, T]`` to representations ``[N, D]``.

Rules:

- Checkpoints are read by :func:`tune_bs.search.checkpoint.loads` (``torch.load(...,
  weights_only=True)``): plain tensors, numbers, strings, lists and dicts only, never arbitrary
  pickled Python objects. A checkpoint that needs more is refused with one line that says so
  (it is not unpickled "to be safe").
- The model weights are under the checkpoint's ``model`` key (encoder and projection head); the
  returned module is the encoder alone (``ContrastiveModel.encoder``), in eval mode on the CPU.
- What rebuilds it (:class:`EncoderSpec`): the encoder name, ``hidden``, ``bidirectional``,
  ``depth`` and ``repr_dim`` (``causal_cnn``), the number of input channels (read from the
  weights' shapes) and how the input was prepared (``normalise``: ``series``, ``dataset`` with
  the training split's per-channel ``channel_mean``/``channel_std``, or ``none``; read from the
  checkpoint's ``input``). It travels as the module's ``tune_bs_spec`` attribute.
- :func:`embed` gives exactly what the trial's probe saw when given the raw series: by default
  it prepares them as the trial's training input was; pass ``normalise=False`` for series
  already prepared (the arrays of :func:`tune_bs.data.load_dataset`, loaded as the experiment
  loaded them).
"""

from __future__ import annotations

import pickle
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from tune_bs.data.dataset import NORMALISATION_ALIASES
from tune_bs.errors import UserInputError
from tune_bs.search import checkpoint
from tune_bs.train.encoders import CAUSAL_DEPTH

STATE_FILE = "trainer_state.pt"
ENCODER_WEIGHTS = "encoder.pt"
ENCODER_SPEC = "encoder.yaml"
#: The weights of the contrastive model inside a trainer checkpoint.
MODEL_KEY = "model"
#: Series per forward pass in :func:`embed` (the trainer's own chunk: identical results).
EMBED_CHUNK = 512

#: The first input-side weight of each encoder, whose dimension 1 is the number of channels.
_INPUT_WEIGHT = {
    "fcn": "blocks.1.weight",
    "gru": "rnn.weight_ih_l0",
    "lstm": "rnn.weight_ih_l0",
    "lstm_fcn": "fcn.blocks.1.weight",
    "causal_cnn": "blocks.0.weight",
}


@dataclass(frozen=True)
class EncoderSpec:
    """Everything that rebuilds an encoder besides its weights (module rules)."""

    encoder: str
    in_channels: int
    hidden: int = 64
    bidirectional: bool = False
    #: how the input is prepared — ``series``, ``dataset`` or ``none`` (booleans of older
    #: exports: ``True`` = ``series``, ``False`` = ``none``)
    normalise: str = "series"
    output_dim: int | None = None
    depth: int = CAUSAL_DEPTH  # residual blocks of ``causal_cnn``
    repr_dim: int = 0  # ``causal_cnn``'s output width (0: ``hidden``)
    #: the training split's per-channel mean and std (``normalise: dataset`` only)
    channel_mean: tuple[float, ...] | None = None
    channel_std: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.normalise, bool):
            object.__setattr__(self, "normalise", NORMALISATION_ALIASES[self.normalise])
        for name in ("channel_mean", "channel_std"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, tuple(float(v) for v in value))
        if self.normalise == "dataset" and (self.channel_mean is None or self.channel_std is None):
            raise UserInputError(
                "an encoder trained on dataset-normalised series needs its channel_mean and "
                "channel_std, but they are missing; export it again with this tune-bs."
            )

    def build(self) -> nn.Module:
        """A fresh (untrained) encoder of this shape."""
        from tune_bs.train.encoders import build_encoder

        return build_encoder(
            self.encoder,
            self.in_channels,
            self.hidden,
            self.bidirectional,
            depth=self.depth,
            repr_dim=self.repr_dim,
        )

    def prepare(self, X: np.ndarray) -> np.ndarray:
        """Raw series ``[N, C, T]`` prepared as the encoder's training input was (module
        rules): z-normalised per series and channel (``series``), standardised with the
        training split's channel statistics (``dataset``), or as they are (``none``)."""
        from tune_bs.data.dataset import ChannelStatistics, z_normalise

        if self.normalise == "series":
            return z_normalise(X)
        if self.normalise == "dataset":
            stats = ChannelStatistics(np.asarray(self.channel_mean), np.asarray(self.channel_std))
            return stats.apply(X)
        return np.asarray(X, dtype=np.float32)

    def to_dict(self) -> dict[str, Any]:
        """Plain types (lists, not tuples): what ``encoder.yaml`` holds."""
        plain = asdict(self)
        for name in ("channel_mean", "channel_std"):
            if plain[name] is not None:
                plain[name] = list(plain[name])
        return plain


def read_trainer_state(checkpoint_dir: str | Path) -> dict[str, Any]:
    """The trainer state of a Ray checkpoint folder, read with ``weights_only=True``.

    Raises:
        UserInputError: no ``trainer_state.pt`` there, or it holds pickled Python objects that
            ``weights_only=True`` refuses (the message names the object).
    """
    path = Path(checkpoint_dir) / STATE_FILE
    if not path.is_file():
        raise UserInputError(
            f"the checkpoint must hold {STATE_FILE}, but {path} does not exist; give a trial's "
            "checkpoint_* folder, its trial folder or the experiment folder."
        )
    state, _ = checkpoint.loads(path, "cpu")  # weights_only=True; one line when refused
    if not isinstance(state, dict) or MODEL_KEY not in state:
        raise UserInputError(
            f"{path} must hold a dict with the model weights under {MODEL_KEY!r}, but holds "
            f"{type(state).__name__}; give a tune-bs trial checkpoint."
        )
    return state


def encoder_weights(model_state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The encoder's part of a ``ContrastiveModel`` state dict (keys without ``encoder.``)."""
    prefix = "encoder."
    return {k[len(prefix) :]: v for k, v in model_state.items() if k.startswith(prefix)}


def spec_from_state(
    weights: dict[str, torch.Tensor],
    config: dict[str, Any],
    normalise: str | bool | None = None,
    input_rule: dict[str, Any] | None = None,
) -> EncoderSpec:
    """The :class:`EncoderSpec` of encoder ``weights`` trained with the trial ``config``.

    The input's preparation comes from ``input_rule`` (a checkpoint's ``input``, written by
    :meth:`tune_bs.data.TimeSeriesData.input_rule`), else from ``normalise`` (older
    checkpoints), else the trial's ``normalise``, else the default for the channel count.
    """
    from tune_bs.data.dataset import resolve_normalisation

    name = str(config.get("encoder", "fcn"))
    key = _INPUT_WEIGHT.get(name)
    if key is None or key not in weights:
        raise UserInputError(
            f"the checkpoint's encoder must be one of {', '.join(sorted(_INPUT_WEIGHT))} with "
            f"its weights, but got encoder={name!r}; give a tune-bs trial checkpoint."
        )
    channels = int(weights[key].shape[1])
    rule = dict(input_rule or {})
    if not rule.get("normalisation"):
        chosen = config.get("normalise") or normalise
        rule = {"normalisation": resolve_normalisation(chosen, channels, field="normalise")}
    return EncoderSpec(
        encoder=name,
        in_channels=channels,
        hidden=int(config.get("hidden", 64)),
        bidirectional=bool(config.get("bidirectional", False)),
        normalise=str(rule["normalisation"]),
        depth=int(config.get("depth", CAUSAL_DEPTH)),
        repr_dim=int(config.get("repr_dim", 0)),
        channel_mean=rule.get("channel_mean"),
        channel_std=rule.get("channel_std"),
    )


def build_loaded(spec: EncoderSpec, weights: dict[str, torch.Tensor]) -> nn.Module:
    """The encoder of ``spec`` with ``weights`` loaded (strictly), in eval mode, with its spec."""
    encoder = spec.build()
    encoder.load_state_dict(weights, strict=True)
    encoder.eval()
    full = EncoderSpec(**{**spec.to_dict(), "output_dim": int(encoder.output_dim)})
    encoder.tune_bs_spec = full  # type: ignore[assignment]
    return encoder


def encoder_from_checkpoint(
    checkpoint_dir: str | Path,
    config: dict[str, Any] | None = None,
    normalise: str | bool | None = None,
) -> nn.Module:
    """The encoder of a trial checkpoint folder (module rules); ``config`` defaults to the
    settings stored in the checkpoint, then to the trial's ``params.json``."""
    state = read_trainer_state(checkpoint_dir)
    settings = state.get("settings") if isinstance(state.get("settings"), dict) else {}
    if config is None:
        config = dict(settings) or _params(Path(checkpoint_dir).parent)
    weights = encoder_weights(state[MODEL_KEY])
    input_rule = state.get("input") if isinstance(state.get("input"), dict) else None
    return build_loaded(spec_from_state(weights, config, normalise, input_rule), weights)


def encoder_from_export(folder: str | Path) -> nn.Module:
    """The encoder of an exported folder (``encoder.yaml`` + ``encoder.pt``)."""
    import yaml

    folder = Path(folder)
    try:
        described = yaml.safe_load((folder / ENCODER_SPEC).read_text(encoding="utf-8"))
        weights = torch.load(folder / ENCODER_WEIGHTS, map_location="cpu", weights_only=True)
    except (OSError, yaml.YAMLError, pickle.UnpicklingError) as exc:
        raise UserInputError(
            f"{folder} must hold a readable {ENCODER_SPEC} and {ENCODER_WEIGHTS} (written by "
            f"`tune-bs export`), but reading failed ({exc}); export the encoder again."
        ) from None
    keys = {f for f in EncoderSpec.__dataclass_fields__ if f != "output_dim"}
    spec = EncoderSpec(**{k: v for k, v in dict(described.get("spec", {})).items() if k in keys})
    return build_loaded(spec, weights)


def _params(trial_dir: Path) -> dict[str, Any]:
    import json

    try:
        return dict(json.loads((trial_dir / "params.json").read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return {}


@torch.no_grad()
def embed(
    encoder: nn.Module, X: np.ndarray, normalise: bool | None = None, chunk: int = EMBED_CHUNK
) -> np.ndarray:
    """Representations ``[N, D]`` (float32) of series ``X`` ``[N, C, T]`` (``[N, T]``: one
    channel), in eval mode, ``chunk`` series per forward pass.

    ``normalise``: prepare the series as the encoder's training input was first
    (:meth:`EncoderSpec.prepare`: per-series z-normalisation, the training split's channel
    statistics, or nothing); ``None`` (default) and ``True`` do so, ``False`` takes ``X`` as
    already prepared (the arrays of :func:`tune_bs.data.load_dataset` loaded as the
    experiment loaded them).
    """
    X = np.asarray(X, dtype=np.float32)
    if X.ndim == 2:
        X = X[:, None, :]
    spec = getattr(encoder, "tune_bs_spec", None)
    if X.ndim != 3 or (spec is not None and X.shape[1] != spec.in_channels):
        channels = f"{spec.in_channels} channel(s)" if spec is not None else "C channels"
        raise UserInputError(
            f"embed needs series of shape [N, {channels}, T], but got shape {tuple(X.shape)}; "
            "reshape them to [series, channels, time steps]."
        )
    if normalise is not False and spec is not None:
        X = spec.prepare(X)
    elif normalise:
        from tune_bs.data.dataset import z_normalise

        X = z_normalise(X)
    device = next(encoder.parameters()).device
    was_training = encoder.training
    encoder.eval()
    out = []
    for start in range(0, len(X), chunk):
        x = torch.tensor(X[start : start + chunk], device=device)
        out.append(encoder(x).float().cpu().numpy())
    encoder.train(was_training)
    if not out:
        return np.zeros((0, int(getattr(encoder, "output_dim", 0))), dtype=np.float32)
    return np.concatenate(out)
