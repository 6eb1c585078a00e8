"""Fit, weight and extrapolate learning curves ``val_loss(samples_seen)``; pure numpy, no Ray.

Families (``x`` = samples seen, ``y`` = validation loss, every family decreasing towards ``c``):

- ``exp3``  ``y = c + a·exp(−b·x)``: the curve of a run whose gradient-noise scale stays small
  next to its batch size (each step removes a fixed fraction of the excess loss).
- ``pow3``  ``y = c + a·x^(−α)``: the classic power law of a run dominated by gradient noise.
- ``pow4``  ``y = c + a·(x + d)^(−α)``, ``d`` in ``[0.001, 20]·x_last``: the power law with an
  unknown origin. It is the exact solution of the empirical model of large-batch training
  (McCandlish et al. 2018) once the noise scale dominates, and it fits a *segment* of a curve
  that began at another batch size (the segment's own origin is unknown), which ``pow3`` cannot.

Why these: a trial's curve under a batch-size schedule is a chain of segments of the same
autonomous law ``dy/dx = −g(y)``; ``exp3`` is ``g ∝ (y − c)``, ``pow3``/``pow4`` are
``g ∝ (y − c)^(1 + 1/α)``. So every family also gives, in closed form, the rate of decrease at a
loss *level* (:meth:`CurveFit.rate_at`) and the loss after ``dx`` more samples from a level
(:meth:`CurveFit.advance`), the two questions the batch-size switching policy asks.

Fitting (variable projection, Golub & Pereyra 1973): every family is ``c + a·φ(x; θ)``, linear in
``(c, a)``. For a grid of the nonlinear ``θ`` (``b``; ``α``; ``(α, d)``) the bounded least-squares
``(c, a ≥ 0)`` is closed-form and vectorised; the best grid cell is refined by repeated zooming
(a bounded, global least-squares search that needs no initial guess and cannot diverge). ``x`` is
rescaled by its last value for conditioning, and a few bounded Levenberg–Marquardt steps on all
parameters polish the grid optimum (exact recovery on noiseless curves). Bounded
``scipy.optimize.least_squares`` from a heuristic start, measured on the same 30 points, takes
~1.6 ms (``exp3``) and ~4.7 ms (``pow4``) per family and needs a starting point.

Weighting: Akaike weights from the small-sample AICc,
``AICc = n·ln(SSE/n) + 2k + 2k(k+1)/(n−k−1)`` (``k`` = curve parameters), ``w ∝ exp(−ΔAICc/2)``.
AICc (rather than BIC or leave-last-out error) because it is cheap, needs no refits, and its
small-sample term keeps the 4-parameter ``pow4`` out of short segments where it would overfit.
A family is used only with ``n ≥ k + 2`` points; one with a relative weight below ``1e-6`` is
dropped.

Uncertainty: per family the delta-method variance of the prediction (Jacobian of the fitted
curve, covariance ``s²(JᵀJ)⁻¹``, ``s² = SSE/(n−k)``) plus the residual variance ``s²`` of one new
observation; across families the mixture variance (weighted within-family variance + spread of the
family means). The band is ``mean ± z·std`` (``z = 2`` by default).

Failure modes (:class:`CurveFitError`, never a guess): fewer than ``min_points`` points; NaN or
inf in ``x`` or ``y``; ``x`` not strictly increasing or not positive; no family decreases (the
best bounded fit of every family is flat, ``a = 0``); or the weighted fit explains less than
``min_r2`` of the variance of ``y`` (noise, not a curve).

Measured cost (``fit_curve`` + one ``extrapolate``, all three families, shared 2-core machine,
median): 0.9–1.0 ms for 10, 30 and 50 points (``benchmarks/simulator.py`` prints it); warm-started
from the fit without the last point (``start=``), 0.3–0.45 ms, and a chain of 55 warm refits ends
within 0.25 band standard deviations of a cold fit (tests/test_curves.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

FAMILIES: tuple[str, ...] = ("exp3", "pow3", "pow4")
"""Names of the curve families, in the order they are fitted."""

_N_PARAMS = {"exp3": 3, "pow3": 3, "pow4": 4}
# Bounds of the nonlinear parameters, in rescaled x (x / x_last).
_B_BOUNDS = (0.05, 60.0)
_ALPHA_BOUNDS = (0.02, 8.0)
_D_BOUNDS = (1e-3, 20.0)
_COARSE_1D = 48
_COARSE_ALPHA = 14
_COARSE_D = 14
_ZOOM_ROUNDS = 5
_ZOOM_POINTS = 7
_POLISH_STEPS = 8
_POLISH_TOL = 1e-6  # relative SSE decrease below which the polish stops
_WARM_POLISH_TOL = 1e-3  # the same for a warm start (already near its optimum)
_MIN_WEIGHT = 1e-6


class CurveFitError(ValueError):
    """No trustworthy curve could be fitted; ``reason`` says why (one line, no guess made)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Extrapolation:
    """Prediction of the loss at sample count ``x``: ``mean`` and the band ``[low, high]``.

    ``std`` is the predictive standard deviation (family spread, parameter uncertainty and one
    observation's noise); ``low``/``high`` are ``mean ∓ z·std``.
    """

    x: float
    mean: float
    std: float
    low: float
    high: float


