"""The math of one trial — pure torch, numpy and scikit-learn; nothing here imports Ray.

- :mod:`~tune_bs.train.trainer`: :class:`~tune_bs.train.trainer.ContrastiveTrainer`, one trial
  from the data on the device to a report (training to a samples budget, ``val_loss``, probes,
  checkpoints as plain state);
- the contrastive pieces it is built from: :mod:`~tune_bs.train.encoders`,
  :mod:`~tune_bs.train.augment`, :mod:`~tune_bs.train.loss`;
- the batch strategies (:mod:`~tune_bs.train.strategies`, one module each) and what they use:
  :mod:`~tune_bs.train.samplers`, :mod:`~tune_bs.train.clustering`,
  :mod:`~tune_bs.train.scores`, :mod:`~tune_bs.train.weights`,
  :mod:`~tune_bs.train.accumulation`;
- how a representation is judged: :mod:`~tune_bs.train.evaluation` (the fixed validation views
  of ``val_loss``) and :mod:`~tune_bs.train.probe` (``val_probe_*``, ``test_probe_*``);
- :mod:`~tune_bs.train.clock`: the trial's clock (wall time, or a cost model for tests).
"""
