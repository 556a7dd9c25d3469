"""Measured electron-diffraction patterns I(Q, t): pre-pump reference, difference reduced intensity and dG(r, t),
and Bragg-peak integration into the I(t)/I0 table of the Debye-Waller route.

Arrays: ``q`` (Q,) in 1/angstrom, ``intensity`` (sets, delays, Q) in the detector's unit, delays in ps, r in
angstrom. The two routes start from the same patterns:

- dG route: dF(Q, t) = Q [I(Q, t) - I0(Q)] / D(Q), D the normalising scattering (per particle: N <f>^2 of the
  forward model's 'faber-ziman' convention when the node carries it, else a smooth baseline of I0), then
  dG(r, t) = 2/pi int dF W sin(Q r) dQ by :func:`aiida_qdots.analysis.diffraction.sine_transform`, the forward
  model's own transform, so MD dG(r, dT) and measured dG(r, t) are comparable point by point.
- Debye-Waller route: each Bragg peak of I0 integrated above a straight baseline drawn between its two flanking
  minima (the smooth atomic and diffuse scattering under it), the same window at every delay; I(t)/I0 per peak.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import find_peaks

from aiida_qdots.analysis.diffraction import sine_transform


def reference(delays_ps, intensity, intensity_err) -> tuple[np.ndarray, np.ndarray]:
    """The pre-pump reference I0(Q) per set: the mean of the patterns at negative delays, and its standard error
    (sets, Q)."""
    before = np.asarray(delays_ps, dtype=float) < 0
    if not before.any():
        raise ValueError('no negative delay: the pre-pump reference needs one')
    n = int(before.sum())
    return intensity[:, before].mean(axis=1), np.sqrt((intensity_err[:, before] ** 2).sum(axis=1)) / n


def smooth_baseline(q, pattern, degree: int = 4) -> np.ndarray:
    """A smooth curve under a pattern (detector unit): exp of a least-squares polynomial in Q of ln I, standing for
    the atomic scattering that normalises dI when the particle's N <f>^2 is not known."""
    q = np.asarray(q, dtype=float)
    x = (q - q.mean()) / np.ptp(q)
    return np.exp(np.polynomial.polynomial.polyval(x, np.polynomial.polynomial.polyfit(x, np.log(pattern), degree)))


def difference_reduced(q, intensity, reference_pattern, denominator) -> np.ndarray:
    """dF(Q, t) = Q (I(Q, t) - I0(Q)) / D(Q) (1/angstrom when D is in the unit of I): ``intensity`` (..., D, Q),
    ``reference_pattern`` and ``denominator`` (..., Q)."""
    q = np.asarray(q, dtype=float)
    return q * (intensity - reference_pattern[..., None, :]) / denominator[..., None, :]


def difference_pdf(q, delta_reduced, r, q_range, window: str = 'lorch') -> np.ndarray:
    """dG(r, t) (1/angstrom^2) of dF(Q, t) (..., Q) over ``q_range`` with ``window``: shape (..., r)."""
    return sine_transform(q, delta_reduced, r, *q_range, window)


def peak_windows(q, pattern, q_range, prominence: float = 0.02, max_peaks: int = 12) -> np.ndarray:
    """Bragg peaks of a reference pattern within ``q_range``: (peaks, 3) index of the minimum before, of the maximum
    and of the minimum after each (into ``q``) of the pattern's relative excess over its smooth baseline, for maxima
    of prominence above ``prominence``; the ``max_peaks`` most prominent, sorted by Q."""
    q, pattern = np.asarray(q, dtype=float), np.asarray(pattern, dtype=float)
    excess = pattern / smooth_baseline(q, pattern) - 1.0
    maxima, properties = find_peaks(excess, prominence=prominence)
    inside = (q[maxima] >= q_range[0]) & (q[maxima] <= q_range[1])
    maxima, prominences = maxima[inside], properties['prominences'][inside]
    maxima = np.sort(maxima[np.argsort(prominences)[::-1][:max_peaks]])
    windows = []
    for k in maxima:  # walk down both flanks of the excess over the smooth baseline to its minima
        low = k
        while low > 0 and excess[low - 1] < excess[low]:
            low -= 1
        high = k
        while high < q.size - 1 and excess[high + 1] < excess[high]:
            high += 1
        if 0 < low and high < q.size - 1:  # a peak cut by the end of the pattern is not integrated
            windows.append((low, k, high))
    return np.array(windows, dtype=int).reshape(-1, 3)


