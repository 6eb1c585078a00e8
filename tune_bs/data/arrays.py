"""What a data set's arrays must be before anything trains on them, checked once at load time.

Series ``X`` arrive as the user saved them (any numeric dtype) and are kept as float32
``[N, C, T]``; labels ``y`` as one value per series. Each rule below is a one-line
:class:`~tune_bs.errors.UserInputError` naming the array (``what``), the bad value and the fix,
except rule 6, which is a warning:

1. **Real numbers.** ``X`` must be a real numeric array: complex values are refused (their
   imaginary part would be dropped), as are strings, booleans and Python objects.
2. **Finite.** No NaN or ±inf; the first bad series is named.
3. **Representable in float32.** No value beyond float32's range (±3.4e38: it would become inf).
   An array stored wider than float32 (float64, int64, ...) must not lose its variation in the
   conversion: in every series and channel, the standard deviation of the rounding error must
   stay below :data:`PRECISION_LOSS` of the series' own standard deviation (over time). This
   refuses series whose level dwarfs their variation — ``1e10 + sin(t)``, Unix timestamps — which
   float32 turns into a staircase or a constant. (Measured on the development sets, stored as
   float64: the worst ratio is 5.6e-8, BasicMotions; 1 % leaves five orders of magnitude. The
   worst of every shipped set is 6.2e-6, CardanoSentiment's prices.)
4. **Labels.** ``y`` is one-dimensional with one label per series; a float label may not be NaN
   or ±inf (:func:`check_labels`).
5. **Prepared values stay computable** (:func:`check_prepared`, after normalisation): finite, and
   no larger than :data:`MAX_PREPARED` (≈ 1.8e19, the square root of float32's largest value):
   the encoder squares its inputs (batch normalisation, the loss), and larger values overflow.
6. **Layout.** ``[N, C, T]`` saved as ``[N, T, C]`` reads as T channels of C steps.
   :func:`swapped_layout_hint` says so (a warning with the fix, ``X.transpose(0, 2, 1)``) when
   the array has more channels than steps **and** either at most :data:`FEW_STEPS` steps, or
   values that change smoothly across its channels and not over its steps: the lag-1
   autocorrelation along the channel axis is at least :data:`SMOOTH` and exceeds the one along
   the time axis by :data:`SMOOTH_MARGIN`. Measured on the development sets and the synthetic
   generator (``benchmarks/data_checks.py``, ``benchmarks/results/data_checks.txt``): none of
   them, as stored, has more channels than steps, so none is warned about; every one saved
   swapped is warned about or, for one channel, refused by the two-steps rule of
   :mod:`tune_bs.data.npz` with the same fix. The other sets aeon ships behave the same. UEA
   sets with more channels than steps exist (FaceDetection 144 × 62, PEMS-SF 963 × 144,
   DuckDuckGeese 1345 × 270, InsectWingbeat 200 × ≤ 22); aeon does not ship them, so the rule
   is unmeasured there: on one whose channels are ordered and smoother than its time axis
   (a spectrogram's frequency bins) it would warn, and only warn.
"""

from __future__ import annotations

import numpy as np

from tune_bs.errors import UserInputError, quote

FLOAT32_MAX = float(np.finfo(np.float32).max)
#: The largest prepared value whose square float32 still holds (rule 5).
MAX_PREPARED = float(np.sqrt(FLOAT32_MAX))
#: The rounding error float32 may add, as a share of a series' standard deviation (rule 3).
PRECISION_LOSS = 0.01
#: Series per block when a check converts to float64 (bounds its memory).
BLOCK = 4096
#: Layout rule 6: a series this short (or shorter), with more channels than steps, looks swapped.
FEW_STEPS = 3
#: Layout rule 6: lag-1 autocorrelation that counts as smooth, and the margin over the time axis.
SMOOTH, SMOOTH_MARGIN = 0.3, 0.3
#: Series the layout rule looks at (the first ones).
LAYOUT_SAMPLE = 256


def _first_bad(bad: np.ndarray) -> str:
    """``"series 3 (and 2 more)"`` for a boolean mask over series."""
    first = int(np.flatnonzero(bad)[0])
    more = int(bad.sum()) - 1
    return f"series {first}" + (f" (and {more} more)" if more else "")


def as_series(X: np.ndarray, what: str) -> np.ndarray:
    """``X`` ``[N, C, T]`` as float32 after rules 1–3; ``what`` names it in errors."""
    X = np.asarray(X)
    if np.iscomplexobj(X):
        raise UserInputError(
            f"{what} must hold real numbers, but has dtype {X.dtype} (complex): its imaginary "
            "part would be lost; save np.abs(X), X.real, or the real and imaginary parts as "
            "separate channels (np.concatenate([X.real, X.imag], axis=1))."
        )
    if X.dtype == np.bool_ or not np.issubdtype(X.dtype, np.number):
        raise UserInputError(
            f"{what} must be numeric, but has dtype {X.dtype}; convert it to float32."
        )
    finite = np.isfinite(X).reshape(len(X), -1).all(axis=1)
    if not finite.all():
        raise UserInputError(
            f"{what} must hold only finite values, but {_first_bad(~finite)} contain NaN or "
            "inf; clean or impute the data before using it."
        )
    exact = X.dtype.itemsize <= (4 if np.issubdtype(X.dtype, np.floating) else 2)
    if exact:  # float16/32, and integers float32 holds exactly
        return X.astype(np.float32, copy=False)
    too_large = (np.abs(X) > FLOAT32_MAX).reshape(len(X), -1).any(axis=1)
    if too_large.any():
        largest = float(np.abs(X).max())
        raise UserInputError(
            f"{what} must fit float32 (|x| <= 3.4e38), but {_first_bad(too_large)} hold values "
            f"up to {largest:.3g}, which become inf; rescale the data (e.g. divide by "
            f"{largest:.0e})."
        )
    return _without_precision_loss(X, what)


