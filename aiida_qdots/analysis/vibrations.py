"""Vibrational spectroscopy of a finite cluster from finite differences: Raman activities, IR intensities,
broadened spectra and the character of each normal mode.

Normal modes come from :func:`aiida_qdots.analysis.normal_modes.normal_modes` (mass-weighted Hessian, rigid modes
projected out). Units: positions and displacements in angstrom, masses in amu, polarizabilities in angstrom^3,
dipoles in e angstrom, wavenumbers in cm^-1. Raman activities in angstrom^4/amu (45 a'^2 + 7 g'^2, the
convention of Gaussian and CP2K), IR intensities in km/mol.
"""

from __future__ import annotations

import numpy as np

from aiida_qdots.analysis.normal_modes import normal_modes
from aiida_qdots.common.units import AMU_KG

ELEMENTARY_CHARGE_C = 1.602176634e-19
AVOGADRO = 6.02214076e23
VACUUM_PERMITTIVITY = 8.8541878128e-12
SPEED_OF_LIGHT_M_S = 2.99792458e8
IR_KM_MOL = AVOGADRO / (12 * VACUUM_PERMITTIVITY * SPEED_OF_LIGHT_M_S**2) * ELEMENTARY_CHARGE_C**2 / AMU_KG / 1e3
"""IR intensity (km/mol) of a mode with |d mu / dQ| = 1 e/amu^(1/2): N_A pi / (3 c^2) |d mu/dQ|^2 / (4 pi eps0)."""

CORE_ELEMENTS = ('Cd', 'Se')
"""Elements of the CdSe core; every other element is a ligand (H on Se-rich, Cl on Cd-rich clusters)."""


def central_differences(plus: np.ndarray, minus: np.ndarray, step: float) -> np.ndarray:
    """Derivatives (3N, ...) of a quantity from its values at +step and -step along each Cartesian coordinate."""
    plus, minus = np.asarray(plus, dtype=float), np.asarray(minus, dtype=float)
    if plus.shape != minus.shape:
        raise ValueError(f'plus {plus.shape} and minus {minus.shape} displacements disagree')
    return (plus - minus) / (2.0 * step)


def hessian_from_forces(plus_forces: np.ndarray, minus_forces: np.ndarray, step: float) -> np.ndarray:
    """Symmetrised Hessian (3N, 3N) in eV/angstrom^2 from forces (3N displacements, N, 3) in eV/angstrom at
    +/- ``step`` angstrom along each Cartesian coordinate (atom-major, x y z)."""
    n = len(plus_forces)
    derivative = -central_differences(np.reshape(plus_forces, (n, -1)), np.reshape(minus_forces, (n, -1)), step)
    return 0.5 * (derivative + derivative.T)


def mode_derivatives(cartesian: np.ndarray, eigenvectors: np.ndarray, masses: np.ndarray) -> np.ndarray:
    """Derivatives (M, ...) along normal coordinates Q (amu^(1/2) angstrom) from Cartesian ones (3N, ...):
    dX/dQ_m = sum_k dX/dx_k e_km / sqrt(m_k), with ``eigenvectors`` (3N, M) of the mass-weighted Hessian."""
    cartesian = np.asarray(cartesian, dtype=float)
    displacement = np.asarray(eigenvectors, dtype=float) / np.repeat(np.sqrt(masses), 3)[:, None]
    return np.tensordot(displacement, cartesian, axes=(0, 0))


