"""Score-weighted adaptive gradient accumulation, the ``accumulate`` strategy (docs/design.md §2).

Training runs on small batches; each batch ``i`` gets a distribution-match score
``s_i ∈ (0, 1]`` (:func:`tune_bs.train.scores.match_score`). Gradients accumulate until the scores
add up to ``alpha``; the optimizer step then applies the score-weighted mean gradient

    g = Σ_i s_i · g_i / Σ_i s_i,

so a batch that represents the data well counts more, and the number of batches per update
varies with the data: about ``alpha / mean(s)``.

Rules:

- :meth:`ScoreWeightedAccumulator.add` back-propagates ``s_i · loss_i`` into the parameters'
  ``.grad`` (adding to what is there) and returns True once ``Σ s ≥ alpha`` (up to a relative
  1e-9, for float round-off) or ``max_batches`` batches have been added.
- :meth:`ScoreWeightedAccumulator.finish` divides every ``.grad`` by ``Σ s``: the optimizer step
  that follows applies ``g`` above. It returns what was accumulated and resets the counters;
  it does not zero the gradients (call ``optimizer.zero_grad()`` after ``optimizer.step()``).
- The gradients must be zero (or None) when an accumulation starts; the accumulator does not
  check.
- **Cap.** After ``max_batches`` batches (default 64) the update happens even if ``Σ s < alpha``
  (``capped`` is then True), so a run of low scores cannot stall training. The update is still
  the score-weighted mean of what was accumulated.
- A pending accumulation (``pending > 0``) at the end of the training budget or before a checkpoint
  is the caller's to finish (one more, smaller update) or drop (:meth:`reset` and zero the grads).

Example::

    acc = ScoreWeightedAccumulator(model.parameters(), alpha=2.0)
    for batch in sampler:
        loss = nt_xent(*model_views(batch))
        if acc.add(loss, match_score(labels[batch], reference)):
            acc.finish()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from dataclasses import dataclass

import torch

from tune_bs.errors import UserInputError, quote


@dataclass(frozen=True)
class AccumulatedStep:
    """What one update was made of: the number of batches, ``Σ s``, and whether the cap hit."""

    n_batches: int
    score_sum: float
    capped: bool


class ScoreWeightedAccumulator:
    """Accumulate ``s · ∇loss`` over batches until ``Σ s ≥ alpha``; see the module docstring.

    Args:
        parameters: the parameters the optimizer steps (those with ``requires_grad``).
        alpha: score mass per update, > 0 (in batches of perfect score: ``alpha=4`` means "four
            perfectly representative batches").
        max_batches: most batches per update, >= 1.
    """

    def __init__(
        self, parameters: Iterable[torch.nn.Parameter], alpha: float, max_batches: int = 64
    ) -> None:
        if not (_is_real(alpha) and math.isfinite(alpha) and alpha > 0):
            raise UserInputError(
                f"accumulate alpha (score mass per update) must be a positive number, but got "
                f"alpha={quote(alpha)}; use e.g. alpha=2.0."
            )
        if isinstance(max_batches, bool) or not isinstance(max_batches, int) or max_batches < 1:
            raise UserInputError(
                f"accumulate max_batches must be an integer >= 1, but got "
                f"max_batches={quote(max_batches)}; use e.g. max_batches=64."
            )
        self.parameters = [p for p in parameters if p.requires_grad]
        self.alpha = float(alpha)
        self.max_batches = max_batches
        self.pending = 0
        self.score_sum = 0.0

    @property
    def ready(self) -> bool:
        """True when the accumulated batches call for an update."""
        return self.pending > 0 and (self._reached() or self.pending >= self.max_batches)

    def add(self, loss: torch.Tensor, score: float) -> bool:
        """Back-propagate ``score · loss`` (a scalar) into ``.grad``; return :attr:`ready`."""
        if loss.ndim != 0:
            raise ValueError(f"loss must be a scalar tensor, but got shape {tuple(loss.shape)}.")
        score = float(score)
        if not 0.0 < score <= 1.0:
            raise ValueError(f"score must be in (0, 1], but got {score=}.")
        (loss * score).backward()
        self.pending += 1
        self.score_sum += score
        return self.ready

    def finish(self) -> AccumulatedStep:
        """Turn the accumulated sum into the score-weighted mean gradient, reset, and report."""
        if self.pending == 0:
            raise RuntimeError("finish() needs at least one add() since the last update.")
        step = AccumulatedStep(self.pending, self.score_sum, not self._reached())
        with torch.no_grad():
            for p in self.parameters:
                if p.grad is not None:
                    p.grad.div_(self.score_sum)
        self.reset()
        return step

    def _reached(self) -> bool:
        # tolerance: ten scores of 0.1 add up to 0.999…9 in floating point, and should reach 1
        return self.score_sum >= self.alpha * (1.0 - 1e-9)

    def reset(self) -> None:
        """Forget the pending accumulation (the gradients are left as they are)."""
        self.pending = 0
        self.score_sum = 0.0


def _is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)
