"""Nanocrystal builders: wurtzite / zinc-blende CdSe spheres and CdSe/CdS core/shell particles."""

import json
import math
import re
import time

import numpy as np
import pytest
from ase.build import bulk
from ase.neighborlist import neighbor_list
from scipy.spatial.distance import cdist, pdist

from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.structures.nanocrystals import build_nanocrystal, nanocrystal_from_recipe

A_WZ, C_WZ, U = 4.30, 7.01, 3 / 8
A_ZB = 6.077
WZ_BONDS = (U * C_WZ, math.sqrt(A_WZ**2 / 3 + ((0.5 - U) * C_WZ) ** 2))  # along c, basal
ZB_BOND = A_ZB * math.sqrt(3) / 4
CUTOFF = 3.4  # between the bond (2.63 A) and the second neighbours (4.30 A)


def radii(atoms):
    return np.linalg.norm(atoms.positions - atoms.info['centre_position'], axis=1)


def coordination(atoms, cutoff=CUTOFF):
    dist = cdist(atoms.positions, atoms.positions)
    return ((dist > 0.1) & (dist < cutoff)).sum(axis=1)


def select(atoms, symbol):
    return atoms.positions[np.array(atoms.get_chemical_symbols()) == symbol]


def bulk_distances(lattice, pair, rmax):
    """Distinct distances (angstrom) between the species ``pair`` in the periodic bulk crystal (ASE-built)."""
    if lattice == 'wurtzite':
        crystal = bulk('CdSe', 'wurtzite', a=A_WZ, c=C_WZ, u=U)
    else:
        crystal = bulk('CdSe', 'zincblende', a=A_ZB)
    i, j, d = neighbor_list('ijd', crystal, rmax)
    symbols = np.array(crystal.get_chemical_symbols())
    mask = (symbols[i] == pair[0]) & (symbols[j] == pair[1])
    return np.unique(np.round(d[mask], 8))


def particle_distances(atoms, pair, rmax):
    dist = cdist(select(atoms, pair[0]), select(atoms, pair[1]))
    return dist[(dist > 0.1) & (dist < rmax)]


def assert_same_recipe(stored, expected):
    if isinstance(expected, dict):
        assert isinstance(stored, dict) and stored.keys() == expected.keys()
        for key, value in expected.items():
            assert_same_recipe(stored[key], value)
    elif isinstance(expected, list):
        assert isinstance(stored, list) and len(stored) == len(expected)
        for got, value in zip(stored, expected, strict=True):
            assert_same_recipe(got, value)
    elif isinstance(expected, float):
        assert stored == pytest.approx(expected, rel=1e-12)
    else:
        assert stored == expected and type(stored) is type(expected)


@pytest.mark.parametrize('lattice', ['wurtzite', 'zincblende'])
@pytest.mark.parametrize('centre', ['bond', 'cation', 'anion'])
@pytest.mark.parametrize('diameter', [20.0, 30.0])
def test_stoichiometric_is_one_to_one(lattice, centre, diameter):
    atoms = build_nanocrystal(diameter, lattice=lattice, centre=centre)
    symbols = atoms.get_chemical_symbols()
    assert symbols.count('Cd') == symbols.count('Se') > 0
    assert set(symbols) == {'Cd', 'Se'}
    assert atoms.info['cation_excess'] == 0
    assert coordination(atoms).min() >= 2


@pytest.mark.parametrize('lattice', ['wurtzite', 'zincblende'])
def test_bond_centred_sphere_is_stoichiometric_as_cut(lattice):
    """Inversion through a bond midpoint swaps the sublattices, so nothing has to be removed by hand."""
    for diameter in (17.3, 24.0, 31.9, 38.5):
        atoms = build_nanocrystal(diameter, lattice=lattice, stoichiometry='as-cut')
        assert atoms.info['cation_excess'] == 0
        assert atoms.info['removed_for_stoichiometry'] == 0


