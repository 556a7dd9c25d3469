"""Sharing a study: export its groups to an AiiDA archive with full provenance, import one safely."""

from __future__ import annotations

import pathlib

from aiida import orm

from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.common.filing import ROOT, escape_like, study_group_label

EXPORT_RULES = {
    'create_backward': True,
    'call_calc_backward': True,
    'call_work_backward': True,
    'input_calc_forward': False,
    'input_work_forward': False,
    'return_backward': False,
}
"""Traversal from the study's groups: every process that created or called a filed node and everything those
processes called (the complete provenance of each result, reports included); not every later user of an input."""


def study_groups(study: str) -> list[orm.Group]:
    """``qdots/<study>`` and every group below it."""
    label = study_group_label(study)
    query = orm.QueryBuilder().append(
        orm.Group, filters={'or': [{'label': label}, {'label': {'like': f'{ROOT}/{escape_like(study)}/%'}}]}
    )
    return query.all(flat=True)


def export_study(study: str, path: str | pathlib.Path) -> dict:
    """Write ``study`` to the archive ``path`` (overwritten); return the numbers of groups, filed nodes and nodes
    in the archive (the filed ones with their provenance)."""
    from aiida.tools.archive import create_archive
    from aiida.tools.archive.abstract import get_format

    groups = study_groups(study)
    if not groups:
        raise QdotsInputError(f'no groups qdots/{study}[/...] in this profile')
    create_archive(groups, filename=path, overwrite=True, include_logs=True, include_comments=True, **EXPORT_RULES)
    with get_format().open(path, mode='r') as archive:
        nodes = archive.querybuilder().append(orm.Node).count()
    return {'groups': len(groups), 'filed': sum(group.count() for group in groups), 'nodes': nodes}


def import_study(path: str | pathlib.Path) -> list[str]:
    """Import the archive ``path``; return the study labels it holds. An invalid or tampered archive raises
    :class:`QdotsInputError` and the profile keeps what it had (AiiDA imports in one transaction)."""
    from aiida.common.exceptions import AiidaException
    from aiida.tools.archive import import_archive
    from aiida.tools.archive.abstract import get_format

    try:
        with get_format().open(path, mode='r') as archive:
            labels = archive.querybuilder().append(orm.Group, project='label').all(flat=True)
        import_archive(path)
    except (AiidaException, OSError, ValueError) as exc:
        raise QdotsInputError(f'cannot import {path}: {type(exc).__name__}: {exc}') from exc
    return sorted({label.split('/')[1] for label in labels if label.startswith(f'{ROOT}/')})
