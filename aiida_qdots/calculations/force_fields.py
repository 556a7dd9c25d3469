"""Classical force fields for LAMMPS, stored once as SinglefileData nodes.

A force field is a potential file shipped with LAMMPS plus how to use it (``pair_style``, the
elements it covers, its citation). :func:`get_force_field_node` stores the file the first time and
returns the same node afterwards (matched by SHA-256), so every LAMMPS run links to the exact
file it used. Node attributes: ``force_field`` (registry name), ``pair_style``, ``elements``,
``citation``, ``units`` (LAMMPS units the parameters are in), ``sha256``, ``source_path`` (where it was read).
"""
from __future__ import annotations

import dataclasses
import os
import pathlib
import sys

from aiida import orm

from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.common.files import file_sha256

POTENTIALS_ENV = 'LAMMPS_POTENTIALS'
"""Environment variable LAMMPS itself reads for the potentials folder; searched first."""


@dataclasses.dataclass(frozen=True)
class ForceField:
    """A LAMMPS potential file and how it is used."""

    name: str
    filename: str
    pair_style: str  # a many-body style that reads ``pair_coeff * * <file> <element per type>``
    elements: tuple[str, ...]
    citation: str
    description: str
    units: str = 'metal'


FORCE_FIELDS = {
    'sw_zhou2013': ForceField(
        name='sw_zhou2013',
        filename='CdTeZnSeHgS0.sw',
        pair_style='sw',
        elements=('Cd', 'Te', 'Zn', 'Se', 'Hg', 'S'),
        citation=(
            'X. W. Zhou, D. K. Ward, J. E. Martin, F. B. van Swol, J. L. Cruz-Campa, D. Zubia, '
            'Phys. Rev. B 88, 085309 (2013)'
        ),
        description='Stillinger-Weber potential for the Cd-Zn-Hg-S-Se-Te system (cutoffs about 4 A)',
    ),
}
DEFAULT_FORCE_FIELD = 'sw_zhou2013'


def get_force_field(name: str = DEFAULT_FORCE_FIELD) -> ForceField:
    """Registry entry ``name``; clear error listing the known ones."""
    if name not in FORCE_FIELDS:
        raise QdotsInputError(f'unknown force field {name!r}; known: {", ".join(sorted(FORCE_FIELDS))}')
    return FORCE_FIELDS[name]


def potential_dirs() -> list[pathlib.Path]:
    """Folders searched for LAMMPS potential files, in order: ``$LAMMPS_POTENTIALS``, then the usual
    install locations (Debian, /usr/local, conda/venv prefix)."""
    dirs = []
    if os.environ.get(POTENTIALS_ENV):
        dirs += [pathlib.Path(p) for p in os.environ[POTENTIALS_ENV].split(os.pathsep) if p]
    prefixes = [os.environ.get('CONDA_PREFIX', ''), sys.prefix, '/usr/local', '/usr']
    dirs += [pathlib.Path(p) / 'share' / 'lammps' / 'potentials' for p in prefixes if p]
    unique = []
    for folder in dirs:
        if folder not in unique:
            unique.append(folder)
    return unique


def find_potential_file(filename: str) -> pathlib.Path:
    """Absolute path of the LAMMPS potential ``filename``; :class:`QdotsInputError` naming the folders searched."""
    folders = potential_dirs()
    for folder in folders:
        path = folder / filename
        if path.is_file():
            return path.resolve()
    raise QdotsInputError(
        f'LAMMPS potential file {filename} not found in {", ".join(str(f) for f in folders)}; install the '
        f'LAMMPS potentials (Debian: `apt-get install lammps`) or point ${POTENTIALS_ENV} at the folder holding it'
    )


def file_elements(path: str | os.PathLike) -> set[str]:
    """Elements named in the parameter lines of a Stillinger-Weber/Tersoff-style file (first three columns)."""
    elements = set()
    with open(path, encoding='utf-8') as handle:
        for line in handle:
            tokens = line.split('#', 1)[0].split()
            if len(tokens) > 3 and all(t[:1].isalpha() for t in tokens[:3]):
                elements.update(tokens[:3])
    return elements


def get_force_field_node(name: str = DEFAULT_FORCE_FIELD, path: str | os.PathLike | None = None) -> orm.SinglefileData:
    """Stored SinglefileData of force field ``name``, created on first use and reused afterwards.

    The file is looked up with :func:`find_potential_file` unless ``path`` is given. An existing node
    with the same registry name and SHA-256 is returned instead of storing a duplicate; a different
    file under the same name (another LAMMPS release) gets its own node.
    """
    spec = get_force_field(name)
    path = pathlib.Path(path) if path is not None else find_potential_file(spec.filename)
    if not path.is_file():
        raise QdotsInputError(f'force field file {path} does not exist')
    missing = set(spec.elements) - file_elements(path)
    if spec.pair_style in ('sw', 'tersoff') and missing:
        raise QdotsInputError(f'{path} has no parameters for {", ".join(sorted(missing))}; is it the {name} file?')
    sha = file_sha256(path)
    query = orm.QueryBuilder().append(
        orm.SinglefileData,
        filters={'attributes.sha256': sha, 'attributes.force_field': name},
        tag='ff',
    )
    query.order_by({'ff': {'ctime': 'asc'}}).limit(1)
    existing = query.first(flat=True)
    if existing is not None:
        return existing
    node = orm.SinglefileData(path, filename=spec.filename)
    node.label = name
    node.description = f'{spec.description}. {spec.citation}'
    attributes = {
        'force_field': name,
        'pair_style': spec.pair_style,
        'elements': list(spec.elements),
        'citation': spec.citation,
        'units': spec.units,
        'sha256': sha,
        'source_path': str(path),
    }
    for key, value in attributes.items():
        node.base.attributes.set(key, value)
    return node.store()
