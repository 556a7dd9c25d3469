"""NACs from time-overlaps (pure NumPy): analytic rotation, phase correction, state tracking, orthonormality check."""

import numpy as np
import pytest

from aiida_qdots.analysis.nac import (
    ORTHONORMALITY_TOLERANCE,
    OrthonormalityError,
    check_orthonormality,
    mo_overlaps,
    nac_energy,
    nac_statistics,
    nacs_from_overlaps,
    phase_correct,
    track_states,
)
from aiida_qdots.common.units import HBAR_EV_FS

OMEGA = 0.004  # rad/fs: hbar * omega = 2.6 meV
DT = 1.0


def rotating_pair(n_frames: int, omega: float = OMEGA, dt: float = DT) -> np.ndarray:
    """Orbitals |1> = cos(w t)|a> + sin(w t)|b>, |2> = -sin(w t)|a> + cos(w t)|b> in an orthonormal basis
    {a, b, c}: coefficients (T, 3, 2). Analytic NAC d_12 = <1|d/dt 2> = -omega; over a step, exactly
    (<1(t)|2(t+dt)> - <2(t)|1(t+dt)>) / (2 dt) = -sin(omega dt) / dt.
    """
    theta = omega * dt * np.arange(n_frames)
    c = np.zeros((n_frames, 3, 2))
    c[:, 0, 0], c[:, 1, 0] = np.cos(theta), np.sin(theta)
    c[:, 0, 1], c[:, 1, 1] = -np.sin(theta), np.cos(theta)
    return c


def time_overlaps(coefficients: np.ndarray, ao_overlap: np.ndarray | None = None) -> np.ndarray:
    s_ao = np.eye(coefficients.shape[1]) if ao_overlap is None else ao_overlap
    return np.stack([mo_overlaps(coefficients[t], coefficients[t + 1], s_ao) for t in range(len(coefficients) - 1)])


