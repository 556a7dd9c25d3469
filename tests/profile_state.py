"""What a test compares to prove that a failed operation left the loaded profile as it was, and a second profile."""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets

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


@contextlib.contextmanager
def fresh_profile(folder, broker_backend: str | None = None):
    """A new, empty SQLite profile (with ``broker_backend``, e.g. ``core.zeromq``, whose broker is not running)
    loaded for the duration; the previous profile is loaded again afterwards and the new one deleted."""
    from aiida.manage import get_manager
    from aiida.manage.configuration import create_profile, get_config

    manager = get_manager()
    previous = manager.get_profile().name
    config = get_config()
    name = f'qdots-fresh-{secrets.token_hex(4)}'
    create_profile(
        config,
        name=name,
        email='fresh@qdots.test',
        storage_backend='core.sqlite_dos',
        storage_config={'filepath': str(folder / name)},
        broker_backend=broker_backend,
    )
    try:
        manager.load_profile(name, allow_switch=True)
        yield name
    finally:
        manager.load_profile(previous, allow_switch=True)
        config.delete_profile(name, delete_storage=True)
