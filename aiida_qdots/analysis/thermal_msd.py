"""Thermal mean-square displacement of a nanocrystal per element, and its slope with temperature.

<u^2> is the 3D mean-square displacement of an atom about its mean position, <|r - <r>|^2>, after removing the
particle's rigid-body translation and rotation (iterative mass-weighted Kabsch alignment,
:func:`aiida_qdots.analysis.fluctuations.align_to_mean`), averaged over the element's atoms (angstrom^2).
Debye-Waller convention: I/I0 = exp(-Q^2 <u^2> / 3). Its standard error comes from blocking the per-frame
series (frames are correlated; :func:`aiida_qdots.analysis.electronic.series_statistics`).

Besides the mean over all atoms ('all', each atom counts once), the electron-scattering-weighted mean
(:data:`ELECTRON_WEIGHTED`): each element's <u^2> weighted by its share of the scattered intensity,
w_a = N_a <f_a(Q)^2>_Q / sum_b N_b <f_b(Q)^2>_Q, with <.>_Q the mean over the Q range of the Bragg peaks the
Debye-Waller fit uses and f_a the electron scattering factors of :mod:`aiida_qdots.analysis.diffraction`.
"""

from __future__ import annotations

import numpy as np

from aiida_qdots.analysis.convergence import MIN_SERIES, standard_error
from aiida_qdots.analysis.diffraction import electron_form_factors
from aiida_qdots.analysis.electronic import series_statistics
from aiida_qdots.analysis.fluctuations import align_to_mean, atomic_masses, element_indices, frame_chunks
from aiida_qdots.common.units import KB_EV_K

DEBYE_WALLER_CONVENTION = (
    '3D mean-square displacement <u^2> = <|r-<r>|^2> with rigid-body motion removed; '
    'Debye-Waller I/I0 = exp(-Q^2 <u^2>/3)'
)
ELECTRON_WEIGHTED = 'electron_weighted'
"""Name of the series weighted per element by N_a <f_a(Q)^2>_Q (see the module docstring)."""


def scattering_weights(symbols, q_range, form_factors=electron_form_factors, n_q: int = 256) -> dict[str, float]:
    """w_a = N_a <f_a^2>_Q / sum_b N_b <f_b^2>_Q per element, <.>_Q uniform over ``q_range`` (1/angstrom);
    ``form_factors(elements, q)`` gives f (elements, Q)."""
    q_min, q_max = (float(x) for x in q_range)
    if not 0 < q_min < q_max:
        raise ValueError(f'the weighting Q range must satisfy 0 < Q_min < Q_max (1/angstrom), got {list(q_range)}')
    elements, counts = np.unique([str(s) for s in symbols], return_counts=True)
    mean_f2 = np.mean(np.asarray(form_factors(list(elements), np.linspace(q_min, q_max, n_q))) ** 2, axis=1)
    share = counts * mean_f2 / np.sum(counts * mean_f2)
    return {str(e): float(w) for e, w in zip(elements, share, strict=True)}


def msd_series(
    positions: np.ndarray, symbols: list[str], masses: np.ndarray | None = None, element_weights: dict | None = None
) -> dict[str, np.ndarray]:
    """Per-frame <|r - <r>|^2> (angstrom^2) averaged over each element's atoms, over all atoms ('all') and, with
    ``element_weights`` (element -> w_a, e.g. :func:`scattering_weights`), sum_a w_a <u^2>_a
    (:data:`ELECTRON_WEIGHTED`)."""
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
    if element_weights is not None:
        elements = element_indices(symbols)
        missing = set(elements) - set(element_weights)
        if missing:
            raise ValueError(f'no scattering weight for {", ".join(sorted(missing))}')
        series[ELECTRON_WEIGHTED] = sum(float(element_weights[e]) * series[e] for e in elements)
    return series


def msd_by_element(
    positions: np.ndarray,
    symbols: list[str],
    masses: np.ndarray | None = None,
    min_blocks: int = 8,
    element_weights: dict | None = None,
) -> dict[str, dict[str, float]]:
    """Mean <u^2> (angstrom^2) of every series of :func:`msd_series`, with its block-averaged standard error ``sem``
    (the weighted series is blocked as one series, so the elements' correlation is in its error)."""
    result = {}
    for name, values in msd_series(positions, symbols, masses, element_weights).items():
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


def nve_energy(total_energy_ev, kinetic_temperature_k) -> dict[str, float]:
    """What an NVE run's thermo rows (total energy, eV, and kinetic temperature, K, of every row of the NVE phase)
    say about its temperature: the mean total energy (conserved: its drift over the run is the integration error)
    and the mean kinetic temperature with its standard error (:func:`~aiida_qdots.analysis.convergence.standard_error`,
    blocking or the autocorrelation's effective samples, the larger). The thermostat that prepared the run leaves a
    small particle at an energy of relative spread ~1/sqrt(3N), so the run's temperature is this measured one, not
    the thermostat's."""
    energy = np.asarray(total_energy_ev, dtype=float)
    temperature = np.asarray(kinetic_temperature_k, dtype=float)
    if energy.size < 2 * MIN_SERIES or energy.shape != temperature.shape:
        raise ValueError(f'need >= {2 * MIN_SERIES} thermo rows of energy and temperature, got {energy.size}')
    sem, effective, _ = standard_error(temperature)
    return {
        'total_energy_ev': float(energy.mean()),
        'energy_drift_ev': float(energy[-1] - energy[0]),
        'kinetic_temperature_k': float(temperature.mean()),
        'kinetic_temperature_sem_k': float(sem),
        'kinetic_temperature_effective_samples': float(effective),
        'n_rows': int(energy.size),
    }


def energy_temperatures(total_energy_ev, n_atoms: int, reference: int, reference_k: float) -> np.ndarray:
    """Temperatures (K) of NVE runs of one particle on the Dulong-Petit scale of the kinetic model
    (:mod:`aiida_qdots.analysis.kinetics`: dT = deposited energy / 3 N k_B): the ``reference`` run at
    ``reference_k`` (its measured kinetic temperature), every other one above it by its total-energy difference
    (eV) / 3 N k_B. Energy differences are exact in NVE, kinetic temperatures carry sampling noise; and a heating
    read on this scale is the one the kinetic model's dT(t) describes."""
    energy = np.asarray(total_energy_ev, dtype=float)
    return reference_k + (energy - energy[reference]) / (3.0 * KB_EV_K * n_atoms)
