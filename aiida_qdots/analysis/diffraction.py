"""Electron diffraction of a nanocrystal frame: Debye scattering equation, reduced intensity F(Q) and G(r).

Kinematic scattering of a randomly oriented particle (Debye), with Q = 4 pi sin(theta) / lambda (1/angstrom):

    I(Q) = sum_i f_i(Q)^2 + sum_{i != j} f_i(Q) f_j(Q) sin(Q r_ij) / (Q r_ij)             (angstrom^2)

f_a(Q) are the electron atomic scattering factors of neutral atoms (angstrom), Kirkland's parametrisation
(E. J. Kirkland, Advanced Computing in Electron Microscopy, 2nd ed., Springer 2010, Appendix C) as scikit-ued's
``affe`` evaluates it. The pair sum is evaluated from per-element-pair distance histograms (linear binning onto
a grid of spacing ``dr``, so the error is second order, ~(Q dr)^2 / 8) and one chirp-z transform per pair type.

Reduced intensity, as a diffraction experiment normalises its data (per atom, N atoms, c_a number fractions):

    F(Q) = Q (I(Q)/N - <f^2>) / <f>^2      'faber-ziman' (PDF convention, F = Q [S(Q) - 1])
    F(Q) = Q (I(Q)/N - <f^2>) / <f^2>      'atomic' (UED's modified intensity sM(Q) = Q I_mol / I_atomic)

with <f^2> = sum_a c_a f_a^2 and <f> = sum_a c_a f_a, and the PDF by sine transform over the measured range

    G(r) = 2/pi int_{Q_min}^{Q_max} F(Q) W(Q) sin(Q r) dQ                                  (1/angstrom^2)

with the Lorch window W = sin(pi Q / Q_max) / (pi Q / Q_max) or none. Over an infinite range G(r) of the
'faber-ziman' F is R(r)/r of :mod:`aiida_qdots.analysis.pdf` with weights f_a f_b / <f>^2; the cut at Q_min removes
the particle's small-angle scattering, which is what the shape term of that module models.
"""

from __future__ import annotations

import dataclasses

import numba
import numpy as np
from scipy.signal import czt

NORMALISATIONS = ('faber-ziman', 'atomic')
WINDOWS = ('lorch', 'none')
FORM_FACTORS = 'Kirkland (2010) electron scattering factors of neutral atoms (scikit-ued affe), angstrom'


def electron_form_factors(elements, q) -> np.ndarray:
    """f_e(Q) (angstrom) of each element in ``elements`` on ``q`` (1/angstrom, Q = 4 pi sin(theta)/lambda):
    shape (elements, Q)."""
    from skued import affe  # scikit-ued imports in ~2 s: only when form factors are needed

    q = np.asarray(q, dtype=float)
    try:
        return np.array([affe(str(element), q) for element in elements], dtype=float).reshape(len(elements), q.size)
    except (ValueError, KeyError) as error:
        raise ValueError(f'no electron scattering factor for {list(elements)}: {error}') from None


@numba.njit(parallel=True, cache=True)
def _pair_histograms(positions, species, kinds, n_types, inv_dr, n_bins, n_threads):
    """Unordered pairs i < j of every species pair (``kinds[a, b]``) binned linearly onto r_k = k dr, summed over
    per-thread copies."""
    counts = np.zeros((n_threads, n_types, n_bins))
    n = positions.shape[0]
    for thread in numba.prange(n_threads):
        for i in range(thread, n, n_threads):  # interleaved rows balance the triangle
            xi, yi, zi = positions[i, 0], positions[i, 1], positions[i, 2]
            row = kinds[species[i]]
            for j in range(i + 1, n):
                dx, dy, dz = xi - positions[j, 0], yi - positions[j, 1], zi - positions[j, 2]
                x = np.sqrt(dx * dx + dy * dy + dz * dz) * inv_dr
                k = int(x)
                fraction = x - k
                kind = row[species[j]]
                counts[thread, kind, k] += 1.0 - fraction
                counts[thread, kind, k + 1] += fraction
    return counts.sum(axis=0)


