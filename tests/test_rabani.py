"""Rabani's Lennard-Jones + Coulomb CdSe force field (J. Chem. Phys. 116, 258 (2002)) through real LAMMPS runs.

Checked against an independent NumPy evaluation of the same energy expression (LJ + damped-shifted-force
Coulomb with its self term), against the bulk wurtzite lattice the model was fitted to, and by the rigid-body
modes of a relaxed nanocrystal.
"""

import numpy as np
import pytest
from aiida import orm
from aiida.engine import run_get_node
from ase.build import bulk
from scipy.special import erfc

from aiida_qdots.calculations.lammps import get_lammps_builder
from aiida_qdots.calculations.lammps.force_fields import get_force_field_node, read_pair_parameters
from aiida_qdots.calculations.lammps.inputs import MinimizeSettings
from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.common.units import COULOMB_EV_ANGSTROM, KCAL_MOL_EV
from aiida_qdots.structures.nanocrystals import build_nanocrystal
from aiida_qdots.workchains.phonons import PhononsWorkChain

NAME = 'lj_coulomb_rabani2002'


@pytest.fixture
def rabani(aiida_profile):
    return get_force_field_node(NAME)


def lj_dsf_pair_energy(
    positions: np.ndarray, symbols: list[str], parameters: dict, alpha: float = 0.2, cutoff: float = 12.0
) -> float:
    """Pair energy (eV) of an isolated cluster: 12-6 LJ with Lorentz-Berthelot mixing plus the damped shifted
    force Coulomb pair sum (Fennell and Gezelter, J. Chem. Phys. 124, 234104 (2006)). The configuration-
    independent self term is left out: energy differences and forces do not contain it."""
    q = np.array([parameters[s][0] for s in symbols])
    eps = np.array([parameters[s][1] for s in symbols])
    sig = np.array([parameters[s][2] for s in symbols])
    i, j = np.triu_indices(len(symbols), 1)
    r = np.linalg.norm(positions[i] - positions[j], axis=1)
    inside = r < cutoff
    i, j, r = i[inside], j[inside], r[inside]
    sigma, epsilon = (sig[i] + sig[j]) / 2, np.sqrt(eps[i] * eps[j])
    lj = 4 * epsilon * ((sigma / r) ** 12 - (sigma / r) ** 6)
    shift = erfc(alpha * cutoff) / cutoff
    slope = shift / cutoff + 2 * alpha / np.sqrt(np.pi) * np.exp(-((alpha * cutoff) ** 2)) / cutoff
    coulomb = q[i] * q[j] * (erfc(alpha * r) / r - shift + slope * (r - cutoff))
    return float(lj.sum() + COULOMB_EV_ANGSTROM * coulomb.sum())


def random_cluster(seed: int, n_pairs: int = 6) -> np.ndarray:
    """Positions (angstrom) of 2 n_pairs atoms at least 2.3 A apart, one of them 14 A away from the rest."""
    rng = np.random.default_rng(seed)
    while True:
        positions = rng.uniform(0, 9.0, size=(2 * n_pairs, 3))
        positions[0] += [14.0, 0.0, 0.0]  # beyond the 12 A cutoff of some of the others
        distances = np.linalg.norm(positions[:, None] - positions[None], axis=-1)
        if distances[np.triu_indices(len(positions), 1)].min() > 2.3:
            return positions


def test_parameters_are_stored_with_their_source(rabani):
    attributes = rabani.base.attributes
    assert attributes.get('citation') == 'E. Rabani, J. Chem. Phys. 116, 258 (2002)'
    assert attributes.get('charges') == {'Cd': 1.18, 'Se': -1.18}
    assert attributes.get('lj')['Se'] == pytest.approx([0.0300 * KCAL_MOL_EV, 5.24])
    assert attributes.get('lj')['Cd'] == pytest.approx([0.0334 * KCAL_MOL_EV, 1.98])
    assert get_force_field_node(NAME).pk == rabani.pk