def peak_areas(q, intensity, intensity_err, windows) -> tuple[np.ndarray, np.ndarray]:
    """Area of each peak above the straight line between its window's end points (trapezoid in Q), for patterns
    (..., Q): areas and standard errors (..., peaks), errors propagated as independent per Q point."""
    q = np.asarray(q, dtype=float)
    areas, errors = [], []
    for low, _, high in windows:
        x = q[low : high + 1]
        weights = np.zeros_like(x)
        weights[:-1] += 0.5 * np.diff(x)
        weights[1:] += 0.5 * np.diff(x)
        fraction = (x - x[0]) / (x[-1] - x[0])
        # the baseline's integral is a linear combination of the end points: fold it into their weights
        coefficients = weights.copy()
        coefficients[0] -= weights @ (1.0 - fraction)
        coefficients[-1] -= weights @ fraction
        areas.append(intensity[..., low : high + 1] @ coefficients)
        errors.append(np.sqrt(intensity_err[..., low : high + 1] ** 2 @ coefficients**2))
    return np.stack(areas, axis=-1), np.stack(errors, axis=-1)


def peak_q(q, pattern, windows, self_scattering=None) -> np.ndarray:
    """Q (1/angstrom) whose exp(-Q^2 du2/3) each peak area follows to first order in du2, for independent thermal
    displacements: sqrt(A[Q^2 (I0 - S)] / A[I0]), A the area above the window's straight baseline
    (:func:`peak_areas`), S the self scattering N <f^2> (angstrom^2, (Q,)) that the Debye-Waller factor does not
    damp; S = 0 when not known (measured data). Not the centroid of the excess: the baseline under a broad peak of a
    small particle is damped too, and its end points do not sit at the peak's Q."""
    q, pattern = np.asarray(q, dtype=float), np.asarray(pattern, dtype=float)
    damped = pattern if self_scattering is None else pattern - np.asarray(self_scattering, dtype=float)
    ones = np.ones_like(q)
    return np.sqrt(peak_areas(q, q**2 * damped, ones, windows)[0] / peak_areas(q, pattern, ones, windows)[0])


def peak_ratios(
    q, delays_ps, intensity, intensity_err, q_range, prominence: float = 0.02, max_peaks: int = 12, self_scattering=None
):
    """The Debye-Waller route's table: peaks found in the first set's reference, each integrated at every delay;
    returns (peak Q (P,) 1/angstrom, :func:`peak_q` with ``self_scattering``, I(t)/I0 (sets, D, P), its standard
    error, the relative error of each I0 area (sets, P), windows (P, 3)). The I0 part of the error is one error
    common to every delay of a set: a fit across delays must carry it as such."""
    ref, ref_err = reference(delays_ps, intensity, intensity_err)
    windows = peak_windows(q, ref[0], q_range, prominence, max_peaks)
    if len(windows) == 0:
        raise ValueError(f'no Bragg peak found in {list(q_range)} 1/angstrom')
    area, area_err = peak_areas(q, intensity, intensity_err, windows)
    area0, area0_err = peak_areas(q, ref, ref_err, windows)
    ratio = area / area0[:, None, :]
    error = np.abs(ratio) * np.sqrt((area_err / area) ** 2 + (area0_err / area0)[:, None, :] ** 2)
    return peak_q(q, ref[0], windows, self_scattering), ratio, error, area0_err / area0, windows
