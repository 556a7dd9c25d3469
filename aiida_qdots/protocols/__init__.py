"""YAML protocols (``fast`` / ``moderate`` / ``precise``) and the mixin that reads them.

Each workchain names a YAML file in this folder. The file holds ``default_inputs`` (shared by all
protocols), ``default_protocol`` and ``protocols``: per protocol a ``description`` and the inputs
that differ from the defaults. Inputs are merged recursively; user ``overrides`` are merged last.
"""

from __future__ import annotations

import copy
import pathlib

import yaml

from aiida_qdots.common.errors import QdotsInputError

PROTOCOL_DIR = pathlib.Path(__file__).parent


def recursive_merge(base: dict, updates: dict) -> dict:
    """Return a copy of ``base`` with ``updates`` merged in; nested dicts merge, other values replace."""
    merged = copy.deepcopy(base)
    for key, value in updates.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = recursive_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


class ProtocolMixin:
    """Adds protocol look-up to a WorkChain; subclasses set ``_protocol_file`` (a file name here)."""

    _protocol_file: str

    @classmethod
    def _load_protocol_file(cls) -> dict:
        with (PROTOCOL_DIR / cls._protocol_file).open(encoding='utf-8') as handle:
            return yaml.safe_load(handle)

    @classmethod
    def get_default_protocol(cls) -> str:
        return cls._load_protocol_file()['default_protocol']

    @classmethod
    def get_available_protocols(cls) -> dict[str, dict]:
        """Protocol names mapped to ``{'description': ...}``."""
        data = cls._load_protocol_file()
        return {name: {'description': spec['description']} for name, spec in data['protocols'].items()}

    @classmethod
    def get_protocol_inputs(cls, protocol: str | None = None, overrides: dict | None = None) -> dict:
        """Inputs of ``protocol`` (default protocol when None) with ``overrides`` merged on top."""
        data = cls._load_protocol_file()
        protocol = protocol or data['default_protocol']
        if protocol not in data['protocols']:
            raise QdotsInputError(
                f'unknown protocol {protocol!r} for {cls.__name__}; available: {", ".join(data["protocols"])}'
            )
        known = set(data['default_inputs']).union(*data['protocols'].values()) - {'description'}
        unknown = sorted(set(overrides or {}) - known)
        if unknown:  # a misspelt override would otherwise be dropped without a word
            raise QdotsInputError(
                f'unknown override(s) {", ".join(unknown)} for {cls.__name__}; known: {", ".join(sorted(known))}'
            )
        spec = {k: v for k, v in data['protocols'][protocol].items() if k != 'description'}
        inputs = recursive_merge(data['default_inputs'], spec)
        return recursive_merge(inputs, overrides or {})
