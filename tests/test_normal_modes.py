"""Normal modes against analytic spring networks: frequencies, rigid-body modes, symmetry, DOS normalisation."""

import numpy as np
import pytest

from aiida_qdots.analysis.normal_modes import OMEGA2_RAD2_FS2, hessian_checks, normal_modes, phonon_dos


def spring_hessian(positions: np.ndarray, pairs, k: float) -> np.ndarray:
    """Analytic Hessian (eV/A^2) of central springs k (eV/A^2) at their rest lengths: k u u^T blocks."""
    n = len(positions)
    hessian = np.zeros((3 * n, 3 * n))
    for i, j in pairs:
        u = positions[j] - positions[i]
        block = k * np.outer(u, u) / (u @ u)
        for a, b, sign in ((i, i, 1), (j, j, 1), (i, j, -1), (j, i, -1)):
            hessian[3 * a : 3 * a + 3, 3 * b : 3 * b + 3] += sign * block
    return hessian


def test_unit_conversion():
    # omega = sqrt(k/m) for k = 1 eV/A^2, m = 1 amu: 9.822694e13 rad/s
    assert np.sqrt(OMEGA2_RAD2_FS2) == pytest.approx(9.822694e-2, rel=1e-6)


def test_diatomic_stretch_frequency():
    positions = np.array([[0.0, 0.0, 0.0], [2.6, 0.0, 0.0]])
    masses = np.array([112.41, 78.971])
    k = 3.0
    modes = normal_modes(spring_hessian(positions, [(0, 1)], k), masses, positions)
    assert modes.rigid_mask.sum() == 5  # linear: 3 translations + 2 rotations
    mu = masses.prod() / masses.sum()
    (stretch,) = modes.angular_frequencies[~modes.rigid_mask]
    assert stretch == pytest.approx(np.sqrt(k / mu * OMEGA2_RAD2_FS2), rel=1e-12)
    assert modes.rigid_max_thz < 1e-6


def test_tetrahedral_cluster_has_six_rigid_modes_and_normalised_dos():
    rng = np.random.default_rng(4)
    corners = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=float) * 1.5
    positions = np.vstack([[0.0, 0.0, 0.0], corners, 2.2 * corners + rng.normal(0, 0.05, (4, 3))])
    pairs = (
        [(0, i) for i in range(1, 5)]
        + [(i, i + 4) for i in range(1, 5)]
        + [(i, j) for i in range(1, 5) for j in range(i + 1, 5)]
        + [(i + 4, j) for i in range(1, 5) for j in range(1, 5) if j != i]
    )
    hessian = spring_hessian(positions, pairs, 2.0)
    checks = hessian_checks(hessian, positions)
    assert checks['asymmetry'] == 0.0 and checks['translation_residual'] < 1e-12
    assert checks['rotation_residual'] < 1e-12  # springs at rest length: a stationary point
    masses = np.where(np.arange(9) % 2 == 0, 112.41, 78.971)
    modes = normal_modes(hessian, masses, positions)
    assert modes.rigid_mask.sum() == 6 and modes.rigid_max_thz < 1e-6 and modes.max_imaginary_thz == 0.0
    vib = modes.frequencies_thz[~modes.rigid_mask]
    assert np.all(vib > 0.1)
    # eigenvectors orthonormal; unprojected diagonalisation gives the same vibrational spectrum
    np.testing.assert_allclose(modes.eigenvectors.T @ modes.eigenvectors, np.eye(27), atol=1e-10)
    raw = normal_modes(hessian, masses, positions, project_rigid=False)
    np.testing.assert_allclose(np.sort(raw.frequencies_thz[~raw.rigid_mask]), np.sort(vib), rtol=1e-8)
    grid = np.linspace(-5, vib.max() + 5, 4000)
    dos = phonon_dos(vib, grid, 0.2)
    assert np.trapezoid(dos, grid) == pytest.approx(27 - 6, rel=1e-6)


def test_shape_errors():
    with pytest.raises(ValueError, match='disagree'):
        normal_modes(np.zeros((6, 6)), np.ones(3), np.zeros((3, 3)))
    with pytest.raises(ValueError, match='width must be positive'):
        phonon_dos([1.0], [1.0], 0.0)