@pytest.mark.parametrize('lattice', ['wurtzite', 'zincblende'])
def test_cation_centred_particle_as_cut_and_adjusted(lattice):
    as_cut = build_nanocrystal(30.0, lattice=lattice, centre='cation', stoichiometry='as-cut')
    adjusted = build_nanocrystal(30.0, lattice=lattice, centre='cation')
    excess = as_cut.info['cation_excess']
    assert excess != 0  # a cation-centred sphere is not stoichiometric as cut
    assert adjusted.info['removed_for_stoichiometry'] == abs(excess) == len(as_cut) - len(adjusted)
    assert np.ptp(cdist(adjusted.positions, as_cut.positions).min(axis=1)) < 1e-9  # a subset of the as-cut one
    removed = np.ones(len(as_cut), dtype=bool)
    removed[cdist(adjusted.positions, as_cut.positions).argmin(axis=1)] = False
    assert (coordination(as_cut)[removed] < 4).all()  # only surface atoms were removed


@pytest.mark.parametrize('excess', [12, -8])
def test_explicit_cation_excess(excess):
    atoms = build_nanocrystal(30.0, shell_monolayers=1, stoichiometry=excess)
    symbols = atoms.get_chemical_symbols()
    assert symbols.count('Cd') - symbols.count('Se') - symbols.count('S') == excess == atoms.info['cation_excess']
    assert coordination(atoms).min() >= 2
    again = build_nanocrystal(30.0, shell_monolayers=1, stoichiometry=excess)
    assert np.array_equal(atoms.positions, again.positions)  # deterministic


@pytest.mark.parametrize(
    'recipe',
    [
        {'diameter': 22.0},
        {'diameter': 35.0, 'lattice': 'zincblende'},
        {'diameter': 25.0, 'shell_monolayers': 2},
        {'diameter': 25.0, 'centre': 'cation', 'stoichiometry': 'as-cut'},
    ],
)
def test_every_atom_has_two_neighbours(recipe):
    assert coordination(build_nanocrystal(**recipe)).min() >= 2


def test_nearest_neighbours_are_the_bulk_bonds():
    wz = build_nanocrystal(25.0)
    nearest = cdist(select(wz, 'Cd'), select(wz, 'Se')).min(axis=1)
    assert np.abs(nearest[:, None] - np.array(WZ_BONDS)[None, :]).min(axis=1).max() < 1e-6
    bonds = particle_distances(wz, ('Cd', 'Se'), CUTOFF)
    assert np.isclose(bonds, WZ_BONDS[0], atol=1e-6).any() and np.isclose(bonds, WZ_BONDS[1], atol=1e-6).any()
    assert np.isclose(bonds, WZ_BONDS[0], atol=1e-6).sum() * 2 < np.isclose(bonds, WZ_BONDS[1], atol=1e-6).sum()

    zb = build_nanocrystal(25.0, lattice='zincblende')
    assert np.allclose(cdist(select(zb, 'Cd'), select(zb, 'Se')).min(axis=1), ZB_BOND, atol=1e-6, rtol=0)
    assert np.allclose(particle_distances(zb, ('Cd', 'Se'), CUTOFF), ZB_BOND, atol=1e-6, rtol=0)


@pytest.mark.parametrize('lattice', ['wurtzite', 'zincblende'])
def test_pair_distances_fall_on_bulk_shells(lattice):
    """Every Cd-Se, Cd-Cd and Se-Se distance up to 8 A is a distance of the ASE-built bulk crystal."""
    atoms = build_nanocrystal(20.0, lattice=lattice)
    for pair in [('Cd', 'Se'), ('Cd', 'Cd'), ('Se', 'Se')]:
        reference = bulk_distances(lattice, pair, 8.0)
        found = particle_distances(atoms, pair, 8.0)
        assert np.abs(found[:, None] - reference[None, :]).min(axis=1).max() < 1e-6, pair