@dataclass(frozen=True)
class FamilyFit:
    """One family's least-squares fit.

    ``params`` are in original units (``x`` in samples): ``c`` and ``a`` in loss units, ``b`` in
    1/samples, ``α`` dimensionless, ``d`` in samples. ``weight`` is its Akaike weight in the
    ensemble (they sum to 1 over the usable families).
    """

    family: str
    params: dict[str, float]
    sse: float
    aicc: float
    weight: float
    x_scale: float = field(repr=False)
    theta: tuple[float, ...] = field(repr=False)  # c, a, then nonlinear params, rescaled x
    cov: np.ndarray = field(repr=False, compare=False)

    def predict(self, x: np.ndarray | float) -> np.ndarray:
        """Fitted loss at sample counts ``x`` (``x > 0``)."""
        u = np.asarray(x, dtype=float) / self.x_scale
        return _model(self.family, self.theta, u)

    def predict_std(self, x: float) -> float:
        """Delta-method standard deviation of :meth:`predict` at ``x`` (parameter uncertainty)."""
        u = np.array([float(x) / self.x_scale])
        g = _jacobian(self.family, self.theta, u)[0]
        var = float(g @ self.cov @ g)
        return math.sqrt(max(var, 0.0))

    def rate_at(self, level: float) -> float:
        """Loss decrease per sample, ``−dy/dx``, where the fitted law passes ``level`` (0 below c).

        The law is autonomous, so the answer does not depend on where the curve started.
        """
        c, a = self.theta[0], self.theta[1]
        excess = level - c
        if excess <= 0.0 or a <= 0.0:
            return 0.0
        if self.family == "exp3":
            return self.theta[2] * excess / self.x_scale
        alpha = self.theta[2]
        v = (excess / a) ** (-1.0 / alpha)  # u (+ d) at that level, rescaled x
        return alpha * excess / (v * self.x_scale)

    def x_at(self, level: float) -> float:
        """Sample count where the fitted curve reaches ``level`` (inf at or below ``c``)."""
        c, a = self.theta[0], self.theta[1]
        excess = level - c
        if excess <= 0.0 or a <= 0.0:
            return math.inf
        if self.family == "exp3":
            return -math.log(excess / a) / self.theta[2] * self.x_scale
        v = (excess / a) ** (-1.0 / self.theta[2])
        d = self.theta[3] if self.family == "pow4" else 0.0
        return (v - d) * self.x_scale

    def advance(self, level: float, dx: float) -> float:
        """Loss after ``dx`` more samples along the fitted law, starting at ``level``."""
        c, a = self.theta[0], self.theta[1]
        excess = level - c
        if excess <= 0.0 or a <= 0.0 or dx <= 0.0:
            return level
        du = dx / self.x_scale
        if self.family == "exp3":
            return c + excess * math.exp(-self.theta[2] * du)
        alpha = self.theta[2]
        v = (excess / a) ** (-1.0 / alpha)
        return c + a * (v + du) ** (-alpha)


