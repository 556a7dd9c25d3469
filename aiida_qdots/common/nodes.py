"""Resolving nodes that users name by node, PK or UUID."""

from __future__ import annotations

from aiida import orm
from aiida.common.exceptions import MultipleObjectsError, NotExistent

from aiida_qdots.common.errors import QdotsInputError


def resolve_node(
    value: orm.Node | int | str, node_type: type[orm.Node], what: str, description: str | None = None
) -> orm.Node:
    """The ``node_type`` node given as a node, PK or UUID; :class:`QdotsInputError` naming ``what`` otherwise.

    ``description`` (e.g. 'an ArrayData of per-frame levels') replaces the type name in the error.
    """
    if isinstance(value, orm.Node):
        node = value
    else:
        try:
            node = orm.load_node(value)
        except (NotExistent, MultipleObjectsError, ValueError, TypeError) as exc:
            raise QdotsInputError(f'no {what} node {value!r}: {exc}') from None
    if not isinstance(node, node_type):
        name = node_type.__name__
        expected = description or f'{"an" if name[0] in "AEIOU" else "a"} {name}'
        raise QdotsInputError(f'node {node.pk} is a {type(node).__name__}, not {expected}')
    return node