def pair_types(elements) -> list[tuple[str, str]]:
    """The element pairs (a, b), a <= b in the order of ``elements``, in the order of :func:`pair_histograms`."""
    return [(a, b) for i, a in enumerate(elements) for b in elements[i:]]


def pair_histograms(frames: np.ndarray, species: np.ndarray, n_species: int, dr: float) -> np.ndarray:
    """Unordered-pair counts per species pair (see :func:`pair_types`) on r_k = k ``dr`` (angstrom), linear binning,
    averaged over ``frames`` (T, N, 3) or one (N, 3) frame: shape (pair types, bins)."""
    frames = np.asarray(frames, dtype=float)
    frames = frames[None] if frames.ndim == 2 else frames
    reach = max(float(np.linalg.norm(f - f.mean(axis=0), axis=1).max()) for f in frames) if frames.shape[1] else 0.0
    n_bins = int(2.0 * reach / dr) + 3  # no pair is further apart than twice the largest distance from the centre
    species = np.ascontiguousarray(species, dtype=np.int64)
    types = pair_types(range(n_species))
    kinds = np.zeros((n_species, n_species), dtype=np.int64)
    for kind, (a, b) in enumerate(types):
        kinds[a, b] = kinds[b, a] = kind
    threads = numba.get_num_threads()
    total = sum(
        _pair_histograms(np.ascontiguousarray(f), species, kinds, len(types), 1.0 / dr, n_bins, threads) for f in frames
    )
    return total / len(frames)


def sinc_sums(histograms: np.ndarray, dr: float, q: np.ndarray) -> np.ndarray:
    """sum_k H_k sin(Q r_k) / (Q r_k) with r_k = k ``dr`` on a uniform grid ``q`` > 0 (1/angstrom): shape (types, Q).

    One chirp-z transform per row: sum_k (H_k / r_k) exp(i Q_m r_k) at Q_m = Q_0 + m dQ, whose imaginary part / Q_m
    is the sum (r_0 = 0 contributes H_0, the limit of the sinc)."""
    q = np.asarray(q, dtype=float)
    if q.ndim != 1 or q.size < 2 or q[0] <= 0:
        raise ValueError('Q must be a 1D grid of at least 2 values > 0 (1/angstrom)')
    step = np.diff(q)
    if np.any(np.abs(step - step.mean()) > 1e-9 * q[-1]):
        raise ValueError('Q must be uniformly spaced')
    r = np.arange(histograms.shape[-1]) * dr
    weighted = np.zeros_like(histograms)
    weighted[..., 1:] = histograms[..., 1:] / r[1:]
    phases = czt(weighted, m=q.size, w=np.exp(1j * step.mean() * dr), a=np.exp(-1j * q[0] * dr), axis=-1)
    return phases.imag / q + histograms[..., :1]


@dataclasses.dataclass
class DebyePattern:
    """I(Q) of a particle (angstrom^2) on ``q`` (1/angstrom), with the per-atom averages that normalise it."""

    q: np.ndarray
    intensity: np.ndarray
    """Total I(Q) = self + distinct (angstrom^2), averaged over frames."""
    mean_f2: np.ndarray
    """<f^2>(Q) = sum_a c_a f_a^2 (angstrom^2): I_self / N."""
    mean_f_squared: np.ndarray
    """<f>(Q)^2 (angstrom^2)."""
    n_atoms: int


