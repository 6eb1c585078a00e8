"""The curve families' formulas and their bounded least-squares fit, one family at a time.

Fitting (variable projection, Golub & Pereyra 1973): every family is ``c + a·φ(x; θ)``, linear in
``(c, a)``. For a grid of the nonlinear ``θ`` (``b``; ``α``; ``(α, d)``) the bounded least-squares
``(c, a ≥ 0)`` is closed-form and vectorised; the best grid cell is refined by repeated zooming
(a bounded, global least-squares search that needs no initial guess and cannot diverge). ``x`` is
rescaled by its last value for conditioning, and a few bounded Levenberg–Marquardt steps on all
parameters polish the grid optimum (exact recovery on noiseless curves). Bounded
``scipy.optimize.least_squares`` from a heuristic start, measured on the same 30 points, takes
~1.6 ms (``exp3``) and ~4.7 ms (``pow4``) per family and needs a starting point.

Parameters ``theta`` are ``(c, a, nonlinear...)`` with ``x`` rescaled by its last value
(``u = x / x_scale``); :func:`original_params` and :func:`original_nonlinear` give them in samples.
The ensemble, its weights and its uncertainty are :mod:`tune_bs.schedule.curves`.
"""

from __future__ import annotations

import math

import numpy as np

#: Parameters per family (c, a and the nonlinear ones).
N_PARAMS = {"exp3": 3, "pow3": 3, "pow4": 4}
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


def _basis(family: str, nonlin: np.ndarray, u: np.ndarray) -> np.ndarray:
    """φ(u; θ) for rows of nonlinear parameters ``nonlin`` [G, m] → [G, n]."""
    if family == "exp3":
        return np.exp(-nonlin[:, :1] * u[None, :])
    if family == "pow3":
        return u[None, :] ** (-nonlin[:, :1])
    return (u[None, :] + nonlin[:, 1:2]) ** (-nonlin[:, :1])


