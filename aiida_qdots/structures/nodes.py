"""AiiDA nodes from the package's structure builders: small functions, one per kind of structure.

Every structure is stored, because extras can only be set on stored nodes; its recipe sits in the
extras under the key ``qdots`` (see DESIGN.md, conventions).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import numpy as np
from aiida import orm
from ase import Atoms

from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.structures.nanocrystals import build_nanocrystal

EXTRAS_KEY = 'qdots'


def jsonable(value):
    """``value`` with NumPy scalars/arrays and tuples turned into plain JSON types (dict keys as str)."""
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [jsonable(item) for item in value]
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def structure_from_atoms(
    atoms: Atoms, extras: Mapping | None = None, label: str | None = None, description: str | None = None
) -> orm.StructureData:
    """Store ``atoms`` as a StructureData with ``extras`` (default: ``atoms.info``) under the key ``qdots``.

    The cell and pbc of ``atoms`` are kept. The extras must be JSON-serialisable once NumPy types are
    converted; otherwise :class:`QdotsInputError` names the offending value. Returns the stored node.
    """
    recipe = jsonable(dict(atoms.info) if extras is None else extras)
    try:
        json.dumps(recipe, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise QdotsInputError(f'structure extras are not JSON-serialisable: {exc}') from exc
    node = orm.StructureData(ase=atoms)
    if label is not None:
        node.label = label
    if description is not None:
        node.description = description
    node.store()
    node.base.extras.set(EXTRAS_KEY, recipe)
    return node


def nanocrystal_label(info: Mapping) -> str:
    """Short label such as ``'CdSe/CdS wurtzite d=30.0A 2ML'`` from a nanocrystal recipe."""
    label = f'{info["composition"]} {info["lattice"]} d={info["diameter_requested"]:.1f}A'
    if info['shell_monolayers']:
        label += f' {info["shell_monolayers"]}ML'
    return label


def nanocrystal_structure(label: str | None = None, **recipe) -> orm.StructureData:
    """Build a nanocrystal with :func:`~aiida_qdots.structures.nanocrystals.build_nanocrystal` and store it.

    ``recipe`` takes that function's arguments (``diameter`` in angstrom). The stored StructureData is
    non-periodic, in a cubic box with vacuum, and carries ``atoms.info`` (the recipe and its outcome)
    in its extras under ``qdots``; the label defaults to :func:`nanocrystal_label`.
    """
    atoms = build_nanocrystal(**recipe)
    info = atoms.info
    description = (
        f'{info["formula"]}: {info["composition"]} {info["lattice"]} nanocrystal, core diameter '
        f'{info["core_diameter_equivalent"]:.2f} A (requested {info["diameter_requested"]:.2f} A), '
        f'{info["shell_monolayers"]} shell monolayers, cation excess {info["cation_excess"]:+d}'
    )
    return structure_from_atoms(atoms, info, label=label or nanocrystal_label(info), description=description)