def debye_pattern(frames: np.ndarray, symbols, q, dr: float = 1e-3) -> DebyePattern:
    """I(Q) by the Debye equation with Q-dependent electron scattering factors, averaged over ``frames``
    (T, N, 3) or one (N, 3) frame in angstrom; ``q`` uniform and > 0 (1/angstrom); ``dr`` the histogram grid."""
    symbols = [str(s) for s in symbols]
    elements = list(dict.fromkeys(symbols))
    species = np.array([elements.index(s) for s in symbols])
    f = electron_form_factors(elements, q)
    histograms = pair_histograms(frames, species, len(elements), dr)
    sums = sinc_sums(histograms, dr, q)
    index = {name: k for k, name in enumerate(elements)}
    distinct = sum(2.0 * f[index[a]] * f[index[b]] * sums[k] for k, (a, b) in enumerate(pair_types(elements)))
    fractions = np.bincount(species, minlength=len(elements)) / len(symbols)
    mean_f2 = fractions @ f**2
    return DebyePattern(
        np.asarray(q, float), len(symbols) * mean_f2 + distinct, mean_f2, (fractions @ f) ** 2, len(symbols)
    )


def reduced_intensity(pattern: DebyePattern, normalisation: str = 'faber-ziman') -> np.ndarray:
    """F(Q) (1/angstrom) of the module's conventions: 'faber-ziman' (Q [S(Q) - 1]) or 'atomic' (sM(Q))."""
    if normalisation not in NORMALISATIONS:
        raise ValueError(f'normalisation must be one of {NORMALISATIONS}, got {normalisation!r}')
    norm = pattern.mean_f_squared if normalisation == 'faber-ziman' else pattern.mean_f2
    return pattern.q * (pattern.intensity / pattern.n_atoms - pattern.mean_f2) / norm


def window_function(q: np.ndarray, q_max: float, window: str = 'lorch') -> np.ndarray:
    """W(Q): Lorch sin(pi Q/Q_max)/(pi Q/Q_max), or 1 ('none')."""
    if window not in WINDOWS:
        raise ValueError(f'window must be one of {WINDOWS}, got {window!r}')
    return np.sinc(np.asarray(q, dtype=float) / q_max) if window == 'lorch' else np.ones_like(q, dtype=float)


def sine_transform(
    q: np.ndarray, f: np.ndarray, r: np.ndarray, q_min: float, q_max: float, window: str = 'lorch'
) -> np.ndarray:
    """G(r) = 2/pi int_{q_min}^{q_max} F(Q) W(Q) sin(Q r) dQ (trapezoid on the points of ``q`` in the range);
    ``f`` of shape (..., Q) gives G of shape (..., r)."""
    q = np.asarray(q, dtype=float)
    keep = (q >= q_min) & (q <= q_max)
    if keep.sum() < 2:
        raise ValueError(f'fewer than 2 Q points in [{q_min}, {q_max}] 1/angstrom')
    qk = q[keep]
    weights = np.zeros_like(qk)
    weights[:-1] += 0.5 * np.diff(qk)
    weights[1:] += 0.5 * np.diff(qk)
    integrand = np.asarray(f, dtype=float)[..., keep] * window_function(qk, q_max, window) * weights
    return 2.0 / np.pi * integrand @ np.sin(np.outer(qk, np.asarray(r, dtype=float)))


def diffraction_curves(
    frames: np.ndarray,
    symbols,
    q: np.ndarray,
    r: np.ndarray,
    q_range: tuple[float, float],
    window: str = 'lorch',
    normalisation: str = 'faber-ziman',
    dr: float = 1e-3,
) -> dict[str, np.ndarray]:
    """What an experiment derives from a pattern, from ``frames`` (angstrom): I(Q) (angstrom^2, per particle),
    <f^2>(Q) (angstrom^2), F(Q) (1/angstrom) on ``q`` and G(r) (1/angstrom^2) on ``r`` over ``q_range``."""
    pattern = debye_pattern(frames, symbols, q, dr)
    reduced = reduced_intensity(pattern, normalisation)
    g = sine_transform(q, reduced, r, *q_range, window)
    return {'intensity': pattern.intensity, 'mean_f2': pattern.mean_f2, 'reduced': reduced, 'g': g}
