"""What a test compares to prove that a failed operation left the loaded profile as it was."""

from __future__ import annotations

import hashlib
import json

from aiida import orm


def node_count() -> int:
    return orm.QueryBuilder().append(orm.Node).count()


def profile_fingerprint() -> str:
    """SHA-256 over every node (UUID, type, attributes, extras, repository file hashes), link, group membership,
    computer and user."""
    digest = hashlib.sha256()
    nodes = orm.QueryBuilder().append(
        orm.Node, project=['uuid', 'node_type', 'attributes', 'extras', 'repository_metadata']
    )
    for row in sorted(nodes.all(), key=lambda r: r[0]):
        digest.update(json.dumps(row, sort_keys=True, default=str).encode())
    links = (
        orm.QueryBuilder()
        .append(orm.Node, project='uuid', tag='in')
        .append(orm.Node, with_incoming='in', project='uuid', edge_project=['label', 'type'])
    )
    digest.update(json.dumps(sorted(links.all()), default=str).encode())
    members = (
        orm.QueryBuilder()
        .append(orm.Group, project='label', tag='group')
        .append(orm.Node, with_group='group', project='uuid')
    )
    digest.update(json.dumps(sorted(members.all())).encode())
    computers = orm.QueryBuilder().append(orm.Computer, project=['uuid', 'label', 'transport_type', 'scheduler_type'])
    users = orm.QueryBuilder().append(orm.User, project='email')
    digest.update(json.dumps([sorted(computers.all()), sorted(users.all(flat=True))]).encode())
    return digest.hexdigest()