def test_wurtzite_and_zincblende_differ_beyond_the_first_shell():
    """Wurtzite has a Cd-Se neighbour at (1 - u) c = 4.38 A (eclipsed); zinc blende has none before 5.04 A."""
    wz = build_nanocrystal(25.0)
    zb = build_nanocrystal(25.0, lattice='zincblende')
    wz_cdse = particle_distances(wz, ('Cd', 'Se'), 5.5)
    zb_cdse = particle_distances(zb, ('Cd', 'Se'), 5.5)
    assert np.isclose(wz_cdse, (1 - U) * C_WZ, atol=1e-6).sum() > len(wz) / 4
    assert not ((zb_cdse > 3.0) & (zb_cdse < 5.0)).any()
    assert np.isclose(zb_cdse, A_ZB * math.sqrt(11) / 4, atol=1e-6).any()
    # both have their 12 second (like-atom) neighbours at ~4.30 A around an interior atom
    for atoms in (wz, zb):
        cd = select(atoms, 'Cd')
        centre = np.argmin(np.linalg.norm(cd - atoms.info['centre_position'], axis=1))
        d = np.linalg.norm(cd - cd[centre], axis=1)
        assert ((d > 4.0) & (d < 4.6)).sum() == 12
    # and zinc blende has no like-atom distance at c = 7.01 A, which wurtzite has along its c axis
    assert np.isclose(particle_distances(wz, ('Cd', 'Cd'), 7.5), C_WZ, atol=1e-6).any()
    assert not np.isclose(particle_distances(zb, ('Cd', 'Cd'), 7.5), C_WZ, atol=1e-2).any()


@pytest.mark.parametrize('lattice', ['wurtzite', 'zincblende'])
@pytest.mark.parametrize('diameter', [20.0, 30.0, 40.0])
def test_core_diameter_close_to_request(lattice, diameter):
    atoms = build_nanocrystal(diameter, lattice=lattice)
    info = atoms.info
    extent = 2 * radii(atoms)[np.array(atoms.get_chemical_symbols()) == 'Se'].max()
    assert info['core_diameter_extent'] == pytest.approx(extent, abs=1e-6)
    assert diameter - 2.0 < extent <= diameter + 1e-6
    assert info['core_diameter_equivalent'] == pytest.approx(diameter, rel=0.05)
    assert info['diameter_requested'] == diameter
    # the box is a cube with the particle in the middle and the requested vacuum around it
    assert not atoms.pbc.any()
    assert np.allclose(atoms.cell.lengths(), atoms.cell.lengths()[0]) and np.allclose(atoms.cell.angles(), 90)
    assert atoms.positions.min() >= info['vacuum'] - 1e-6
    assert atoms.positions.max() <= atoms.cell.lengths()[0] - info['vacuum'] + 1e-6


def test_atom_count_scales_with_volume_at_bulk_density():
    density = 4 / (math.sqrt(3) / 2 * A_WZ**2 * C_WZ)  # atoms per A^3 of bulk wurtzite CdSe
    diameters = np.array([20.0, 30.0, 40.0, 55.0])
    counts = np.array([len(build_nanocrystal(d)) for d in diameters])
    ratio = counts / (density * math.pi * diameters**3 / 6)
    assert ((ratio > 0.9) & (ratio < 1.05)).all(), ratio
    slope = np.polyfit(np.log(diameters), np.log(counts), 1)[0]
    assert slope == pytest.approx(3.0, abs=0.15)


