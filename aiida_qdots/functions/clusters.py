"""Calcfunctions that give the package's builders and small derivations provenance."""

from __future__ import annotations

from aiida import orm
from aiida.engine import calcfunction

from aiida_qdots.structures.clusters import build_magic_cluster, get_composition, ligand_arrangements


@calcfunction
def build_cluster(composition: orm.Str, arrangement: orm.Int) -> orm.StructureData:
    """Magic-size cluster ``composition`` ('se-rich' / 'cd-rich') with symmetry-distinct ligand ``arrangement``."""
    atoms = build_magic_cluster(composition.value, arrangement.value)
    structure = orm.StructureData(ase=atoms)
    structure.label = f'{atoms.info["formula"]} arrangement {arrangement.value}'
    structure.description = (
        f'{atoms.info["formula"]} ({composition.value}) with bare surface sites {atoms.info["bare_sites"]}'
    )
    return structure


def cluster_extras(composition: str, arrangement: int, **extra) -> dict:
    """The ``qdots`` extras of a magic-size cluster structure (composition, ligand, arrangement, ...)."""
    recipe = get_composition(composition)
    option = ligand_arrangements(24 - recipe.n_ligands)[arrangement]
    return {
        'kind': 'magic_cluster',
        'composition': recipe.name,
        'formula': recipe.formula,
        'ligand': recipe.ligand,
        'n_ligands': recipe.n_ligands,
        'arrangement': arrangement,
        'bare_sites': list(option.bare_sites),
        'arrangement_multiplicity': option.multiplicity,
        **extra,
    }


@calcfunction
def rank_energies(composition: orm.Str, method: orm.Str, **energies: orm.Float) -> orm.Dict:
    """Rank ligand arrangements by total energy (eV); keys of ``energies`` are ``arrangement_<k>``.

    The lowest energy gets configuration index 0, as in the paper's "configurations 0-5 by
    ground-state energy". Relative energies are in meV above the lowest.
    """
    items = sorted((energy.value, int(key.split('_')[-1])) for key, energy in energies.items())
    recipe = get_composition(composition.value)
    options = ligand_arrangements(24 - recipe.n_ligands)
    lowest = items[0][0]
    ranking = [
        {
            'configuration': rank,
            'arrangement': arrangement,
            'bare_sites': list(options[arrangement].bare_sites),
            'multiplicity': options[arrangement].multiplicity,
            'energy_ev': energy,
            'relative_energy_mev': (energy - lowest) * 1000.0,
        }
        for rank, (energy, arrangement) in enumerate(items)
    ]
    return orm.Dict(
        {
            'composition': recipe.name,
            'formula': recipe.formula,
            'method': method.value,
            'units': {'energy_ev': 'eV', 'relative_energy_mev': 'meV'},
            'ranking': ranking,
        }
    )
