"""Seeded synthetic multimodal multivariate time series with a known number of modes.

The ground truth for the cluster-based strategies (``cluster_count``, ``stratified``,
``weighted``) and for scale tests (docs/design.md §3). Every series belongs to one of ``n_modes``
modes;
a mode is a prototype per channel, and a series is its mode's prototype, shifted a little in time,
scaled a little in amplitude, plus Gaussian noise.

Rules (units: one time step; amplitudes are in units of the prototypes' RMS, which is 1):

- **Prototypes.** Channel ``c`` of mode ``m`` is ``common_c(t) + separation · specific_{m,c}(t)``.
  ``common_c`` is shared by all modes: two sinusoids with random frequencies (1–4 cycles per
  series) and phases, scaled to RMS 1. ``specific_m`` is a sum of two sinusoids (1–6 cycles per
  series) and one Gaussian bump (width ``length / 20``) per channel, made zero-mean per channel and
  then mutually orthogonal across modes (a QR step over the flattened ``[n_channels · length]``
  vectors, so ``n_modes <= n_channels · length``), scaled to RMS 1. Hence every pair of modes is
  equally far apart: the RMS difference between two prototypes is ``sqrt(2) · separation``; with
  ``separation=0`` all modes are identical.
- **Series.** ``x = a · prototype(t + s) + noise · ε`` with a time shift
  ``s ~ N(0, (length / 1024)²)`` steps clipped at 3 standard deviations (an eighth of a step at
  ``length=128``; fractional shifts by Catmull–Rom cubic interpolation), an amplitude
  ``a = exp(0.1 · z)``, ``z ~ N(0, 1)``, and ``ε ~ N(0, 1)`` independent per value. Each mode is
  thus one compact, nearly Gaussian cloud — a ground truth that a Gaussian mixture can count.
  (Larger shifts bend a mode along a curve; on thousands of series BIC then splits it in two.)
- **Mode sizes.** Geometric from largest (mode 0) to smallest (mode ``n_modes - 1``), with
  ``largest / smallest == imbalance`` before rounding to integers that sum to ``n_series``
  (largest-remainder rounding; every mode keeps at least one series). The series are in random
  order.
- **Determinism.** The same arguments give the same arrays, bit for bit; all randomness comes from
  ``numpy.random.default_rng(seed)``.
- **Cost.** Vectorised and float32 throughout: 10⁵ series × 3 channels × 128 steps take about a
  second and 150 MB.

Example::

    X, y = make_synthetic(n_series=500, n_modes=4, imbalance=3.0, seed=1)
    X.shape, X.dtype, y.dtype  # (500, 3, 128), float32, int64
"""

from __future__ import annotations

import math

import numpy as np

from tune_bs.errors import UserInputError, quote