@pytest.mark.parametrize('lattice', ['wurtzite', 'zincblende'])
@pytest.mark.parametrize('monolayers', [1, 2, 3])
def test_core_shell(lattice, monolayers):
    diameter = 30.0
    atoms = build_nanocrystal(diameter, lattice=lattice, shell_monolayers=monolayers)
    bare = build_nanocrystal(diameter, lattice=lattice)
    info = atoms.info
    symbols = np.array(atoms.get_chemical_symbols())
    r = radii(atoms)
    assert (r[symbols == 'S'] > diameter / 2).all()
    assert (r[symbols == 'Se'] <= diameter / 2 + 1e-6).all()
    assert (symbols == 'Cd').sum() == (symbols == 'Se').sum() + (symbols == 'S').sum()
    # one monolayer is one Cd-anion bilayer of the lattice used: c/2 or a/sqrt(3)
    t_ml = C_WZ / 2 if lattice == 'wurtzite' else A_ZB / math.sqrt(3)
    assert info['monolayer_thickness'] == pytest.approx(t_ml)
    thickness = r[symbols == 'S'].max() - r[symbols == 'Se'].max()
    assert thickness == pytest.approx(info['shell_thickness_extent'], abs=1e-6)
    assert abs(thickness - monolayers * t_ml) < 0.5 * t_ml
    # the shell grows on the core: every Se of the bare core is still there, on the same lattice
    shift = bare.info['centre_position'][0] - info['centre_position'][0]
    assert cdist(select(bare, 'Se') - shift, select(atoms, 'Se')).min(axis=1).max() < 1e-6
    # coherent epitaxy: Cd-S bonds are the Cd-Se bonds of the core lattice
    bond = WZ_BONDS if lattice == 'wurtzite' else (ZB_BOND,)
    cds = particle_distances(atoms, ('Cd', 'S'), CUTOFF)
    assert np.abs(cds[:, None] - np.array(bond)[None, :]).min(axis=1).max() < 1e-6
    assert coordination(atoms).min() >= 2
    assert info['counts'] == {el: int((symbols == el).sum()) for el in ('Cd', 'Se', 'S')}
    assert info['lattice_constants']['material'] == 'CdSe'
    assert info['shell_bulk_lattice_constants']['material'] == 'CdS'


def test_recipe_is_recorded_and_json_serialisable():
    atoms = build_nanocrystal(30.0, shell_monolayers=2, stoichiometry=4)
    info = json.loads(json.dumps(atoms.info))
    assert info['lattice'] == 'wurtzite' and info['core'] == 'CdSe' and info['shell'] == 'CdS'
    assert info['shell_monolayers'] == 2 and info['stoichiometry'] == 4 and info['cation_excess'] == 4
    assert info['lattice_constants'] == {'material': 'CdSe', 'a': A_WZ, 'c': C_WZ, 'u': U}
    assert info['n_atoms'] == len(atoms) == sum(info['counts'].values())
    assert info['formula'] == ''.join(f'{el}{n}' for el, n in info['counts'].items())
    assert 'Madelung' in info['lattice_source']


def test_ten_thousand_atoms_in_under_a_second():
    start = time.perf_counter()
    atoms = build_nanocrystal(82.0)
    elapsed = time.perf_counter() - start
    assert len(atoms) > 10_000
    assert elapsed < 1.0, elapsed


@pytest.mark.parametrize(
    ('recipe', 'message'),
    [
        ({'diameter': 0.0}, 'must be a positive number'),
        ({'diameter': -5.0}, 'must be a positive number'),
        ({'diameter': float('nan')}, 'must be a positive number'),
        ({'diameter': 5.0}, 'too small to hold a particle'),
        ({'diameter': 3000.0}, 'more than the limit of 200000'),
        ({'diameter': 30.0, 'lattice': 'rocksalt'}, 'unknown lattice'),
        ({'diameter': 30.0, 'core': 'PbS'}, 'unknown core material'),
        ({'diameter': 30.0, 'shell': 'ZnS', 'shell_monolayers': 1}, 'unknown shell material'),
        ({'diameter': 30.0, 'shell_monolayers': -1}, 'shell_monolayers must be >= 0'),
        ({'diameter': 30.0, 'shell_monolayers': 1.5}, 'whole number'),
        ({'diameter': 30.0, 'centre': 'middle'}, 'unknown sphere centre'),
        ({'diameter': 30.0, 'stoichiometry': 'cd-rich'}, 'integer cation excess'),
        ({'diameter': 30.0, 'stoichiometry': 1000}, 'cannot reach a cation excess of \\+1000'),
        ({'diameter': 30.0, 'stoichiometry': 200}, 'no surface Se atom can be removed'),
    ],
)
def test_bad_inputs_name_the_problem(recipe, message):
    with pytest.raises(QdotsInputError, match=message):
        build_nanocrystal(**recipe)


