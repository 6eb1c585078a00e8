"""What every trial is evaluated on, fixed once for the whole experiment (no Ray, no trial
settings).

``val_loss`` must mean the same thing for every trial whatever it searches (batch size,
temperature, augmentation strengths) and wherever it runs (CPU or GPU), so its inputs are fixed
here and nowhere else:

- the views: :data:`EVAL_DRAWS` pairs of augmented views of every validation series, drawn on the
  CPU with the fixed seed :data:`EVAL_SEED` and the fixed augmentation :data:`EVAL_AUGMENTATION`
  (the default strengths, never the trial's own), then moved to the trial's device;
- the batches: consecutive chunks of :data:`EVAL_BATCH_SIZE` series (capped by the validation
  split's size; a trailing chunk of one series is dropped, NT-Xent needs two);
- the loss: the trial's objective (``loss``, :mod:`tune_bs.train.objectives`) in eval mode,
  averaged over series — NT-Xent at the fixed temperature :data:`EVAL_TEMPERATURE` on the views
  above (:func:`validation_views`), or TS2Vec's hierarchical loss on fixed overlapping crops of
  the same batches, drawn with the same seed, then the fixed augmentation's scaling, jitter and
  time mask (:func:`validation_crops`).

Because the views are a pure function of the validation split, they are the same in every trial
of a data set: drawing them in each trial (as :func:`validation_views` does, cheaply) or once in
the driver gives bit-identical tensors.
"""

from __future__ import annotations

import numpy as np
import torch

from tune_bs.train.augment import Augmenter
from tune_bs.train.hierarchical import CropPair, overlapping_crops

#: Seed of the validation views and of the probes' folds and subsamples.
EVAL_SEED = 20_240_601
#: NT-Xent temperature of ``val_loss`` (not the trial's, which may be searched).
EVAL_TEMPERATURE = 0.2
#: Pairs of views drawn of every validation series.
EVAL_DRAWS = 4
#: Series per evaluation batch (capped by the validation split's size).
EVAL_BATCH_SIZE = 64
#: Augmentation strengths of the validation views: the defaults, whatever a trial searches.
EVAL_AUGMENTATION = Augmenter(jitter=0.05, scaling=0.1, crop=0.9, time_mask=0.1)


def _chunks(X_val: np.ndarray) -> list[torch.Tensor]:
    """The fixed evaluation batches of ``X_val`` ``[N, C, T]``, :data:`EVAL_DRAWS` times over, as
    CPU tensors ``[b, C, T]`` (module rules)."""
    # a copy (torch.tensor): arrays from the object store are read-only
    series = torch.tensor(np.asarray(X_val, dtype=np.float32))
    size = max(2, min(EVAL_BATCH_SIZE, len(series)))
    chunks = [series[start : start + size] for start in range(0, len(series), size)]
    return [chunk for _ in range(EVAL_DRAWS) for chunk in chunks if len(chunk) >= 2]


def validation_views(X_val: np.ndarray) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The fixed evaluation batches of ``X_val`` ``[N, C, T]`` for NT-Xent: CPU tensors ``([b, C,
    T], [b, C, T])`` per batch, in a fixed order (module rules)."""
    generator = torch.Generator(device="cpu").manual_seed(EVAL_SEED)
    return [EVAL_AUGMENTATION.views(chunk, generator) for chunk in _chunks(X_val)]


def validation_crops(X_val: np.ndarray) -> list[CropPair]:
    """The fixed evaluation batches of ``X_val`` ``[N, C, T]`` for the hierarchical loss: two
    overlapping crops of each batch (CPU tensors), each then augmented with the fixed scaling,
    jitter and time mask (module rules)."""
    generator = torch.Generator(device="cpu").manual_seed(EVAL_SEED)
    aligned = EVAL_AUGMENTATION.aligned()
    out = []
    for chunk in _chunks(X_val):
        pair = overlapping_crops(chunk, generator)
        first, second = aligned.view(pair.first, generator), aligned.view(pair.second, generator)
        out.append(CropPair(first, second, pair.overlap))
    return out
