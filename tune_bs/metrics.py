"""Names of the metrics every trial reports, defined once (DESIGN §4, §6).

Import these constants instead of writing the strings: the trainable, the schedulers, the
report and the tests all agree on them through this module.

Units and rules:
- ``VAL_LOSS``: NT-Xent on the fixed validation split, fixed evaluation batch size and fixed
  augmentation seed. Comparable across training batch sizes (the raw training loss is not).
- ``PROBE_ACC``: accuracy of a logistic-regression probe on frozen representations, fitted on the
  data set's train split and scored on its test split, in [0, 1].
- ``PROBE_R2``: coefficient of determination of a ridge probe, for a continuous target.
- ``TRAIN_LOSS``: mean NT-Xent of the training batches since the previous report. Depends on the
  batch size: never compare it across batch sizes.
- ``SAMPLES_SEEN``: training series consumed so far (one series = one anchor, two views).
- ``BATCH_SIZE``: the batch size in force at this report (series per minibatch).
- ``ACCUMULATION_STEPS``: minibatches whose gradients make one optimiser step (1 = none).
- ``EFFECTIVE_BATCH_SIZE``: ``BATCH_SIZE`` × ``ACCUMULATION_STEPS``.
- ``SWITCHES``: how many times the trial's batch size has been changed so far.
- ``BATCH_SIZE_SCHEDULE``: the schedule so far, as a string ``"samples:batch;samples:batch"``,
  with ``xk`` appended to an entry that uses k accumulation steps (``"0:16;2400:16x2"``).
- ``TIME_TOTAL_S``: wall-clock seconds of training and evaluation (Ray's own ``time_total_s``).
"""

from __future__ import annotations

VAL_LOSS = "val_loss"
PROBE_ACC = "probe_acc"
PROBE_R2 = "probe_r2"
TRAIN_LOSS = "train_loss"
SAMPLES_SEEN = "samples_seen"
BATCH_SIZE = "batch_size"
ACCUMULATION_STEPS = "accumulation_steps"
EFFECTIVE_BATCH_SIZE = "effective_batch_size"
SWITCHES = "switches"
BATCH_SIZE_SCHEDULE = "batch_size_schedule"
TIME_TOTAL_S = "time_total_s"
TRAINING_ITERATION = "training_iteration"
DIVERGED = "diverged"

#: Metrics a search space may name as its ``metric``, with the direction that is better.
OPTIMISABLE: dict[str, str] = {
    VAL_LOSS: "min",
    PROBE_ACC: "max",
    PROBE_R2: "max",
}
