"""Calcfunctions of the study workchains: their summaries, computed from one state record per entry."""

from __future__ import annotations

from aiida import orm
from aiida.engine import calcfunction

CONFIGURATION_STAGES = ('aimd', 'electronic', 'namd')
"""The stages of a ``qdots.configuration``, in order."""


@calcfunction
def configuration_summary(study: orm.Str, **states: orm.Dict) -> orm.Dict:
    """Summary of a ``qdots.study``: per configuration (keyword = its call link label) the state record
    (composition, arrangement, pk, uuid, exit_status, finished_stages, ok, message), with the first unfinished
    stage as ``failed_stage`` of a failed one; the counts of all and of failed configurations."""
    entries = {}
    for key, state in states.items():
        entry = state.get_dict()
        if not entry['ok']:
            entry['failed_stage'] = next((s for s in CONFIGURATION_STAGES if s not in entry['finished_stages']), None)
        entries[key] = entry
    n_failed = sum(not entry['ok'] for entry in entries.values())
    return orm.Dict({'study': study.value, 'configurations': entries, 'n_total': len(entries), 'n_failed': n_failed})


@calcfunction
def lattice_summary(study: orm.Str, **states: orm.Dict) -> orm.Dict:
    """Summary of a ``qdots.lattice_study``: per nanocrystal or UED data set (keyword) the state record of its stage
    (stage, pk, uuid, ok, exit_status, message) and the number that failed."""
    entries = {key: state.get_dict() for key, state in states.items()}
    n_failed = sum(not entry['ok'] for entry in entries.values())
    return orm.Dict({'study': study.value, 'entries': entries, 'n_failed': n_failed})
