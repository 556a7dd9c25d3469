"""Vibrational-spectroscopy kernels and CP2K vibration files against analytic models, invariances and ASE."""

import struct

import numpy as np
import pytest
from scipy.spatial.transform import Rotation
from test_normal_modes import spring_hessian

from aiida_qdots.analysis import vibrations as v
from aiida_qdots.analysis.normal_modes import OMEGA2_RAD2_FS2
from aiida_qdots.common.units import SPEED_OF_LIGHT_CM_FS
from aiida_qdots.readers import cp2k_vibrations as r


def cm1(k_over_m: float) -> float:
    """Wavenumber (cm^-1) of omega = sqrt(k/m), k in eV/A^2 and m in amu."""
    return np.sqrt(k_over_m * OMEGA2_RAD2_FS2) / (2 * np.pi * SPEED_OF_LIGHT_CM_FS)


def test_linear_triatomic_chain_analytic_frequencies_and_exclusion_rule():
    """O=C=O springs: symmetric stretch sqrt(k/mO), antisymmetric sqrt(k (2 mO + mC)/(mO mC)), zero-frequency bends
    (no angular springs); with a polarizability that depends on the bond lengths only through their sum (a
    centrosymmetric model) only the symmetric stretch is Raman active and it is the only IR-inactive stretch."""
    positions = np.array([[-1.16, 0, 0], [0.0, 0, 0], [1.16, 0, 0]])
    masses = np.array([15.999, 12.011, 15.999])
    k = 100.0
    hessian = spring_hessian(positions, [(0, 1), (1, 2)], k)
    # d alpha/d x: alpha = c (r01 + r12) along xx; d r01/d x0 = -1, d r01/d x1 = +1, d r12/d x1 = -1, d r12/d x2 = +1
    dalpha = np.zeros((9, 3, 3))
    dalpha[0, 0, 0], dalpha[6, 0, 0] = -2.0, 2.0
    # dipole of charges -q, +2q, -q
    dmu = np.zeros((9, 3))
    for atom, charge in enumerate((-0.5, 1.0, -0.5)):
        dmu[3 * atom : 3 * atom + 3] = charge * np.eye(3)
    result = v.vibrational_spectra(hessian, masses, positions, ['O', 'C', 'O'], dalpha, dmu)
    stretches = result['wavenumbers'] > 1.0
    symmetric, antisymmetric = np.sort(result['wavenumbers'][stretches])
    assert symmetric == pytest.approx(cm1(k / masses[0]), rel=1e-9)
    assert antisymmetric == pytest.approx(cm1(k * (2 * masses[0] + masses[1]) / (masses[0] * masses[1])), rel=1e-9)
    raman = result['raman_activities'][stretches][np.argsort(result['wavenumbers'][stretches])]
    ir = result['ir_intensities'][stretches][np.argsort(result['wavenumbers'][stretches])]
    assert raman[0] > 0 and raman[1] == pytest.approx(0, abs=1e-12 * raman[0])
    assert ir[0] == pytest.approx(0, abs=1e-12 * ir[1]) and ir[1] > 0


def test_raman_activity_is_rotation_invariant_and_depolarization_limits():
    rng = np.random.default_rng(7)
    tensors = rng.normal(size=(5, 3, 3))
    tensors = tensors + np.swapaxes(tensors, 1, 2)
    rotation = Rotation.random(random_state=3).as_matrix()
    rotated = np.einsum('ij,mjk,lk->mil', rotation, tensors, rotation)
    assert v.raman_activity(rotated) == pytest.approx(v.raman_activity(tensors), rel=1e-12)
    assert v.depolarization_ratio(rotated) == pytest.approx(v.depolarization_ratio(tensors), rel=1e-12)
    isotropic, traceless = np.eye(3)[None], np.diag([1.0, -1.0, 0.0])[None]
    assert v.depolarization_ratio(isotropic)[0] == 0.0
    assert v.raman_activity(isotropic)[0] == pytest.approx(45.0)
    assert v.depolarization_ratio(traceless)[0] == pytest.approx(0.75)
    assert v.depolarization_ratio(traceless, polarized=False)[0] == pytest.approx(6 / 7)


def test_whole_molecule_rotation_leaves_frequencies_raman_and_ir_unchanged():
    rng = np.random.default_rng(11)
    positions = rng.normal(size=(5, 3)) * 1.5
    pairs = [(i, j) for i in range(5) for j in range(i + 1, 5)]
    hessian = spring_hessian(positions, pairs, 20.0)
    masses = np.array([12.0, 1.0, 1.0, 2.0, 16.0])
    dalpha = rng.normal(size=(15, 3, 3))
    dalpha = dalpha + np.swapaxes(dalpha, 1, 2)
    dmu = rng.normal(size=(15, 3))
    symbols = ['C', 'H', 'H', 'H', 'O']
    before = v.vibrational_spectra(hessian, masses, positions, symbols, dalpha, dmu)
    rot = Rotation.random(random_state=5).as_matrix()
    big = np.kron(np.eye(5), rot)  # rotates every atom's Cartesian block
    after = v.vibrational_spectra(
        big @ hessian @ big.T,
        masses,
        positions @ rot.T,
        symbols,
        np.einsum('ab,bjk,ij,lk->ail', big, dalpha, rot, rot),
        np.einsum('ab,bj,ij->ai', big, dmu, rot),
    )
    for key in ('wavenumbers', 'raman_activities', 'ir_intensities'):
        assert after[key] == pytest.approx(before[key], rel=1e-8, abs=1e-10)


