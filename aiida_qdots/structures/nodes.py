"""AiiDA nodes from the package's structure builders: small functions, one per kind of structure.

Every structure is stored, because extras can only be set on stored nodes; its recipe sits in the
extras under the key ``qdots`` (see DESIGN.md, conventions). Nanocrystals are built with provenance by
:func:`aiida_qdots.functions.nanocrystals.nanocrystal_structure`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import numpy as np
from aiida import orm
from ase import Atoms

from aiida_qdots.common.errors import QdotsInputError

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


def checked_extras(extras: Mapping) -> dict:
    """``extras`` as plain JSON types (:func:`jsonable`); :class:`QdotsInputError` names a value JSON cannot hold."""
    recipe = jsonable(extras)
    try:
        json.dumps(recipe, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise QdotsInputError(f'structure extras are not JSON-serialisable: {exc}') from exc
    return recipe


def structure_from_atoms(
    atoms: Atoms, extras: Mapping | None = None, label: str | None = None, description: str | None = None
) -> orm.StructureData:
    """Store ``atoms`` as a StructureData with ``extras`` (default: ``atoms.info``) under the key ``qdots``.

    The cell and pbc of ``atoms`` are kept. The extras must be JSON-serialisable once NumPy types are
    converted; otherwise :class:`QdotsInputError` names the offending value. Returns the stored node.
    """
    recipe = checked_extras(dict(atoms.info) if extras is None else extras)
    node = orm.StructureData(ase=atoms)
    if label is not None:
        node.label = label
    if description is not None:
        node.description = description
    node.store()
    node.base.extras.set(EXTRAS_KEY, recipe)
    return node