def test_structure_round_trip(aiida_profile):
    from aiida import orm

    from aiida_qdots.functions.nanocrystals import nanocrystal_structure

    recipe = {'diameter': 20.0, 'lattice': 'zincblende', 'shell_monolayers': 1}
    node = nanocrystal_structure(**recipe)
    assert node.is_stored
    loaded = orm.load_node(node.pk)
    atoms = build_nanocrystal(**recipe)
    back = loaded.get_ase()
    assert back.get_chemical_symbols() == atoms.get_chemical_symbols()
    assert np.allclose(back.positions, atoms.positions, atol=1e-10)
    assert np.allclose(back.cell, atoms.cell) and not any(loaded.pbc)
    # AiiDA keeps 14 significant digits of a float in attributes and extras
    assert_same_recipe(loaded.base.extras.get('qdots'), json.loads(json.dumps(atoms.info)))
    assert loaded.label == 'CdSe/CdS zincblende d=20.0A 1ML'
    assert pdist(back.positions).min() > 2.5


def test_structure_from_atoms_converts_numpy_and_rejects_junk(aiida_profile):
    from aiida_qdots.structures.nodes import structure_from_atoms

    atoms = build_nanocrystal(15.0)
    node = structure_from_atoms(atoms, {'n': np.int64(3), 'x': np.float32(0.5), 'v': np.arange(2)}, label='test')
    assert node.is_stored and node.label == 'test'
    assert node.base.extras.get('qdots') == {'n': 3, 'x': 0.5, 'v': [0, 1]}
    assert structure_from_atoms(atoms).base.extras.get('qdots')['formula'] == atoms.info['formula']
    with pytest.raises(QdotsInputError, match='not JSON-serialisable'):
        structure_from_atoms(atoms, {'bad': object()})


def test_cli_build_nanocrystal(aiida_profile):
    from aiida import orm
    from click.testing import CliRunner

    from aiida_qdots.cli import cli

    runner = CliRunner()
    result = runner.invoke(
        cli, ['build', 'nanocrystal', '--diameter', '2.0', '--shell-monolayers', '1', '--label', 'nc-test']
    )
    assert result.exit_code == 0, result.output
    match = re.search(r'nanocrystal: PK (\d+) \(([0-9a-f-]{36})\)', result.output)
    assert match, result.output
    node = orm.load_node(int(match.group(1)))
    recipe = node.base.extras.get('qdots')
    assert node.label == 'nc-test' and node.uuid == match.group(2)
    assert recipe['diameter_requested'] == pytest.approx(20.0)  # nm at the CLI, angstrom inside
    assert recipe['shell_monolayers'] == 1 and recipe['lattice'] == 'wurtzite'
    assert f'formula: {recipe["formula"]}' in result.output

    result = runner.invoke(cli, ['build', 'nanocrystal', '--diameter', '2.5', '--stoichiometry', '-3'])
    assert result.exit_code == 0, result.output
    pk = int(re.search(r'PK (\d+)', result.output).group(1))
    assert orm.load_node(pk).base.extras.get('qdots')['cation_excess'] == -3

    for args, message in [
        (['--diameter', '0'], "Invalid value for '--diameter'"),
        (['--diameter', '2', '--lattice', 'rocksalt'], "Invalid value for '--lattice'"),
        (['--diameter', '2', '--shell-monolayers', '-1'], "Invalid value for '--shell-monolayers'"),
        (['--diameter', '2', '--stoichiometry', 'cd-rich'], 'integer cation excess'),
    ]:
        result = runner.invoke(cli, ['build', 'nanocrystal', *args])
        assert result.exit_code == 2 and message in result.output, result.output
    result = runner.invoke(cli, ['build', 'nanocrystal', '--diameter', '3', '--stoichiometry', '5000'])
    assert result.exit_code == 1 and 'cannot reach a cation excess of +5000' in result.output, result.output


def test_a_recipe_key_build_nanocrystal_does_not_take_is_bad_input():
    with pytest.raises(QdotsInputError, match=r'unknown nanocrystal recipe key\(s\) diameterr; known: diameter, '):
        nanocrystal_from_recipe({'diameterr': 40.0})
    assert len(nanocrystal_from_recipe({'diameter': 12.0})) == len(build_nanocrystal(12.0))
