"""Resolving nodes that users name by node, PK, UUID or label."""

from __future__ import annotations

from aiida import orm
from aiida.common.exceptions import MultipleObjectsError, NotExistent

from aiida_qdots.common.errors import QdotsInputError


def load_identified_node(value: int | str) -> orm.Node:
    """The node with PK, (partial) UUID or label ``value``, as ``verdi`` resolves it (aiida's NodeEntityLoader: an
    integer is a PK, a hexadecimal string (dashes allowed) a UUID, anything else a label; a trailing ``!`` forces a
    label).

    :raises NotExistent: no such node.
    :raises MultipleObjectsError: the label (or partial UUID) names several nodes.
    """
    from aiida.orm.utils.loaders import NodeEntityLoader

    try:
        return NodeEntityLoader.load_entity(value)
    except NotExistent:
        raise NotExistent(f'no node {value} (PK, UUID or label)') from None
    except MultipleObjectsError:
        raise MultipleObjectsError(f'{value} names several nodes; give the PK or UUID') from None


def type_mismatch(node: orm.Node, node_types: tuple[type[orm.Node], ...], description: str | None = None) -> str | None:
    """Why ``node`` is none of ``node_types`` (``description``, e.g. 'an ArrayData of per-frame levels', replaces
    the type names); None when it is one of them."""
    if isinstance(node, node_types):
        return None
    names = [cls.__name__ for cls in node_types]
    expected = description or ' or '.join(f'{"an" if name[0] in "AEIOU" else "a"} {name}' for name in names)
    return f'node {node.pk} is a {type(node).__name__}, not {expected}'


def resolve_node(
    value: orm.Node | int | str, node_type: type[orm.Node], what: str, description: str | None = None
) -> orm.Node:
    """The ``node_type`` node given as a node, PK, UUID or label; :class:`QdotsInputError` naming ``what`` otherwise.

    ``description`` (e.g. 'an ArrayData of per-frame levels') replaces the type name in the error.
    """
    if isinstance(value, orm.Node):
        node = value
    else:
        try:
            node = load_identified_node(value)
        except NotExistent:
            raise QdotsInputError(f'no {what} node {value} (PK, UUID or label)') from None
        except (MultipleObjectsError, ValueError, TypeError) as exc:
            raise QdotsInputError(f'{what}: {exc}') from None
    mismatch = type_mismatch(node, (node_type,), description)
    if mismatch:
        raise QdotsInputError(mismatch)
    return node
