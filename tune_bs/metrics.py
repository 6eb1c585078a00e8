"""Names of the metrics every trial reports, defined once (docs/design.md §4, §6).

Import these constants instead of writing the strings: the trainable, the schedulers, the
report and the tests all agree on them through this module.

Units and rules:
- ``VAL_LOSS``: the trial's objective (``loss``, :mod:`tune_bs.train.objectives`) on the fixed
  validation split with the fixed views (or crops), evaluation batch size and temperature of
  :mod:`tune_bs.train.evaluation`: NT-Xent at τ = 0.2 for ``loss: nt_xent``, TS2Vec's
  hierarchical loss for ``loss: hierarchical``. Comparable across training batch sizes,
  temperatures, augmentations and devices (the raw training loss is not) — within one objective:
  the two objectives' values are different quantities.
- ``VAL_PROBE_ACC``: accuracy in [0, 1] of the probe (logistic or SVM) on frozen representations,
  k-fold cross-validated on the labelled train split (:mod:`tune_bs.train.probe`): no test labels.
- ``VAL_PROBE_R2``: the same for a ridge probe and a continuous target (R²).
- ``VAL_PROBE_ACC_STD`` / ``VAL_PROBE_R2_STD``: the standard deviation (``ddof=1``) of the probe's
  held-out score across the cross-validation folds behind ``VAL_PROBE_ACC`` / ``VAL_PROBE_R2``:
  the spread of the validation estimate (NaN with fewer than 2 folds). Never optimised.
- ``TEST_PROBE_ACC`` / ``TEST_PROBE_R2``: the probe fitted on the whole train split and scored on
  the test split. Reported for the trial and checkpoint selected on validation; **never** a
  search metric (:data:`TEST_METRICS`), never used to stop, rank, exploit or select.
- ``VAL_MULTITASK`` / ``TEST_MULTITASK``: on a data set with a class label *and* a continuous
  target per series (:mod:`tune_bs.data.targets`), ``α·accuracy + (1 − α)·R²`` of the two probes
  (classifier on the labels, ridge on the continuous target) on the same representations, α =
  ``multitask_alpha`` (default 0.5, a constant of a search). ``VAL_MULTITASK`` is
  cross-validated on the train split like ``VAL_PROBE_ACC``; ``TEST_MULTITASK`` is scored on the
  test split and only reported. R² may be negative, so the value may be too.
- ``TRAIN_LOSS``: mean NT-Xent of the training batches since the previous report. Depends on the
  batch size: never compare it across batch sizes.
- ``SAMPLES_SEEN``: training series consumed so far (one series = one anchor, two views).
- ``BATCH_SIZE``: the batch size in force at this report (series per minibatch).
- ``BATCH_SIZE_INITIAL``: the batch size the trial was given (the one a search sampled), kept in
  its config by the extrapolation scheduler when a switch changes ``batch_size``.
- ``ACCUMULATION_STEPS``: minibatches whose gradients make one optimiser step (1 = none).
- ``EFFECTIVE_BATCH_SIZE``: ``BATCH_SIZE`` × ``ACCUMULATION_STEPS``.
- ``SWITCHES``: how many times the trial's batch size has been changed so far.
- ``BATCH_SIZE_SCHEDULE``: the schedule so far, as a string ``"samples:batch;samples:batch"``,
  with ``xk`` appended to an entry that uses k accumulation steps (``"0:16;2400:16x2"``).
- ``TIME_TOTAL_S``: wall-clock seconds of the trial, start-up included (Ray's own
  ``time_total_s``).
- ``TRIAL_TIME_S``: the trial's own seconds of training and evaluation (float; start-up,
  checkpointing and restores excluded), carried across restarts (:mod:`tune_bs.train.clock`).
- ``WALL_TIME_S``: the trial's clock at the report, float seconds shared by all trials (Ray's
  ``timestamp`` is whole seconds: never use it for decisions).
- ``TRIAL_ERROR``: only in the last report of a trial that failed on a mistake in its input (a
  :class:`~tune_bs.errors.UserInputError`, which the same input raises again): the one-line
  cause. Such a trial ends at once, never retried (:mod:`tune_bs.search.trainable`); its other
  validation metrics in that report are NaN.
- ``OOM_BATCH_SIZE``: the smallest batch size the trial ran out of memory at (reported from then
  on); the scheduler never switches it to that size or above.
"""

from __future__ import annotations

VAL_LOSS = "val_loss"
VAL_PROBE_ACC = "val_probe_acc"
VAL_PROBE_R2 = "val_probe_r2"
VAL_PROBE_ACC_STD = "val_probe_acc_std"
VAL_PROBE_R2_STD = "val_probe_r2_std"
TEST_PROBE_ACC = "test_probe_acc"
TEST_PROBE_R2 = "test_probe_r2"
VAL_MULTITASK = "val_multitask"
TEST_MULTITASK = "test_multitask"
TRAIN_LOSS = "train_loss"
SAMPLES_SEEN = "samples_seen"
BATCH_SIZE = "batch_size"
BATCH_SIZE_INITIAL = "batch_size_initial"
ACCUMULATION_STEPS = "accumulation_steps"
EFFECTIVE_BATCH_SIZE = "effective_batch_size"
SWITCHES = "switches"
BATCH_SIZE_SCHEDULE = "batch_size_schedule"
TIME_TOTAL_S = "time_total_s"
TRIAL_TIME_S = "trial_time_s"
WALL_TIME_S = "wall_time_s"
TRAINING_ITERATION = "training_iteration"
DIVERGED = "diverged"
TRIAL_ERROR = "trial_error"
OOM_BATCH_SIZE = "oom_batch_size"

#: Metrics a search space may name as its ``metric``, with the direction that is better: the
#: validation metrics, and only those.
OPTIMISABLE: dict[str, str] = {
    VAL_LOSS: "min",
    VAL_PROBE_ACC: "max",
    VAL_PROBE_R2: "max",
    VAL_MULTITASK: "max",
}
#: Test-split metrics: reported, never optimised; each with the validation metric to use instead.
TEST_METRICS: dict[str, str] = {
    TEST_PROBE_ACC: VAL_PROBE_ACC,
    TEST_PROBE_R2: VAL_PROBE_R2,
    TEST_MULTITASK: VAL_MULTITASK,
}
#: Names of earlier versions (test-scored), with their validation replacement.
RENAMED: dict[str, str] = {"probe_acc": VAL_PROBE_ACC, "probe_r2": VAL_PROBE_R2}
#: The labelled task each probe metric needs.
TASK_OF: dict[str, str] = {
    VAL_PROBE_ACC: "classification",
    TEST_PROBE_ACC: "classification",
    VAL_PROBE_R2: "regression",
    TEST_PROBE_R2: "regression",
}
#: The spread across folds reported beside each cross-validated probe metric.
SPREAD_OF: dict[str, str] = {VAL_PROBE_ACC: VAL_PROBE_ACC_STD, VAL_PROBE_R2: VAL_PROBE_R2_STD}
#: Every probe metric: (validation, test) by task.
PROBE_METRICS: dict[str, tuple[str, str]] = {
    "classification": (VAL_PROBE_ACC, TEST_PROBE_ACC),
    "regression": (VAL_PROBE_R2, TEST_PROBE_R2),
}

#: Trial-config keys the experiment sets from the search space's ``budget`` section (not
#: metrics, but shared by the experiment, the trainer, the schedulers and the report): the
#: training series a trial consumes in total, and between two reports.
BUDGET_SAMPLES = "budget_samples"
REPORT_EVERY = "report_every"
