"""Peaks of a sampled spectrum and the pairing of two peak lists (e.g. a Raman spectrum and an AIMD power
spectrum of the same cluster). Pure NumPy/SciPy; wavenumbers in cm^-1.

* A peak is a local maximum of the sampled spectrum inside a wavenumber window whose topographic prominence
  (:func:`scipy.signal.find_peaks`) is at least ``min_prominence`` times the largest value in the window; its
  position is refined by the vertex of the parabola through the highest bin and its two neighbours.
* Two peak lists are paired closest first: the pair with the smallest difference is taken, both peaks leave the
  pool, and so on while a difference is within ``tolerance_cm1``. Every peak ends up in exactly one pair or in
  its list's unpaired peaks, the result does not depend on which list comes first, and no unpaired peak of one
  list lies within the tolerance of an unpaired peak of the other.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import signal


@dataclasses.dataclass
class Peaks:
    """``positions`` (cm^-1, ascending), ``heights`` (the spectrum's unit) and ``prominences`` (same unit)."""

    positions: np.ndarray
    heights: np.ndarray
    prominences: np.ndarray


def parabolic_peak(wavenumbers: np.ndarray, values: np.ndarray, index: int) -> float:
    """Wavenumber of the vertex of the parabola through bin ``index`` and its neighbours on an even grid; the
    bin's own wavenumber at the ends of the grid or where the three bins do not curve downwards."""
    nu, s = np.asarray(wavenumbers, dtype=float), np.asarray(values, dtype=float)
    if 0 < index < nu.size - 1:
        left, centre, right = s[index - 1], s[index], s[index + 1]
        curvature = left - 2 * centre + right
        if curvature < 0:
            return float(nu[index] + 0.5 * (left - right) / curvature * (nu[1] - nu[0]))
    return float(nu[index])


def find_peaks(
    wavenumbers: np.ndarray, values: np.ndarray, window_cm1: tuple[float, float], min_prominence: float = 0.05
) -> Peaks:
    """Peaks of ``values`` sampled on the even grid ``wavenumbers`` (cm^-1) whose maxima lie in ``window_cm1``
    (inclusive) and whose prominence is at least ``min_prominence`` (0 < p <= 1) times the largest value in the
    window. The whole spectrum is searched, so a peak just inside the window keeps its full prominence."""
    nu, s = np.asarray(wavenumbers, dtype=float), np.asarray(values, dtype=float)
    if nu.ndim != 1 or nu.shape != s.shape or nu.size < 3:
        raise ValueError(f'wavenumbers {nu.shape} and values {s.shape} must be equal 1-d arrays of 3 or more')
    low, high = window_cm1
    if not low < high:
        raise ValueError(f'the window ({low}, {high}) cm^-1 is empty')
    if not 0 < min_prominence <= 1:
        raise ValueError(f'min_prominence must lie in (0, 1], got {min_prominence}')
    inside = (nu >= low) & (nu <= high)
    if not inside.any():
        raise ValueError(f'no sample of the spectrum lies in ({low}, {high}) cm^-1')
    scale = float(s[inside].max())
    if scale <= 0:
        return Peaks(np.zeros(0), np.zeros(0), np.zeros(0))
    index, properties = signal.find_peaks(s, prominence=min_prominence * scale)
    keep = inside[index]
    index = index[keep]
    positions = np.array([parabolic_peak(nu, s, int(k)) for k in index])
    return Peaks(positions.reshape(-1), s[index], properties['prominences'][keep])


def pair_peaks(
    first: np.ndarray, second: np.ndarray, tolerance_cm1: float
) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """Closest-first pairs ``(i, j)`` of ``first[i]`` and ``second[j]`` at most ``tolerance_cm1`` apart (sorted by
    ``i``), and the indices of the unpaired peaks of each list."""
    a, b = np.asarray(first, dtype=float).reshape(-1), np.asarray(second, dtype=float).reshape(-1)
    if tolerance_cm1 < 0:
        raise ValueError(f'tolerance_cm1 must be >= 0, got {tolerance_cm1}')
    distance = np.abs(a[:, None] - b[None, :])
    i, j = np.nonzero(distance <= tolerance_cm1)
    order = np.lexsort((a[i] + b[j], distance[i, j]))  # ties broken by a key symmetric in the two lists
    used_a, used_b = np.zeros(a.size, bool), np.zeros(b.size, bool)
    pairs = []
    for k in order:
        if not used_a[i[k]] and not used_b[j[k]]:
            used_a[i[k]] = used_b[j[k]] = True
            pairs.append((int(i[k]), int(j[k])))
    return sorted(pairs), np.flatnonzero(~used_a).tolist(), np.flatnonzero(~used_b).tolist()


def compare_spectra(
    first: tuple[np.ndarray, np.ndarray],
    second: tuple[np.ndarray, np.ndarray],
    window_cm1: tuple[float, float],
    tolerance_cm1: float,
    resolution_cm1: float,
    min_prominence: float = 0.05,
    names: tuple[str, str] = ('first', 'second'),
) -> dict:
    """Peaks of two spectra, each given as (wavenumbers cm^-1, values), side by side: ``pairs`` (one dict per pair,
    ascending, with both positions, the difference second - first, whether it exceeds ``resolution_cm1``, and each
    peak's height relative to its spectrum's largest value in the window) and ``unpaired_<name>`` (position and
    relative height of every peak without a partner within ``tolerance_cm1``). JSON-ready: floats and lists."""
    peaks, scales = {}, {}
    for name, (grid, values) in zip(names, (first, second), strict=True):
        peaks[name] = find_peaks(grid, values, window_cm1, min_prominence)
        grid, values = np.asarray(grid, dtype=float), np.asarray(values, dtype=float)
        scales[name] = float(values[(grid >= window_cm1[0]) & (grid <= window_cm1[1])].max())

    def entry(name: str, k: int) -> dict:
        return {
            f'{name}_cm1': float(peaks[name].positions[k]),
            f'{name}_height': float(peaks[name].heights[k]) / scales[name],
        }

    a, b = names
    pairs, alone_a, alone_b = pair_peaks(peaks[a].positions, peaks[b].positions, tolerance_cm1)
    rows = []
    for i, j in pairs:
        difference = float(peaks[b].positions[j] - peaks[a].positions[i])
        rows.append(
            {**entry(a, i), **entry(b, j), 'difference_cm1': difference, 'resolved': abs(difference) > resolution_cm1}
        )
    return {
        'pairs': rows,
        f'unpaired_{a}': [entry(a, i) for i in alone_a],
        f'unpaired_{b}': [entry(b, j) for j in alone_b],
    }
