"""Nanocrystal structures built by a calcfunction, so that the graph says how each was made."""

from __future__ import annotations

from collections.abc import Mapping

from aiida import orm
from aiida.engine import calcfunction

from aiida_qdots.structures.nanocrystals import build_nanocrystal, nanocrystal_from_recipe
from aiida_qdots.structures.nodes import EXTRAS_KEY, checked_extras


def nanocrystal_label(info: Mapping) -> str:
    """Short label such as ``'CdSe/CdS wurtzite d=30.0A 2ML'`` from a nanocrystal recipe."""
    label = f'{info["composition"]} {info["lattice"]} d={info["diameter_requested"]:.1f}A'
    if info['shell_monolayers']:
        label += f' {info["shell_monolayers"]}ML'
    return label


@calcfunction
def build_nanocrystal_structure(recipe: orm.Dict) -> orm.StructureData:
    """The nanocrystal of ``recipe`` (the arguments of :func:`~aiida_qdots.structures.nanocrystals.build_nanocrystal`,
    ``diameter`` in angstrom): non-periodic, in a cubic box with vacuum."""
    atoms = build_nanocrystal(**recipe.get_dict())
    info = atoms.info
    structure = orm.StructureData(ase=atoms)
    structure.label = nanocrystal_label(info)
    structure.description = (
        f'{info["formula"]}: {info["composition"]} {info["lattice"]} nanocrystal, core diameter '
        f'{info["core_diameter_equivalent"]:.2f} A (requested {info["diameter_requested"]:.2f} A), '
        f'{info["shell_monolayers"]} shell monolayers, cation excess {info["cation_excess"]:+d}'
    )
    return structure


def nanocrystal_structure(label: str | None = None, **recipe) -> orm.StructureData:
    """Build a nanocrystal with :func:`build_nanocrystal_structure` (its creator) and return the stored node.

    ``recipe`` takes :func:`~aiida_qdots.structures.nanocrystals.build_nanocrystal`'s arguments (``diameter`` in
    angstrom). The recipe is checked by building it once first, so a bad one raises QdotsInputError and stores
    nothing. The node carries ``atoms.info`` (the recipe and its outcome) in its extras under ``qdots``; its label
    defaults to :func:`nanocrystal_label`.
    """
    extras = checked_extras(nanocrystal_from_recipe(recipe).info)
    structure = build_nanocrystal_structure(orm.Dict(checked_extras(recipe)))
    if label is not None:
        structure.label = label
    structure.base.extras.set(EXTRAS_KEY, extras)
    return structure
