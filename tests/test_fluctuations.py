"""RMSF kernels (pure NumPy): rigid-body invariance, Gaussian fluctuations, Kabsch fits, the real AIMD data."""

import numpy as np
import pytest
from aimd_reference import LAST_FRAMES, parsed_trajectory
from scipy.spatial.transform import Rotation

from aiida_qdots.analysis.convergence import mean_verdict
from aiida_qdots.analysis.fluctuations import (
    align_to_mean,
    apply_alignment,
    atomic_masses,
    centroids,
    kabsch_rotations,
    remove_centre_of_mass,
    rigid_body_residual,
    rmsf,
    rotation_angle_deg,
    unwrap_positions,
)

SYMBOLS = ['Cd'] * 12 + ['Se'] * 8 + ['Cl'] * 10


def cluster(n_atoms: int = 30, seed: int = 0) -> np.ndarray:
    """A compact random cluster (N, 3) in angstrom."""
    rng = np.random.default_rng(seed)
    return rng.uniform(-4.0, 4.0, size=(n_atoms, 3))


def rigidly_moved(positions: np.ndarray, seed: int = 1) -> np.ndarray:
    """Every frame rotated by its own random rotation (about the origin) and shifted by its own random vector."""
    rng = np.random.default_rng(seed)
    rotations = Rotation.random(len(positions), random_state=seed).as_matrix()
    shifts = rng.uniform(-20.0, 20.0, size=(len(positions), 1, 3))
    return np.einsum('tni,tji->tnj', positions, rotations) + shifts


def fluctuating(n_frames: int = 400, seed: int = 2, sigma: float = 0.1) -> np.ndarray:
    """A cluster with element-dependent thermal-like displacements (Cl largest), (T, 30, 3) angstrom."""
    rng = np.random.default_rng(seed)
    scale = np.array([{'Cd': 1.0, 'Se': 0.7, 'Cl': 1.6}[s] for s in SYMBOLS])
    return cluster() + sigma * scale[None, :, None] * rng.standard_normal((n_frames, len(SYMBOLS), 3))


# --------------------------------------------------------------------------------------------- kernels


def test_kabsch_recovers_rotations_and_stays_proper():
    reference = remove_centre_of_mass(cluster())
    rotations = Rotation.random(50, random_state=3).as_matrix()
    frames = np.einsum('ni,tji->tnj', reference, rotations)  # frames[t] = reference @ R_t^T
    fitted = kabsch_rotations(frames, reference)
    np.testing.assert_allclose(fitted, rotations, atol=1e-10)  # (reference R^T) R = reference
    np.testing.assert_allclose(np.matmul(frames, fitted), np.broadcast_to(reference, frames.shape), atol=1e-10)
    # a mirror image cannot be reached by a rotation: the fit stays proper (det = +1)
    mirrored = reference * np.array([1.0, 1.0, -1.0])
    fit = kabsch_rotations(mirrored[None], reference)[0]
    assert np.linalg.det(fit) == pytest.approx(1.0)
    assert rotation_angle_deg(np.eye(3)) == pytest.approx(0.0)
    assert rotation_angle_deg(Rotation.from_rotvec([0, 0, np.radians(30)]).as_matrix()) == pytest.approx(30.0)


def test_rigid_trajectory_has_zero_rmsf():
    """A structure that only translates and rotates does not fluctuate."""
    frames = rigidly_moved(np.broadcast_to(cluster(), (60, 30, 3)))
    result = rmsf(frames, SYMBOLS)
    assert result.converged
    assert result.rmsf.max() < 1e-9
    assert result.residual_rotation_deg < 1e-6 and result.residual_translation < 1e-9


def test_rmsf_invariant_under_rigid_motion_of_each_frame():
    """Random rotation + translation per frame leaves per-atom and per-element RMSF unchanged."""
    frames = fluctuating()
    reference = rmsf(frames, SYMBOLS)
    moved = rmsf(rigidly_moved(frames, seed=5), SYMBOLS)
    np.testing.assert_allclose(moved.rmsf, reference.rmsf, rtol=0, atol=1e-7)
    for element in ('Cd', 'Se', 'Cl'):
        assert moved.rmsf_by_element[element] == pytest.approx(reference.rmsf_by_element[element], abs=1e-7)

    # the mean structure is the same up to one overall rotation: same internal distances
    def distances(x):
        return np.linalg.norm(x[:, None] - x[None], axis=-1)

    np.testing.assert_allclose(distances(moved.mean_structure), distances(reference.mean_structure), atol=1e-7)
    # equal-weight fitting is invariant too
    np.testing.assert_allclose(
        rmsf(rigidly_moved(frames, seed=6), SYMBOLS, mass_weighted=False).rmsf,
        rmsf(frames, SYMBOLS, mass_weighted=False).rmsf,
        atol=1e-7,
    )