def test_bad_parameter_table_is_refused(tmp_path, aiida_profile):
    path = tmp_path / 'bad.ljq'
    path.write_text('Cd 1.18 0.0334\n')
    with pytest.raises(QdotsInputError, match='expected `element charge epsilon sigma`'):
        read_pair_parameters(path)
    path.write_text('Cd 1.18 0.0334 1.98\n')
    with pytest.raises(QdotsInputError, match='no parameters for Se'):
        get_force_field_node(NAME, path)


def test_lammps_energy_and_forces_equal_an_independent_evaluation(lammps_code, rabani):
    """Two random non-periodic Cd6Se6 clusters: LAMMPS' energy difference and forces (charges in the data file,
    mixing, units, cutoff) equal the NumPy pair sum and its finite-difference gradient."""
    parameters = read_pair_parameters(rabani.base.attributes.get('source_path'))
    symbols = ['Cd', 'Se'] * 6
    energies, expected = [], []
    for seed in (3, 4):
        positions = random_cluster(seed)
        structure = orm.StructureData(cell=np.eye(3) * 40.0, pbc=(False, False, False))
        for symbol, position in zip(symbols, positions, strict=True):
            structure.append_atom(position=position, symbols=symbol)
        results, node = run_get_node(get_lammps_builder(lammps_code, structure, rabani, None, num_mpiprocs=1))
        assert node.is_finished_ok, node.exit_message
        energies.append(results['results']['energy'])
        expected.append(lj_dsf_pair_energy(positions, symbols, parameters))
        h, gradient = 1e-5, np.zeros_like(positions)
        for atom, axis in np.ndindex(positions.shape):
            step = np.zeros_like(positions)
            step[atom, axis] = h
            gradient[atom, axis] = (
                lj_dsf_pair_energy(positions + step, symbols, parameters)
                - lj_dsf_pair_energy(positions - step, symbols, parameters)
            ) / (2 * h)
        np.testing.assert_allclose(results['forces'].get_array('forces'), -gradient, atol=2e-4)  # eV/A
    assert energies[1] - energies[0] == pytest.approx(expected[1] - expected[0], abs=1e-4)  # LAMMPS' erfc fit


def test_bulk_wurtzite_lattice_within_3_percent(lammps_code, rabani):
    """The model was fitted to bulk wurtzite CdSe (a = 4.30 A, c = 7.01 A): a cell-relaxed 4x4x3 supercell keeps
    both within 3 %."""
    atoms = bulk('CdSe', 'wurtzite', a=4.30, c=7.01).repeat((4, 4, 3))
    settings = MinimizeSettings(relax_cell='aniso', force_tolerance=1e-6)
    results, node = run_get_node(get_lammps_builder(lammps_code, orm.StructureData(ase=atoms), rabani, settings))
    assert node.is_finished_ok, node.exit_message
    cell = results['structure'].cell
    a, c = np.linalg.norm(cell[0]) / 4, np.linalg.norm(cell[2]) / 3
    assert a == pytest.approx(4.30, rel=0.03) and c == pytest.approx(7.01, rel=0.03)
    assert abs(results['results']['final_thermo']['Press']) < 1000.0  # bar: a strain of ~1e-4 at B ~ 50 GPa


def test_nanocrystal_modes_with_the_rabani_force_field(lammps_code, rabani):
    """qdots.phonons (modes) on a 1.6 nm CdSe particle: 6 rigid-body modes near zero, the rest real."""
    structure = orm.StructureData(ase=build_nanocrystal(16.0))
    builder = PhononsWorkChain.get_builder_from_protocol(
        lammps_code, structure, 'fast', {'stages': ['modes'], 'force_field': NAME}
    )
    _, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_message
    assert node.inputs.force_field.pk == rabani.pk
    summary = node.outputs.modes_summary
    assert summary['n_rigid_modes'] == 6 and summary['max_imaginary_thz'] < 0.05
    assert summary['n_vibrational_modes'] == 3 * summary['n_atoms'] - 6
    assert 3.0 < summary['max_frequency_thz'] < 12.0
