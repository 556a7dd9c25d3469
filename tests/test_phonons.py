"""Finite-difference Hessians from LAMMPS (SW, Debian lmp) and the normal modes of a relaxed nanocrystal."""
import numpy as np
import pytest
from aiida import orm
from aiida.engine import run_get_node
from ase.build import bulk

from aiida_qdots.analysis.normal_modes import hessian_checks, normal_modes, phonon_dos
from aiida_qdots.calculations.force_fields import get_force_field_node
from aiida_qdots.calculations.lammps_inputs import HessianSettings, MinimizeSettings, get_lammps_builder
from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.structures.nanocrystals import build_nanocrystal


@pytest.fixture
def force_field(aiida_profile):
    return get_force_field_node('sw_zhou2013')


def run_ok(builder):
    results, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_message
    return results


def test_hessian_predicts_force_changes_in_a_rotated_crystal(lammps_code, force_field):
    """H from +-h force differences (LAMMPS frame, rotated back) predicts F(x + u) - F(x) = -H u (input frame)."""
    atoms = bulk('CdSe', 'wurtzite', a=4.30, c=7.01).repeat((3, 3, 2))
    atoms.rotate(25, (1, -1, 2), rotate_cell=True)
    atoms.positions += np.random.default_rng(1).normal(scale=0.05, size=atoms.positions.shape)
    structure = orm.StructureData(ase=atoms)
    results = run_ok(get_lammps_builder(lammps_code, structure, force_field, HessianSettings(displacement=0.005)))
    hessian = results['hessian'].get_array('hessian')
    assert hessian.shape == (216, 216)
    checks = hessian_checks(hessian, atoms.positions)
    assert checks['asymmetry'] < 1e-4 and checks['translation_residual'] < 1e-4
    assert results['results']['blocks'][0]['kind'] == 'run' and len(results['results']['blocks']) == 1
    u = np.random.default_rng(2).normal(scale=1e-3, size=atoms.positions.shape)
    moved = atoms.copy()
    moved.positions += u
    forces = [run_ok(get_lammps_builder(lammps_code, orm.StructureData(ase=a), force_field))['forces'].get_array(
        'forces') for a in (atoms, moved)]
    change, predicted = (forces[1] - forces[0]).ravel(), -hessian @ u.ravel()
    assert np.abs(change - predicted).max() < 0.02 * np.abs(change).max()


def test_relaxed_nanocrystal_normal_modes(lammps_code, force_field):
    atoms = build_nanocrystal(16.0)
    n = len(atoms)
    relaxed = run_ok(get_lammps_builder(lammps_code, orm.StructureData(ase=atoms), force_field,
                                        MinimizeSettings(force_tolerance=1e-6)))['structure']
    results = run_ok(get_lammps_builder(lammps_code, relaxed, force_field, HessianSettings()))
    hessian = results['hessian'].get_array('hessian')
    positions = relaxed.get_ase().positions
    masses = relaxed.get_ase().get_masses()
    checks = hessian_checks(hessian, positions)
    assert checks['asymmetry'] < 1e-3 and checks['translation_residual'] < 1e-3
    raw = normal_modes(hessian, masses, positions, project_rigid=False)
    assert raw.rigid_mask.sum() == 6 and raw.rigid_max_thz < 0.3  # the 6 rigid modes near zero before projection
    modes = normal_modes(hessian, masses, positions)
    vib = modes.frequencies_thz[~modes.rigid_mask]
    assert modes.max_imaginary_thz < 0.1 and 5.0 < vib.max() < 12.0  # CdSe optical phonons ~6-7 THz
    grid = np.linspace(-1.0, vib.max() + 1.0, 2000)
    assert np.trapezoid(phonon_dos(vib, grid, 0.1), grid) == pytest.approx(3 * n - 6, rel=1e-6)


def test_hessian_settings_are_validated():
    with pytest.raises(QdotsInputError, match='too large'):
        HessianSettings(displacement=0.2)
    with pytest.raises(QdotsInputError, match='must be positive'):
        HessianSettings(displacement=-0.01)