def test_rmsf_of_isotropic_gaussian_displacements():
    """Independent N(0, sigma^2) displacements per coordinate: RMSF = sqrt(3) sigma.

    The finite sample removes 1 of T frames (the mean) and the fit removes 6 of 3N coordinates (3 translations,
    3 rotations), so <MSF> = 3 sigma^2 (1 - 1/T)(1 - 2/N); without any fit only the first factor applies.
    """
    n_atoms, n_frames, sigma = 200, 3000, 0.05
    rng = np.random.default_rng(11)
    base = np.random.default_rng(12).uniform(-6, 6, size=(n_atoms, 3))
    frames = base + sigma * rng.standard_normal((n_frames, n_atoms, 3))
    result = rmsf(frames, ['Se'] * n_atoms)
    expected = np.sqrt(3) * sigma * np.sqrt((1 - 1 / n_frames) * (1 - 2 / n_atoms))
    assert np.sqrt(np.mean(result.rmsf**2)) == pytest.approx(expected, rel=3e-3)
    # every atom: the MSF of 3T Gaussian numbers has a relative spread sqrt(2 / 3T) ~ 1.5 %, RMSF half of that
    assert np.abs(result.rmsf / (np.sqrt(3) * sigma) - 1).max() < 0.05
    # the raw fluctuation about the per-atom mean, no alignment: sqrt(3) sigma within sampling error
    raw = np.sqrt(np.mean(np.sum((frames - frames.mean(axis=0)) ** 2, axis=2), axis=0))
    assert np.sqrt(np.mean(raw**2)) == pytest.approx(np.sqrt(3) * sigma * np.sqrt(1 - 1 / n_frames), rel=3e-3)


def test_alignment_converges_to_a_fixed_point():
    frames = rigidly_moved(fluctuating(seed=8), seed=9)
    masses = atomic_masses(SYMBOLS)
    alignment = align_to_mean(frames, masses, tolerance=1e-10)
    assert alignment.converged and alignment.change < 1e-10 and alignment.iterations <= 10
    aligned = apply_alignment(frames, alignment)
    # the mean of the aligned frames is the mean structure, centred on the centre of mass
    np.testing.assert_allclose(aligned.mean(axis=0), alignment.mean_structure, atol=1e-9)
    np.testing.assert_allclose(centroids(alignment.mean_structure, masses), 0.0, atol=1e-12)
    # no rigid-body motion left: refitting any aligned frame onto the mean does nothing
    angle, offset = rigid_body_residual(aligned, alignment.mean_structure, masses)
    assert angle < 1e-5 and offset < 1e-10
    # while the unaligned input is far from it
    assert rigid_body_residual(frames, alignment.mean_structure, masses)[0] > 10
    # at most max_iterations; not converged is reported, not hidden
    short = align_to_mean(frames, masses, tolerance=1e-12, max_iterations=1)
    assert short.iterations == 1 and not short.converged


def test_mass_weighting_changes_the_centre():
    """Centroids use the masses: a heavy and a light atom balance at the centre of mass."""
    positions = np.array([[[0.0, 0, 0], [10.0, 0, 0], [5.0, 5.0, 0]]])
    masses = np.array([3.0, 1.0, 0.0])
    np.testing.assert_allclose(centroids(positions, masses), [[2.5, 0, 0]])
    np.testing.assert_allclose(remove_centre_of_mass(positions, masses)[0, 0], [-2.5, 0, 0])
    assert atomic_masses(['Cd', 'Se', 'Cl']) == pytest.approx([112.414, 78.971, 35.45], abs=0.01)
    with pytest.raises(ValueError, match='unknown chemical symbol'):
        atomic_masses(['Xx'])


