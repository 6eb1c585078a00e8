"""``tune-bs export``: take a trial's encoder home.

:func:`export_trial` writes into one folder:

- ``encoder.pt``: the encoder's ``state_dict`` (tensors only; ``torch.load(...,
  weights_only=True)`` reads it);
- ``encoder.yaml``: everything that rebuilds it (:class:`~tune_bs.api.encoder.EncoderSpec`:
  encoder name, channels, ``hidden``, ``bidirectional``, output size, whether series are
  z-normalised first), where it comes from (experiment, trial, report, checkpoint, the
  validation metric it was selected on) and how to load it;
- ``best_config.yaml``: the trial's configuration as a search space of constants
  (:mod:`tune_bs.report.best_config`);
- ``embeddings.npz``: representations of the data set's whole train split (``Z_train``,
  ``y_train``) and test split (``Z_test``, ``y_test``), float32 ``[N, D]``, with labels where the
  data set has them (``y_reg_train`` / ``y_reg_test`` too when it has a second, continuous
  target).

Rules: the trial is the experiment's selection (validation metric, never a test score) or the
one named by ``trial``, whose checkpoint is selected the same way. The data set, reloaded from
the experiment's ``tune_bs_space.yaml``, must be the one the checkpoint was trained on (its
fingerprint, :mod:`tune_bs.api.data_check`): a data file overwritten since the run is refused
unless ``allow_other_data`` (``--allow-other-data``) says to go on with it. The export checks
itself: the exported encoder's representations go through the trial's own probe
(:func:`tune_bs.train.probe.probe_scores`, the same subsample and seed), and the test score it
gives is returned beside the one the checkpoint reported (:attr:`ExportPaths.reproduced`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from tune_bs.api.encoder import ENCODER_SPEC, ENCODER_WEIGHTS, embed
from tune_bs.errors import UserInputError
from tune_bs.progress import Steps

EMBEDDINGS = "embeddings.npz"


@dataclass
class ExportPaths:
    """What :func:`export_trial` wrote, and its round-trip check."""

    out_dir: Path
    files: dict[str, Path] = field(default_factory=dict)
    trial_id: str = ""
    test_metric: str | None = None
    reported: float | None = None  # the checkpoint's test score (reported, never selected on)
    reproduced: float | None = None  # the exported encoder's, through the same probe

    def text(self) -> str:
        """What ``tune-bs export`` prints: the files, the check and how to load them."""
        lines = [f"exported trial {self.trial_id} to {self.out_dir}:"]
        lines += [f"  {path.name}" for path in self.files.values()]
        if self.test_metric and self.reported is not None and self.reproduced is not None:
            lines.append(
                f"round trip: the exported encoder gives {self.test_metric} = "
                f"{self.reproduced:.6g} (the checkpoint reported {self.reported:.6g})"
            )
        lines += [
            "load them:",
            "  import numpy as np, tune_bs",
            f"  encoder = tune_bs.load_encoder({str(self.out_dir)!r})",
            "  Z = tune_bs.embed(encoder, X)  # X: [N, C, T] raw series -> [N, D]",
            f"  data = np.load({str(self.out_dir / EMBEDDINGS)!r})  # Z_train, y_train, Z_test, "
            "y_test",
            f"  train it again: tune-bs run {self.out_dir / 'best_config.yaml'}",
        ]
        return "\n".join(lines)


def export_trial(
    results: Any, out: str | Path, trial: str | None = None, *, allow_other_data: bool = False
) -> ExportPaths:
    """Export the selected (or named) trial of ``results`` (an experiment folder or an
    :class:`~tune_bs.api.experiments.ExperimentResult`) into ``out`` (module rules);
    ``allow_other_data``: go on when the data set is not the one the checkpoint was trained
    on. A progress bar shows its steps on a terminal (:mod:`tune_bs.progress`)."""
    with Steps("tune-bs export", 5) as step:
        return _export(results, out, trial, step, allow_other_data)


def _export(
    results: Any, out: str | Path, trial: str | None, step: Steps, allow_other_data: bool
) -> ExportPaths:
    from tune_bs.api import ExperimentResult, load
    from tune_bs.api.encoder import encoder_from_checkpoint
    from tune_bs.api.trials import checkpoint_of, trial_selection
    from tune_bs.report.best_config import write_best_config

    step("reading the experiment")
    result = results if isinstance(results, ExperimentResult) else load(results)
    selection = trial_selection(result, trial)
    checkpoint = checkpoint_of(selection)
    if not result.space.get("dataset"):
        raise UserInputError(
            f"{result.path} has no tune_bs_space.yaml naming its data set; export needs it to "
            "compute the representations (give a folder written by `tune-bs run`)."
        )
    space = _space(result.space)
    encoder = encoder_from_checkpoint(checkpoint, normalise=space.dataset.get("normalise"))
    from tune_bs.data import load_dataset

    step("loading the data")
    # the raw series: embed prepares them as the trial's training input was (its spec)
    data = load_dataset(**{**space.dataset, "normalise": "none"})
    step("embedding the train and test splits")
    Z_train, Z_test = embed(encoder, data, allow_other_data=allow_other_data)  # checks the data
    out_dir = Path(out).expanduser()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserInputError(
            f"--out must be a writable folder, but {out_dir} is not "
            f"({error.strerror}); pass another with --out."
        ) from None

    paths = ExportPaths(
        out_dir=out_dir,
        trial_id=selection.trial_id,
        test_metric=selection.test_metric,
        reported=selection.test_value,
    )
    torch.save(encoder.state_dict(), out_dir / ENCODER_WEIGHTS)
    paths.files["encoder"] = out_dir / ENCODER_WEIGHTS
    paths.files["spec"] = _write_spec(out_dir, encoder, selection, result, space.dataset, data)
    paths.files["best_config"] = write_best_config(out_dir, result.space, selection)

    arrays: dict[str, np.ndarray] = {"Z_train": Z_train, "Z_test": Z_test}
    for key, value in (("y_train", data.y_probe_train), ("y_test", data.y_test)):
        if value is not None:
            arrays[key] = np.asarray(value)
    targets = getattr(data, "multitask", None)
    if targets is not None:
        arrays["y_reg_train"], arrays["y_reg_test"] = targets.y_reg_train, targets.y_reg_test
    step("writing the embeddings")
    np.savez(out_dir / EMBEDDINGS, **arrays)
    paths.files["embeddings"] = out_dir / EMBEDDINGS
    step("checking the round trip with the probe")
    paths.reproduced = _probe_test_score(
        data, Z_train, Z_test, selection.test_metric, selection.config
    )
    return paths


def _space(raw: dict[str, Any]) -> Any:
    from tune_bs.search.space import parse_space

    return parse_space(dict(raw), source="tune_bs_space.yaml")


def _write_spec(
    out_dir: Path, encoder: Any, selection: Any, result: Any, dataset: dict[str, Any], data: Any
) -> Path:
    import tune_bs

    spec = encoder.tune_bs_spec
    document = {
        "spec": spec.to_dict(),
        "input": {
            "channels": spec.in_channels,
            "length": data.length,
            "normalise": spec.normalise,
            "note": "raw series [N, C, T]; tune_bs.embed prepares them first as the encoder's "
            "training input was: normalise series = z-normalised per series and channel, "
            "dataset = (x - channel_mean) / channel_std of the training split, none = as is",
        },
        "source": {
            "experiment": str(result.path),
            "trial_id": selection.trial_id,
            "report": selection.training_iteration,
            "checkpoint": selection.checkpoint,
            "selected_on": {selection.metric: float(selection.value)},
            "test_score_reported": (
                {selection.test_metric: selection.test_value} if selection.test_metric else {}
            ),
            "dataset": dict(dataset),
        },
        "versions": {"tune_bs": tune_bs.__version__, "torch": str(torch.__version__)},
        "load": "tune_bs.load_encoder(FOLDER), or: "
        "encoder = tune_bs.train.encoders.build_encoder(spec.encoder, spec.in_channels, "
        "spec.hidden, spec.bidirectional); encoder.load_state_dict(torch.load("
        "'encoder.pt', weights_only=True)); encoder.eval()",
    }
    path = out_dir / ENCODER_SPEC
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def _probe_test_score(
    data: Any,
    Z_train: np.ndarray,
    Z_test: np.ndarray,
    test_metric: str | None,
    config: dict[str, Any],
) -> float | None:
    """The trial's probe (same subsample and seed as in training) on the exported encoder's
    representations: its test score, or ``None`` without a labelled test split."""
    from tune_bs.train.evaluation import EVAL_SEED
    from tune_bs.train.probe import probe_indices, probe_scores
    from tune_bs.train.trainer import TrainSettings

    if test_metric is None or data.y_probe_train is None or data.y_test is None:
        return None
    settings = TrainSettings.from_config(config)
    tr, te = probe_indices(
        len(Z_train), len(Z_test), settings.probe_max_train, settings.probe_max_test, EVAL_SEED
    )
    scores = probe_scores(
        Z_train[tr], data.y_probe_train[tr], Z_test[te], data.y_test[te], data.task, seed=EVAL_SEED
    )
    value = scores.get(test_metric)
    return None if value is None else float(value)
