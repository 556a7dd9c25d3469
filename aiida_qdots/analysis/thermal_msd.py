"""Thermal mean-square displacement of a nanocrystal per element, and its slope with temperature.

<u^2> is the 3D mean-square displacement of an atom about its mean position, <|r - <r>|^2>, after removing the
particle's rigid-body translation and rotation (iterative mass-weighted Kabsch alignment,
:func:`aiida_qdots.analysis.fluctuations.align_to_mean`), averaged over the element's atoms (angstrom^2).
Debye-Waller convention: I/I0 = exp(-Q^2 <u^2> / 3). Its standard error comes from blocking the per-frame
series (frames are correlated; :func:`aiida_qdots.analysis.electronic.series_statistics`).
"""

from __future__ import annotations

import numpy as np

from aiida_qdots.analysis.electronic import series_statistics
from aiida_qdots.analysis.fluctuations import align_to_mean, atomic_masses, element_indices, frame_chunks

DEBYE_WALLER_CONVENTION = (
    '3D mean-square displacement <u^2> = <|r-<r>|^2> with rigid-body motion removed; '
    'Debye-Waller I/I0 = exp(-Q^2 <u^2>/3)'
)


def msd_series(positions: np.ndarray, symbols: list[str], masses: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per-frame <|r - <r>|^2> (angstrom^2) averaged over each element's atoms and over all atoms ('all')."""
    symbols = [str(s) for s in symbols]
    masses = atomic_masses(symbols) if masses is None else np.asarray(masses, dtype=float)
    alignment = align_to_mean(positions, masses)
    groups = {**element_indices(symbols), 'all': np.arange(len(symbols))}
    series = {name: np.empty(len(positions)) for name in groups}
    for sl in frame_chunks(*positions.shape[:2]):
        aligned = np.matmul(positions[sl] - alignment.centres[sl, None, :], alignment.rotations[sl])
        squared = np.sum((aligned - alignment.mean_structure) ** 2, axis=2)
        for name, index in groups.items():
            series[name][sl] = squared[:, index].mean(axis=1)
    return series


def msd_by_element(
    positions: np.ndarray, symbols: list[str], masses: np.ndarray | None = None, min_blocks: int = 8
) -> dict[str, dict[str, float]]:
    """Mean <u^2> (angstrom^2) per element and 'all', with its block-averaged standard error ``sem``."""
    result = {}
    for name, values in msd_series(positions, symbols, masses).items():
        stats = series_statistics(values, f'MSD of {name}', min_blocks=min_blocks)
        result[name] = {'msd_A2': stats.mean, 'sem_A2': stats.sem, 'block_converged': stats.converged}
    return result


def msd_temperature_slope(temperatures_k, msd_a2, msd_err_a2=None) -> dict[str, float]:
    """Weighted straight line <u^2> = a + b T: slope b (angstrom^2/K) with its standard error, intercept, reduced
    chi^2 and the largest |residual| / <u^2> (linearity). Errors: given SEMs, or the scatter when none are given."""
    t = np.asarray(temperatures_k, dtype=float)
    y = np.asarray(msd_a2, dtype=float)
    if t.size < 2 or t.shape != y.shape:
        raise ValueError(f'need at least 2 temperatures with one MSD each, got {t.size} and {y.size}')
    if np.unique(t).size < 2:
        raise ValueError('need at least 2 distinct temperatures')
    sigma = np.ones_like(y) if msd_err_a2 is None else np.asarray(msd_err_a2, dtype=float)
    if np.any(sigma <= 0):
        raise ValueError('MSD errors must be positive')
    design = np.stack([np.ones_like(t), t], axis=1) / sigma[:, None]
    coefficients, *_ = np.linalg.lstsq(design, y / sigma, rcond=None)
    residual = y - (coefficients[0] + coefficients[1] * t)
    dof = max(t.size - 2, 1)
    chi2 = float(np.sum((residual / sigma) ** 2) / dof) if t.size > 2 else 0.0
    covariance = np.linalg.inv(design.T @ design) * (chi2 if msd_err_a2 is None else max(chi2, 1.0))
    return {
        'slope_A2_per_K': float(coefficients[1]),
        'slope_stderr_A2_per_K': float(np.sqrt(covariance[1, 1])),
        'intercept_A2': float(coefficients[0]),
        'chi2_reduced': chi2,
        'max_relative_residual': float(np.max(np.abs(residual) / y)),
    }