def _without_precision_loss(X: np.ndarray, what: str) -> np.ndarray:
    """``X`` as float32, refused when the conversion erases a series' variation (rule 3)."""
    out = np.empty(X.shape, dtype=np.float32)
    for start in range(0, len(X), BLOCK):
        block = np.asarray(X[start : start + BLOCK], dtype=np.float64)
        out[start : start + BLOCK] = block
        spread = block.std(axis=2)
        error = (out[start : start + BLOCK].astype(np.float64) - block).std(axis=2)
        lost = error > PRECISION_LOSS * spread
        if lost.any():
            series, channel = (int(i) for i in np.argwhere(lost)[0])
            values = block[series, channel]
            raise UserInputError(
                f"{what} loses its variation in float32: series {start + series}, channel "
                f"{channel} varies by {spread[series, channel]:.3g} around {values.mean():.6g}, "
                f"and float32 keeps about 7 significant digits; subtract each series' offset "
                "before saving (e.g. X - X.mean(axis=2, keepdims=True)) or rescale it."
            )
    return out


def check_labels(y: np.ndarray, n: int, what: str) -> np.ndarray:
    """``y`` if it is one label per series of ``n`` (rule 4); ``what`` names it in errors."""
    y = np.asarray(y)
    if y.ndim != 1:
        fix = (
            "save y.ravel()"
            if y.ndim == 2 and y.shape[1] == 1
            else "save one label per series (for one-hot rows: y.argmax(axis=1))"
        )
        raise UserInputError(
            f"{what} must be one-dimensional (one label per series), but has shape "
            f"{tuple(y.shape)}; {fix}."
        )
    if len(y) != n:
        raise UserInputError(
            f"{what} must have one label per series ({n}), but has {len(y)}; fix the labels."
        )
    if np.iscomplexobj(y):
        raise UserInputError(
            f"{what} must hold real labels, but has dtype {y.dtype}; save real values."
        )
    if np.issubdtype(y.dtype, np.floating):
        bad = ~np.isfinite(y)
        if bad.any():
            raise UserInputError(
                f"{what} must give every series a finite label, but it is "
                f"{quote(float(y[bad][0]))} for {_first_bad(bad)}; drop those series or label "
                "them."
            )
    return y


def check_prepared(X: np.ndarray, what: str, rule: str) -> None:
    """Refuse prepared series (normalised with ``rule``) that rule 5 refuses."""
    if len(X) == 0:
        return
    magnitude = np.abs(X).reshape(len(X), -1).max(axis=1)
    bad = ~(magnitude <= MAX_PREPARED)  # NaN compares False: bad too
    if bad.any():
        worst = float(np.nanmax(magnitude)) if np.isfinite(magnitude).any() else float("nan")
        fix = (
            "use normalise: series or dataset, or rescale the data"
            if rule == "none"
            else "check that the training split's channels are not near-constant while the "
            "other splits vary (e.g. use normalise: series), or rescale the data"
        )
        raise UserInputError(
            f"{what} normalised with normalise={rule} must stay finite and at most "
            f"{MAX_PREPARED:.2g} (larger values overflow float32 in training), but "
            f"{_first_bad(bad)} reach {worst:.3g}; {fix}."
        )


def _lag1(X: np.ndarray, axis: int) -> float:
    """Pooled lag-1 autocorrelation of ``X`` along ``axis`` (each line centred on its mean)."""
    lines = np.moveaxis(np.asarray(X, dtype=np.float64), axis, -1)
    lines = lines - lines.mean(axis=-1, keepdims=True)
    denominator = float((lines * lines).sum())
    if denominator == 0.0:
        return 0.0
    return float((lines[..., :-1] * lines[..., 1:]).sum()) / denominator


def swapped_layout_hint(X: np.ndarray, what: str) -> str | None:
    """The warning of rule 6 when ``X`` ``[N, C, T]`` looks like ``[N, T, C]``, else ``None``."""
    _, channels, steps = X.shape
    if channels <= steps:
        return None
    sample = X[:LAYOUT_SAMPLE]
    across, over = _lag1(sample, 1), _lag1(sample, 2)
    smooth = across >= SMOOTH and across - over >= SMOOTH_MARGIN
    if steps > FEW_STEPS and not smooth:
        return None
    evidence = (
        f"its values change smoothly across channels (lag-1 autocorrelation {across:.2f}) and "
        f"not over time ({over:.2f})"
        if smooth
        else f"only {steps} steps per series"
    )
    return (
        f"{what} has shape {tuple(X.shape)}: {channels} channels of {steps} steps, with "
        f"{evidence}, as if it were saved [N, T, C]; tune-bs reads [N, C, T] and goes on so. "
        "If it is [N, T, C], save X.transpose(0, 2, 1) instead."
    )
