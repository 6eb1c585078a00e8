"""The multi-task downstream head (the research notes' design): one backbone — the trained
contrastive encoder — with a classification head and a regression head, trained together on
α·CE + (1−α)·MSE after single-task pretraining of each head, optionally on a frozen backbone.

:func:`run_downstream` takes a results folder (its selected trial, or ``trial``), or an exported
encoder folder, and a data set with both targets (default: the experiment's own; aeon's
``Covid3Month`` / ``Covid3Month_disc`` pair, ``synthetic`` or a ``.npz`` with ``y`` and
``y_reg``), prepares the series as the experiment did, and returns one
:class:`~tune_bs.downstream.fit.DownstreamScore` per (α, head): test accuracy, R² and RMSE.
``tune-bs downstream RESULTS --task multitask --alpha 0 0.25 0.5 0.75 1`` prints the table.

Modules: :mod:`~tune_bs.downstream.data` (splits; selection on a validation part of the train
split only), :mod:`~tune_bs.downstream.model` (heads, loss), :mod:`~tune_bs.downstream.fit`
(the procedure).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from tune_bs.downstream.data import DownstreamData, downstream_data
from tune_bs.downstream.fit import DownstreamScore, DownstreamSettings, fit_multitask
from tune_bs.downstream.model import HEADS, MultiTaskModel
from tune_bs.errors import UserInputError, unknown_name

__all__ = [
    "ALPHAS",
    "HEADS",
    "TASKS",
    "DownstreamData",
    "DownstreamResult",
    "DownstreamScore",
    "DownstreamSettings",
    "MultiTaskModel",
    "downstream_data",
    "fit_multitask",
    "run_downstream",
]

#: The α of the table: from regression only (0) to classification only (1).
ALPHAS: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
#: ``--task``: ``multitask`` uses the given α; the single tasks fix it.
TASKS: dict[str, float | None] = {"multitask": None, "classification": 1.0, "regression": 0.0}


@dataclass
class DownstreamResult:
    """The scores of every (α, head) run, the data they were measured on and the encoder's
    source."""

    scores: list[DownstreamScore]
    data: str
    source: str
    settings: DownstreamSettings
    models: list[MultiTaskModel] = field(default_factory=list, repr=False)

    @property
    def table(self) -> pd.DataFrame:
        """One row per run: α, head, freeze, test accuracy / R² / RMSE, validation scores."""
        return pd.DataFrame.from_records([s.as_row() for s in self.scores])

    def text(self) -> str:
        """The table in markdown, with what it was measured on."""
        from tune_bs.report.formats import render

        s = self.settings
        backbone = "frozen backbone" if s.freeze else "backbone trained"
        return "\n".join(
            [
                f"multi-task head on {self.source}",
                f"data: {self.data}",
                f"single-task pretraining {s.pretrain_epochs} epochs, multi-task fine-tuning "
                f"{s.finetune_epochs} epochs ({backbone}),"
                f" batch {s.batch_size}, seed {s.seed}; epochs kept on the validation part of the "
                "train split; accuracy, r2, rmse on the test split",
                render(self.table, "markdown"),
            ]
        )


def run_downstream(
    results: Any,
    *,
    task: str = "multitask",
    alphas: float | Sequence[float] = ALPHAS,
    heads: str | Sequence[str] = ("linear",),
    freeze: bool = False,
    trial: str | None = None,
    data: str | Path | None = None,
    allow_other_data: bool = False,
    **settings: Any,
) -> DownstreamResult:
    """Train and score the multi-task head on a trial's encoder (module docstring).

    Args:
        results: an experiment folder, an :class:`~tune_bs.api.ExperimentResult`, or an exported
            encoder folder (``tune-bs export``).
        task: ``multitask`` (the ``alphas``), ``classification`` (α = 1) or ``regression``
            (α = 0).
        alphas: one α or several (default :data:`ALPHAS`, the table).
        heads: ``linear`` and/or ``mlp``.
        freeze: train the heads only, on the frozen encoder.
        trial: a trial id of the experiment (default: its selected trial).
        data: a data-set name or ``.npz`` path with both targets (default: the experiment's).
        allow_other_data: go on when the data set's training split is not the one the encoder
            was trained on (its fingerprint, :mod:`tune_bs.api.data_check`): another ``data``,
            or the experiment's data file changed since the run.
        settings: other :class:`DownstreamSettings` fields (``pretrain_epochs``,
            ``finetune_epochs``, ``batch_size``, ``lr``, ``head_lr``, ``seed``).
    """
    chosen, head_list, base = _checked_runs(task, alphas, heads, freeze, settings)
    encoder, dataset, source = _encoder_and_dataset(results, trial)
    split = _encoder_input_split(encoder, _load(dataset, data), base.seed, allow_other_data)
    result = DownstreamResult([], split.describe(), source, base)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small models: one thread beats two threads' synchronisation
    try:
        for alpha in chosen:
            for head in head_list:
                model, score = fit_multitask(encoder, split, replace(base, alpha=alpha, head=head))
                result.scores.append(score)
                result.models.append(model)
    finally:
        torch.set_num_threads(threads)
    return result


def _checked_runs(
    task: str,
    alphas: float | Sequence[float],
    heads: str | Sequence[str],
    freeze: bool,
    settings: dict[str, Any],
) -> tuple[list[float], list[str], DownstreamSettings]:
    """The α values and heads to train, and the shared settings, all checked (one-line errors
    for an unknown task or setting, no α or head, or an invalid combination)."""
    if task not in TASKS:
        raise unknown_name("--task", task, TASKS)
    fixed = TASKS[task]
    chosen = (
        [fixed]
        if fixed is not None
        else ([float(alphas)] if isinstance(alphas, (int, float)) else [float(a) for a in alphas])
    )
    head_list = [heads] if isinstance(heads, str) else list(heads)
    if not chosen or not head_list:
        raise UserInputError(
            "downstream needs at least one --alpha and one --head; e.g. --alpha 0.5 --head linear."
        )
    unknown = set(settings) - set(DownstreamSettings.__dataclass_fields__)
    if unknown:
        raise UserInputError(
            f"unknown downstream setting(s) {sorted(unknown)}; valid ones are "
            f"{', '.join(DownstreamSettings.__dataclass_fields__)}."
        )
    base = DownstreamSettings(freeze=bool(freeze), **settings)
    for alpha in chosen:
        for head in head_list:
            replace(base, alpha=alpha, head=head).check()
    return chosen, head_list, base


def _encoder_input_split(
    encoder: Any, prepared: Any, seed: int, allow_other_data: bool = False
) -> DownstreamData:
    """``prepared`` (raw series) prepared as the encoder's input was, split for the heads with
    ``seed``; a one-line error when its channels are not the encoder's, or when it is not the
    data the encoder was trained on (unless ``allow_other_data``)."""
    from tune_bs.api.data_check import check_same_data

    spec = encoder.tune_bs_spec
    if prepared.n_channels == spec.in_channels:
        prepared = replace(
            prepared,
            X_probe_train=spec.prepare(prepared.X_probe_train),
            X_test=spec.prepare(prepared.X_test),
        )
    split = downstream_data(prepared, seed=seed)  # first: a set without both targets
    if prepared.n_channels != spec.in_channels:
        raise UserInputError(
            f"the encoder takes {spec.in_channels} channel(s), but {prepared.name} has "
            f"{prepared.n_channels}; use a data set with {spec.in_channels} channel(s)."
        )
    check_same_data(encoder, prepared, allow_other_data)
    return split


def _encoder_and_dataset(results: Any, trial: str | None) -> tuple[Any, dict[str, Any], str]:
    """The encoder, the data set it was trained on (a ``dataset:`` mapping) and a label."""
    from tune_bs.api import ExperimentResult, load, load_encoder
    from tune_bs.api.encoder import ENCODER_SPEC, read_export_spec

    if not isinstance(results, ExperimentResult) and (Path(results) / ENCODER_SPEC).is_file():
        folder = Path(results)
        described = read_export_spec(folder)
        source = described.get("source")
        source = source if isinstance(source, dict) else {}
        label = f"exported encoder {folder} (trial {source.get('trial_id', '?')})"
        return load_encoder(folder), dict(source.get("dataset") or {}), label
    result = results if isinstance(results, ExperimentResult) else load(results)
    from tune_bs.api.trials import trial_selection

    selection = trial_selection(result, trial)
    encoder = load_encoder(result, trial=selection.trial_id)
    label = (
        f"trial {selection.trial_id} of {result.path} (report "
        f"{selection.training_iteration}, {selection.metric} = {selection.value:.4g})"
    )
    return encoder, dict(result.space.get("dataset") or {}), label


def _load(dataset: dict[str, Any], override: str | Path | None) -> Any:
    """The raw data set, split as the experiment split its own (split seed); the encoder's spec
    prepares its series (:meth:`tune_bs.api.encoder.EncoderSpec.prepare`)."""
    from tune_bs.data import dataset_names, load_dataset

    options = dict(dataset)
    if override is not None:
        keep = {k: options[k] for k in ("seed",) if k in options}  # the split
        text = str(override)
        if text.endswith(".npz") or Path(text).is_file():
            options = {"path": text, **keep}
        elif text.lower() in {n.lower() for n in dataset_names()}:
            options = {"name": text, **keep}
        else:
            raise unknown_name("--data", text, [*dataset_names(), "<file>.npz"])
    if not options:
        raise UserInputError(
            "the encoder's data set is not recorded; name one with --data "
            "(e.g. --data Covid3Month)."
        )
    return load_dataset(**{**options, "normalise": "none"})
