"""Debye-Waller analysis of ultrafast electron diffraction: mean-square displacement and lattice temperature.

Convention (3D): I(Q, t) / I0(Q) = exp(-Q^2 du2(t) / 3), du2 = change of the 3D mean-square displacement
<u^2> = <|r - <r>|^2> (angstrom^2), Q = 2 pi / d (1/angstrom). So y = -ln(I/I0) is linear in x = Q^2 with zero
intercept and slope du2 / 3; a significant Q^4 term (curvature in x) marks non-thermal, localized disorder
(high-Q peaks drop more than heating predicts). dT = du2 / (d<u^2>/dT) with the slope from MD (qdots.phonons).
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
from scipy import stats

WURTZITE_CDSE = {'a': 4.30, 'c': 7.01}
"""Wurtzite CdSe lattice constants (angstrom)."""


def wurtzite_q(hkl, a: float = WURTZITE_CDSE['a'], c: float = WURTZITE_CDSE['c']) -> np.ndarray:
    """Q = 2 pi / d (1/angstrom) of hexagonal reflections ``hkl`` (sequence of (h, k, l)):
    1/d^2 = 4 (h^2 + hk + k^2) / (3 a^2) + l^2 / c^2."""
    hkl = np.atleast_2d(np.asarray(hkl, dtype=float))
    h, k, ell = hkl.T
    return 2 * np.pi * np.sqrt(4 * (h**2 + h * k + k**2) / (3 * a**2) + ell**2 / c**2)


def wurtzite_allowed(h: int, k: int, ell: int) -> bool:
    """Structure-factor rule of wurtzite (P6_3mc, hcp sublattices): h - k = 3n with l odd is extinct."""
    return not ((h - k) % 3 == 0 and ell % 2 == 1)


def wurtzite_reflections(q_max: float, a: float = WURTZITE_CDSE['a'], c: float = WURTZITE_CDSE['c']) -> list[tuple]:
    """Allowed (h, k, l) with h >= k >= 0, l >= 0 and Q <= ``q_max``, one per family, sorted by Q."""
    found = {}
    for hkl in itertools.product(range(8), range(8), range(12)):
        if hkl[1] > hkl[0] or hkl == (0, 0, 0) or not wurtzite_allowed(*hkl):
            continue
        q = float(wurtzite_q([hkl], a, c)[0])
        if q <= q_max:
            found.setdefault(round(q, 6), hkl)
    return [found[q] for q in sorted(found)]


def intensity_ratio(q, du2) -> np.ndarray:
    """Forward model I/I0 = exp(-Q^2 du2 / 3) on the grid (delays, peaks) for du2 per delay (angstrom^2)."""
    return np.exp(-np.outer(np.asarray(du2, dtype=float), np.asarray(q, dtype=float) ** 2) / 3.0)


@dataclasses.dataclass
class DebyeWallerFit:
    """Per delay: ``du2`` and ``du2_err`` (angstrom^2, 3D), ``chi2`` / ``dof`` / ``p_linear`` of the zero-intercept
    line in Q^2, and the curvature test: ``q4_coefficient`` (angstrom^4) of y = b Q^2 + c Q^4, its z-score
    ``q4_z`` and two-sided ``p_curvature``; ``flagged`` where p_curvature < ``alpha`` (localized disorder).
    """

    du2: np.ndarray
    du2_err: np.ndarray
    chi2: np.ndarray
    dof: int
    p_linear: np.ndarray
    q4_coefficient: np.ndarray
    q4_z: np.ndarray
    p_curvature: np.ndarray
    flagged: np.ndarray
    alpha: float


def debye_waller_fit(q, ratio, ratio_err, alpha: float = 0.01) -> DebyeWallerFit:
    """Weighted zero-intercept fit of -ln(I/I0) against Q^2 at every delay; ``ratio`` and ``ratio_err`` are
    (delays, peaks) arrays of I/I0 and its standard error, ``q`` (peaks,) in 1/angstrom.
    """
    q = np.asarray(q, dtype=float)
    ratio, ratio_err = np.asarray(ratio, dtype=float), np.asarray(ratio_err, dtype=float)
    if ratio.ndim != 2 or ratio.shape != ratio_err.shape or ratio.shape[1] != q.size:
        raise ValueError(f'ratio {ratio.shape} and errors {ratio_err.shape} must be (delays, {q.size} peaks)')
    if q.size < 3:
        raise ValueError(f'need at least 3 peaks for the fit and its linearity test, got {q.size}')
    if np.any(ratio <= 0) or np.any(ratio_err <= 0):
        raise ValueError('I/I0 and its errors must be positive')
    x = q**2
    y = -np.log(ratio)
    w = (ratio / ratio_err) ** 2  # sigma_y = sigma_I / I
    sxx = (w * x**2).sum(axis=1)
    slope = (w * x * y).sum(axis=1) / sxx
    chi2 = (w * (y - slope[:, None] * x) ** 2).sum(axis=1)
    dof = q.size - 1
    # y = b x + c x^2, weighted normal equations per delay
    a11, a12, a22 = sxx, (w * x**3).sum(axis=1), (w * x**4).sum(axis=1)
    r1, r2 = (w * x * y).sum(axis=1), (w * x**2 * y).sum(axis=1)
    det = a11 * a22 - a12**2
    c = (a11 * r2 - a12 * r1) / det
    c_err = np.sqrt(a11 / det)
    z = c / c_err
    p_curvature = 2 * stats.norm.sf(np.abs(z))
    return DebyeWallerFit(
        du2=3 * slope,
        du2_err=3 / np.sqrt(sxx),
        chi2=chi2,
        dof=dof,
        p_linear=stats.chi2.sf(chi2, dof),
        q4_coefficient=c,
        q4_z=z,
        p_curvature=p_curvature,
        flagged=p_curvature < alpha,
        alpha=alpha,
    )


def reference_du2_error(q, ratio, ratio_err, reference_rel_err) -> np.ndarray:
    """Standard error (angstrom^2) of du2 at each delay (delays,) from the reference I0 alone: the relative errors
    ``reference_rel_err`` (peaks,) of its peak areas, common to every delay, through the weights of
    :func:`debye_waller_fit`: 3 sqrt(sum (w x s)^2) / sum w x^2, x = Q^2."""
    x = np.asarray(q, dtype=float) ** 2
    w = (np.asarray(ratio, dtype=float) / np.asarray(ratio_err, dtype=float)) ** 2
    return 3 * np.sqrt(((w * x * np.asarray(reference_rel_err, dtype=float)) ** 2).sum(axis=1)) / (w * x**2).sum(axis=1)


def lattice_temperature(du2, du2_err, slope_a2_per_k: float, slope_err_a2_per_k: float = 0.0):
    """dT = du2 / (d<u^2>/dT) (K) with the uncertainty of both propagated (independent errors)."""
    if not slope_a2_per_k > 0:
        raise ValueError(f'd<u^2>/dT must be positive, got {slope_a2_per_k}')
    du2, du2_err = np.asarray(du2, dtype=float), np.asarray(du2_err, dtype=float)
    delta_t = du2 / slope_a2_per_k
    error = np.sqrt((du2_err / slope_a2_per_k) ** 2 + (delta_t * slope_err_a2_per_k / slope_a2_per_k) ** 2)
    return delta_t, error