def test_unwrap_periodic_positions():
    cell = np.diag([8.0, 9.0, 10.0])
    rng = np.random.default_rng(4)
    steps = rng.normal(0, 0.3, size=(200, 5, 3))
    true = 4.0 + np.cumsum(steps, axis=0)
    wrapped = true - np.floor(true @ np.linalg.inv(cell)) @ cell
    assert np.abs(wrapped - true).max() > 1.0  # atoms did cross the boundary
    np.testing.assert_allclose(
        unwrap_positions(wrapped, cell, (True, True, True)), true - true[0] + wrapped[0], atol=1e-9
    )
    # non-periodic directions are left alone
    only_x = unwrap_positions(wrapped, cell, (True, False, False))
    np.testing.assert_allclose(only_x[..., 1:], wrapped[..., 1:])


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match='shape'):
        rmsf(np.zeros((10, 30)), SYMBOLS)
    with pytest.raises(ValueError, match='symbols'):
        rmsf(fluctuating(), SYMBOLS[:-1])
    with pytest.raises(ValueError, match='at least 2 frames'):
        rmsf(fluctuating()[:1], SYMBOLS)


# ------------------------------------------------------------------------------------------- real data


@pytest.fixture(scope='module')
def real_window(shared_data_dir):
    parsed = parsed_trajectory(shared_data_dir)
    return parsed.positions[-LAST_FRAMES:], parsed.symbols


def test_real_cd28se17cl22_rmsf(real_window):
    """Last 10 ps of the Cd28Se17Cl22 AIMD: Cl fluctuates most, then Cd, then Se.

    Measured (mass-weighted fit): Cd 0.356, Se 0.306, Cl 0.490 A (s.d. over atoms 0.070, 0.074, 0.138 A);
    equal-weight fit: Cd 0.359, Se 0.311, Cl 0.485 A.
    """
    positions, symbols = real_window
    result = rmsf(positions, symbols)
    values = result.rmsf_by_element
    print('RMSF (A), last 10 000 frames:', {e: round(v, 4) for e, v in values.items()}, 'iterations', result.iterations)
    assert result.elements == ['Cd', 'Se', 'Cl'] and result.n_frames == LAST_FRAMES
    assert values['Cl'] > values['Cd'] > values['Se']
    assert values == pytest.approx({'Cd': 0.3565, 'Se': 0.3061, 'Cl': 0.4905}, abs=5e-4)
    assert result.converged and result.iterations <= 5
    assert result.residual_rotation_deg < 1e-3 and result.residual_translation < 1e-9
    # per-atom values are physical for a 300 K cluster: tenths of an angstrom; the largest is the Cl at index 65
    # (1.00 A), which stays bound to Cd 4 (2.25-2.47 A) and swings about it
    assert 0.15 < result.rmsf.min() and result.rmsf.max() < 1.1
    assert int(np.argmax(result.rmsf)) == 65 and symbols[65] == 'Cl'
    unweighted = rmsf(positions, symbols, mass_weighted=False).rmsf_by_element
    assert unweighted['Cl'] > unweighted['Cd'] > unweighted['Se']


def test_per_frame_msd_averages_to_the_rmsf_and_judges_the_window(real_window):
    """The per-frame mean-square fluctuation averages to the mean squared per-atom RMSF (exactly); on the real
    Cd28Se17Cl22 AIMD the 10 ps window is converged and a 60 fs one (the fast protocol's) is not.
    """
    positions, symbols = real_window
    result = rmsf(positions, symbols)
    for element, series in result.msd_by_element.items():
        atoms = [k for k, s in enumerate(symbols) if s == element]
        assert series.shape == (LAST_FRAMES,)
        assert series.mean() == pytest.approx(np.mean(result.rmsf[atoms] ** 2), rel=1e-12)
    long = {e: mean_verdict(e, x, exponent=0.5) for e, x in result.msd_by_element.items()}
    print({e: v.reason for e, v in long.items()})
    assert all(v.converged for v in long.values())
    short = rmsf(positions[:60], symbols)
    verdicts = {e: mean_verdict(e, x, exponent=0.5) for e, x in short.msd_by_element.items()}
    print({e: v.reason for e, v in verdicts.items()})
    assert not any(v.converged for v in verdicts.values())