def _profile(
    phi: np.ndarray, yc: np.ndarray, c_floor: float = -math.inf
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Closed-form bounded least squares of ``y ≈ c + a·φ`` (``a ≥ 0``, ``c ≥ floor``) for every
    row of ``phi``.

    ``yc`` is ``y`` minus its mean and ``c_floor`` the floor less that mean. Returns
    ``(sse, c − mean(y), a)``, each [G]. Every family's φ decreases in ``u``, so rows are
    normalised by their first value for conditioning. Where the free optimum's ``c`` lies below
    the floor, the bounded optimum has ``c`` on it (the problem is convex) and ``a`` the
    non-negative least squares of ``y − floor`` on ``φ``.
    """
    scale = phi[:, 0]
    p = phi / scale[:, None]  # [G, n]
    p_mean = p.sum(axis=1) / p.shape[1]
    pc = p - p_mean[:, None]
    spp = np.einsum("ij,ij->i", pc, pc)
    spy = pc @ yc
    ok = (spp > 1e-300) & (spy > 0.0)
    a_norm = np.where(ok, spy / np.where(ok, spp, 1.0), 0.0)
    yy = float(yc @ yc)
    sse = np.maximum(yy - a_norm * spy, 0.0)
    c = -a_norm * p_mean
    low = ok & (c < c_floor)
    if low.any():
        # with c on the floor, r = y − mean − floor: Σp·r = spy − floor·n·p̄ (Σ yc = 0),
        # Σp² = spp + n·p̄², Σr² = yy + n·floor² — no pass over the grid's rows again
        n = p.shape[1]
        spr = spy - c_floor * n * p_mean
        a_low = np.maximum(spr / np.maximum(spp + n * p_mean**2, 1e-300), 0.0)
        sse = np.where(low, np.maximum(yy + n * c_floor**2 - a_low * spr, 0.0), sse)
        c = np.where(low, c_floor, c)
        a_norm = np.where(low, a_low, a_norm)
    return sse, c, a_norm / scale


def fit_family(
    family: str,
    u: np.ndarray,
    y: np.ndarray,
    centre: tuple[float, ...] | None = None,
    floor: float = -math.inf,
) -> tuple[tuple[float, ...] | None, float]:
    """Global grid + zoom search of the profiled SSE, or from a warm ``centre`` (nonlinear
    parameters) a local grid of ±1 coarse step; then the polish. The asymptote ``c`` is kept at
    or above ``floor``. ``(None, sse)`` when the best fit is flat."""
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
    best = _zoom(family, u, y, grid, step, lo, hi, rounds, floor)
    nonlin, sse, c, a = best
    if a <= 0.0:
        return None, sse
    if centre is None:
        return _polish(family, (c, a, *nonlin), sse, u, y, _POLISH_TOL, floor=floor)
    return _polish(family, (c, a, *nonlin), sse, u, y, _WARM_POLISH_TOL, warm=True, floor=floor)


def _polish(
    family: str,
    theta: tuple[float, ...],
    sse: float,
    u: np.ndarray,
    y: np.ndarray,
    tolerance: float = 1e-6,
    warm: bool = False,
    floor: float = -math.inf,
) -> tuple[tuple[float, ...], float]:
    """A few Levenberg–Marquardt steps on all parameters from the grid optimum.

    A step's ``c`` is projected onto ``c ≥ floor``; a step is kept only when it lowers the SSE
    and stays inside the bounds (``a > 0``, nonlinear parameters within their grid bounds), so
    the polish can only improve the grid answer. It
    stops once a step lowers the SSE by less than ``tolerance`` (relative); ``warm`` also stops
    it when the linearised model predicts less than that (a warm start that is already at its
    optimum, where every real step would be rejected).
    """
    bounds = {"exp3": [_B_BOUNDS], "pow3": [_ALPHA_BOUNDS], "pow4": [_ALPHA_BOUNDS, _D_BOUNDS]}
    lows = np.array([b[0] for b in bounds[family]])
    highs = np.array([b[1] for b in bounds[family]])
    current = np.array(theta)
    lam = 1e-3
    jac = jacobian(family, theta, u)
    resid = y - model(family, theta, u)
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
        trial[0] = max(trial[0], floor)
        inside = trial[1] > 0.0 and np.all(trial[2:] >= lows) and np.all(trial[2:] <= highs)
        if inside:
            new_resid = y - model(family, tuple(trial), u)
            new_sse = float(new_resid @ new_resid)
        if inside and new_sse < sse:
            converged = new_sse > sse * (1.0 - tolerance)
            current, sse, resid = trial, new_sse, new_resid
            if converged:
                break
            jac = jacobian(family, tuple(current), u)
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
    floor: float = -math.inf,
) -> tuple[tuple[float, ...], float, float, float]:
    """Evaluate ``grid`` (rows of nonlinear params), then zoom around the best cell repeatedly.

    The search works in log-parameter space; each round spans ±1 old step with
    ``_ZOOM_POINTS`` points per dimension, clipped to the bounds. ``c ≥ floor`` throughout.
    """
    y_mean = float(y.mean())
    yc = y - y_mean
    c_floor = floor - y_mean
    sse, c, a = _profile(_basis(family, grid, u), yc, c_floor)
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
        sse, c, a = _profile(_basis(family, cand, u), yc, c_floor)
        i = int(np.argmin(sse))
        if sse[i] <= best[1]:
            best = (cand[i], float(sse[i]), float(c[i]), float(a[i]))
        step = step / half
    nonlin = tuple(float(v) for v in best[0])
    return nonlin, best[1], best[2] + y_mean, best[3]


def model(family: str, theta: tuple[float, ...], u: np.ndarray) -> np.ndarray:
    """The family's curve at rescaled ``u`` for parameters ``theta`` = (c, a, nonlinear...)."""
    c, a = theta[0], theta[1]
    if family == "exp3":
        return c + a * np.exp(-theta[2] * u)
    if family == "pow3":
        return c + a * u ** (-theta[2])
    return c + a * (u + theta[3]) ** (-theta[2])


def jacobian(family: str, theta: tuple[float, ...], u: np.ndarray) -> np.ndarray:
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


def original_nonlinear(family: str, theta: tuple[float, ...], x_scale: float) -> tuple[float, ...]:
    """Nonlinear parameters of rescaled ``theta`` in original units of ``x``."""
    if family == "exp3":
        return (theta[2] / x_scale,)
    if family == "pow3":
        return (theta[2],)
    return theta[2], theta[3] * x_scale


def rescaled_nonlinear(family: str, params: tuple[float, ...], x_scale: float) -> tuple[float, ...]:
    """Nonlinear parameters in original units, rescaled to ``x / x_scale``."""
    if family == "exp3":
        return (params[0] * x_scale,)
    if family == "pow3":
        return (params[0],)
    return params[0], params[1] / x_scale


def original_params(family: str, theta: tuple[float, ...], x_scale: float) -> dict[str, float]:
    """Convert rescaled parameters to original units (x in samples)."""
    c, a = float(theta[0]), float(theta[1])
    if family == "exp3":
        return {"c": c, "a": a, "b": float(theta[2]) / x_scale}
    alpha = float(theta[2])
    params = {"c": c, "a": a * x_scale**alpha, "alpha": alpha}
    if family == "pow4":
        params["d"] = float(theta[3]) * x_scale
    return params
