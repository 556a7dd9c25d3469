"""The seed's analyses of dG(r, t): correlation loss at chosen distances against time, the ratio of short- to
long-range loss, single-exponential fits with confidence intervals, and the localized distortion per trapped hole.

dG in 1/angstrom^2, r in angstrom, delays in ps, <u^2> in angstrom^2 (3D).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import optimize, stats

SEED_DISTANCES = (2.5, 4.1, 7.1)
"""The seed's transient losses (angstrom): nearest-neighbour Cd-Se/Cd-S, second and a longer-range shell."""


def sine_transform_rows(q, r, q_range, window_values) -> tuple[np.ndarray, np.ndarray]:
    """The linear map of the sine transform: (``keep``, M) with G(r) = F[..., keep] @ M for
    G(r) = 2/pi sum_k w_k W_k F_k sin(Q_k r) over the Q points inside ``q_range`` (trapezoid weights w_k);
    ``window_values`` is W on those points. M is (Q inside, r)."""
    q = np.asarray(q, dtype=float)
    keep = (q >= q_range[0]) & (q <= q_range[1])
    qk = q[keep]
    weights = np.zeros_like(qk)
    weights[:-1] += 0.5 * np.diff(qk)
    weights[1:] += 0.5 * np.diff(qk)
    return keep, (2.0 / np.pi * weights * window_values)[:, None] * np.sin(np.outer(qk, np.asarray(r, dtype=float)))


def sine_transform_error(q, f_err, r, q_range, window_values) -> np.ndarray:
    """Standard error of G(r) (:func:`sine_transform_rows`) for independent errors ``f_err`` (..., Q) of F."""
    keep, rows = sine_transform_rows(q, r, q_range, window_values)
    return np.sqrt((np.asarray(f_err, dtype=float)[..., keep] ** 2) @ rows**2)


def values_at(r, dg, dg_err, distances, half_width: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Mean of dG over r0 +- ``half_width`` for each of ``distances`` (angstrom): (..., distances) values and
    errors (the points of a window are taken as fully correlated: the mean of their errors)."""
    r = np.asarray(r, dtype=float)
    values, errors = [], []
    for r0 in distances:
        inside = np.abs(r - r0) <= half_width
        if not inside.any():
            raise ValueError(f'no r point within {half_width} angstrom of {r0} angstrom')
        values.append(dg[..., inside].mean(axis=-1))
        errors.append(dg_err[..., inside].mean(axis=-1))
    return np.stack(values, axis=-1), np.stack(errors, axis=-1)


def ratio(a, a_err, b, b_err) -> tuple[np.ndarray, np.ndarray]:
    """a / b and its standard error (independent errors)."""
    value = a / b
    return value, np.abs(value) * np.sqrt((a_err / a) ** 2 + (b_err / b) ** 2)


@dataclasses.dataclass
class ExponentialFit:
    """y(t) = offset + amplitude exp(-(t - t0)/tau) for t >= t0, weighted least squares: ``tau`` (ps) with its
    ``tau_ci`` at ``confidence`` (from the log-tau standard error, t distribution, scaled by sqrt(chi2_red) when
    chi2_red > 1), ``offset``/``amplitude`` with standard errors, ``n_points``, ``chi2_reduced``, ``converged``."""

    tau: float
    tau_ci: tuple[float, float]
    offset: float
    offset_err: float
    amplitude: float
    amplitude_err: float
    t0: float
    n_points: int
    chi2_reduced: float
    confidence: float
    converged: bool

    def curve(self, t) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        return np.where(t >= self.t0, self.offset + self.amplitude * np.exp(-(t - self.t0) / self.tau), np.nan)

    def as_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}


def fit_exponential(t, y, y_err, t0: float = 0.0, confidence: float = 0.95) -> ExponentialFit:
    """Fit :class:`ExponentialFit`'s model to the points at t >= ``t0`` (a rise has a negative amplitude); starts
    from taus spread over the delays' span and keeps the best."""
    t, y, y_err = (np.asarray(x, dtype=float) for x in (t, y, y_err))
    keep = (t >= t0) & np.isfinite(y) & np.isfinite(y_err) & (y_err > 0)
    t, y, w = t[keep] - t0, y[keep], 1.0 / y_err[keep]
    if t.size < 4:
        raise ValueError(f'{t.size} usable point(s) at or after {t0} ps; a 3-parameter exponential fit needs 4')

    def residuals(p):
        return (p[0] + p[1] * np.exp(-t / np.exp(p[2])) - y) * w

    span = max(t.max(), 1e-3)
    best = None
    for tau in np.geomspace(max(np.min(np.diff(np.unique(t))), 1e-3 * span), span, 5):
        start = [y[-1], y[0] - y[-1], np.log(tau)]
        result = optimize.least_squares(residuals, start, method='lm', x_scale='jac')
        if best is None or result.cost < best.cost:
            best = result
    dof = t.size - 3
    chi2 = 2.0 * best.cost / dof
    try:
        covariance = np.linalg.inv(best.jac.T @ best.jac) * max(chi2, 1.0)
    except np.linalg.LinAlgError:
        covariance = np.full((3, 3), np.inf)
    se = np.sqrt(np.clip(np.diag(covariance), 0, None))
    quantile = stats.t.ppf(0.5 + confidence / 2, dof)
    log_tau = best.x[2]
    return ExponentialFit(
        tau=float(np.exp(log_tau)),
        tau_ci=(float(np.exp(log_tau - quantile * se[2])), float(np.exp(log_tau + quantile * se[2]))),
        offset=float(best.x[0]),
        offset_err=float(se[0]),
        amplitude=float(best.x[1]),
        amplitude_err=float(se[1]),
        t0=float(t0),
        n_points=int(t.size),
        chi2_reduced=float(chi2),
        confidence=confidence,
        converged=bool(best.success and np.all(np.isfinite(se))),
    )


def distortion_per_hole(
    local_loss, local_loss_err, loss_per_du2, n_atoms: int, trapped_holes, atoms_per_hole: int = 4
) -> tuple[float, float]:
    """Displacement (angstrom) of the atoms a trapped hole distorts, from the nearest-neighbour dG loss beyond heating.

    ``local_loss`` = dG(r1, t) - R_th dG(r2, t) (1/angstrom^2), the part of the short-range loss that heating (whose
    ratio R_th = dG(r1)/dG(r2) the MD dG(r, dT) gives) does not explain. A thermal <u^2> change du2 lowers dG(r1)
    by ``loss_per_du2`` x du2 (1/angstrom^4; MD: dG_MD(r1) / (slope dT)), so the loss equals that of a uniform
    du2_loc = local_loss / loss_per_du2 on every atom; carried instead by ``atoms_per_hole`` atoms around each of
    ``trapped_holes`` holes (per particle of ``n_atoms``), each displaced by delta: n_atoms du2_loc =
    trapped_holes atoms_per_hole delta^2. Returns delta and its standard error."""
    du2 = local_loss / loss_per_du2
    if not du2 > 0 or not trapped_holes > 0:
        raise ValueError(f'no localized loss to attribute: du2_loc {du2:.3g} A^2, {trapped_holes} trapped holes')
    delta = float(np.sqrt(n_atoms * du2 / (trapped_holes * atoms_per_hole)))
    return delta, float(0.5 * delta * abs(local_loss_err / local_loss))
