"""Random augmentations that make the two views of every series for contrastive training.

Every function takes a batch ``x`` of shape ``[B, C, T]`` and an explicit ``torch.Generator`` on
``x``'s device, so the same generator state gives the same views (no hidden RNG). Rules:

- ``jitter``: add Gaussian noise with standard deviation ``sigma`` (in units of the z-normalised
  series).
- ``scaling``: multiply each channel of each series by a factor drawn from N(1, ``sigma``²).
- ``crop``: keep a random window of ``fraction`` × T steps and resample it linearly back to T
  (same length in, same length out).
- ``time_mask``: set one random window of ``fraction`` × T steps to zero.

:class:`Augmenter` applies crop → scaling → jitter → time mask, each skipped when its strength is 0
(crop: when its fraction is 0 or 1). :meth:`Augmenter.aligned` is the same without the crop: the
augmentations that keep every time step where it was (what views aligned in time may use).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F


def jitter(x: torch.Tensor, sigma: float, generator: torch.Generator) -> torch.Tensor:
    noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return x + sigma * noise


def scaling(x: torch.Tensor, sigma: float, generator: torch.Generator) -> torch.Tensor:
    b, c, _ = x.shape
    factor = 1.0 + sigma * torch.randn(
        (b, c, 1), generator=generator, device=x.device, dtype=x.dtype
    )
    return x * factor


def crop(x: torch.Tensor, fraction: float, generator: torch.Generator) -> torch.Tensor:
    b, _, t = x.shape
    width = max(2, round(fraction * t))
    if width >= t:
        return x
    start = torch.randint(0, t - width + 1, (b,), generator=generator, device=x.device)
    # Resampling grid in [-1, 1] for grid_sample: each series reads its own window.
    steps = torch.linspace(0.0, 1.0, t, device=x.device, dtype=x.dtype)  # [T]
    pos = (start[:, None].to(x.dtype) + steps[None, :] * (width - 1)) / (t - 1)  # [B, T] in [0, 1]
    grid_x = pos * 2.0 - 1.0
    grid = torch.stack([grid_x, torch.zeros_like(grid_x)], dim=-1)[:, None]  # [B, 1, T, 2]
    out = F.grid_sample(x[:, :, None, :], grid, mode="bilinear", align_corners=True)
    return out[:, :, 0, :]  # [B, C, T]


def time_mask(x: torch.Tensor, fraction: float, generator: torch.Generator) -> torch.Tensor:
    b, _, t = x.shape
    width = round(fraction * t)
    if width <= 0:
        return x
    start = torch.randint(0, t - width + 1, (b,), generator=generator, device=x.device)
    idx = torch.arange(t, device=x.device)[None, :]  # [1, T]
    keep = (idx < start[:, None]) | (idx >= start[:, None] + width)  # [B, T]
    return x * keep[:, None, :].to(x.dtype)


@dataclass(frozen=True)
class Augmenter:
    """Make two independently augmented views of a batch (strengths as in the module rules)."""

    jitter: float = 0.05
    scaling: float = 0.1
    crop: float = 0.9
    time_mask: float = 0.1

    def view(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if 0.0 < self.crop < 1.0:
            x = crop(x, self.crop, generator)
        if self.scaling > 0:
            x = scaling(x, self.scaling, generator)
        if self.jitter > 0:
            x = jitter(x, self.jitter, generator)
        if self.time_mask > 0:
            x = time_mask(x, self.time_mask, generator)
        return x

    def aligned(self) -> Augmenter:
        """These augmentations without the crop (module docstring)."""
        return replace(self, crop=1.0)

    def views(
        self, x: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.view(x, generator), self.view(x, generator)