@dataclass(frozen=True)
class CurveFit:
    """The weighted ensemble of :class:`FamilyFit` for one curve, with its observed range."""

    fits: tuple[FamilyFit, ...]
    n_points: int
    x_first: float
    x_last: float
    y_first: float
    y_last: float
    residual_std: float
    r2: float
    #: every family's fitted nonlinear parameters (weight 0 too), in original units of ``x``
    #: (``b`` 1/samples; ``α``; ``α, d`` samples): where a warm-started refit begins.
    starts: dict[str, tuple[float, ...]] = field(default_factory=dict, repr=False, compare=False)

    @property
    def best(self) -> FamilyFit:
        """The family with the largest Akaike weight."""
        return max(self.fits, key=lambda f: f.weight)

    @property
    def asymptote(self) -> float:
        """Weighted mean of the fitted asymptotes ``c`` (loss units)."""
        return float(sum(f.weight * f.theta[0] for f in self.fits))

    def predict(self, x: np.ndarray | float) -> np.ndarray:
        """Weighted mean prediction at sample counts ``x``."""
        return sum(f.weight * f.predict(x) for f in self.fits)

    def extrapolate(self, x: float, z: float = 2.0) -> Extrapolation:
        """Mean and ``±z·std`` band of the loss at sample count ``x`` (the horizon)."""
        means = np.array([float(f.predict(x)) for f in self.fits])
        weights = np.array([f.weight for f in self.fits])
        within = np.array([f.predict_std(x) ** 2 for f in self.fits]) + self.residual_std**2
        mean = float(weights @ means)
        var = float(weights @ (within + (means - mean) ** 2))
        std = math.sqrt(max(var, 0.0))
        low, high = mean - z * std, mean + z * std
        return Extrapolation(x=float(x), mean=mean, std=std, low=low, high=high)

    def rate_at(self, level: float) -> float:
        """Weighted ``−dy/dx`` (loss per sample) of the fitted laws at loss ``level``."""
        return float(sum(f.weight * f.rate_at(level) for f in self.fits))

    def x_at(self, level: float) -> float:
        """Weighted sample count where the curve reaches ``level`` (inf if a family never does)."""
        return float(sum(f.weight * f.x_at(level) for f in self.fits))

    def advance(self, level: float, dx: float) -> float:
        """Weighted loss after ``dx`` more samples from ``level``."""
        return float(sum(f.weight * f.advance(level, dx) for f in self.fits))


