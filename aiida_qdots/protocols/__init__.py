"""YAML protocols (``fast`` / ``moderate`` / ``precise``), the mixin that reads them, and the shared CP2K method.

Each workchain names a YAML file in this folder. The file holds ``default_inputs`` (shared by all
protocols), ``default_protocol`` and ``protocols``: per protocol a ``description`` and the inputs
that differ from the defaults. Inputs are merged recursively; user ``overrides`` are merged last.
Protocols are read only when a builder is made (``get_builder_from_protocol``), never while a process runs.
``cp2k_method.yaml`` is the electronic method of every CP2K stage, read through :func:`cp2k_method`.
"""

from __future__ import annotations

import copy
import pathlib

import yaml

from aiida_qdots.common.errors import QdotsInputError

PROTOCOL_DIR = pathlib.Path(__file__).parent
CP2K_METHOD_FILE = 'cp2k_method.yaml'
METHOD_OVERRIDES = ('parameters', 'kinds')
"""Override keys of a CP2K workchain that belong to its electronic method (:func:`cp2k_method`)."""


def recursive_merge(base: dict, updates: dict) -> dict:
    """Return a copy of ``base`` with ``updates`` merged in; nested dicts merge, other values replace."""
    merged = copy.deepcopy(base)
    for key, value in updates.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = recursive_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def load_protocol_file(name: str) -> dict:
    """The parsed YAML protocol file ``name`` of this folder."""
    with (PROTOCOL_DIR / name).open(encoding='utf-8') as handle:
        return yaml.safe_load(handle)


def protocol_inputs(name: str, protocol: str | None, overrides: dict | None, owner: str) -> dict:
    """Inputs of ``protocol`` (the file's default when None) of the file ``name`` with ``overrides`` merged on top.

    QdotsInputError names an unknown protocol or override key (``owner`` says whose).
    """
    data = load_protocol_file(name)
    protocol = protocol or data['default_protocol']
    if protocol not in data['protocols']:
        raise QdotsInputError(f'unknown protocol {protocol!r} for {owner}; available: {", ".join(data["protocols"])}')
    known = set(data['default_inputs']).union(*data['protocols'].values()) - {'description'}
    unknown = sorted(set(overrides or {}) - known)
    if unknown:  # a misspelt override would otherwise be dropped without a word
        raise QdotsInputError(
            f'unknown override(s) {", ".join(unknown)} for {owner}; known: {", ".join(sorted(known))}'
        )
    spec = {k: v for k, v in data['protocols'][protocol].items() if k != 'description'}
    inputs = recursive_merge(data['default_inputs'], spec)
    return recursive_merge(inputs, overrides or {})


def cp2k_method(
    elements: list[str], protocol: str | None = None, overrides: dict | None = None, orbitals=False
) -> dict:
    """CP2K input of the electronic method of ``protocol`` (cp2k_method.yaml), without run type or MOTION.

    ``overrides`` merge into the protocol (``parameters``, ``kinds``, ``orbitals``); with ``kinds`` (DFT) one
    KIND per element of ``elements``. ``orbitals``: OT and OUTER_SCF replaced by the protocol's ``orbitals.scf``
    (diagonalisation with added MOs) and MO eigenvalues printed every MD step, for stages that need virtual
    orbitals (qdots.electronic, qdots.namd).
    """
    inputs = protocol_inputs(CP2K_METHOD_FILE, protocol, overrides, 'the CP2K method (cp2k_method.yaml)')
    parameters = inputs['parameters']
    kinds = inputs['kinds']
    if kinds:
        parameters['FORCE_EVAL']['SUBSYS']['KIND'] = [
            {'_': element, 'BASIS_SET': kinds['basis_set'], 'POTENTIAL': kinds['potential']}
            for element in sorted(set(elements))
        ]
    if orbitals:
        dft = parameters['FORCE_EVAL']['DFT']
        scf = {k: v for k, v in dft['SCF'].items() if k not in ('OT', 'OUTER_SCF')}
        dft['SCF'] = recursive_merge(scf, inputs['orbitals']['scf'])
        dft['PRINT'] = recursive_merge(dft.get('PRINT', {}), inputs['orbitals']['print'])
    return parameters


def validated(builder):
    """``builder`` after checking its inputs against its process's spec (ports, validators); QdotsInputError else.

    Makes ``get_builder_from_protocol`` refuse bad input when the builder is made, before anything is stored.
    """
    error = builder.process_class.spec().inputs.validate(builder._inputs(prune=True))
    if error is not None:
        raise QdotsInputError(str(error))
    return builder


class ProtocolMixin:
    """Adds protocol look-up to a WorkChain; subclasses set ``_protocol_file`` (a file name here)."""

    _protocol_file: str

    @classmethod
    def get_default_protocol(cls) -> str:
        return load_protocol_file(cls._protocol_file)['default_protocol']

    @classmethod
    def get_available_protocols(cls) -> dict[str, dict]:
        """Protocol names mapped to ``{'description': ...}``."""
        data = load_protocol_file(cls._protocol_file)
        return {name: {'description': spec['description']} for name, spec in data['protocols'].items()}

    @classmethod
    def get_protocol_inputs(cls, protocol: str | None = None, overrides: dict | None = None) -> dict:
        """Inputs of ``protocol`` (default protocol when None) with ``overrides`` merged on top."""
        return protocol_inputs(cls._protocol_file, protocol, overrides, cls.__name__)
