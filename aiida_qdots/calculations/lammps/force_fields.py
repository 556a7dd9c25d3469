"""Classical force fields for LAMMPS, stored once as SinglefileData nodes.

Two kinds:

* a many-body potential file shipped with LAMMPS (``pair_coeff * * <file> <elements>``), e.g. the
  Stillinger-Weber ``CdTeZnSeHgS0.sw``;
* a fixed-charge pair potential (12-6 Lennard-Jones + Coulomb) whose parameter table ships with this
  package (``aiida_qdots/data/force_fields``), e.g. Rabani's CdSe model. The generated LAMMPS scripts read
  its charges and per-element LJ parameters from the node's attributes (``charges``, ``lj``), mix unlike
  pairs by Lorentz-Berthelot and treat the Coulomb sum with the damped shifted force (``pair_args``), which
  serves periodic crystals and isolated nanocrystals alike without k-space.

:func:`get_force_field_node` stores the file the first time and returns the same node afterwards (matched by
SHA-256), so every LAMMPS run links to the exact file it used. Node attributes: ``force_field`` (registry name),
``pair_style``, ``pair_args``, ``elements``, ``citation``, ``units`` (LAMMPS units the parameters are in),
``sha256``, ``source_path`` (where it was read) and, for pair potentials, ``charges`` (e) and ``lj``
(element -> [epsilon in eV, sigma in angstrom]).
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import sys

from aiida import orm

from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.common.files import file_sha256
from aiida_qdots.common.units import KCAL_MOL_EV

PACKAGED_DIR = pathlib.Path(__file__).resolve().parents[2] / 'data' / 'force_fields'
"""Parameter tables shipped with aiida-qdots."""

POTENTIALS_ENV = 'LAMMPS_POTENTIALS'
"""Environment variable LAMMPS itself reads for the potentials folder; searched first."""


@dataclasses.dataclass(frozen=True)
class ForceField:
    """A LAMMPS potential file and how it is used."""

    name: str
    filename: str
    pair_style: str  # many-body: reads ``pair_coeff * * <file> <element per type>``; else a charge pair style
    elements: tuple[str, ...]
    citation: str
    description: str
    units: str = 'metal'
    pair_args: str = ''  # arguments of ``pair_style`` (a pair potential's Coulomb damping and cutoff)
    packaged: bool = False  # the file is in :data:`PACKAGED_DIR`, not among LAMMPS' potentials


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
    'lj_coulomb_rabani2002': ForceField(
        name='lj_coulomb_rabani2002',
        filename='CdSe_Rabani2002.ljq',
        pair_style='lj/cut/coul/dsf',
        pair_args='0.2 12.0',
        elements=('Cd', 'Se'),
        citation='E. Rabani, J. Chem. Phys. 116, 258 (2002)',
        description=(
            'Lennard-Jones + Coulomb pair potential for CdSe (q = +-1.18 e, Lorentz-Berthelot mixing); '
            'Coulomb by damped shifted force, alpha 0.2 1/A, cutoff 12 A (LJ cut at 12 A, unshifted)'
        ),
        packaged=True,
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


def read_pair_parameters(path: str | os.PathLike) -> dict[str, tuple[float, float, float]]:
    """Element -> (charge in e, epsilon in eV, sigma in angstrom) of a ``.ljq`` table (columns: element,
    charge, epsilon in kcal/mol, sigma in angstrom; ``#`` comments); the charges must sum to zero."""
    parameters = {}
    with open(path, encoding='utf-8') as handle:
        for number, line in enumerate(handle, 1):
            tokens = line.split('#', 1)[0].split()
            if not tokens:
                continue
            try:
                element, charge, epsilon, sigma = tokens[0], *map(float, tokens[1:])
            except ValueError:
                raise QdotsInputError(
                    f'{path}:{number}: expected `element charge epsilon sigma`, got {line!r}'
                ) from None
            if epsilon <= 0 or sigma <= 0:
                raise QdotsInputError(f'{path}:{number}: epsilon and sigma must be positive')
            parameters[element] = (charge, epsilon * KCAL_MOL_EV, sigma)
    if not parameters:
        raise QdotsInputError(f'{path} holds no parameters')
    return parameters


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
    if path is not None:
        path = pathlib.Path(path)
    else:
        path = PACKAGED_DIR / spec.filename if spec.packaged else find_potential_file(spec.filename)
    if not path.is_file():
        raise QdotsInputError(f'force field file {path} does not exist')
    pair = read_pair_parameters(path) if spec.packaged else None
    missing = set(spec.elements) - (set(pair) if pair else file_elements(path))
    if (pair or spec.pair_style in ('sw', 'tersoff')) and missing:
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
        'pair_args': spec.pair_args,
    }
    if pair:
        attributes['charges'] = {element: q for element, (q, _, _) in pair.items()}
        attributes['lj'] = {element: [epsilon, sigma] for element, (_, epsilon, sigma) in pair.items()}
    for key, value in attributes.items():
        node.base.attributes.set(key, value)
    return node.store()
