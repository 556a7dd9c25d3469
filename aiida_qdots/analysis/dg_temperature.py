"""The lattice temperature a measured dG(r, t) holds, read against the MD's dG of a known heating.

The MD gives the reduced intensity of two states, F_cold(Q) and F_hot(Q), dT_md apart. A heating by a fraction
x = dT/dT_md of that changes the pair scattering by the Debye-Waller law, exponential in dT:
dF(Q; x) = dF_1(Q) phi(rho(Q), x), dF_1 = F_hot - F_cold, rho = F_hot/F_cold, phi = (rho^x - 1)/(rho - 1) where the
pair scattering keeps its sign and changes little (``DW_RATIO_RANGE``), phi = x elsewhere (between peaks, where it
crosses zero). dG(r; x) is its sine transform, and x per delay the least-squares fit of dG(r; x) to the measured
dG(r) over an r range. Q in 1/angstrom, r in angstrom, dG in 1/angstrom^2.
"""

from __future__ import annotations

import numpy as np

from aiida_qdots.analysis.dg_kinetics import sine_transform_rows

DW_RATIO_RANGE = (0.5, 2.0)
"""rho = F_hot/F_cold where the response is taken as exponential in dT: a Debye-Waller damping or growth of a peak;
outside it (F near a zero crossing) the ratio means nothing and the response is linear."""


def ratio_of(hot, cold) -> np.ndarray:
    """rho = ``hot``/``cold`` per Q, inf where ``cold`` is 0 (outside :data:`DW_RATIO_RANGE`: a linear response)."""
    hot, cold = np.asarray(hot, dtype=float), np.asarray(cold, dtype=float)
    with np.errstate(divide='ignore', invalid='ignore'):
        return np.where(cold != 0, hot / cold, np.inf)


def heating_response(rho, x) -> tuple[np.ndarray, np.ndarray]:
    """phi(rho, x) = (rho^x - 1)/(rho - 1) where rho is inside :data:`DW_RATIO_RANGE` (and not 1), else x; and
    d phi / dx. ``rho`` (Q,), ``x`` (...,) broadcast to (..., Q)."""
    rho = np.asarray(rho, dtype=float)
    x = np.asarray(x, dtype=float)[..., None]
    exponential = (rho > DW_RATIO_RANGE[0]) & (rho < DW_RATIO_RANGE[1]) & (np.abs(rho - 1.0) > 1e-9)
    safe = np.where(exponential, rho, 2.0)
    log = np.log(safe)
    power = safe**x
    phi = np.where(exponential, (power - 1.0) / (safe - 1.0), x)
    slope = np.where(exponential, power * log / (safe - 1.0), 1.0)
    return phi, slope


def fit_heating_fraction(
    delta_g, delta_f_full, rho, q, r, q_range, window_values, r_range, tolerance: float = 1e-12, max_iter: int = 50
) -> tuple[np.ndarray, np.ndarray]:
    """x (...) per measured dG(r) (..., r): Gauss-Newton least squares of dG(r; x) (module docstring) over the r
    points in ``r_range``, from the linear estimate. Returns x and the weights h(..., r) of its linearisation at the
    solution, dx = sum_r h(r) d(dG(r)), for error propagation (:func:`fraction_error`)."""
    keep, rows = sine_transform_rows(q, r, q_range, window_values)
    inside = (np.asarray(r) >= r_range[0]) & (np.asarray(r) <= r_range[1])
    rows = rows[:, inside]
    full, ratio, measured = np.asarray(delta_f_full)[keep], np.asarray(rho)[keep], np.asarray(delta_g)[..., inside]
    linear = full @ rows
    norm = float(linear @ linear)
    if not norm > 0:
        raise ValueError(f'the MD dG of the heating is zero over r = {r_range[0]:g}-{r_range[1]:g} angstrom')
    x = measured @ linear / norm
    for _ in range(max_iter):
        phi, slope = heating_response(ratio, x)
        jacobian = (full * slope) @ rows
        curvature = (jacobian**2).sum(axis=-1)
        step = ((measured - (full * phi) @ rows) * jacobian).sum(axis=-1) / curvature
        x = x + step
        if np.all(np.abs(step) <= tolerance * np.maximum(1.0, np.abs(x))):
            break
    else:
        raise ValueError(f'the heating fraction did not converge in {max_iter} Gauss-Newton steps')
    _, slope = heating_response(ratio, x)
    jacobian = (full * slope) @ rows
    weights = np.zeros((*x.shape, len(r)))
    weights[..., inside] = jacobian / (jacobian**2).sum(axis=-1, keepdims=True)
    return x, weights


def fraction_error(q, f_err, weights, r, q_range, window_values) -> np.ndarray:
    """Standard error of sum_r h(r) G(r) (h: ``weights`` (..., r)) for independent errors ``f_err`` (..., Q) of F:
    the sum is linear in F, sum_k c_k F_k with c = M h (:func:`sine_transform_rows`), so its variance is
    sum_k c_k^2 err_k^2."""
    keep, rows = sine_transform_rows(q, r, q_range, window_values)
    coefficients = np.asarray(weights, dtype=float) @ rows.T
    return np.sqrt(((np.asarray(f_err, dtype=float)[..., keep] * coefficients) ** 2).sum(axis=-1))