def test_ir_unit_and_broadening():
    assert v.IR_KM_MOL == pytest.approx(974.86, rel=1e-4)  # (e^2/amu) in km/mol, Gaussian/CP2K's factor
    grid = np.arange(0, 400, 0.01)
    spectrum = v.broadened_spectrum([143.0, 220.0], [2.0, 1.0], grid, hwhm=4.0)
    assert np.trapezoid(spectrum, grid) == pytest.approx(3.0, rel=1e-6)
    top = spectrum[np.argmin(np.abs(grid - 143.0))]
    assert spectrum[np.argmin(np.abs(grid - 147.0))] == pytest.approx(top / 2, rel=1e-3)  # HWHM is 4 cm^-1


def test_participation_assignment_and_peak_on_a_se_h_model():
    """Se-H in a Cd-Se frame: a mode moving H perpendicular to Se-H is a bend, one along it a stretch."""
    positions = np.array([[0.0, 0, 0], [2.6, 0, 0], [-1.5, 0, 0]])
    symbols, masses = ['Cd', 'Se', 'H'], np.array([112.4, 78.96, 1.008])
    bend = np.zeros(9)
    bend[7] = 1.0  # H along y
    stretch = np.zeros(9)
    stretch[6] = 1.0  # H along x
    core = np.zeros(9)
    core[0], core[3] = np.sqrt(masses[0]), -np.sqrt(masses[1])
    vectors = np.stack([bend, stretch, core / np.linalg.norm(core)], axis=1)
    participation = v.element_participation(vectors, symbols)
    assert sum(participation.values()) == pytest.approx(np.ones(3))
    assert v.ligand_bonds(positions, symbols) == [(0, 2)]
    assert v.assign_modes(positions, symbols, vectors, masses) == ['Cd-H bend', 'Cd-H stretch', 'core']
    assert v.main_peak([100.0, 150.0, 300.0], [5.0, 1.0, 9.0], [0.9, 0.9, 0.1]) == pytest.approx(150.0, abs=0.1)
    assert list(v.nearest_modes([100.0, 150.0, 300.0], 140.0, 2)) == [1, 0]


def test_degenerate_sums_group_modes_within_the_tolerance():
    sums = v.degenerate_sums([3117.9, 1367.4, 1367.41, 3117.85, 3045.6], [1.0, 2.0, 3.0, 4.0, 5.0])
    assert sums == pytest.approx([5.0, 5.0, 5.0])


def test_hessian_from_forces_of_a_harmonic_model():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(6, 6))
    hessian = a @ a.T
    step = 0.01
    plus = np.array([-(hessian @ (step * e)).reshape(2, 3) for e in np.eye(6)])
    minus = np.array([-(hessian @ (-step * e)).reshape(2, 3) for e in np.eye(6)])
    assert v.hessian_from_forces(plus, minus, step) == pytest.approx(hessian, rel=1e-12)


def test_mode_animation_and_molden_round_trip(tmp_path):
    import ase.io

    positions = np.array([[0.0, 0, 0], [0, 0, 1.1], [0, 1.0, -0.4]])
    symbols, masses = ['O', 'H', 'H'], np.array([16.0, 1.0, 1.0])
    vector = np.zeros(9)
    vector[5], vector[8] = 0.6, -0.8
    frames, pattern = v.mode_frames(positions, vector, masses, amplitude=0.25, n_frames=8)
    assert np.linalg.norm(pattern, axis=1).max() == pytest.approx(0.25)
    path = tmp_path / 'mode.extxyz'
    path.write_text(r.write_mode_extxyz(symbols, frames, pattern))
    read = ase.io.read(path, index=':')
    assert len(read) == 8 and read[2].get_chemical_symbols() == symbols
    assert read[2].positions == pytest.approx(frames[2], abs=1e-7)
    assert read[0].arrays['mode'] == pytest.approx(pattern, abs=1e-7)
    text = r.write_molden(symbols, positions, np.array([1500.0, 3700.0]), np.stack([pattern, -pattern]))
    back = r.read_molden_vibrations(text)
    assert back['symbols'] == symbols and back['wavenumbers'] == pytest.approx([1500.0, 3700.0])
    assert back['positions'] == pytest.approx(positions, abs=1e-7)
    assert back['modes'][1] == pytest.approx(-pattern, abs=1e-7)


def test_cp2k_hessian_file_and_polarizability_block():
    matrix = np.arange(36, dtype=float).reshape(6, 6)
    content = b''.join(struct.pack('<i', 48) + row.astype('<f8').tobytes() + struct.pack('<i', 48) for row in matrix)
    assert r.read_hessian_file(content) == pytest.approx(matrix * r.HESSIAN_FILE_SCALE)
    block = """ POLARIZABILITY TENSOR (atomic units):
         xx,yy,zz        1.0        2.0        3.0
         xy,xz,yz        4.0        5.0        6.0
         yx,zx,zy        4.0        5.0        6.0
         POLARIZABILITY TENSOR (Angstrom^3):
         xx,yy,zz        0.1        0.2        0.3
         xy,xz,yz        0.4        0.5        0.6
         yx,zx,zy        0.7        0.8        0.9
"""
    assert r.read_polarizability(block) == pytest.approx(np.array([[0.1, 0.4, 0.5], [0.7, 0.2, 0.6], [0.8, 0.9, 0.3]]))
    assert r.raman_file_index('aiida-r-0-raman-1_17.data') == 17
    with pytest.raises(ValueError, match='6N\\+1'):
        r.split_displacements(np.zeros(6), 1)
