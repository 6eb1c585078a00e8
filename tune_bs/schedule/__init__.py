"""Batch-size schedules: the loss-curve policy, its Ray Tune adapters and the baselines.

- :mod:`~tune_bs.schedule.curves`: loss-curve fits and extrapolation (pure numpy/scipy);
- :mod:`~tune_bs.schedule.switching`: the policy — when to explore, switch, revert or stop a
  trial (pure; the rule text is in its docstring);
- :mod:`~tune_bs.schedule.extrapolation`: the Tune scheduler that applies the policy, and
  :mod:`~tune_bs.schedule.switch_board`, the actor that carries switches without restarts;
- :mod:`~tune_bs.schedule.plugin`, :mod:`~tune_bs.schedule.report_keys`: the scheduler in any
  Ray Tune code;
- :mod:`~tune_bs.schedule.schedulers`: the registry of schedulers a space may name (FIFO, ASHA,
  PBT, top-k of :mod:`~tune_bs.schedule.topk`, extrapolation);
- :mod:`~tune_bs.schedule.simulator`: a deterministic model of training under a schedule.
"""