def fit_curve(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    *,
    families: Sequence[str] = FAMILIES,
    min_points: int = 5,
    min_r2: float = 0.5,
    start: CurveFit | None = None,
) -> CurveFit:
    """Fit every family in ``families`` to ``(x, y)`` and weight them by AICc.

    ``x``: samples seen, strictly increasing and positive. ``y``: validation loss.
    ``min_points``: refuse below this many points (at least 4). ``min_r2``: refuse when the
    weighted fit explains less than this fraction of the variance of ``y``.
    ``start``: a fit of the same curve with fewer points (warm start, for a fit per new point):
    each family it holds is searched from its parameters — a local grid of ±1 coarse step, then
    the polish — instead of the whole coarse grid and zoom (a family it lacks is fitted cold).

    Raises :class:`CurveFitError` (see the module docstring) instead of guessing.
    """
    xs = np.asarray(x, dtype=float).ravel()
    ys = np.asarray(y, dtype=float).ravel()
    if xs.shape != ys.shape:
        raise CurveFitError(f"x and y must have the same length, but got {xs.size} and {ys.size}.")
    n = xs.size
    if n < max(min_points, 4):
        raise CurveFitError(f"a curve needs at least {max(min_points, 4)} points, but got {n}.")
    if not (np.all(np.isfinite(xs)) and np.all(np.isfinite(ys))):
        raise CurveFitError("the curve holds NaN or inf values; a diverged run is not fitted.")
    if xs[0] <= 0.0 or np.any(np.diff(xs) <= 0.0):
        raise CurveFitError("x (samples seen) must be positive and strictly increasing.")
    unknown = [f for f in families if f not in _N_PARAMS]
    if unknown:
        raise CurveFitError(f"families must be among {', '.join(FAMILIES)}, but got {unknown}.")

    x_scale = float(xs[-1])
    u = xs / x_scale
    y_mean = float(ys.mean())
    syy = float(((ys - y_mean) ** 2).sum())
    y_range = float(ys.max() - ys.min())
    sse_floor = n * (1e-9 * max(y_range, abs(y_mean), 1e-12)) ** 2

    warm = (
        {
            family: _rescaled_nonlinear(family, params, x_scale)
            for family, params in start.starts.items()
        }
        if start
        else {}
    )
    raw: list[tuple[str, tuple[float, ...], float]] = []
    for family in families:
        k = _N_PARAMS[family]
        if n < k + 2:
            continue
        theta, sse = _fit_family(family, u, ys, warm.get(family))
        if theta is None:
            continue
        raw.append((family, theta, max(sse, sse_floor)))
    if not raw:
        raise CurveFitError("no family fits: the values do not decrease over the curve.")

    aiccs = []
    for family, _, sse in raw:
        k = _N_PARAMS[family]
        aiccs.append(n * math.log(sse / n) + 2 * k + 2 * k * (k + 1) / (n - k - 1))
    best_aicc = min(aiccs)
    rel = np.exp(-0.5 * (np.asarray(aiccs) - best_aicc))
    rel = np.where(rel >= _MIN_WEIGHT, rel, 0.0)  # negligible families are dropped
    weights = rel / rel.sum()

    fits = []
    for (family, theta, sse), aicc, weight in zip(raw, aiccs, weights, strict=True):
        if weight == 0.0:
            continue
        k = _N_PARAMS[family]
        s2 = sse / max(n - k, 1)
        jac = _jacobian(family, theta, u)
        cov = s2 * _inverse(jac.T @ jac)
        fits.append(
            FamilyFit(
                family=family,
                params=_original_params(family, theta, x_scale),
                sse=float(sse),
                aicc=float(aicc),
                weight=float(weight),
                x_scale=x_scale,
                theta=theta,
                cov=cov,
            )
        )
    fitted = sum(f.weight * _model(f.family, f.theta, u) for f in fits)
    resid = ys - fitted
    sse_ens = float(resid @ resid)
    r2 = 1.0 - sse_ens / syy if syy > 0.0 else 0.0
    if r2 < min_r2:
        raise CurveFitError(
            f"the curve explains too little of the variance (R²={r2:.2f} < {min_r2}); "
            "the values look like noise."
        )
    k_mean = sum(f.weight * _N_PARAMS[f.family] for f in fits)
    residual_std = math.sqrt(sse_ens / max(n - k_mean, 1.0))
    return CurveFit(
        fits=tuple(fits),
        n_points=n,
        x_first=float(xs[0]),
        x_last=float(xs[-1]),
        y_first=float(ys[0]),
        y_last=float(ys[-1]),
        residual_std=residual_std,
        r2=float(r2),
        starts={family: _original_nonlinear(family, theta, x_scale) for family, theta, _ in raw},
    )