def random_signs(coefficients: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    signs = np.random.default_rng(seed).choice([-1.0, 1.0], size=(coefficients.shape[0], coefficients.shape[2]))
    return coefficients * signs[:, None, :], signs


def test_analytic_rotation_with_random_orbital_signs():
    coefficients, signs = random_signs(rotating_pair(200))
    assert np.any(signs[1:] != signs[:-1])  # the signs do flip along the trajectory
    result = nacs_from_overlaps(time_overlaps(coefficients), DT)
    gauge = signs[0, 0] * signs[0, 1]  # the signs of frame 0 fix the overall sign of d_12
    np.testing.assert_allclose(result.nac[:, 0, 1], -gauge * np.sin(OMEGA * DT) / DT, rtol=1e-12)
    np.testing.assert_allclose(result.nac, -np.swapaxes(result.nac, 1, 2), atol=1e-15)  # d_ij = -d_ji
    np.testing.assert_allclose(np.diagonal(result.nac, axis1=1, axis2=2), 0.0, atol=1e-15)
    assert np.all(np.diagonal(result.overlaps, axis1=1, axis2=2) > 0)
    # the phases undo the random signs (up to the sign of frame 0)
    np.testing.assert_array_equal(result.phases * signs[0], signs)
    np.testing.assert_allclose(result.nac_ev[:, 0, 1], HBAR_EV_FS * np.sin(OMEGA * DT) / DT, rtol=1e-12)
    # without phase correction the sign flips corrupt the NAC
    raw = nacs_from_overlaps(time_overlaps(coefficients), DT, phase_correction=False)
    assert np.any(np.abs(raw.nac[:, 0, 1] + gauge * np.sin(OMEGA * DT) / DT) > 1e-3)


def test_complex_phases_are_removed():
    rng = np.random.default_rng(4)
    coefficients = rotating_pair(50).astype(complex)
    phases = np.exp(1j * rng.uniform(0, 2 * np.pi, size=(50, 1, 2)))
    coefficients *= phases
    overlaps = time_overlaps(coefficients)
    corrected, u = phase_correct(overlaps)
    diagonal = np.diagonal(corrected, axis1=1, axis2=2)
    np.testing.assert_allclose(diagonal.imag, 0.0, atol=1e-14)
    assert np.all(diagonal.real > 0) and np.allclose(np.abs(u), 1.0)
    result = nacs_from_overlaps(overlaps, DT)
    gauge = np.conj(phases[0, 0, 0]) * phases[0, 0, 1]  # the phases of frame 0 fix the phase of d_12
    np.testing.assert_allclose(result.nac[:, 0, 1], -gauge * np.sin(OMEGA * DT) / DT, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(np.abs(result.nac[:, 0, 1]), np.sin(OMEGA * DT) / DT, rtol=1e-10)
    np.testing.assert_allclose(result.nac, -np.conj(np.swapaxes(result.nac, 1, 2)), atol=1e-15)  # anti-Hermitian


def test_rotation_through_a_non_orthogonal_ao_basis():
    """Time-overlaps C(t)^T S_AO C(t+dt) in a non-orthogonal AO basis give the same analytic NAC."""
    rng = np.random.default_rng(1)
    ao_overlap = ao_overlap_matrix(3, rng)
    transform = inverse_sqrt(ao_overlap)  # Loewdin: orthonormal MOs from orthonormal coefficients
    coefficients = np.einsum('ij,tjk->tik', transform, rotating_pair(40))
    same_time = np.stack([mo_overlaps(c, c, ao_overlap) for c in coefficients])
    assert check_orthonormality(same_time) < 1e-12
    result = nacs_from_overlaps(time_overlaps(coefficients, ao_overlap), DT)
    np.testing.assert_allclose(result.nac[:, 0, 1], -np.sin(OMEGA * DT) / DT, rtol=1e-9)


def test_state_tracking_through_a_crossing():
    """Energies cross at frame 30 and the adiabatic labels swap there: tracking restores the diabatic order."""
    n_frames = 60
    coefficients = rotating_pair(n_frames)
    energies = np.stack([np.linspace(-1.0, 1.0, n_frames), np.linspace(1.0, -1.0, n_frames)], axis=1)
    swapped = coefficients.copy()
    swapped[30:] = coefficients[30:, :, ::-1]  # energy-ordered labels swap after the crossing
    swapped_energies = energies.copy()
    swapped_energies[30:] = energies[30:, ::-1]
    tracked, perm, tracked_energies = track_states(time_overlaps(swapped), swapped_energies)
    assert perm[:30].tolist() == [[0, 1]] * 30 and perm[30:].tolist() == [[1, 0]] * 30
    np.testing.assert_allclose(tracked_energies, energies)
    assert np.abs(np.diagonal(tracked, axis1=1, axis2=2)).min() > 0.99
    result = nacs_from_overlaps(time_overlaps(swapped), DT, energies=swapped_energies, tracking=True)
    np.testing.assert_allclose(result.nac[:, 0, 1], -np.sin(OMEGA * DT) / DT, rtol=1e-12)
    assert result.min_diagonal_overlap > 0.99
    untracked = nacs_from_overlaps(time_overlaps(swapped), DT)
    assert untracked.min_diagonal_overlap < 0.01  # the swap shows as a vanishing diagonal overlap


def ao_overlap_matrix(n: int, rng: np.random.Generator) -> np.ndarray:
    """A symmetric positive-definite AO overlap with unit diagonal and sizeable off-diagonal elements."""
    vectors = rng.standard_normal((n, n + 2)) + 1.0
    gram = vectors @ vectors.T
    scale = 1.0 / np.sqrt(np.diag(gram))
    return gram * scale[:, None] * scale[None, :]


def inverse_sqrt(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(matrix)
    return (vectors / np.sqrt(values)) @ vectors.T


def test_orthonormality_check_catches_a_permuted_ao_order():
    rng = np.random.default_rng(2)
    n_ao = 8
    ao_overlap = ao_overlap_matrix(n_ao, rng)
    q, _ = np.linalg.qr(rng.standard_normal((n_ao, n_ao)))
    coefficients = inverse_sqrt(ao_overlap) @ q[:, :5]  # 5 orthonormal MOs
    good = mo_overlaps(coefficients, coefficients, ao_overlap)
    assert check_orthonormality(good) < 1e-12
    # the same coefficients with two AO rows swapped (e.g. p_x/p_y ordering of one shell)
    order = np.arange(n_ao)
    order[[2, 3]] = order[[3, 2]]
    permuted = coefficients[order]
    bad = np.stack([good, mo_overlaps(permuted, permuted, ao_overlap)])
    with pytest.raises(OrthonormalityError, match=r'frame 1: .*AO order') as info:
        check_orthonormality(bad)
    assert f'> {ORTHONORMALITY_TOLERANCE:g}' in str(info.value)
    # a deviation just above the tolerance is caught, one below passes
    nearly = np.eye(3)
    nearly[0, 1] = nearly[1, 0] = 2e-6
    with pytest.raises(OrthonormalityError):
        check_orthonormality(nearly)
    nearly[0, 1] = nearly[1, 0] = 5e-7
    assert check_orthonormality(nearly) == pytest.approx(5e-7)


def test_nac_statistics_and_histogram():
    rng = np.random.default_rng(3)
    values = rng.uniform(-2e-3, 2e-3, size=500) / HBAR_EV_FS  # hbar d in -2..2 meV
    nac = np.zeros((500, 3, 3))
    nac[:, 0, 1], nac[:, 1, 0] = values, -values
    nac[:, 1, 2], nac[:, 2, 1] = 2 * values, -2 * values
    stats = nac_statistics(nac, pairs=[(0, 1)], bins=20)
    expected = np.abs(values) * HBAR_EV_FS * 1000
    assert stats.mean_abs_mev == pytest.approx(expected.mean(), rel=1e-12)
    assert stats.mean_abs_mev == pytest.approx(1.0, rel=0.1)  # uniform |x| on 0..2 meV
    assert stats.counts.sum() == 500 and stats.edges_mev[0] == 0
    assert np.sum(stats.density * np.diff(stats.edges_mev)) == pytest.approx(1.0)
    both = nac_statistics(nac)  # all pairs i < j: (0,1), (0,2), (1,2)
    assert both.pairs == [(0, 1), (0, 2), (1, 2)] and both.n_values == 1500
    assert both.mean_abs_by_pair_mev['1-2'] == pytest.approx(2 * stats.mean_abs_mev)
    assert both.mean_abs_by_pair_mev['0-2'] == 0.0
    np.testing.assert_allclose(nac_energy(nac, 'mev'), 1000 * nac_energy(nac))
    with pytest.raises(ValueError, match='pair'):
        nac_statistics(nac, pairs=[(1, 1)])


def test_bad_overlap_input():
    with pytest.raises(ValueError, match='shape'):
        nacs_from_overlaps(np.eye(2), 1.0)
    with pytest.raises(ValueError, match='dt_fs'):
        nacs_from_overlaps(np.eye(2)[None], 0.0)
    zero_diagonal = np.array([[[0.0, 1.0], [1.0, 0.0]]])
    with pytest.raises(ValueError, match='phase is undefined'):
        phase_correct(zero_diagonal)
