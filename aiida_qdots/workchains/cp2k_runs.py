"""How the workchains launch ``cp2k.base`` and read back its CP2K runs."""

from __future__ import annotations

from aiida import orm
from aiida.plugins import WorkflowFactory

Cp2kBaseWorkChain = WorkflowFactory('cp2k.base')
RESTART_HANDLER = {'restart_incomplete_calculation': {'enabled': True}}
"""aiida-cp2k leaves its restart handler off; qdots always continues SCF failures and killed jobs."""


def cp2k_base_inputs(cp2k: dict, label: str, max_iterations: orm.Int | None = None) -> dict:
    """Inputs of a ``cp2k.base`` run of the CalcJob inputs ``cp2k`` with the restart handler on."""
    inputs = {'cp2k': cp2k, 'handler_overrides': orm.Dict(RESTART_HANDLER), 'metadata': {'call_link_label': label}}
    if max_iterations is not None:
        inputs['max_iterations'] = max_iterations
    return inputs


def cp2k_calcs(node: orm.WorkflowNode) -> list[orm.CalcJobNode]:
    """The CP2K CalcJobs a ``cp2k.base`` run launched (first run and its restarts), in launch order."""
    return sorted((c for c in node.called if isinstance(c, orm.CalcJobNode)), key=lambda c: c.ctime)
