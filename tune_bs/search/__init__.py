"""The service around Ray Tune: what ``tune-bs run`` turns a search-space file into.

- :mod:`~tune_bs.search.space`: the search-space file, validated (one-line errors);
- :mod:`~tune_bs.search.experiment`: a space → a ``Tuner`` (scheduler, search algorithm,
  resources, storage, callbacks) → results, resume;
- :mod:`~tune_bs.search.trainable`: the Tune function trainable around one
  :class:`~tune_bs.train.trainer.ContrastiveTrainer` (checkpoints, switches, out-of-memory);
- :mod:`~tune_bs.search.checkpoint` (plain-type checkpoints, ``weights_only``),
  :mod:`~tune_bs.search.retention` (which checkpoints are kept),
  :mod:`~tune_bs.search.storage` (local folders and storage URIs),
  :mod:`~tune_bs.search.names` (an experiment name is one folder),
  :mod:`~tune_bs.search.run_files` (tune-bs's own files in a results folder);
- the run's life cycle: :mod:`~tune_bs.search.interrupt` (SIGINT/SIGTERM stop and save),
  :mod:`~tune_bs.search.lock` (one live run per experiment folder),
  :mod:`~tune_bs.search.signing` with :mod:`~tune_bs.search.signed_search` (resume unpickles
  only what this user's tune-bs signed), :mod:`~tune_bs.search.ray_session` (the Ray a run uses,
  and whether a trial fits one of its nodes);
- :mod:`~tune_bs.search.jobs`: Ray Jobs (``tune-bs submit``, ``status``, ``logs``), with
  :mod:`~tune_bs.search.job_spec` (the job's entrypoint, staged folder, storage) and
  :mod:`~tune_bs.search.cluster_python` (the cluster's interpreter, checked first);
- :mod:`~tune_bs.search.tracking`, :mod:`~tune_bs.search.mlflow_logger`: MLflow and
  TensorBoard through Ray's callbacks.
"""