def make_synthetic(
    n_series: int = 1000,
    n_channels: int = 3,
    length: int = 128,
    n_modes: int = 4,
    imbalance: float = 1.0,
    noise: float = 0.1,
    separation: float = 1.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Return series ``X`` float32 ``[n_series, n_channels, length]`` and modes ``y`` int64 ``[N]``.

    Labels lie in ``[0, n_modes)``; mode 0 is the largest. See the module docstring for the model.
    """
    X, y, _ = _generate(n_series, n_channels, length, n_modes, imbalance, noise, separation, seed)
    return X, y


#: Spread of the continuous target within a mode (standard deviation, in units of the target).
TARGET_SPREAD = 0.25


def make_synthetic_target(
    n_series: int = 1000,
    n_channels: int = 3,
    length: int = 128,
    n_modes: int = 4,
    imbalance: float = 1.0,
    noise: float = 0.1,
    separation: float = 1.0,
    seed: int = 0,
    target_spread: float = TARGET_SPREAD,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`make_synthetic`'s ``X`` and ``y`` (bit for bit the same) and a continuous target
    ``y_reg`` float64 ``[N]`` for regression and multi-task heads.

    ``y_reg = level[y] + target_spread · z``: every mode has a level, evenly spaced in [−1, 1]
    and assigned to the modes in a seeded random order, and ``z ~ N(0, 1)`` is the standardised
    log-amplitude of the series (``a = exp(0.1 · z)``, module rules). The levels are drawn from
    their own generator (``default_rng([seed, 1])``), so ``X`` and ``y`` are untouched. Per-series
    z-normalisation (``dataset: {normalise: true}``, the default) divides the amplitude out of
    the signal; it then shows only through the relative size of the noise (``noise / a``).
    """
    if not (math.isfinite(target_spread) and target_spread >= 0.0):
        raise UserInputError(
            f"synthetic target_spread must be a finite number >= 0, but got "
            f"target_spread={quote(target_spread)}; use e.g. 0.25."
        )
    X, y, z = _generate(n_series, n_channels, length, n_modes, imbalance, noise, separation, seed)
    order = np.random.default_rng([seed, 1]).permutation(n_modes)
    levels = np.linspace(-1.0, 1.0, n_modes) if n_modes > 1 else np.zeros(1)
    y_reg = levels[order][y] + float(target_spread) * z.astype(np.float64)
    return X, y, y_reg


def _generate(
    n_series: int,
    n_channels: int,
    length: int,
    n_modes: int,
    imbalance: float,
    noise: float,
    separation: float,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``X``, ``y`` and each series' standardised log-amplitude ``z`` (module rules)."""
    _check_arguments(n_series, n_channels, length, n_modes, imbalance, noise, separation, seed)
    rng = np.random.default_rng(seed)
    shift_sd = length / 1024.0  # in time steps
    pad = math.ceil(3 * shift_sd) + 2
    prototypes = _prototypes(rng, n_modes, n_channels, length, pad, separation)
    # every integer-shifted window of every prototype, as a view: [M, C, 2·pad + 1, T]
    windows = np.lib.stride_tricks.sliding_window_view(prototypes, length, axis=-1)

    sizes = mode_sizes(n_series, n_modes, imbalance)
    y = rng.permutation(np.repeat(np.arange(n_modes, dtype=np.int64), sizes))
    shift = np.clip(rng.normal(0.0, shift_sd, size=n_series), -3 * shift_sd, 3 * shift_sd)
    # window position on the padded grid; centred between two samples, so that most shifts stay
    # inside one cubic segment of the interpolant (its curvature jumps at the samples)
    shift += pad + 0.5
    start = np.floor(shift).astype(np.int64)
    kernel = _catmull_rom(shift - start).astype(np.float32)  # [N, 4] weights of windows k-1..k+2
    z = rng.standard_normal(n_series, dtype=np.float32)
    amplitude = np.exp(0.1 * z)

    X = np.zeros((n_series, n_channels, length), dtype=np.float32)
    channels = np.arange(n_channels)[None, :]
    chunk = 1 << 15  # bounds the temporaries; part of the seeded stream, keep it fixed
    for lo in range(0, n_series, chunk):
        hi = min(lo + chunk, n_series)
        rows, block = y[lo:hi, None], X[lo:hi]
        weight = kernel[lo:hi] * amplitude[lo:hi, None]  # [b, 4]
        for j in range(4):
            block += weight[:, j, None, None] * windows[rows, channels, start[lo:hi, None] + j - 1]
        if noise > 0:
            eps = rng.standard_normal(block.shape, dtype=np.float32)
            eps *= np.float32(noise)
            block += eps
    return X, y, z


def mode_sizes(n_series: int, n_modes: int, imbalance: float) -> np.ndarray:
    """Integer mode sizes summing to ``n_series``, geometric, ``largest / smallest ≈ imbalance``.

    Largest-remainder rounding of ``n_series · r_m / Σ r`` with
    ``r_m = imbalance ** (-m / (n_modes - 1))``; a mode rounded to zero gets one series from the
    largest mode. Needs ``n_modes <= n_series``.
    """
    exponents = np.arange(n_modes) / max(n_modes - 1, 1)
    ratios = float(imbalance) ** (-exponents)
    ideal = n_series * ratios / ratios.sum()
    sizes = np.floor(ideal).astype(np.int64)
    short = n_series - int(sizes.sum())
    # stable sort: ties go to the earlier (larger) mode
    sizes[np.argsort(-(ideal - sizes), kind="stable")[:short]] += 1
    for m in np.flatnonzero(sizes == 0):
        sizes[int(np.argmax(sizes))] -= 1
        sizes[m] = 1
    return sizes


def _catmull_rom(u: np.ndarray) -> np.ndarray:
    """Catmull–Rom cubic weights ``[..., 4]`` of the samples at ``-1, 0, 1, 2`` for offsets ``u``.

    A smooth (C¹) interpolant: a linear one would bend every mode's shift path at the integer
    shifts, making the modes visibly non-Gaussian to a mixture model.
    """
    u = np.asarray(u, dtype=np.float64)[..., None]
    coefficients = np.array(  # rows: weight of sample -1, 0, 1, 2 as a cubic in u
        [
            [0.0, -0.5, 1.0, -0.5],
            [1.0, 0.0, -2.5, 1.5],
            [0.0, 0.5, 2.0, -1.5],
            [0.0, 0.0, -0.5, 0.5],
        ]
    )
    powers = u ** np.arange(4)  # [..., 4]: 1, u, u², u³
    return powers @ coefficients.T


def _prototypes(
    rng: np.random.Generator,
    n_modes: int,
    n_channels: int,
    length: int,
    pad: int,
    separation: float,
) -> np.ndarray:
    """Prototypes ``[M, C, T + 2·pad]`` on the padded time grid ``[-pad, length + pad)``."""
    t = np.arange(-pad, length + pad, dtype=np.float64) / length  # in series lengths

    def sinusoids(shape: tuple[int, ...], cycles: tuple[float, float]) -> np.ndarray:
        freq = rng.uniform(*cycles, size=(*shape, 2, 1))
        phase = rng.uniform(0.0, 2 * math.pi, size=(*shape, 2, 1))
        weight = rng.uniform(0.5, 1.0, size=(*shape, 2, 1))
        return (weight * np.sin(2 * math.pi * freq * t + phase)).sum(axis=-2)

    common = sinusoids((n_channels,), (1.0, 4.0))  # [C, T']
    common /= np.sqrt((common**2).mean(axis=-1, keepdims=True))

    specific = sinusoids((n_modes, n_channels), (1.0, 6.0))  # [M, C, T']
    centre = rng.uniform(0.1, 0.9, size=(n_modes, n_channels, 1))
    height = rng.choice([-1.0, 1.0], size=(n_modes, n_channels, 1)) * rng.uniform(
        1.0, 2.0, size=(n_modes, n_channels, 1)
    )
    specific += height * np.exp(-0.5 * ((t - centre) / (1.0 / 20.0)) ** 2)
    specific -= specific.mean(axis=-1, keepdims=True)
    # orthonormal columns over the flattened [C · T'] space, then RMS 1 per value
    q, _ = np.linalg.qr(specific.reshape(n_modes, -1).T)  # [C·T', M]
    specific = q.T.reshape(specific.shape) * math.sqrt(n_channels * t.size)

    return (common[None] + separation * specific).astype(np.float32)


def _check_arguments(
    n_series: int,
    n_channels: int,
    length: int,
    n_modes: int,
    imbalance: float,
    noise: float,
    separation: float,
    seed: int,
) -> None:
    """Raise :class:`UserInputError` for the first argument that breaks its rule."""
    for name, value, low in (
        ("n_series", n_series, 1),
        ("n_channels", n_channels, 1),
        ("length", length, 8),
        ("n_modes", n_modes, 1),
        ("seed", seed, 0),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise UserInputError(
                f"synthetic {name} must be an integer, but got {name}={quote(value)}; "
                "pass a whole number."
            )
        if value < low:
            raise UserInputError(
                f"synthetic {name} must be at least {low}, but got {name}={quote(value)}; raise it."
            )
    if n_modes > n_series:
        raise UserInputError(
            f"synthetic n_modes must be at most n_series ({n_series}), but got n_modes={n_modes}; "
            "lower n_modes or raise n_series."
        )
    if n_modes > n_channels * length:
        raise UserInputError(
            f"synthetic n_modes must be at most n_channels · length ({n_channels * length}) so the "
            f"mode prototypes can be orthogonal, but got n_modes={n_modes}; lower n_modes."
        )
    if not (math.isfinite(imbalance) and imbalance >= 1.0):
        raise UserInputError(
            f"synthetic imbalance (largest / smallest mode size) must be a finite number >= 1, "
            f"but got imbalance={quote(imbalance)}; use 1.0 for balanced modes."
        )
    for name, value in (("noise", noise), ("separation", separation)):
        if not (math.isfinite(value) and value >= 0.0):
            raise UserInputError(
                f"synthetic {name} must be a finite number >= 0, but got {name}={quote(value)}; "
                "use a non-negative value."
            )
