"""Out-of-memory faults for end-to-end tests: the real trainable on a device that holds less.

A CPU cannot run out of memory on demand, so :func:`train_with_oom` runs
:func:`tune_bs.search.trainable.train_trial` with the trainer's minibatch (or its evaluation)
raising CUDA's out-of-memory error at and above a batch size, as a device with a fixed memory would.
The trial config's ``_oom`` key says where (``_`` keys are not trial settings):

- ``{"at": "first"}``: training at the batch size of the trial's first minibatch or more (it
  runs out of memory in its first report interval, whatever size its strategy chose);
- ``{"at": "eval"}``: evaluation while the training batch is that of the first evaluation or
  more (the first report's evaluation runs out of memory);
- ``{"at": "train", "limit": B}``: training at batch size ``B`` or more (e.g. after a switch).

This module is sent to Ray's workers by value (``cloudpickle.register_pickle_by_value``): the
workers cannot import the tests folder.
"""

from __future__ import annotations

from typing import Any


def train_with_oom(config: dict[str, Any], data: Any) -> None:
    """``train_trial`` on a device that runs out of memory as ``config["_oom"]`` says."""
    import torch

    from tune_bs.search import trainable
    from tune_bs.train.trainer import ContrastiveTrainer

    fault = dict(config["_oom"])
    limits: dict[str, int | None] = {"train": fault.get("limit"), "eval": None}
    minibatch, evaluate = ContrastiveTrainer._minibatch_loss, ContrastiveTrainer.val_loss

    def out_of_memory(batch_size: int) -> torch.OutOfMemoryError:
        return torch.OutOfMemoryError(f"CUDA out of memory (simulated at batch size {batch_size})")

    def limited_minibatch(self: ContrastiveTrainer) -> Any:
        if fault["at"] == "first" and limits["train"] is None:
            limits["train"] = self.batch_size
        if limits["train"] is not None and self.batch_size >= limits["train"]:
            raise out_of_memory(self.batch_size)
        return minibatch(self)

    def limited_evaluation(self: ContrastiveTrainer) -> float:
        if fault["at"] == "eval" and limits["eval"] is None:
            limits["eval"] = self.batch_size
        if limits["eval"] is not None and self.batch_size >= limits["eval"]:
            raise out_of_memory(self.batch_size)
        return evaluate(self)

    ContrastiveTrainer._minibatch_loss = limited_minibatch
    ContrastiveTrainer.val_loss = limited_evaluation
    try:
        trainable.train_trial(config, data)
    finally:  # a reused worker process gets the real trainer back
        ContrastiveTrainer._minibatch_loss, ContrastiveTrainer.val_loss = minibatch, evaluate
