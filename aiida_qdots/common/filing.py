"""Where a study's nodes live: groups ``qdots/<study>/<system>/<configuration>/<stage>`` and ``qdots`` extras.

A stage is one workchain (``aimd``, ``electronic``, ``namd``, ``phonons``, ``ued``). Filing puts the stage's
process node and every node it returned into the stage group and merges ``extras`` into each node's ``qdots``
extras, adding ``stage`` and, for outputs, ``output`` (the link label, namespaces joined with ``__``). The
query API (:mod:`aiida_qdots.query`) finds results through these groups and extras alone.

The groups of a configuration hold its latest run: the ``run`` extra is the UUID of the workchain that called the
stage (the configuration workchain of a ``qdots.study``, the ``qdots.lattice_study`` itself), and filing a stage
of a new run takes every node of an earlier run out of all that configuration's stage groups, so that results of
two runs are never mixed or counted twice. Those nodes stay in the profile and in the provenance of the study
workchain that made them.
"""

from __future__ import annotations

import re

from aiida import orm
from aiida.common.links import LinkType

from aiida_qdots.common.errors import QdotsInputError

ROOT = 'qdots'
EXTRAS_KEY = 'qdots'
STUDY_LABEL = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]*$')
STUDY_KINDS = ('study', 'lattice_study')
"""``kind`` extras of the study workchains (:func:`register_study`)."""


def escape_like(text: str) -> str:
    """``text`` with the QueryBuilder ``like`` wildcards ``%`` and ``_`` (and the escape ``\\``) escaped: a study
    label may contain ``_``."""
    return text.replace('\\', '\\\\').replace('%', '\\%').replace('_', '\\_')


def validate_study_label(label: str) -> str | None:
    """Error message unless ``label`` can be a group-path component (letters, digits, ``_ . -``)."""
    if not STUDY_LABEL.match(label or ''):
        return f'study label {label!r} must start with a letter or digit and contain only letters, digits, _ . -'
    return None


def study_group_label(study: str, *parts: str) -> str:
    """``qdots/<study>[/<part>...]``; :class:`QdotsInputError` for a label that cannot be a path component."""
    message = validate_study_label(study)
    if message:
        raise QdotsInputError(message)
    return '/'.join((ROOT, study, *parts))


def file_stage(
    node: orm.ProcessNode, study: str, system: str, configuration: str, stage: str, extras: dict
) -> orm.Group:
    """File the stage process ``node`` and its returned outputs into their stage group, after taking an earlier run's
    nodes out of the configuration's groups; return the group."""
    run = (node.caller or node).uuid
    unfile_other_runs(study_group_label(study, system, configuration), run)
    group, _ = orm.Group.collection.get_or_create(study_group_label(study, system, configuration, stage))
    common = {**extras, 'study': study, 'system': system, 'configuration': configuration, 'stage': stage, 'run': run}
    outputs = node.base.links.get_outgoing(link_type=(LinkType.RETURN, LinkType.CREATE)).all()
    members = [(node, None)] + [(link.node, link.link_label) for link in outputs]
    for member, output in members:
        previous = member.base.extras.get(EXTRAS_KEY, {})
        member.base.extras.set(EXTRAS_KEY, {**previous, **common, 'output': output})
    group.add_nodes([member for member, _ in members])
    return group


def unfile_other_runs(configuration_group: str, run: str) -> None:
    """Take the nodes of every run but ``run`` out of the stage groups below ``configuration_group``."""
    query = orm.QueryBuilder().append(orm.Group, filters={'label': {'like': f'{escape_like(configuration_group)}/%'}})
    for group in query.all(flat=True):
        stale = [node for node in group.nodes if node.base.extras.get(EXTRAS_KEY, {}).get('run') != run]
        if stale:
            group.remove_nodes(stale)


def register_study(node: orm.ProcessNode, study: str, kind: str, protocol: str) -> orm.Group:
    """Put a study workchain ``node`` into ``qdots/<study>`` with extras ``study``, ``kind``, ``protocol``."""
    group, _ = orm.Group.collection.get_or_create(study_group_label(study))
    node.base.extras.set(EXTRAS_KEY, {'study': study, 'kind': kind, 'protocol': protocol})
    group.add_nodes(node)
    return group