def raman_invariants(dalpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean polarizability derivative a' and squared anisotropy g'^2 of (M, 3, 3) tensors (symmetrised)."""
    d = 0.5 * (dalpha + np.swapaxes(dalpha, -1, -2))
    mean = np.trace(d, axis1=-2, axis2=-1) / 3.0
    xx, yy, zz = d[..., 0, 0], d[..., 1, 1], d[..., 2, 2]
    off = d[..., 0, 1] ** 2 + d[..., 1, 2] ** 2 + d[..., 0, 2] ** 2
    anisotropy = 0.5 * ((xx - yy) ** 2 + (yy - zz) ** 2 + (zz - xx) ** 2 + 6.0 * off)
    return mean, anisotropy


def raman_activity(dalpha: np.ndarray) -> np.ndarray:
    """Raman activity 45 a'^2 + 7 g'^2 (angstrom^4/amu for dalpha in angstrom^2/amu^(1/2)); rotation-invariant."""
    mean, anisotropy = raman_invariants(dalpha)
    return 45.0 * mean**2 + 7.0 * anisotropy


def depolarization_ratio(dalpha: np.ndarray, polarized: bool = True) -> np.ndarray:
    """Depolarization ratio for plane-polarized (3 g'^2 / (45 a'^2 + 4 g'^2)) or natural light
    (6 g'^2 / (45 a'^2 + 7 g'^2)); 0 for a mode without activity."""
    mean, anisotropy = raman_invariants(dalpha)
    num, den = (
        (3 * anisotropy, 45 * mean**2 + 4 * anisotropy)
        if polarized
        else (
            6 * anisotropy,
            45 * mean**2 + 7 * anisotropy,
        )
    )
    return np.divide(num, den, out=np.zeros_like(num), where=den > 1e-12 * max(float(np.max(den, initial=0)), 1e-300))


def ir_intensity(dmu: np.ndarray) -> np.ndarray:
    """IR intensities (km/mol) from dipole derivatives (M, 3) along normal coordinates (e/amu^(1/2))."""
    return IR_KM_MOL * np.sum(np.asarray(dmu, dtype=float) ** 2, axis=-1)


def broadened_spectrum(wavenumbers, intensities, grid, hwhm: float = 4.0) -> np.ndarray:
    """Sticks broadened by area-normalised Gaussians of half width at half maximum ``hwhm`` (cm^-1): the
    spectrum integrates to the sum of the intensities when the grid covers them."""
    return (_gaussians(grid, wavenumbers, hwhm) * np.asarray(intensities, dtype=float)).sum(axis=1)


def _gaussians(grid, wavenumbers, hwhm: float) -> np.ndarray:
    """Area-normalised Gaussians (len(grid), len(wavenumbers)) of half width at half maximum ``hwhm``."""
    if hwhm <= 0:
        raise ValueError(f'hwhm must be positive, got {hwhm}')
    sigma = hwhm / np.sqrt(2.0 * np.log(2.0))
    z = (np.asarray(grid, dtype=float)[:, None] - np.asarray(wavenumbers, dtype=float)[None, :]) / sigma
    return np.exp(-0.5 * z**2) / (sigma * np.sqrt(2 * np.pi))


def dominant_modes(peaks_cm1, wavenumbers, intensities, hwhm: float = 4.0) -> np.ndarray:
    """Index of the stick contributing most to the broadened spectrum (:func:`broadened_spectrum`) at each of
    ``peaks_cm1``."""
    contributions = _gaussians(np.reshape(peaks_cm1, -1), wavenumbers, hwhm) * np.asarray(intensities, dtype=float)
    return np.argmax(contributions, axis=1)


def element_participation(eigenvectors: np.ndarray, symbols: list[str]) -> dict[str, np.ndarray]:
    """Fraction (M,) of each mode's kinetic energy on each element (the squared mass-weighted eigenvector summed
    over that element's atoms); the fractions of a mode add up to 1."""
    weights = np.asarray(eigenvectors, dtype=float).reshape(len(symbols), 3, -1) ** 2
    per_atom = weights.sum(axis=1)
    per_atom = per_atom / per_atom.sum(axis=0)
    symbols = np.asarray(symbols)
    return {element: per_atom[symbols == element].sum(axis=0) for element in dict.fromkeys(symbols.tolist())}


def ligand_bonds(positions: np.ndarray, symbols: list[str], core=CORE_ELEMENTS) -> list[tuple[int, int]]:
    """(core atom, ligand atom) pairs: every ligand atom bonded to its nearest core atom."""
    positions = np.asarray(positions, dtype=float)
    is_core = np.isin(symbols, core)
    core_index = np.flatnonzero(is_core)
    if not core_index.size:
        return []
    bonds = []
    for ligand in np.flatnonzero(~is_core):
        distances = np.linalg.norm(positions[core_index] - positions[ligand], axis=1)
        bonds.append((int(core_index[np.argmin(distances)]), int(ligand)))
    return bonds


def bond_character(
    positions: np.ndarray, eigenvectors: np.ndarray, masses: np.ndarray, bonds: list[tuple[int, int]]
) -> tuple[np.ndarray, np.ndarray]:
    """Stretch and bend content (M,) of each mode in ``bonds``: the squared relative displacement of the bonded
    pair along the bond (stretch) and perpendicular to it (bend), summed over bonds, as fractions of the mode's
    squared Cartesian displacement."""
    positions = np.asarray(positions, dtype=float)
    n = len(positions)
    u = (np.asarray(eigenvectors, dtype=float) / np.repeat(np.sqrt(masses), 3)[:, None]).reshape(n, 3, -1)
    norm = np.sum(u**2, axis=(0, 1))
    stretch = np.zeros(u.shape[-1])
    bend = np.zeros(u.shape[-1])
    for a, b in bonds:
        axis = positions[b] - positions[a]
        axis /= np.linalg.norm(axis)
        relative = u[b] - u[a]
        along = axis @ relative
        stretch += along**2
        bend += np.sum(relative**2, axis=0) - along**2
    return stretch / norm, bend / norm


def assign_modes(
    positions: np.ndarray,
    symbols: list[str],
    eigenvectors: np.ndarray,
    masses: np.ndarray,
    core=CORE_ELEMENTS,
    ligand_threshold: float = 0.5,
) -> list[str]:
    """One label per mode: ``'<core>-<ligand> stretch'`` or ``'... bend'`` when the ligand atoms carry more than
    ``ligand_threshold`` of its kinetic energy (by the larger of the stretch and bend content of the bonds of
    the ligand element that moves most), else ``'core'``."""
    participation = element_participation(eigenvectors, symbols)
    bonds = ligand_bonds(positions, symbols, core)
    by_pair: dict[str, list[tuple[int, int]]] = {}
    for a, b in bonds:
        by_pair.setdefault(f'{symbols[a]}-{symbols[b]}', []).append((a, b))
    character = {
        pair: bond_character(positions, eigenvectors, masses, pair_bonds) for pair, pair_bonds in by_pair.items()
    }
    ligands = [element for element in participation if element not in core]
    labels = []
    for m in range(np.shape(eigenvectors)[1]):
        ligand_share = sum(participation[element][m] for element in ligands)
        if not ligands or ligand_share <= ligand_threshold:
            labels.append('core')
            continue
        if not character:
            labels.append('ligand')
            continue
        pair = max(character, key=lambda p: character[p][0][m] + character[p][1][m])
        stretch, bend = character[pair][0][m], character[pair][1][m]
        labels.append(f'{pair} {"stretch" if stretch >= bend else "bend"}')
    return labels


def main_peak(
    wavenumbers: np.ndarray,
    activities: np.ndarray,
    core_fraction: np.ndarray,
    hwhm: float = 4.0,
    minimum_cm1: float = 120.0,
    core_threshold: float = 0.5,
    resolution_cm1: float = 0.1,
) -> float:
    """Wavenumber (cm^-1) of the maximum of the broadened Raman spectrum of the optical core modes: modes above
    ``minimum_cm1`` (acoustic/optical boundary) whose kinetic energy is mostly (> ``core_threshold``) on the core.
    NaN when there is no such mode."""
    wavenumbers = np.asarray(wavenumbers, dtype=float)
    keep = (wavenumbers > minimum_cm1) & (np.asarray(core_fraction) > core_threshold)
    if not keep.any():
        return float('nan')
    grid = np.arange(wavenumbers[keep].min() - 5 * hwhm, wavenumbers[keep].max() + 5 * hwhm, resolution_cm1)
    spectrum = broadened_spectrum(wavenumbers[keep], np.asarray(activities)[keep], grid, hwhm)
    return float(grid[np.argmax(spectrum)])


def degenerate_sums(wavenumbers: np.ndarray, values: np.ndarray, tolerance_cm1: float = 1.0) -> np.ndarray:
    """Sums of ``values`` over sets of modes whose ascending wavenumbers lie within ``tolerance_cm1`` of their
    neighbour: the per-set quantities that do not depend on the arbitrary basis of a degenerate set."""
    order = np.argsort(wavenumbers, kind='stable')
    w, values = np.asarray(wavenumbers, dtype=float)[order], np.asarray(values, dtype=float)[order]
    starts = np.flatnonzero(np.concatenate([[True], np.diff(w) >= tolerance_cm1]))
    return np.add.reduceat(values, starts)


def nearest_modes(wavenumbers: np.ndarray, peak_cm1: float, count: int = 3) -> np.ndarray:
    """Indices of the ``count`` modes closest in wavenumber to ``peak_cm1``, closest first."""
    return np.argsort(np.abs(np.asarray(wavenumbers, dtype=float) - peak_cm1), kind='stable')[:count]


def mode_frames(
    positions: np.ndarray, eigenvector: np.ndarray, masses: np.ndarray, amplitude: float = 0.3, n_frames: int = 20
) -> tuple[np.ndarray, np.ndarray]:
    """One period of a mode as (n_frames, N, 3) positions and the (N, 3) Cartesian displacement pattern scaled so
    that its largest atomic displacement is ``amplitude`` (angstrom)."""
    positions = np.asarray(positions, dtype=float)
    pattern = (np.asarray(eigenvector, dtype=float) / np.repeat(np.sqrt(masses), 3)).reshape(-1, 3)
    pattern *= amplitude / np.linalg.norm(pattern, axis=1).max()
    phases = np.sin(2 * np.pi * np.arange(n_frames) / n_frames)
    return positions[None] + phases[:, None, None] * pattern[None], pattern


def vibrational_spectra(
    hessian: np.ndarray,
    masses: np.ndarray,
    positions: np.ndarray,
    symbols: list[str],
    dalpha: np.ndarray | None = None,
    dmu: np.ndarray | None = None,
    hwhm: float = 4.0,
    minimum_cm1: float = 120.0,
    core_threshold: float = 0.5,
) -> dict[str, np.ndarray | float | list]:
    """Normal modes (rigid modes projected out) of ``hessian`` (eV/angstrom^2) with Raman activities and
    depolarization ratios from Cartesian polarizability derivatives ``dalpha`` (3N, 3, 3; angstrom^2), IR
    intensities from dipole derivatives ``dmu`` (3N, 3; e), per-element participation, assignments and the main
    optical Raman peak (:func:`main_peak`). Arrays cover the 3N-6 (3N-5) vibrational modes in ascending order."""
    masses = np.asarray(masses, dtype=float)
    modes = normal_modes(hessian, masses, positions)
    vibrational = ~modes.rigid_mask
    vectors = modes.eigenvectors[:, vibrational]
    wavenumbers = modes.wavenumbers_cm1[vibrational]  # negative = imaginary
    participation = element_participation(vectors, symbols)
    core_fraction = sum(participation.get(element, 0.0) for element in CORE_ELEMENTS)
    result = {
        'wavenumbers': wavenumbers,
        'eigenvectors': vectors,
        'participation': participation,
        'core_fraction': np.broadcast_to(core_fraction, wavenumbers.shape).astype(float),
        'assignments': assign_modes(positions, symbols, vectors, masses),
        'rigid_max_cm1': float(np.abs(modes.wavenumbers_cm1[modes.rigid_mask]).max()),
    }
    if dalpha is not None:
        along = mode_derivatives(dalpha, vectors, masses)
        result['raman_activities'] = raman_activity(along)
        result['depolarization_ratios'] = depolarization_ratio(along)
        result['main_peak_cm1'] = main_peak(
            wavenumbers, result['raman_activities'], result['core_fraction'], hwhm, minimum_cm1, core_threshold
        )
    if dmu is not None:
        result['ir_intensities'] = ir_intensity(mode_derivatives(dmu, vectors, masses))
    return result
