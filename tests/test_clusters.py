"""Magic-size cluster builder: composition, charge, coordination, symmetry and ligand arrangements."""

import math

import numpy as np
import pytest
from click.testing import CliRunner

from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.structures.clusters import (
    CDSE_BOND,
    build_magic_cluster,
    framework,
    ligand_arrangements,
    net_formal_charge,
    surface_site_permutations,
)
from aiida_qdots.structures.symmetry import point_group_operations


def coordination(positions, cutoff):
    dist = np.linalg.norm(positions[:, None] - positions[None], axis=-1)
    return ((dist > 0.1) & (dist < cutoff)).sum(axis=1)


def test_framework_is_the_cd17se4_seR24_core():
    """13 four-coordinate + 4 three-coordinate cations, 4 mu4 + 24 two-coordinate anions, 64 bonds."""
    positions, sublattice, surface = framework()
    cn = coordination(positions, 1.1 * CDSE_BOND)
    assert sorted(cn[sublattice == 0]) == [3] * 4 + [4] * 13
    assert sorted(cn[sublattice == 1]) == [2] * 24 + [4] * 4
    assert set(cn[surface]) == {2}
    assert cn.sum() // 2 == 64
    dist = np.linalg.norm(positions[:, None] - positions[None], axis=-1)
    bonds = dist[(dist > 0.1) & (dist < 1.1 * CDSE_BOND)]
    np.testing.assert_allclose(bonds, CDSE_BOND, atol=1e-9)


def test_point_group_is_td():
    """24 operations, 12 proper rotations, closed under composition, and they map the framework onto itself."""
    positions, sublattice, _ = framework()
    ops, perms = point_group_operations(positions, sublattice)
    assert len(ops) == 24
    dets = np.array([np.linalg.det(r) for r in ops])
    assert np.sum(np.isclose(dets, 1.0)) == 12
    centred = positions - positions.mean(axis=0)
    for rot, perm in zip(ops, perms, strict=True):
        np.testing.assert_allclose(centred @ rot.T, centred[perm], atol=1e-8)
        assert np.array_equal(sublattice[perm], sublattice)
    for a, b in [(1, 5), (7, 13), (20, 23)]:
        product = ops[a] @ ops[b]
        assert any(np.allclose(product, r, atol=1e-8) for r in ops)


def test_point_group_of_asymmetric_cluster_is_trivial():
    rng = np.random.default_rng(7)
    positions = rng.normal(size=(12, 3)) * 3
    ops, _ = point_group_operations(positions, np.ones(12, dtype=int))
    assert len(ops) == 1


def test_two_bare_sites_give_276_arrangements_in_17_classes():
    options = ligand_arrangements(2)
    assert sum(o.multiplicity for o in options) == math.comb(24, 2) == 276
    assert len(options) == 17
    # Burnside: the number of orbits is the average number of fixed 2-subsets.
    perms = surface_site_permutations()
    fixed = 0
    for perm in perms:
        cycles = _cycle_lengths(perm)
        fixed += math.comb(cycles.count(1), 2) + cycles.count(2)
    assert fixed / len(perms) == 17
    assert [o.index for o in options] == list(range(17))
    assert ligand_arrangements(1)[0].multiplicity + ligand_arrangements(1)[1].multiplicity == 24


def _cycle_lengths(perm):
    seen, lengths = set(), []
    for start in range(len(perm)):
        if start in seen:
            continue
        length, k = 0, start
        while k not in seen:
            seen.add(k)
            k = perm[k]
            length += 1
        lengths.append(length)
    return lengths


def test_arrangement_indices_are_stable():
    """The index depends only on the site numbering, not on the order the group was found in."""
    options = ligand_arrangements(2)
    assert options[0].bare_sites == (0, 1)
    assert [o.multiplicity for o in options][:4] == [12, 24, 12, 12]


