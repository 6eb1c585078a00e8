"""The service around Ray Tune: what ``tune-bs run`` turns a search-space file into.

- :mod:`~tune_bs.search.space`: the search-space file, validated (one-line errors);
- :mod:`~tune_bs.search.experiment`: a space → a ``Tuner`` (scheduler, search algorithm,
  resources, storage, callbacks) → results, resume;
- :mod:`~tune_bs.search.trainable`: the Tune function trainable around one
  :class:`~tune_bs.train.trainer.ContrastiveTrainer` (checkpoints, switches, out-of-memory);
- :mod:`~tune_bs.search.checkpoint` (plain-type checkpoints, ``weights_only``),
  :mod:`~tune_bs.search.retention` (which checkpoints are kept),
  :mod:`~tune_bs.search.storage` (local folders and storage URIs);
- :mod:`~tune_bs.search.jobs`: Ray Jobs (``tune-bs submit``, ``status``, ``logs``), with
  :mod:`~tune_bs.search.job_spec` (the job's entrypoint, staged folder, storage) and
  :mod:`~tune_bs.search.cluster_python` (the cluster's interpreter, checked first);
- :mod:`~tune_bs.search.tracking`, :mod:`~tune_bs.search.mlflow_logger`: MLflow and
  TensorBoard through Ray's callbacks.
"""
