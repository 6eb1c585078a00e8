"""Batch-size schedules: the loss-curve policy, its Ray Tune adapters and the baselines.

- :mod:`~tune_bs.schedule.curves`: loss-curve fits and extrapolation (pure numpy/scipy), with
  :mod:`~tune_bs.schedule.curve_families`, each family's formula and least-squares fit;
- :mod:`~tune_bs.schedule.switching`: the policy — when to explore, switch, revert or stop a
  trial (pure; the rule text is in its docstring);
- :mod:`~tune_bs.schedule.extrapolation`: the Tune scheduler that applies the policy (check keys →
  record → decide → deliver), with the owners of its state:
  :mod:`~tune_bs.schedule.trial_ledger` (every trial's reports, status, group, last metric, and
  its history after ``Tuner.restore``), :mod:`~tune_bs.schedule.switch_courier` (how a switch
  reaches the trial) and :mod:`~tune_bs.schedule.decision_log` (the lines and counts people
  read); :mod:`~tune_bs.schedule.trial_results` (what a Tune result or trial holds); with
  :mod:`~tune_bs.schedule.switch_board`, the actor that carries switches without restarts, and
  :mod:`~tune_bs.schedule.result_loggers`, Tune's result loggers fixed for paused trials;
- :mod:`~tune_bs.schedule.plugin`, :mod:`~tune_bs.schedule.report_keys`: the scheduler in any
  Ray Tune code;
- :mod:`~tune_bs.schedule.schedulers`: the registry of schedulers a space may name (FIFO, ASHA,
  PBT, top-k of :mod:`~tune_bs.schedule.topk`, extrapolation);
- :mod:`~tune_bs.schedule.simulator`: a deterministic model of training under a schedule.
"""
