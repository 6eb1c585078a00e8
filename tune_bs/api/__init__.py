"""The Python API of tune-bs: what the ``tune-bs`` command does, as functions.

- :func:`run` / :func:`resume` / :func:`load` → :class:`ExperimentResult` (per-report and
  per-trial frames, the trial and checkpoint selected on validation, its config);
- :func:`write_report`: tables and plots (``html``: one self-contained page);
- :func:`load_encoder` → the trained encoder (``torch.nn.Module``) of the selected trial, a named
  trial, a checkpoint folder or an exported folder; :func:`embed` → its representations;
- :func:`export_trial`: the encoder, its configuration and the representations, in one folder;
- :func:`run_downstream`: the multi-task head (classification + regression) on the encoder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from tune_bs.api.encoder import (
    ENCODER_SPEC,
    STATE_FILE,
    EncoderSpec,
    embed,
    encoder_from_checkpoint,
    encoder_from_export,
)
from tune_bs.api.experiments import ExperimentResult, load, resume, run, write_report
from tune_bs.api.trials import checkpoint_of, trial_selection
from tune_bs.errors import UserInputError

__all__ = [
    "EncoderSpec",
    "ExperimentResult",
    "embed",
    "export_trial",
    "load",
    "load_encoder",
    "resume",
    "run",
    "run_downstream",
    "write_report",
]


def load_encoder(path_or_trial: Any, trial: str | None = None) -> nn.Module:
    """The trained encoder (eval mode, CPU) of:

    - an :class:`ExperimentResult` or an experiment folder: its selected trial's selected
      checkpoint, or with ``trial=ID`` that trial's checkpoint selected on validation;
    - a trial folder: its checkpoint selected on validation;
    - a checkpoint folder (``checkpoint_*`` with ``trainer_state.pt``);
    - an exported folder (``encoder.yaml`` + ``encoder.pt``, from :func:`export_trial`).

    The module carries ``tune_bs_spec`` (:class:`EncoderSpec`) for :func:`embed`.
    """
    if isinstance(path_or_trial, ExperimentResult):
        selection = trial_selection(path_or_trial, trial)
        return _from_selection(path_or_trial, selection)
    folder = Path(path_or_trial).expanduser()
    if (folder / ENCODER_SPEC).is_file():
        return encoder_from_export(folder)
    if (folder / STATE_FILE).is_file():
        experiment = folder.parent.parent
        return encoder_from_checkpoint(folder, normalise=_normalised(experiment))
    if (folder / "params.json").is_file():  # a trial folder
        result = load(folder.parent)
        return _from_selection(result, trial_selection(result, trial or _trial_id(folder)))
    if folder.is_dir():
        result = load(folder)
        return _from_selection(result, trial_selection(result, trial))
    raise UserInputError(
        f"load_encoder needs an experiment, trial, checkpoint or exported folder, but "
        f"{str(folder)!r} does not exist; give the folder `tune-bs run` or `tune-bs export` "
        "printed."
    )


def _trial_id(trial_dir: Path) -> str:
    from tune_bs.report.frame import _trial_id_from_dirname

    return _trial_id_from_dirname(trial_dir.name)


def _normalised(experiment_dir: Path) -> str | bool | None:
    """The experiment's ``dataset.normalise`` (``None``: the default), for checkpoints that do
    not record how their input was prepared."""
    from tune_bs.api.experiments import saved_space

    dataset = saved_space(experiment_dir).get("dataset") or {}
    return dataset.get("normalise") if isinstance(dataset, dict) else None


def _from_selection(result: ExperimentResult, selection: Any) -> nn.Module:
    folder = checkpoint_of(selection)
    return encoder_from_checkpoint(folder, normalise=_normalised(Path(result.path)))


def export_trial(
    results: Any, out: str | Path, trial: str | None = None, *, allow_other_data: bool = False
) -> Any:
    """Export a trial's encoder, configuration and representations (:mod:`tune_bs.export`);
    ``allow_other_data=True`` exports on a data set other than the one it was trained on."""
    from tune_bs.export import export_trial as export

    return export(results, out, trial=trial, allow_other_data=allow_other_data)


def run_downstream(results: Any, **options: Any) -> Any:
    """Train and score the multi-task head on a trial's encoder (:mod:`tune_bs.downstream`)."""
    from tune_bs.downstream import run_downstream as fit

    return fit(results, **options)