@pytest.mark.parametrize(
    ('composition', 'formula', 'ligand', 'site'),
    [
        ('se-rich', {'Cd': 17, 'Se': 28, 'H': 22}, 'H', 'Se'),
        ('cd-rich', {'Cd': 28, 'Se': 17, 'Cl': 22}, 'Cl', 'Cd'),
    ],
)
def test_clusters_are_neutral_with_ligands_on_surface_sites(composition, formula, ligand, site):
    atoms = build_magic_cluster(composition, arrangement=5)
    symbols = atoms.get_chemical_symbols()
    assert {s: symbols.count(s) for s in set(symbols)} == formula
    assert net_formal_charge(symbols) == 0
    pos = atoms.get_positions()
    dist = np.linalg.norm(pos[:, None] - pos[None], axis=-1)
    np.fill_diagonal(dist, np.inf)
    for i in [k for k, s in enumerate(symbols) if s == ligand]:
        partner = int(dist[i].argmin())
        assert symbols[partner] == site
    assert dist.min() > 1.4
    assert not atoms.pbc.any()
    assert atoms.info['bare_sites'] == list(ligand_arrangements(2)[5].bare_sites)
    assert atoms.info['arrangement'] == 5


def test_cd_rich_is_the_species_swap_of_se_rich():
    se_rich = build_magic_cluster('se-rich', 0)
    cd_rich = build_magic_cluster('Cd28Se17Cl22', 0)
    swap = {'Cd': 'Se', 'Se': 'Cd'}
    framework_se = [s for s in se_rich.get_chemical_symbols() if s != 'H']
    framework_cd = [s for s in cd_rich.get_chemical_symbols() if s != 'Cl']
    assert [swap[s] for s in framework_se] == framework_cd


def test_equivalent_arrangements_have_equal_geometry():
    """Two members of one orbit give clusters with identical sorted interatomic distances."""
    perms = surface_site_permutations()
    rep = ligand_arrangements(2)[4].bare_sites
    image = tuple(sorted(perms[9][list(rep)].tolist()))
    assert image != rep

    def distances(atoms):
        pos = atoms.get_positions()
        return np.sort(np.linalg.norm(pos[:, None] - pos[None], axis=-1).ravel())

    a = build_magic_cluster('se-rich', bare_sites=rep)
    b = build_magic_cluster('se-rich', bare_sites=image)
    np.testing.assert_allclose(distances(a), distances(b), atol=1e-8)


@pytest.mark.parametrize(
    ('kwargs', 'message'),
    [
        ({'composition': 'Cd33Se33'}, 'unknown cluster composition'),
        ({'composition': 'se-rich', 'n_ligands': 25}, 'cannot place 25'),
        ({'composition': 'se-rich', 'n_ligands': 20}, 'formal charge of -2'),
        ({'composition': 'cd-rich', 'arrangement': 17}, 'must be 0..16'),
        ({'composition': 'cd-rich', 'bare_sites': (3, 3)}, '2 distinct indices'),
        ({'composition': 'cd-rich', 'bare_sites': (0, 24)}, '2 distinct indices'),
    ],
)
def test_bad_recipes_are_rejected(kwargs, message):
    with pytest.raises(QdotsInputError, match=message):
        build_magic_cluster(**kwargs)


def test_overlapping_atoms_are_rejected():
    from aiida_qdots.structures.clusters import check_structure

    atoms = build_magic_cluster('se-rich', 0)
    atoms.positions[3] = atoms.positions[4] + 0.2
    with pytest.raises(QdotsInputError, match=r'atoms 3 \(Cd\) and 4 \(Cd\) overlap'):
        check_structure(atoms)


def test_cli_build_cluster_stores_with_provenance(aiida_profile):
    from aiida import orm

    from aiida_qdots.cli import cli

    result = CliRunner().invoke(cli, ['build', 'cluster', '--composition', 'cd-rich', '--arrangement', '2'])
    assert result.exit_code == 0, result.output
    pk = int(result.output.split('PK ')[1].split()[0])
    node = orm.load_node(pk)
    assert node.get_formula() == 'Cd28Cl22Se17'
    assert node.creator.process_label == 'build_cluster'
    assert node.base.extras.get('qdots')['arrangement'] == 2

    before = orm.QueryBuilder().append(orm.Node).count()
    result = CliRunner().invoke(cli, ['build', 'cluster', '--composition', 'cd-rich', '--arrangement', '99'])
    assert result.exit_code == 1
    assert 'must be 0..16' in result.output
    assert orm.QueryBuilder().append(orm.Node).count() == before


def test_cli_lists_arrangements():
    from aiida_qdots.cli import cli

    result = CliRunner().invoke(cli, ['build', 'arrangements', '--composition', 'se-rich'])
    assert result.exit_code == 0
    assert '276 arrangements, 17 distinct under Td' in result.output
