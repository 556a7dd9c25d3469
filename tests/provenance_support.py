"""Walk a workflow's provenance: every node that it, or any workflow it called, returned must have a creator."""

from aiida import orm
from aiida.common.links import LinkType


def workflows(root: orm.WorkflowNode) -> list[orm.WorkflowNode]:
    """``root`` and every workflow it called, directly or not."""
    found, todo = [], [root]
    while todo:
        node = todo.pop()
        found.append(node)
        todo.extend(link.node for link in node.base.links.get_outgoing(link_type=LinkType.CALL_WORK).all())
    return found


def returned_without_creator(roots: list[orm.WorkflowNode]) -> tuple[int, list[str]]:
    """How many returned nodes the walk checked, and a line for each one that has no creator."""
    checked, orphans = 0, []
    for root in roots:
        for workflow in workflows(root):
            for link in workflow.base.links.get_outgoing(link_type=LinkType.RETURN).all():
                checked += 1
                if link.node.creator is None:
                    orphans.append(f'{workflow.process_label}<{workflow.pk}> {link.link_label}: {link.node!r}')
    return checked, orphans
