"""Normal modes of a nanocrystal from its Hessian: checks, rigid-body (Eckart) projection, frequencies, phonon DOS.

Units: Hessian in eV/angstrom^2, masses in amu, positions in angstrom; angular frequencies in rad/fs
(omega^2 = eigenvalue of the mass-weighted Hessian times :data:`OMEGA2_RAD2_FS2`), frequencies in THz and
cm^-1 at the edges. Imaginary modes (negative eigenvalues) get negative frequencies.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from aiida_qdots.common.units import AMU_KG, EV_J, SPEED_OF_LIGHT_CM_FS

OMEGA2_RAD2_FS2 = EV_J / AMU_KG * 1e20 * 1e-30
"""1 eV/(angstrom^2 amu) in (rad/fs)^2: (eV -> J) / (amu -> kg) / (angstrom^2 -> m^2), then s^-2 -> fs^-2."""


def _rigid_body_basis(positions: np.ndarray, masses: np.ndarray) -> np.ndarray:
    """Orthonormal basis (3N, k) of mass-weighted translations and rotations about the centre of mass (k = 6, or 5
    for an arrangement linear to 1e-4 of its size)."""
    sqrt_m = np.sqrt(masses)
    centred = positions - (masses[:, None] * positions).sum(axis=0) / masses.sum()
    vectors = []
    for axis in np.eye(3):
        vectors.append((sqrt_m[:, None] * axis).ravel())
        vectors.append((sqrt_m[:, None] * np.cross(axis, centred)).ravel())
    matrix = np.array(vectors).T
    u, s, _ = np.linalg.svd(matrix, full_matrices=False)
    return u[:, s > 1e-4 * s.max()]  # a relaxed linear molecule is linear only to ~1e-6 angstrom


def hessian_checks(hessian: np.ndarray, positions: np.ndarray) -> dict[str, float]:
    """Relative asymmetry max|H - H^T| / max|H| and residuals max|H t| / max|H| for uniform translations t and
    infinitesimal rotations (the latter vanish only at a stationary point; reported, not enforced)."""
    hessian = np.asarray(hessian, dtype=float)
    positions = np.asarray(positions, dtype=float)
    scale = np.abs(hessian).max()
    unit = np.eye(3)
    translations = np.array([np.tile(axis, len(positions)) for axis in unit]).T
    centred = positions - positions.mean(axis=0)
    rotations = np.array([np.cross(axis, centred).ravel() for axis in unit]).T
    return {
        'asymmetry': float(np.abs(hessian - hessian.T).max() / scale),
        'translation_residual': float(np.abs(hessian @ translations).max() / scale),
        'rotation_residual': float(np.abs(hessian @ rotations).max() / scale),
    }


@dataclasses.dataclass(frozen=True)
class NormalModes:
    """Modes sorted by frequency: ``angular_frequencies`` (rad/fs) and ``frequencies_thz`` (signed: negative =
    imaginary), ``eigenvectors`` (3N, 3N) orthonormal columns of the mass-weighted Hessian, ``rigid_mask`` marking
    the rigid-body modes, ``rigid_max_thz`` the largest |f| among them and ``max_imaginary_thz`` the largest |f|
    of an imaginary vibrational mode (0 if none)."""

    angular_frequencies: np.ndarray
    frequencies_thz: np.ndarray
    eigenvectors: np.ndarray
    rigid_mask: np.ndarray
    rigid_max_thz: float
    max_imaginary_thz: float

    @property
    def wavenumbers_cm1(self) -> np.ndarray:
        return self.angular_frequencies / (2 * np.pi * SPEED_OF_LIGHT_CM_FS)


def normal_modes(
    hessian: np.ndarray, masses: np.ndarray, positions: np.ndarray, project_rigid: bool = True
) -> NormalModes:
    """Diagonalise the symmetrised, mass-weighted Hessian; with ``project_rigid`` the translations and rotations are
    projected out first (P D P, which also removes the rotational residual of a not fully relaxed structure), so
    they come out at exactly zero. Rigid-body modes are identified by their overlap with the rigid-body subspace."""
    hessian = np.asarray(hessian, dtype=float)
    masses = np.asarray(masses, dtype=float)
    positions = np.asarray(positions, dtype=float)
    n = 3 * len(masses)
    if hessian.shape != (n, n) or positions.shape != (len(masses), 3):
        raise ValueError(f'hessian {hessian.shape}, masses {masses.shape} and positions {positions.shape} disagree')
    inv_sqrt_m = np.repeat(1.0 / np.sqrt(masses), 3)
    dynamical = 0.5 * (hessian + hessian.T) * np.outer(inv_sqrt_m, inv_sqrt_m)
    basis = _rigid_body_basis(positions, masses)
    if project_rigid:
        projector = np.eye(n) - basis @ basis.T
        dynamical = projector @ dynamical @ projector
    eigenvalues, eigenvectors = np.linalg.eigh(dynamical)
    omega = np.sign(eigenvalues) * np.sqrt(np.abs(eigenvalues) * OMEGA2_RAD2_FS2)
    overlap = np.sum((basis.T @ eigenvectors) ** 2, axis=0)
    rigid = np.zeros(n, dtype=bool)
    rigid[np.argsort(overlap)[-basis.shape[1] :]] = True
    thz = omega / (2 * np.pi) * 1e3
    vibrational = thz[~rigid]
    return NormalModes(
        angular_frequencies=omega,
        frequencies_thz=thz,
        eigenvectors=eigenvectors,
        rigid_mask=rigid,
        rigid_max_thz=float(np.abs(thz[rigid]).max()),
        max_imaginary_thz=float(max(0.0, -vibrational.min())) if vibrational.size else 0.0,
    )


def phonon_dos(frequencies_thz, grid_thz, width_thz: float, weights=None) -> np.ndarray:
    """Gaussian-broadened density of states (states/THz) on ``grid_thz``; it integrates to the number of modes
    (or the sum of ``weights``) when the grid covers them."""
    f = np.asarray(frequencies_thz, dtype=float)
    grid = np.asarray(grid_thz, dtype=float)
    w = np.ones_like(f) if weights is None else np.asarray(weights, dtype=float)
    if width_thz <= 0:
        raise ValueError(f'width must be positive, got {width_thz}')
    z = (grid[:, None] - f[None, :]) / width_thz
    return (np.exp(-0.5 * z**2) * w).sum(axis=1) / (width_thz * np.sqrt(2 * np.pi))
