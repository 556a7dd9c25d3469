"""Pair distribution function G(r) of a finite particle, weighted for electron scattering, and its change dG(r).

Convention: with per-atom scattering weights w_i and N atoms,

    R(r) = 1 / (N <w>^2) * sum_{i != j} w_i w_j delta(r - r_ij)          (atoms per angstrom)
    G(r) = R(r) / r - 4 pi r rho0 gamma0(r)                               (1/angstrom^2)

with rho0 = N / (4/3 pi R^3) and the shape function of a sphere of radius R,
gamma0(r) = 1 - 3r/(4R) + r^3/(16 R^3) for r < 2R (0 beyond), so that G(r) of a uniform (ideal-gas) sphere is zero
and only the particle's structure remains. Weights: the atomic number Z, i.e. the large-Q limit of the Mott-Bethe
electron scattering factor f_e ~ (Z - f_x(Q)) / Q^2 -> Z / Q^2 (the Q^-2 factor is common to all elements);
pass ``weights`` to use tabulated Q-averaged factors instead. Distances in angstrom.
"""

from __future__ import annotations

import numpy as np
from ase.data import atomic_numbers
from scipy.signal import find_peaks
from scipy.spatial import cKDTree


def electron_weights(symbols) -> np.ndarray:
    """Per-atom weights Z (large-Q Mott-Bethe limit of the electron scattering factor, up to a common Q^-2)."""
    return np.array([atomic_numbers[str(s)] for s in symbols], dtype=float)


def weighted_pair_histogram(frames: np.ndarray, weights: np.ndarray, r_edges: np.ndarray) -> np.ndarray:
    """sum over frames and ordered pairs i != j of w_i w_j in the bins ``r_edges`` (angstrom), divided by frames."""
    frames = np.asarray(frames, dtype=float)
    frames = frames[None] if frames.ndim == 2 else frames
    histogram = np.zeros(len(r_edges) - 1)
    for positions in frames:
        pairs = cKDTree(positions).query_pairs(float(r_edges[-1]), output_type='ndarray')
        distance = np.linalg.norm(positions[pairs[:, 0]] - positions[pairs[:, 1]], axis=1)
        histogram += 2.0 * np.histogram(distance, r_edges, weights=weights[pairs[:, 0]] * weights[pairs[:, 1]])[0]
    return histogram / len(frames)


def sphere_shape_function(r, radius: float) -> np.ndarray:
    """gamma0(r) = 1 - 3r/(4R) + r^3/(16R^3) for r < 2R, else 0: the overlap of a sphere with its shifted copy."""
    x = np.asarray(r, dtype=float) / radius
    return np.where(x < 2.0, 1.0 - 0.75 * x + x**3 / 16.0, 0.0)


def particle_radius(positions: np.ndarray) -> float:
    """Radius (angstrom) of the uniform sphere with the particle's radius of gyration: R = sqrt(5/3) R_g."""
    centred = positions - positions.mean(axis=0)
    return float(np.sqrt(5.0 / 3.0 * np.mean(np.sum(centred**2, axis=1))))


def reduced_pdf(
    frames: np.ndarray, symbols, r_max: float = 12.0, dr: float = 0.02, weights=None, radius: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(r, G(r)) of the module's convention averaged over ``frames`` (T, N, 3) or one (N, 3) frame; ``radius``
    defaults to the mean structure's :func:`particle_radius`."""
    frames = np.asarray(frames, dtype=float)
    frames = frames[None] if frames.ndim == 2 else frames
    w = electron_weights(symbols) if weights is None else np.asarray(weights, dtype=float)
    n_atoms = frames.shape[1]
    edges = np.arange(0.0, r_max + dr / 2, dr)
    r = 0.5 * (edges[1:] + edges[:-1])
    radius = particle_radius(frames.mean(axis=0)) if radius is None else radius
    density = n_atoms / (4.0 / 3.0 * np.pi * radius**3)
    rdf = weighted_pair_histogram(frames, w, edges) / (n_atoms * np.mean(w) ** 2 * dr)
    return r, rdf / r - 4.0 * np.pi * r * density * sphere_shape_function(r, radius)


def pdf_peaks(r: np.ndarray, g: np.ndarray, prominence: float = 0.2) -> np.ndarray:
    """Positions (angstrom) of the maxima of G(r) with at least ``prominence`` relative to the largest peak."""
    index, _ = find_peaks(g, prominence=prominence * np.max(np.abs(g)))
    return r[index]