def _inverse(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a small symmetric matrix ``JᵀJ``; the pseudo-inverse when it is not positive
    definite (a Cholesky factorisation fails: singular or numerically indefinite)."""
    try:
        np.linalg.cholesky(matrix)
        return np.linalg.inv(matrix)
    except np.linalg.LinAlgError:
        return np.linalg.pinv(matrix)


def _basis(family: str, nonlin: np.ndarray, u: np.ndarray) -> np.ndarray:
    """φ(u; θ) for rows of nonlinear parameters ``nonlin`` [G, m] → [G, n]."""
    if family == "exp3":
        return np.exp(-nonlin[:, :1] * u[None, :])
    if family == "pow3":
        return u[None, :] ** (-nonlin[:, :1])
    return (u[None, :] + nonlin[:, 1:2]) ** (-nonlin[:, :1])


def _profile(phi: np.ndarray, yc: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Closed-form bounded least squares of ``y ≈ c + a·φ`` (``a ≥ 0``) for every row of ``phi``.

    ``yc`` is ``y`` minus its mean. Returns ``(sse, c − mean(y), a)``, each [G]. Every family's
    φ decreases in ``u``, so rows are normalised by their first value for conditioning.
    """
    scale = phi[:, 0]
    p = phi / scale[:, None]  # [G, n]
    p_mean = p.sum(axis=1) / p.shape[1]
    pc = p - p_mean[:, None]
    spp = np.einsum("ij,ij->i", pc, pc)
    spy = pc @ yc
    ok = (spp > 1e-300) & (spy > 0.0)
    a_norm = np.where(ok, spy / np.where(ok, spp, 1.0), 0.0)
    sse = np.maximum(float(yc @ yc) - a_norm * spy, 0.0)
    return sse, -a_norm * p_mean, a_norm / scale


def _fit_family(
    family: str, u: np.ndarray, y: np.ndarray, centre: tuple[float, ...] | None = None
) -> tuple[tuple[float, ...] | None, float]:
    """Global grid + zoom search of the profiled SSE, or from a warm ``centre`` (nonlinear
    parameters) a local grid of ±1 coarse step; then the polish. ``(None, sse)`` when the best
    fit is flat."""
    if family in ("exp3", "pow3"):
        bounds = [_B_BOUNDS if family == "exp3" else _ALPHA_BOUNDS]
        counts = [_COARSE_1D]
    else:
        bounds = [_ALPHA_BOUNDS, _D_BOUNDS]
        counts = [_COARSE_ALPHA, _COARSE_D]
    lo = np.log([b[0] for b in bounds])
    hi = np.log([b[1] for b in bounds])
    step = (hi - lo) / (np.array(counts) - 1)
    if centre is None:
        axes = [np.geomspace(*b, c) for b, c in zip(bounds, counts, strict=True)]
        rounds = _ZOOM_ROUNDS
    else:
        axes = [
            np.exp(np.clip(math.log(v) + np.array([-s, 0.0, s]), a, b))
            for v, s, a, b in zip(centre, step, lo, hi, strict=True)
        ]
        rounds = 0
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, len(axes))
    best = _zoom(family, u, y, grid, step, lo, hi, rounds)
    nonlin, sse, c, a = best
    if a <= 0.0:
        return None, sse
    if centre is None:
        return _polish(family, (c, a, *nonlin), sse, u, y, _POLISH_TOL)
    return _polish(family, (c, a, *nonlin), sse, u, y, _WARM_POLISH_TOL, warm=True)


def _polish(
    family: str,
    theta: tuple[float, ...],
    sse: float,
    u: np.ndarray,
    y: np.ndarray,
    tolerance: float = 1e-6,
    warm: bool = False,
) -> tuple[tuple[float, ...], float]:
    """A few Levenberg–Marquardt steps on all parameters from the grid optimum.

    A step is kept only when it lowers the SSE and stays inside the bounds (``a > 0``, nonlinear
    parameters within their grid bounds), so the polish can only improve the grid answer. It
    stops once a step lowers the SSE by less than ``tolerance`` (relative); ``warm`` also stops
    it when the linearised model predicts less than that (a warm start that is already at its
    optimum, where every real step would be rejected).
    """
    bounds = {"exp3": [_B_BOUNDS], "pow3": [_ALPHA_BOUNDS], "pow4": [_ALPHA_BOUNDS, _D_BOUNDS]}
    lows = np.array([b[0] for b in bounds[family]])
    highs = np.array([b[1] for b in bounds[family]])
    current = np.array(theta)
    lam = 1e-3
    jac = _jacobian(family, theta, u)
    resid = y - _model(family, theta, u)
    for _ in range(_POLISH_STEPS):
        jtj = jac.T @ jac
        gradient = jac.T @ resid
        damping = lam * np.diag(jtj)
        try:
            delta = np.linalg.solve(jtj + np.diag(damping), gradient)
        except np.linalg.LinAlgError:
            break
        if warm and float(delta @ (damping * delta + gradient)) < tolerance * sse:
            break  # predicted decrease (Madsen et al. 2004, eq. 3.14) below the tolerance
        trial = current + delta
        inside = trial[1] > 0.0 and np.all(trial[2:] >= lows) and np.all(trial[2:] <= highs)
        if inside:
            new_resid = y - _model(family, tuple(trial), u)
            new_sse = float(new_resid @ new_resid)
        if inside and new_sse < sse:
            converged = new_sse > sse * (1.0 - tolerance)
            current, sse, resid = trial, new_sse, new_resid
            if converged:
                break
            jac = _jacobian(family, tuple(current), u)
            lam = max(lam * 0.1, 1e-9)
        else:
            lam *= 10.0
    return tuple(float(v) for v in current), sse


def _zoom(
    family: str,
    u: np.ndarray,
    y: np.ndarray,
    grid: np.ndarray,
    step: np.ndarray,
    log_lo: np.ndarray,
    log_hi: np.ndarray,
    rounds: int = _ZOOM_ROUNDS,
) -> tuple[tuple[float, ...], float, float, float]:
    """Evaluate ``grid`` (rows of nonlinear params), then zoom around the best cell repeatedly.

    The search works in log-parameter space; each round spans ±1 old step with
    ``_ZOOM_POINTS`` points per dimension, clipped to the bounds.
    """
    y_mean = float(y.mean())
    yc = y - y_mean
    sse, c, a = _profile(_basis(family, grid, u), yc)
    i = int(np.argmin(sse))
    best = (grid[i], float(sse[i]), float(c[i]), float(a[i]))
    dims = grid.shape[1]
    half = _ZOOM_POINTS // 2
    offsets = np.arange(-half, half + 1) / half  # in units of the old step
    for _ in range(rounds):
        centre = np.log(best[0])
        axes = [np.clip(centre[j] + offsets * step[j], log_lo[j], log_hi[j]) for j in range(dims)]
        if dims == 1:
            cand = np.exp(axes[0])[:, None]
        else:
            mesh = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, dims)
            cand = np.exp(mesh)
        sse, c, a = _profile(_basis(family, cand, u), yc)
        i = int(np.argmin(sse))
        if sse[i] <= best[1]:
            best = (cand[i], float(sse[i]), float(c[i]), float(a[i]))
        step = step / half
    nonlin = tuple(float(v) for v in best[0])
    return nonlin, best[1], best[2] + y_mean, best[3]


def _model(family: str, theta: tuple[float, ...], u: np.ndarray) -> np.ndarray:
    """The family's curve at rescaled ``u`` for parameters ``theta`` = (c, a, nonlinear...)."""
    c, a = theta[0], theta[1]
    if family == "exp3":
        return c + a * np.exp(-theta[2] * u)
    if family == "pow3":
        return c + a * u ** (-theta[2])
    return c + a * (u + theta[3]) ** (-theta[2])


def _jacobian(family: str, theta: tuple[float, ...], u: np.ndarray) -> np.ndarray:
    """∂model/∂(c, a, nonlinear...) at rescaled ``u`` → [n, k]."""
    a = theta[1]
    ones = np.ones_like(u)
    if family == "exp3":
        e = np.exp(-theta[2] * u)
        return np.stack([ones, e, -a * u * e], axis=1)
    if family == "pow3":
        p = u ** (-theta[2])
        return np.stack([ones, p, -a * np.log(u) * p], axis=1)
    alpha, d = theta[2], theta[3]
    v = u + d
    p = v ** (-alpha)
    return np.stack([ones, p, -a * np.log(v) * p, -a * alpha * p / v], axis=1)


def _original_nonlinear(family: str, theta: tuple[float, ...], x_scale: float) -> tuple[float, ...]:
    """Nonlinear parameters of rescaled ``theta`` in original units of ``x``."""
    if family == "exp3":
        return (theta[2] / x_scale,)
    if family == "pow3":
        return (theta[2],)
    return theta[2], theta[3] * x_scale


def _rescaled_nonlinear(
    family: str, params: tuple[float, ...], x_scale: float
) -> tuple[float, ...]:
    """Nonlinear parameters in original units, rescaled to ``x / x_scale``."""
    if family == "exp3":
        return (params[0] * x_scale,)
    if family == "pow3":
        return (params[0],)
    return params[0], params[1] / x_scale


def _original_params(family: str, theta: tuple[float, ...], x_scale: float) -> dict[str, float]:
    """Convert rescaled parameters to original units (x in samples)."""
    c, a = float(theta[0]), float(theta[1])
    if family == "exp3":
        return {"c": c, "a": a, "b": float(theta[2]) / x_scale}
    alpha = float(theta[2])
    params = {"c": c, "a": a * x_scale**alpha, "alpha": alpha}
    if family == "pow4":
        params["d"] = float(theta[3]) * x_scale
    return params
